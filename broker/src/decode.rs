//! From a whole frame to a typed packet, with the checks mqtt5-protocol leaves to the receiver: nothing may follow
//! the packet's fields, a v3.1.1 SUBSCRIBE's reserved option bits, the SUBSCRIBE faults MQTT 5 calls protocol
//! errors rather than malformed packets, and the protocol level of a CONNECT (read before decoding it, so an
//! unsupported version is answered rather than called malformed).

use bytes::Buf;
use mqtt5_protocol::encoding::decode_variable_int;
use mqtt5_protocol::packet::PacketType;
use mqtt5_protocol::{FixedHeader, Packet};

use crate::error::Fault;
use crate::output::PacketSummary;
use protocol::mqtt::framing::Frame;

pub(crate) const MQTT_V311: u8 = 4;
pub(crate) const MQTT_V5: u8 = 5;

/// What a CONNECT's variable header says about the protocol, before anything else of it is trusted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ProtocolLevel {
    Supported(u8),
    /// "MQTT" (or MQTT 3.1's "MQIsdp") with a level this broker does not speak.
    Unsupported(u8),
    NotMqtt,
}

pub(crate) fn protocol_level(body: &[u8]) -> ProtocolLevel {
    let Some((name_len, rest)) = body.split_first_chunk::<2>() else {
        return ProtocolLevel::NotMqtt;
    };
    let name_len = usize::from(u16::from_be_bytes(*name_len));
    let (Some(name), Some(&level)) = (rest.get(..name_len), rest.get(name_len)) else {
        return ProtocolLevel::NotMqtt;
    };
    match (name, level) {
        (b"MQTT", MQTT_V311 | MQTT_V5) => ProtocolLevel::Supported(level),
        (b"MQTT" | b"MQIsdp", _) => ProtocolLevel::Unsupported(level),
        _ => ProtocolLevel::NotMqtt,
    }
}

/// Decodes a frame for a client speaking `version`.
pub(crate) fn decode(frame: &Frame, version: u8) -> Result<Packet, Fault> {
    let packet_type = PacketType::from_u8(frame.packet_type)
        .ok_or_else(|| Fault::Malformed(format!("reserved packet type {}", frame.packet_type)))?;
    let remaining_len = u32::try_from(frame.body.len()).unwrap_or(u32::MAX);
    let header = FixedHeader::new(packet_type, frame.flags, remaining_len);
    if !header.validate_flags() {
        return Err(Fault::Malformed(format!("reserved flags 0x{:X} set on {packet_type:?}", frame.flags)));
    }
    match (version, packet_type) {
        (MQTT_V311, PacketType::Subscribe) => check_v311_subscription_options(&frame.body)?,
        (MQTT_V5, PacketType::Subscribe) => check_v5_subscription_options(&frame.body)?,
        _ => {}
    }
    let mut body = frame.body.clone();
    let packet = Packet::decode_from_body_with_version(packet_type, &header, &mut body, version)?;
    if body.has_remaining() {
        return Err(Fault::Malformed(format!("{} bytes after the end of {packet_type:?}", body.remaining())));
    }
    Ok(packet)
}

/// mqtt5-protocol keeps only the two QoS bits of a v3.1.1 subscription; the other six must be zero and QoS 3 is
/// not a QoS [MQTT-3.8.3-4].
fn check_v311_subscription_options(body: &[u8]) -> Result<(), Fault> {
    for options in subscription_options(body.get(2..).unwrap_or_default()) {
        if options & 0xFC != 0 || options & 0x03 == 0x03 {
            return Err(Fault::Malformed(format!("subscription options 0x{options:02X}")));
        }
    }
    Ok(())
}

/// MQTT 5 gives a SUBSCRIBE three faults the reason code 0x82 Protocol Error, where mqtt5-protocol's decoder says
/// 0x81 Malformed Packet (as Mosquitto does): no filter at all [MQTT-3.8.3-2], a Maximum QoS of 3, and a Retain
/// Handling of 3 (section 3.8.3.1). Reserved option bits stay malformed. Whatever cannot be read is left to the
/// decoder to call malformed.
fn check_v5_subscription_options(body: &[u8]) -> Result<(), Fault> {
    let mut after_id = body.get(2..).unwrap_or_default();
    let Ok(properties_len) = decode_variable_int(&mut after_id) else {
        return Ok(());
    };
    let Some(payload) = after_id.get(properties_len as usize..) else {
        return Ok(());
    };
    if payload.is_empty() {
        return Err(Fault::Protocol("SUBSCRIBE without a topic filter".to_owned()));
    }
    for options in subscription_options(payload) {
        if options & 0xC0 != 0 {
            return Err(Fault::Malformed(format!("subscription options 0x{options:02X}")));
        }
        if options & 0x03 == 0x03 {
            return Err(Fault::Protocol("subscription with Maximum QoS 3".to_owned()));
        }
        if options & 0x30 == 0x30 {
            return Err(Fault::Protocol("subscription with Retain Handling 3".to_owned()));
        }
    }
    Ok(())
}

/// The options byte of each subscription in a SUBSCRIBE's payload (length-prefixed filters, each followed by its
/// options), up to the first one cut short: a truncated filter is the decoder's to report.
fn subscription_options(mut payload: &[u8]) -> impl Iterator<Item = u8> + '_ {
    std::iter::from_fn(move || {
        let (len, after_len) = payload.split_first_chunk::<2>()?;
        let len = usize::from(u16::from_be_bytes(*len));
        let options = *after_len.get(len)?;
        payload = &after_len[len + 1..];
        Some(options)
    })
}

/// The wire tap's label for a packet a client sent.
pub(crate) fn summary(packet: &Packet) -> PacketSummary {
    let kind = packet.packet_type_name();
    match packet {
        Packet::Publish(publish) => PacketSummary {
            kind,
            packet_id: publish.packet_id,
            topic: Some(publish.topic_name.clone()),
            qos: Some(publish.qos as u8),
            dup: publish.dup,
            retain: publish.retain,
            seq: publish.properties.get_user_property_value("seq").and_then(|seq| seq.parse().ok()),
            payload_len: publish.payload.len(),
        },
        Packet::PubAck(ack) => PacketSummary::control(kind, Some(ack.packet_id)),
        Packet::PubRec(ack) => PacketSummary::control(kind, Some(ack.packet_id)),
        Packet::PubRel(ack) => PacketSummary::control(kind, Some(ack.packet_id)),
        Packet::PubComp(ack) => PacketSummary::control(kind, Some(ack.packet_id)),
        Packet::Subscribe(subscribe) => PacketSummary {
            topic: subscribe.filters.first().map(|filter| filter.filter.clone()),
            ..PacketSummary::control(kind, Some(subscribe.packet_id))
        },
        Packet::Unsubscribe(unsubscribe) => PacketSummary {
            topic: unsubscribe.filters.first().cloned(),
            ..PacketSummary::control(kind, Some(unsubscribe.packet_id))
        },
        Packet::SubAck(ack) => PacketSummary::control(kind, Some(ack.packet_id)),
        Packet::UnsubAck(ack) => PacketSummary::control(kind, Some(ack.packet_id)),
        _ => PacketSummary::control(kind, None),
    }
}
