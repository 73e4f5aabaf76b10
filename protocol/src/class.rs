//! Classroom mode: who is connected (`GET /api/class`), how students join, and the teacher's broadcast.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{GeneratorSettings, Transport};

/// How long a page counts as connected after its last request, in seconds. Longer than the slowest short-poll
/// interval the page offers (5 s), so a page polling that slowly does not flicker in and out of the count.
pub const PRESENCE_WINDOW_SECONDS: u64 = 6;

/// Body of `GET /api/class`, which the presenter view polls once a second.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassPresence {
    /// Distinct pages (client ids) connected now: an open long poll, SSE stream or WebSocket, or any request that
    /// named the page within the last [`PRESENCE_WINDOW_SECONDS`].
    pub pages: u64,
    /// Per transport, who is connected on it now.
    pub transports: BTreeMap<Transport, TransportPresence>,
    pub join: JoinLink,
    /// The window used for "a request within the last … seconds".
    pub window_seconds: u64,
    /// The generator as it is now, so the presenter needs one request a second, not two.
    pub generator: GeneratorSettings,
}

/// One transport's share of the class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransportPresence {
    /// Distinct pages connected on this transport now. SSE and WebSocket: an open connection. Long polling: a held
    /// request, or one answered within the window (the next follows at once). Short polling: a request within the
    /// window.
    pub pages: u64,
    /// Long-lived connections of this transport open now, including those that named no page (`curl`, scripts).
    pub open_connections: u64,
}

/// Where students point their browsers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinLink {
    pub url: String,
    pub source: JoinUrlSource,
}

/// How the server arrived at the join URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinUrlSource {
    /// Set with `--public-url` (`LAB_PUBLIC_URL`).
    Configured,
    /// The server listens on every interface (`0.0.0.0`, `[::]`); this is the machine's first non-loopback IPv4
    /// address.
    Interface,
    /// The one address the server listens on.
    ListenAddress,
    /// The server listens on loopback only (or this machine has no other address): no other machine can join.
    LoopbackOnly,
}

impl JoinLink {
    /// What the presenter view says about where the URL came from. A lab students cannot reach is told how to
    /// restart on its own port for every interface.
    pub fn explain(&self) -> String {
        match self.source {
            JoinUrlSource::Configured => "set with --public-url".into(),
            JoinUrlSource::Interface => "this machine's network address; the server listens on all of them".into(),
            JoinUrlSource::ListenAddress => "the address the server listens on".into(),
            JoinUrlSource::LoopbackOnly => format!(
                "the server listens on this machine only, so students cannot reach it: restart it with \
                 LAB_ADDR=0.0.0.0:{} ./lab run",
                self.port()
            ),
        }
    }

    /// The port in the URL: HTTP's 80 when it names none.
    fn port(&self) -> u16 {
        let authority = self.url.split_once("://").map_or(self.url.as_str(), |(_, rest)| rest);
        let host_and_port = authority.split('/').next().unwrap_or_default();
        // An IPv6 host is bracketed, so the port is what follows the last colon after the closing bracket.
        let after_host = host_and_port.rsplit_once(']').map_or(host_and_port, |(_, rest)| rest);
        after_host.rsplit_once(':').and_then(|(_, port)| port.parse().ok()).unwrap_or(80)
    }
}

/// Body of `POST /api/class/broadcast`; the answer is a [`super::PublishAck`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BroadcastRequest {
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_lab_is_told_to_listen_everywhere_on_its_own_port() {
        let link = |url: &str| JoinLink { url: url.into(), source: JoinUrlSource::LoopbackOnly }.explain();
        assert!(link("http://127.0.0.1:3200/").ends_with("LAB_ADDR=0.0.0.0:3200 ./lab run"), "{}", link("x"));
        assert!(link("http://[::1]:4000/").contains("0.0.0.0:4000"));
        assert!(link("http://localhost/").contains("0.0.0.0:80 "));
        let reachable = JoinLink { url: "http://192.168.1.20:3000/".into(), source: JoinUrlSource::Interface };
        assert!(!reachable.explain().contains("restart"));
    }

    #[test]
    fn presence_keys_transports_by_their_ids() {
        let presence = ClassPresence {
            pages: 2,
            transports: Transport::ALL.into_iter().map(|t| (t, TransportPresence::default())).collect(),
            join: JoinLink { url: "http://10.0.0.2:3000/".into(), source: JoinUrlSource::Interface },
            window_seconds: PRESENCE_WINDOW_SECONDS,
            generator: GeneratorSettings::default(),
        };
        let json = serde_json::to_value(&presence).unwrap();
        assert_eq!(json["transports"]["web_socket"]["pages"], 0);
        assert_eq!(json["join"]["source"], "interface");
        assert_eq!(serde_json::from_value::<ClassPresence>(json).unwrap(), presence);
    }
}
