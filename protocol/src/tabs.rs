//! What lab tabs of one browser tell each other over a `BroadcastChannel`, to share the browser's connections to
//! the server (see [`crate::tab_share`]). Never sent to the server.

use serde::{Deserialize, Serialize};

/// One lab tab: when it was opened (browser clock, ms) and its page id. Ordered oldest first.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TabId {
    pub opened_at: u64,
    pub page: String,
}

/// Whether a tab runs its held HTTP lanes (long polling and SSE), each of which keeps one connection open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TabRole {
    /// Just opened, or counting the other tabs; not holding yet.
    Deciding,
    Holding,
    Paused,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TabMessage {
    /// Who is there? Every lab tab answers with its [`TabMessage::Role`].
    Census { from: TabId, role: TabRole },
    /// A tab's role: an answer to a census, or news that it changed.
    Role { from: TabId, role: TabRole },
    /// `from` starts holding in place of `evict`, which pauses. One message, so every tab applies both at once.
    TakeOver { from: TabId, evict: TabId },
    /// The tab is closing; its connections are gone.
    Gone { from: TabId },
}
