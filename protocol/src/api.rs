use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{
    ClientId, Epoch, Event, Gap, Transport, WireTotals, MAX_PAYLOAD_BYTES, MAX_RATE_PER_SECOND, MIN_RATE_PER_SECOND,
};

/// Body of `GET /api/poll` and of a long poll answered with events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PollResponse {
    pub epoch: Epoch,
    /// Shared with the hub's history: a response refers to the events rather than copying them.
    pub events: Vec<Arc<Event>>,
    /// The `after` to send next: the last sequence number this response accounts for.
    pub next: u64,
    /// Present when part of the requested range had already left the bounded history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap: Option<Gap>,
}

/// First message on every stream (SSE `hello` event, WebSocket `hello` frame): which server run this is and how
/// far its log has got.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamHello {
    pub epoch: Epoch,
    pub head_seq: u64,
    /// The HTTP exchange that opened this stream (0 if unknown): the key to its records at `/api/wire`.
    #[serde(default)]
    pub exchange: u64,
    /// Which lab instance holds this stream, when several share one log (`--backplane`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

/// Body of `POST /api/publish`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    pub text: String,
}

/// Answer to a publish, over HTTP (202) or as the WebSocket `ack` frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishAck {
    pub seq: u64,
}

/// The generator's knobs as they are now.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GeneratorSettings {
    pub rate_per_second: f64,
    pub payload_bytes: usize,
    pub paused: bool,
}

impl Default for GeneratorSettings {
    fn default() -> Self {
        Self { rate_per_second: 1.0, payload_bytes: 0, paused: false }
    }
}

/// Body of `POST /api/generator`: every field optional, so one knob can change without knowing the others.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_second: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_bytes: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
}

/// A generator knob the server refuses, named, with the bound it broke.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` {problem}")]
pub struct SettingError {
    pub field: &'static str,
    pub problem: String,
}

impl GeneratorSettings {
    /// These settings with `update`'s fields applied, all checked first so that a bad field changes nothing. The
    /// lab's generator and the scale suite's floor program both take their knobs through here.
    pub fn updated(self, update: GeneratorUpdate) -> Result<Self, SettingError> {
        let mut next = self;
        if let Some(rate) = update.rate_per_second {
            if !(MIN_RATE_PER_SECOND..=MAX_RATE_PER_SECOND).contains(&rate) {
                return Err(SettingError {
                    field: "rate_per_second",
                    problem: format!(
                        "must be between {MIN_RATE_PER_SECOND} and {MAX_RATE_PER_SECOND} events per second"
                    ),
                });
            }
            next.rate_per_second = rate;
        }
        if let Some(payload_bytes) = update.payload_bytes {
            if payload_bytes > MAX_PAYLOAD_BYTES {
                return Err(SettingError {
                    field: "payload_bytes",
                    problem: format!("must be at most {MAX_PAYLOAD_BYTES} bytes"),
                });
            }
            next.payload_bytes = payload_bytes;
        }
        if let Some(paused) = update.paused {
            next.paused = paused;
        }
        Ok(next)
    }
}

/// A tick's printable filler of exactly `bytes` bytes, so the event's JSON grows by exactly that much.
pub fn tick_filler(bytes: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..bytes).map(|i| ALPHABET[i % ALPHABET.len()] as char).collect()
}

/// What the page needs to start: rendered on the server and handed to the browser with the HTML.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabSnapshot {
    pub epoch: Epoch,
    /// Newest sequence number so far (0 before the first event); every lane starts after it.
    pub head_seq: u64,
    pub history_capacity: usize,
    pub generator: GeneratorSettings,
    /// Server wall clock when the page was rendered, in Unix microseconds: the origin of the diagram's time axis.
    pub server_time: u64,
    /// This page's id, sent back with every lane's requests so faults can target this page alone.
    pub client: ClientId,
    /// Whether the page was opened by the teacher, who alone may act on the whole class (the server checks every
    /// such request; this only lets the page say so before anyone presses a button).
    #[serde(default)]
    pub teacher: bool,
}

/// Body of `GET /api/time`: the server's wall clock, Unix microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerTime {
    pub server_time: u64,
}

