//! An application message as the broker keeps it between receiving and forwarding: the parts every subscriber
//! gets, shared (`Arc`) by all the sessions it is queued or in flight for.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mqtt5_protocol::packet::publish::PublishPacket;
use mqtt5_protocol::{Properties, PropertyId, PropertyValue, QoS, WillMessage};

use crate::ids::SessionId;
use crate::output::Publication;

/// The MQTT 5 properties a broker forwards unchanged [MQTT-3.3.2-4, -3.3.2-15, -3.3.2-16, -3.3.2-17, -3.3.2-20].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ForwardedProperties {
    pub payload_format_utf8: Option<bool>,
    pub content_type: Option<String>,
    pub response_topic: Option<String>,
    pub correlation_data: Option<Bytes>,
    pub user_properties: Vec<(String, String)>,
}

#[derive(Clone, Debug)]
pub(crate) struct Message {
    pub topic: String,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    pub properties: ForwardedProperties,
    pub expires_at: Option<Instant>,
    /// The session that published it, for No Local; `None` for the lab's own messages.
    pub publisher: Option<SessionId>,
    /// The `seq` user property, parsed once for the wire tap.
    pub seq: Option<u64>,
}

impl Message {
    pub(crate) fn from_publish(packet: &PublishPacket, publisher: SessionId, now: Instant) -> Self {
        let properties = forwarded_properties(&packet.properties);
        Self {
            topic: packet.topic_name.clone(),
            payload: packet.payload.clone(),
            qos: packet.qos,
            retain: packet.retain,
            seq: seq_of(&properties.user_properties),
            properties,
            expires_at: expiry(packet.properties.get_message_expiry_interval(), now),
            publisher: Some(publisher),
        }
    }

    pub(crate) fn from_publication(publication: Publication) -> Self {
        let properties = ForwardedProperties {
            payload_format_utf8: Some(publication.utf8),
            user_properties: publication.user_properties,
            ..ForwardedProperties::default()
        };
        Self {
            topic: publication.topic,
            payload: publication.payload,
            qos: publication.qos,
            retain: publication.retain,
            seq: seq_of(&properties.user_properties),
            properties,
            expires_at: None,
            publisher: None,
        }
    }

    /// The will's expiry interval counts from when it is published, so `now` is the publishing time.
    pub(crate) fn from_will(will: &Will, publisher: SessionId, now: Instant) -> Self {
        Self { expires_at: expiry(will.message_expiry, now), publisher: Some(publisher), ..(*will.message).clone() }
    }

    pub(crate) fn is_expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// Seconds of life left, rounded up so a message never arrives with 0 while still alive.
    pub(crate) fn remaining_expiry(&self, now: Instant) -> Option<u32> {
        self.expires_at.map(|at| {
            let left = at.saturating_duration_since(now);
            let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            u32::try_from(secs).unwrap_or(u32::MAX)
        })
    }
}

/// The will a client left in its CONNECT, kept in its session until it is published or discarded.
#[derive(Clone, Debug)]
pub(crate) struct Will {
    /// Everything but the expiry, which starts only when the will is published.
    pub message: Arc<Message>,
    pub message_expiry: Option<u32>,
    pub delay: Duration,
}

impl Will {
    pub(crate) fn from_connect(will: &WillMessage, will_properties: &Properties) -> Self {
        let properties = forwarded_properties(will_properties);
        let message = Message {
            topic: will.topic.clone(),
            payload: Bytes::copy_from_slice(&will.payload),
            qos: will.qos,
            retain: will.retain,
            seq: seq_of(&properties.user_properties),
            properties,
            expires_at: None,
            publisher: None,
        };
        Self {
            message: Arc::new(message),
            message_expiry: will.properties.message_expiry_interval,
            delay: Duration::from_secs(u64::from(will.properties.will_delay_interval.unwrap_or(0))),
        }
    }
}

fn expiry(interval: Option<u32>, now: Instant) -> Option<Instant> {
    interval.and_then(|secs| now.checked_add(Duration::from_secs(u64::from(secs))))
}

fn seq_of(user_properties: &[(String, String)]) -> Option<u64> {
    user_properties.iter().find(|(key, _)| key == "seq").and_then(|(_, value)| value.parse().ok())
}

fn forwarded_properties(properties: &Properties) -> ForwardedProperties {
    let string = |id| match properties.get(id) {
        Some(PropertyValue::Utf8String(value)) => Some(value.clone()),
        _ => None,
    };
    ForwardedProperties {
        payload_format_utf8: match properties.get(PropertyId::PayloadFormatIndicator) {
            Some(PropertyValue::Byte(indicator)) => Some(*indicator != 0),
            _ => None,
        },
        content_type: string(PropertyId::ContentType),
        response_topic: string(PropertyId::ResponseTopic),
        correlation_data: match properties.get(PropertyId::CorrelationData) {
            Some(PropertyValue::BinaryData(data)) => Some(data.clone()),
            _ => None,
        },
        user_properties: properties
            .get_all(PropertyId::UserProperty)
            .unwrap_or_default()
            .iter()
            .filter_map(|value| match value {
                PropertyValue::Utf8StringPair(key, value) => Some((key.clone(), value.clone())),
                _ => None,
            })
            .collect(),
    }
}
