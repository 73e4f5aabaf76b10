use bytes::Bytes;
use mqtt5_protocol::QoS;

/// One socket as the I/O layer knows it; the broker never reuses an id.
pub type ConnectionId = u64;

/// A message the lab itself publishes into the broker (every hub event), as if from a client connected at QoS 2.
#[derive(Clone, Debug)]
pub struct Publication {
    pub topic: String,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    /// MQTT 5 user properties (the lab sends `seq` and `epoch`); v3.1.1 subscribers get the payload alone.
    pub user_properties: Vec<(String, String)>,
    /// MQTT 5 Payload Format Indicator: `true` for UTF-8 (the event JSON), `false` for bytes (a WAV clip).
    pub utf8: bool,
}

/// What one written packet was, for the wire tap's labels and the lane's arrows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketSummary {
    /// "CONNACK", "PUBLISH", "PUBREL"…
    pub kind: &'static str,
    pub packet_id: Option<u16>,
    pub topic: Option<String>,
    pub qos: Option<u8>,
    pub dup: bool,
    pub retain: bool,
    /// The `seq` user property of a PUBLISH, when the lab set one.
    pub seq: Option<u64>,
    /// Bytes of the application payload inside this packet (0 for packets without one).
    pub payload_len: usize,
}

impl PacketSummary {
    /// A packet without topic or payload (acks, CONNACK, PINGRESP, DISCONNECT…).
    pub(crate) fn control(kind: &'static str, packet_id: Option<u16>) -> Self {
        Self { kind, packet_id, topic: None, qos: None, dup: false, retain: false, seq: None, payload_len: 0 }
    }
}

/// A client's message the lab must act on: a publish to a topic the lab listens to (`lab/chat` becomes a hub event).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabPublish {
    /// The connection it came on: the I/O layer knows whose address that is (and so whose share of the rate).
    pub connection: ConnectionId,
    pub client_id: String,
    pub topic: String,
    pub payload: Bytes,
    /// Set when the client waits for an acknowledgement (QoS 1 or 2): the broker holds it, and the message, until
    /// the lab says whether it took the message ([`crate::Broker::settle_lab`]).
    pub ticket: Option<LabTicket>,
}

/// Names a client's publish whose acknowledgement waits for the lab.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LabTicket {
    pub(crate) session: crate::ids::SessionId,
    pub(crate) packet_id: u16,
}

/// Why the lab did not take a client's message: what its PUBACK or PUBREC says (MQTT 5), or why a v3.1.1 client,
/// which cannot be told, is disconnected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LabRefusal {
    /// The lab cannot record it now (the shared log is out of reach): 0x83 Implementation specific error.
    Unavailable(String),
    /// Too many messages are already waiting for the lab: 0x97 Quota exceeded.
    Busy,
    /// The publisher's address sent more than its share of requests: 0x97 Quota exceeded, with the reason (0x96
    /// Message rate too high is for DISCONNECT only).
    RateTooHigh(String),
    /// The lab's rules for the topic refuse it: 0x99 Payload format invalid.
    Invalid(String),
}

/// What the I/O layer must do, in order.
#[derive(Clone, Debug)]
pub enum Output {
    /// Write these bytes (one whole packet) to this socket.
    Send { connection: ConnectionId, bytes: Bytes, packet: PacketSummary },
    /// Close this socket once everything sent before has been written. `reason` is for logs and the lane.
    Close { connection: ConnectionId, reason: String },
    /// A whole packet arrived from this socket and was decoded (the wire tap labels inbound bytes with it, and a
    /// fault such as "drop after PUBREC" keys on it). Emitted before the broker's answers to it.
    Received { connection: ConnectionId, packet: PacketSummary },
    /// A client published where the lab listens.
    Lab(LabPublish),
}
