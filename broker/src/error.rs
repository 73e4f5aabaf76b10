//! Why the broker ends a client's connection. Each fault carries the MQTT 5 reason code its DISCONNECT names;
//! a v3.1.1 client (no server DISCONNECT in that version) just sees the socket close.

use mqtt5_protocol::{MqttError, ReasonCode};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Fault {
    #[error("malformed packet: {0}")]
    Malformed(String),
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("invalid topic name")]
    TopicNameInvalid,
    #[error("more unacknowledged QoS 2 messages than the Receive Maximum")]
    ReceiveMaximumExceeded,
    #[error("topic alias used, but the broker grants none")]
    TopicAliasInvalid,
    #[error("packet of {size} bytes exceeds the maximum of {max}")]
    PacketTooLarge { size: u64, max: u32 },
    #[error("subscription identifiers are not supported")]
    SubscriptionIdentifiersNotSupported,
    /// Only a v3.1.1 client ends up here: it has no reason code to be refused with.
    #[error("publish to {topic} refused: {reason:?}")]
    Refused { topic: String, reason: ReasonCode },
}

impl Fault {
    pub(crate) fn reason_code(&self) -> ReasonCode {
        match self {
            Self::Malformed(_) => ReasonCode::MalformedPacket,
            Self::Protocol(_) => ReasonCode::ProtocolError,
            Self::TopicNameInvalid => ReasonCode::TopicNameInvalid,
            Self::ReceiveMaximumExceeded => ReasonCode::ReceiveMaximumExceeded,
            Self::TopicAliasInvalid => ReasonCode::TopicAliasInvalid,
            Self::PacketTooLarge { .. } => ReasonCode::PacketTooLarge,
            Self::SubscriptionIdentifiersNotSupported => ReasonCode::SubscriptionIdentifiersNotSupported,
            Self::Refused { reason, .. } => *reason,
        }
    }

    /// A refused publish is the client asking for something it may not have, not a broken client.
    pub(crate) fn is_protocol_error(&self) -> bool {
        !matches!(self, Self::Refused { .. })
    }
}

impl From<MqttError> for Fault {
    fn from(error: MqttError) -> Self {
        match error {
            MqttError::ProtocolError(message) => Self::Protocol(message),
            other => Self::Malformed(other.to_string()),
        }
    }
}
