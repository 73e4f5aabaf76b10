//! Encoding what the broker sends. A PUBLISH is encoded once per (protocol version, QoS, RETAIN) for each message
//! and copied per subscriber with only its packet identifier (and DUP) patched in, so a fan-out to thousands of
//! subscribers does not rebuild properties and topic thousands of times.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use mqtt5_protocol::packet::publish::PublishPacket;
use mqtt5_protocol::packet::MqttPacket;
use mqtt5_protocol::{MqttError, QoS};

use crate::decode::MQTT_V5;
use crate::message::Message;
use crate::output::PacketSummary;

const DUP_FLAG: u8 = 0x08;

pub(crate) fn encode<P: MqttPacket>(packet: &P) -> Result<Bytes, MqttError> {
    let mut buffer = BytesMut::new();
    packet.encode(&mut buffer)?;
    Ok(buffer.freeze())
}

/// One encoded PUBLISH with packet identifier 0, ready to be stamped for a subscriber.
#[derive(Debug)]
pub(crate) struct PublishTemplate {
    bytes: Bytes,
    /// Where the packet identifier sits; `None` for QoS 0, which has none.
    packet_id_at: Option<usize>,
}

impl PublishTemplate {
    pub(crate) fn build(
        message: &Message,
        version: u8,
        qos: QoS,
        retain: bool,
        now: Instant,
    ) -> Result<Self, MqttError> {
        let mut packet = if version == MQTT_V5 {
            PublishPacket::new(message.topic.clone(), message.payload.clone(), qos)
        } else {
            PublishPacket::new_v311(message.topic.clone(), message.payload.clone(), qos)
        }
        .with_retain(retain)
        .with_packet_id(0);
        if version == MQTT_V5 {
            let forwarded = &message.properties;
            let properties = &mut packet.properties;
            if let Some(utf8) = forwarded.payload_format_utf8 {
                properties.set_payload_format_indicator(utf8);
            }
            if let Some(seconds) = message.remaining_expiry(now) {
                properties.set_message_expiry_interval(seconds);
            }
            if let Some(content_type) = &forwarded.content_type {
                properties.set_content_type(content_type.clone());
            }
            if let Some(response_topic) = &forwarded.response_topic {
                properties.set_response_topic(response_topic.clone());
            }
            if let Some(correlation_data) = &forwarded.correlation_data {
                properties.set_correlation_data(correlation_data.clone());
            }
            for (key, value) in &forwarded.user_properties {
                properties.add_user_property(key.clone(), value.clone());
            }
        }
        let bytes = encode(&packet)?;
        let packet_id_at = (qos != QoS::AtMostOnce).then(|| fixed_header_len(&bytes) + 2 + message.topic.len());
        Ok(Self { bytes, packet_id_at })
    }

    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn stamp(&self, packet_id: Option<u16>, dup: bool) -> Bytes {
        let (Some(at), Some(packet_id)) = (self.packet_id_at, packet_id) else {
            return self.bytes.clone();
        };
        let mut bytes = BytesMut::from(&self.bytes[..]);
        if let Some(id_bytes) = bytes.get_mut(at..at + 2) {
            id_bytes.copy_from_slice(&packet_id.to_be_bytes());
        }
        if dup {
            if let Some(first) = bytes.first_mut() {
                *first |= DUP_FLAG;
            }
        }
        bytes.freeze()
    }
}

fn fixed_header_len(bytes: &[u8]) -> usize {
    let length_bytes = bytes.iter().skip(1).take_while(|byte| *byte & 0x80 != 0).count() + 1;
    1 + length_bytes
}

/// The templates of one message, built as subscribers of each kind turn up.
pub(crate) struct PublishCache<'m> {
    message: &'m Message,
    now: Instant,
    templates: Vec<((u8, QoS, bool), Option<PublishTemplate>)>,
}

impl<'m> PublishCache<'m> {
    pub(crate) fn new(message: &'m Message, now: Instant) -> Self {
        Self { message, now, templates: Vec::new() }
    }

    /// `None` when the message cannot be encoded (e.g. a lab user property longer than a string may be).
    pub(crate) fn template(&mut self, version: u8, qos: QoS, retain: bool) -> Option<&PublishTemplate> {
        let key = (version, qos, retain);
        let index = match self.templates.iter().position(|(existing, _)| *existing == key) {
            Some(index) => index,
            None => {
                let template = PublishTemplate::build(self.message, version, qos, retain, self.now).ok();
                self.templates.push((key, template));
                self.templates.len() - 1
            }
        };
        self.templates.get(index).and_then(|(_, template)| template.as_ref())
    }
}

pub(crate) fn publish_summary(
    message: &Message,
    qos: QoS,
    packet_id: Option<u16>,
    dup: bool,
    retain: bool,
) -> PacketSummary {
    PacketSummary {
        kind: "PUBLISH",
        packet_id,
        topic: Some(message.topic.clone()),
        qos: Some(qos as u8),
        dup,
        retain,
        seq: message.seq,
        payload_len: message.payload.len(),
    }
}
