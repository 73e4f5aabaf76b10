//! Bodies of the fault-injection API (`/api/faults/*`), and who a fault applies to.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Epoch, Transport};

/// One browser page, as the server knows it: minted into the page's snapshot and sent back as `client=` on every
/// lane's requests, so a fault can hit one learner's connections and leave the rest of the class alone.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a client id is 1 to {} letters, digits, '-' or '_'", ClientId::MAX_LEN)]
pub struct InvalidClientId;

impl ClientId {
    pub const MAX_LEN: usize = 32;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClientId {
    type Error = InvalidClientId;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let valid = (1..=Self::MAX_LEN).contains(&text.len())
            && text.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
        if valid {
            Ok(Self(text))
        } else {
            Err(InvalidClientId)
        }
    }
}

impl From<ClientId> for String {
    fn from(id: ClientId) -> Self {
        id.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who a fault applies to: one transport's connections or every transport's, of one client or of everyone. Also
/// the body of `POST /api/faults/drop`; `{}` drops everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultTarget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<Transport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientId>,
}

impl FaultTarget {
    /// Whether a connection of `transport`, opened by `client` (if it said), is hit.
    pub fn covers(&self, transport: Transport, client: Option<&ClientId>) -> bool {
        self.transport.is_none_or(|target| target == transport)
            && self.client.as_ref().is_none_or(|target| Some(target) == client)
    }

    /// "all transports of everyone", "SSE of client k3x…", for messages and notes.
    pub fn describe(&self) -> String {
        let transports = self.transport.map_or("all transports", Transport::title);
        match &self.client {
            Some(client) => format!("{transports} of client {client}"),
            None => format!("{transports} of everyone"),
        }
    }
}

/// Answer to a drop or an offline fault: how many open connections it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultReport {
    pub dropped_connections: u64,
}

/// Body of `POST /api/faults/offline`: for `seconds`, the target's open connections are dropped and its new
/// requests refused (503 with `Retry-After`), as if its network were down.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfflineRequest {
    pub seconds: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<Transport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientId>,
}

impl OfflineRequest {
    pub fn target(&self) -> FaultTarget {
        FaultTarget { transport: self.transport, client: self.client.clone() }
    }
}

/// An injected delivery delay: every event to the target is written `delay_ms` plus a random 0..=`jitter_ms` after
/// it was emitted, and every poll response is held as long. Body and answer of `POST /api/faults/delay`; a rule
/// replaces the one with the same target, and zero delay and jitter remove it. The most specific rule wins: one
/// for a client and transport, then for a client, then for a transport, then for everyone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelayRule {
    #[serde(default)]
    pub delay_ms: u32,
    #[serde(default)]
    pub jitter_ms: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<Transport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientId>,
}

impl DelayRule {
    pub fn target(&self) -> FaultTarget {
        FaultTarget { transport: self.transport, client: self.client.clone() }
    }

    pub fn is_zero(&self) -> bool {
        self.delay_ms == 0 && self.jitter_ms == 0
    }
}

/// Answer to `POST /api/faults/restart`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartReport {
    pub previous_epoch: Epoch,
    pub epoch: Epoch,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(text: &str) -> ClientId {
        ClientId::try_from(text.to_owned()).unwrap()
    }

    #[test]
    fn client_ids_are_short_and_url_safe() {
        assert!(ClientId::try_from("k3x-9_Q".to_owned()).is_ok());
        for bad in ["", "has space", "é", "a&b", &"x".repeat(33)] {
            assert_eq!(ClientId::try_from(bad.to_owned()), Err(InvalidClientId), "{bad:?}");
        }
        assert!(serde_json::from_str::<FaultTarget>(r#"{"client":"a b"}"#).is_err());
    }

    #[test]
    fn a_target_covers_its_transport_and_client_only() {
        let everyone = FaultTarget::default();
        let my_sse = FaultTarget { transport: Some(Transport::Sse), client: Some(client("me")) };
        assert!(everyone.covers(Transport::WebSocket, None));
        assert!(my_sse.covers(Transport::Sse, Some(&client("me"))));
        assert!(!my_sse.covers(Transport::Sse, Some(&client("you"))));
        assert!(!my_sse.covers(Transport::Sse, None), "a connection that gave no client id is not mine");
        assert!(!my_sse.covers(Transport::LongPoll, Some(&client("me"))));
    }
}