/// Body of `GET /api/stats`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabStats {
    pub epoch: Epoch,
    pub uptime_seconds: f64,
    pub head_seq: u64,
    pub history_len: usize,
    pub history_capacity: usize,
    pub generator: GeneratorSettings,
    pub transports: BTreeMap<Transport, TransportStats>,
    /// Bytes of everything else: the page and its assets, the control API, and `/api/wire` itself.
    #[serde(default)]
    pub other_wire: WireTotals,
    /// The MQTT broker's own state: what its clients, pages or not, have it hold.
    #[serde(default)]
    pub mqtt: BrokerFigures,
    /// Present when several instances share one log (`--backplane`): this instance's place among them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterFigures>,
}

/// One instance of a lab that runs as several, sharing one event log on an engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterFigures {
    /// This instance's name (`--instance`), also in every response's `x-lab-instance` header.
    pub instance: String,
    /// The engine and where it is, e.g. `NATS JetStream at nats://127.0.0.1:4222`.
    pub engine: String,
    /// Whether this instance runs the generator now (exactly one does).
    pub generator: bool,
    /// Why the log cannot be reached now, if it cannot: publishing answers 503 meanwhile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_problem: Option<String>,
}

/// What the lab's MQTT broker holds now, and what it has had to refuse or drop since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerFigures {
    /// Connections whose CONNECT was accepted.
    pub connections: u64,
    /// Sessions kept for clients that are away (clean start = 0 with a session expiry).
    pub sessions_away: u64,
    pub subscriptions: u64,
    pub retained: u64,
    /// Outgoing QoS 1 and QoS 2 messages sent and not yet acknowledged.
    pub in_flight_qos1: u64,
    pub in_flight_qos2: u64,
    /// Messages waiting in sessions' queues (client away, or its Receive Maximum reached).
    pub queued: u64,
    /// Messages a full queue, or a client's Maximum Packet Size, made the broker drop.
    pub discarded: u64,
    /// Publishes refused as not authorized (to `lab/events/…`).
    pub refused: u64,
    /// Connections closed for breaking the protocol.
    pub protocol_errors: u64,
    /// Connections cut for falling too far behind.
    pub slow_sockets_closed: u64,
}

/// Server-side counters for one transport, summed over every client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransportStats {
    /// Connections open now: held long polls, SSE streams, WebSockets; in-flight short polls.
    pub open_connections: u64,
    /// HTTP requests, or WebSocket upgrades, accepted so far.
    pub requests: u64,
    pub events_delivered: u64,
    /// Response bodies, SSE text and WebSocket message payloads written, in bytes. Headers and framing are not
    /// counted here.
    pub body_bytes_sent: u64,
    /// Times a streaming client fell behind the live feed and was caught up from the history instead.
    pub lag_recoveries: u64,
    /// Every byte this transport's connections read and wrote, measured at the socket.
    #[serde(default)]
    pub wire: WireTotals,
}

/// The JSON body of every 4xx the API returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    /// Machine-readable reason, e.g. `invalid_parameter`.
    pub error: String,
    /// The query parameter or JSON field at fault, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_knob_changes_nothing_and_is_named() {
        let start = GeneratorSettings::default();
        let error = start
            .updated(GeneratorUpdate { paused: Some(true), rate_per_second: Some(500.0), ..Default::default() })
            .unwrap_err();
        assert_eq!(error.field, "rate_per_second");
        let error = start.updated(GeneratorUpdate { payload_bytes: Some(MAX_PAYLOAD_BYTES + 1), ..Default::default() });
        assert_eq!(error.unwrap_err().field, "payload_bytes");
        let next = start
            .updated(GeneratorUpdate { rate_per_second: Some(10.0), payload_bytes: Some(100), paused: Some(true) })
            .unwrap();
        assert_eq!(next, GeneratorSettings { rate_per_second: 10.0, payload_bytes: 100, paused: true });
    }

    #[test]
    fn filler_has_exact_length() {
        assert_eq!(tick_filler(0), "");
        assert_eq!(tick_filler(40).len(), 40);
        assert_eq!(&tick_filler(38)[36..], "ab");
    }
}
