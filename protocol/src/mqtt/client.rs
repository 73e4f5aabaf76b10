//! A page's MQTT client, sans-IO: the packets it sends, what each packet it receives means, and the state MQTT
//! asks a client to keep. The browser's hook moves bytes and draws arrows; everything a test can check without a
//! socket is here.
//!
//! What outlives one connection (MQTT's "session state" on the client side [MQTT-4.1]) lives in [`MqttClient`]
//! too: QoS 2 messages received but not yet released, our own QoS 1 publishes not yet acknowledged, and the filter
//! the broker holds for us. A CONNACK that says the broker kept no session clears it.

use std::collections::BTreeMap;

use mqtt5_protocol::packet::connect::ConnectPacket;
use mqtt5_protocol::packet::disconnect::DisconnectPacket;
use mqtt5_protocol::packet::pingreq::PingReqPacket;
use mqtt5_protocol::packet::puback::PubAckPacket;
use mqtt5_protocol::packet::pubcomp::PubCompPacket;
use mqtt5_protocol::packet::publish::PublishPacket;
use mqtt5_protocol::packet::pubrec::PubRecPacket;
use mqtt5_protocol::packet::subscribe::SubscribePacket;
use mqtt5_protocol::packet::unsubscribe::UnsubscribePacket;
use mqtt5_protocol::packet::{MqttPacket, PacketType};
use mqtt5_protocol::{FixedHeader, Packet, Properties, QoS, ReasonCode, WillMessage};

use super::framing::{Frame, FrameError, FrameReader};
use super::{CHAT_TOPIC, EPOCH_PROPERTY, EVENTS_FILTER, EXCHANGE_PROPERTY, PRESENCE_TOPIC_PREFIX, SEQ_PROPERTY};
use crate::{AudioClip, Epoch, Event, EventBody, WireLabel, WsServerMessage, WAV_MIME_TYPE};

/// The largest packet a page accepts: the lab's broker never sends more (its own limit), plus the fixed header.
pub const MAX_PACKET_BYTES: usize = 256 * 1024 + 5;
/// How long the broker keeps a page's session after its connection ends, when the page asks it to: long enough to
/// come back from a fault or a lane switched off for a while.
pub const SESSION_EXPIRY_SECS: u32 = 300;
/// Keep-alive a page may ask for: at least a few seconds (a PINGREQ arrow every second would bury the events),
/// at most what the lab's broker grants.
pub const KEEP_ALIVE_SECS: std::ops::RangeInclusive<u16> = 5..=300;
pub const DEFAULT_KEEP_ALIVE_SECS: u16 = 30;
const MQTT_V5: u8 = 5;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Qos {
    AtMostOnce,
    #[default]
    AtLeastOnce,
    ExactlyOnce,
}

impl Qos {
    pub const ALL: [Qos; 3] = [Qos::AtMostOnce, Qos::AtLeastOnce, Qos::ExactlyOnce];

    pub fn level(self) -> u8 {
        self as u8
    }

    pub fn from_level(level: u8) -> Option<Self> {
        Self::ALL.get(usize::from(level)).copied()
    }

    fn codec(self) -> QoS {
        match self {
            Qos::AtMostOnce => QoS::AtMostOnce,
            Qos::AtLeastOnce => QoS::AtLeastOnce,
            Qos::ExactlyOnce => QoS::ExactlyOnce,
        }
    }

    fn of(qos: QoS) -> Self {
        match qos {
            QoS::AtMostOnce => Qos::AtMostOnce,
            QoS::AtLeastOnce => Qos::AtLeastOnce,
            QoS::ExactlyOnce => Qos::ExactlyOnce,
        }
    }
}

/// The lane's knobs, as the next connection will use them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientSettings {
    pub filter: String,
    pub qos: Qos,
    /// Clean start = 0 and a session expiry: the broker queues QoS 1 and 2 messages while the page is away.
    pub keep_session: bool,
    pub keep_alive_secs: u16,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            filter: EVENTS_FILTER.to_owned(),
            qos: Qos::AtLeastOnce,
            keep_session: true,
            keep_alive_secs: DEFAULT_KEEP_ALIVE_SECS,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("the topic filter is empty")]
    EmptyFilter,
    #[error(
        "`{0}` is not a topic filter: `#` only as the last level, `+` only as a whole level, no NUL, at most 65535 bytes"
    )]
    InvalidFilter(String),
    #[error("keep-alive must be {} to {} seconds", KEEP_ALIVE_SECS.start(), KEEP_ALIVE_SECS.end())]
    KeepAliveOutOfRange,
}

impl ClientSettings {
    /// Refuses what the broker would refuse (or what would make the lane useless), before anything is sent.
    pub fn check(&self) -> Result<(), SettingsError> {
        if self.filter.is_empty() {
            return Err(SettingsError::EmptyFilter);
        }
        if self.filter.len() > usize::from(u16::MAX) || !mqtt5_protocol::is_valid_topic_filter(&self.filter) {
            return Err(SettingsError::InvalidFilter(self.filter.clone()));
        }
        if !KEEP_ALIVE_SECS.contains(&self.keep_alive_secs) {
            return Err(SettingsError::KeepAliveOutOfRange);
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketKind {
    Connect,
    ConnAck,
    Publish,
    PubAck,
    PubRec,
    PubRel,
    PubComp,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    PingReq,
    PingResp,
    Disconnect,
    Auth,
}

impl PacketKind {
    pub fn name(self) -> &'static str {
        match self {
            PacketKind::Connect => "CONNECT",
            PacketKind::ConnAck => "CONNACK",
            PacketKind::Publish => "PUBLISH",
            PacketKind::PubAck => "PUBACK",
            PacketKind::PubRec => "PUBREC",
            PacketKind::PubRel => "PUBREL",
            PacketKind::PubComp => "PUBCOMP",
            PacketKind::Subscribe => "SUBSCRIBE",
            PacketKind::SubAck => "SUBACK",
            PacketKind::Unsubscribe => "UNSUBSCRIBE",
            PacketKind::UnsubAck => "UNSUBACK",
            PacketKind::PingReq => "PINGREQ",
            PacketKind::PingResp => "PINGRESP",
            PacketKind::Disconnect => "DISCONNECT",
            PacketKind::Auth => "AUTH",
        }
    }

    fn of(packet: &Packet) -> Self {
        match packet {
            Packet::Connect(_) => PacketKind::Connect,
            Packet::ConnAck(_) => PacketKind::ConnAck,
            Packet::Publish(_) => PacketKind::Publish,
            Packet::PubAck(_) => PacketKind::PubAck,
            Packet::PubRec(_) => PacketKind::PubRec,
            Packet::PubRel(_) => PacketKind::PubRel,
            Packet::PubComp(_) => PacketKind::PubComp,
            Packet::Subscribe(_) => PacketKind::Subscribe,
            Packet::SubAck(_) => PacketKind::SubAck,
            Packet::Unsubscribe(_) => PacketKind::Unsubscribe,
            Packet::UnsubAck(_) => PacketKind::UnsubAck,
            Packet::PingReq => PacketKind::PingReq,
            Packet::PingResp => PacketKind::PingResp,
            Packet::Disconnect(_) => PacketKind::Disconnect,
            Packet::Auth(_) => PacketKind::Auth,
        }
    }
}

/// One packet as the lane draws it: an arrow's label comes from here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketInfo {
    pub kind: PacketKind,
    pub packet_id: Option<u16>,
    /// A PUBLISH's QoS.
    pub qos: Option<Qos>,
    pub dup: bool,
    pub topic: Option<String>,
    /// Bytes of the whole packet on the wire (inside its WebSocket frame).
    pub len: usize,
}

impl PacketInfo {
    /// `PUBLISH q2 id=7 DUP`, `PUBREL id=7`, `PINGREQ`.
    pub fn label(&self) -> String {
        let mut label = self.kind.name().to_owned();
        if let Some(qos) = self.qos {
            label.push_str(&format!(" q{}", qos.level()));
        }
        if let Some(id) = self.packet_id {
            label.push_str(&format!(" id={id}"));
        }
        if self.dup {
            label.push_str(" DUP");
        }
        label
    }

    fn of(packet: &Packet, len: usize) -> Self {
        let (packet_id, qos, dup, topic) = match packet {
            Packet::Publish(publish) => {
                (publish.packet_id, Some(Qos::of(publish.qos)), publish.dup, Some(publish.topic_name.clone()))
            }
            Packet::PubAck(ack) => (Some(ack.packet_id), None, false, None),
            Packet::PubRec(ack) => (Some(ack.packet_id), None, false, None),
            Packet::PubRel(ack) => (Some(ack.packet_id), None, false, None),
            Packet::PubComp(ack) => (Some(ack.packet_id), None, false, None),
            Packet::Subscribe(subscribe) => {
                (Some(subscribe.packet_id), None, false, subscribe.filters.first().map(|f| f.filter.clone()))
            }
            Packet::SubAck(ack) => (Some(ack.packet_id), None, false, None),
            Packet::Unsubscribe(unsubscribe) => {
                (Some(unsubscribe.packet_id), None, false, unsubscribe.filters.first().cloned())
            }
            Packet::UnsubAck(ack) => (Some(ack.packet_id), None, false, None),
            _ => (None, None, false, None),
        };
        Self { kind: PacketKind::of(packet), packet_id, qos, dup, topic, len }
    }
}

/// A packet to write, as one binary WebSocket frame.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub bytes: Vec<u8>,
    pub packet: PacketInfo,
}

/// A PUBLISH the broker delivered to this client.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    pub topic: String,
    pub qos: Qos,
    pub packet_id: Option<u16>,
    pub dup: bool,
    /// The lab's user properties: the hub's sequence number and run.
    pub seq: Option<u64>,
    pub epoch: Option<Epoch>,
    pub payload: Vec<u8>,
}

/// A delivered event. `timed` is false for an audio clip: its payload is the bare WAV, and MQTT carries no
/// emission time for it (the event's `emitted_at` is 0), so no latency can be measured.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveredEvent {
    pub event: Event,
    pub timed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    #[error("the PUBLISH has no `seq` user property")]
    NoSeq,
    #[error("the payload is not an event's JSON: {0}")]
    NotAnEvent(String),
    #[error("the event's JSON says #{json} but its `seq` property #{property}")]
    SeqMismatch { json: u64, property: u64 },
}

impl Delivery {
    /// The hub event this PUBLISH carries: the JSON payload, or for `lab/events/audio` a clip built from the WAV.
    pub fn event(&self) -> Result<DeliveredEvent, DeliveryError> {
        let seq = self.seq.ok_or(DeliveryError::NoSeq)?;
        if super::label_of_topic(&self.topic) == WireLabel::Audio {
            let clip = AudioClip {
                mime_type: WAV_MIME_TYPE.to_owned(),
                frequency_hz: 0,
                duration_ms: wav_duration_ms(&self.payload).unwrap_or(0),
                data: self.payload.clone(),
            };
            let event = Event { seq, emitted_at: 0, body: EventBody::Audio(clip) };
            return Ok(DeliveredEvent { event, timed: false });
        }
        // The payload is the WebSocket lane's event frame (`"type": "event"` beside the event's fields).
        let event = match serde_json::from_slice::<WsServerMessage>(&self.payload) {
            Ok(WsServerMessage::Event(event)) => Event::clone(&event),
            Ok(_) => return Err(DeliveryError::NotAnEvent("a WebSocket frame other than an event".into())),
            Err(_) => serde_json::from_slice::<Event>(&self.payload)
                .map_err(|error| DeliveryError::NotAnEvent(error.to_string()))?,
        };
        if event.seq != seq {
            return Err(DeliveryError::SeqMismatch { json: event.seq, property: seq });
        }
        Ok(DeliveredEvent { event, timed: true })
    }
}

/// A canonical PCM WAV's length: data bytes over byte rate (the lab's clips are written that way).
fn wav_duration_ms(wav: &[u8]) -> Option<u32> {
    let byte_rate = u32::from_le_bytes(wav.get(28..32)?.try_into().ok()?);
    let data_len = u32::from_le_bytes(wav.get(40..44)?.try_into().ok()?);
    (wav.get(..4)? == b"RIFF" && byte_rate > 0).then(|| (u64::from(data_len) * 1000 / u64::from(byte_rate)) as u32)
}

/// What one received packet means.
#[derive(Clone, Debug, PartialEq)]
pub enum Received {
    ConnAck {
        session_present: bool,
        reason_code: u8,
        /// The HTTP exchange that upgraded this socket (the lab's user property), for wire records.
        exchange: Option<u64>,
        /// The broker's own keep-alive, when it overrides the one asked for.
        server_keep_alive: Option<u16>,
    },
    /// Reason codes per filter: the QoS granted (0–2), or a refusal (0x80 and up).
    SubAck {
        granted: Vec<u8>,
    },
    UnsubAck,
    /// A message to deliver (the first time it is seen).
    Delivery(Delivery),
    /// A QoS 2 PUBLISH seen again before its PUBREL (a resend, DUP set): answered with PUBREC again, not
    /// delivered twice.
    Repeated {
        packet_id: u16,
        seq: Option<u64>,
    },
    /// PUBREL: the broker has forgotten the message; answered with PUBCOMP. `seq` is the message's, if this
    /// client still knew the packet id.
    Released {
        packet_id: u16,
        seq: Option<u64>,
    },
    /// PUBACK for one of this client's QoS 1 publishes. `ours` is false for a packet id it did not send.
    Acked {
        packet_id: u16,
        reason_code: u8,
        ours: bool,
    },
    PingResp,
    Disconnect {
        reason_code: u8,
    },
    /// A packet only a client sends, or one this client never asked for (PUBREC/PUBCOMP to its QoS 1 publishes).
    Unexpected,
}

/// One received packet: what it is, what it means, and the answer to send at once (PUBACK, PUBREC, PUBCOMP).
#[derive(Clone, Debug)]
pub struct Incoming {
    pub packet: PacketInfo,
    pub received: Received,
    pub answer: Option<Outgoing>,
    /// The packet as it came, for the inspector.
    pub bytes: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("malformed {kind} packet: {message}")]
    Malformed { kind: String, message: String },
    #[error("cannot encode {kind}: {message}")]
    Encode { kind: &'static str, message: String },
}

/// Messages in flight, as the lane's figures show them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InFlight {
    /// QoS 2 messages received (PUBREC sent) that the broker has not released yet.
    pub qos2_awaiting_release: usize,
    /// This client's QoS 1 publishes the broker has not acknowledged yet.
    pub qos1_awaiting_ack: usize,
}

#[derive(Debug)]
pub struct MqttClient {
    client_id: String,
    reader: FrameReader,
    /// QoS 2 packet ids received and answered with PUBREC, with the message's seq: a resend of one of these is
    /// not a new message. At most 65 536 entries (one per packet id), and the broker's receive window keeps it far
    /// smaller.
    awaiting_release: BTreeMap<u16, Option<u64>>,
    /// This client's QoS 1 publishes not yet acknowledged, resent (DUP) if the broker kept the session.
    unacked: BTreeMap<u16, PublishPacket>,
    next_packet_id: u16,
    /// The filter the broker holds for this client's session, if any.
    subscribed: Option<String>,
}

impl MqttClient {
    pub fn new(client_id: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            reader: FrameReader::default(),
            awaiting_release: BTreeMap::new(),
            unacked: BTreeMap::new(),
            next_packet_id: 1,
            subscribed: None,
        }
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    pub fn in_flight(&self) -> InFlight {
        InFlight { qos2_awaiting_release: self.awaiting_release.len(), qos1_awaiting_ack: self.unacked.len() }
    }

    /// The will's topic: `lab/presence/<client id>`.
    pub fn presence_topic(&self) -> String {
        format!("{PRESENCE_TOPIC_PREFIX}{}", self.client_id)
    }

    /// CONNECT for a new connection (its byte stream starts afresh). MQTT 5, with a will saying the page left,
    /// published by the broker if the connection dies without a DISCONNECT.
    pub fn connect(&mut self, settings: &ClientSettings) -> Result<Outgoing, ClientError> {
        self.reader.reset();
        let mut properties = Properties::default();
        if settings.keep_session {
            properties.set_session_expiry_interval(SESSION_EXPIRY_SECS);
        }
        let mut will_properties = Properties::default();
        will_properties.set_payload_format_indicator(true);
        let will = WillMessage::new(self.presence_topic(), format!("{} left without a word", self.client_id));
        let packet = ConnectPacket {
            protocol_version: MQTT_V5,
            clean_start: !settings.keep_session,
            keep_alive: settings.keep_alive_secs,
            client_id: self.client_id.clone(),
            username: None,
            password: None,
            will: Some(will),
            properties,
            will_properties,
        };
        outgoing(&Packet::Connect(Box::new(packet.clone())), &packet)
    }

    /// What to send after a CONNACK that accepted the connection: UNSUBSCRIBE from a filter the kept session
    /// still holds but the settings no longer want, SUBSCRIBE (again: it costs one packet and sets the QoS the knobs
    /// ask for), then this client's unacknowledged publishes again, with DUP [MQTT-4.4.0-1].
    pub fn after_connack(
        &mut self,
        settings: &ClientSettings,
        session_present: bool,
    ) -> Result<Vec<Outgoing>, ClientError> {
        if !session_present {
            // The broker kept nothing: neither may the client [MQTT-4.1.0-2 and 3.2.2-5].
            self.awaiting_release.clear();
            self.unacked.clear();
            self.subscribed = None;
        }
        let mut out = Vec::new();
        if let Some(old) = self.subscribed.take().filter(|old| *old != settings.filter) {
            let mut unsubscribe = UnsubscribePacket::new(self.packet_id());
            unsubscribe.filters.push(old);
            out.push(outgoing(&Packet::Unsubscribe(unsubscribe.clone()), &unsubscribe)?);
        }
        let subscribe =
            SubscribePacket::new(self.packet_id()).add_filter(settings.filter.clone(), settings.qos.codec());
        out.push(outgoing(&Packet::Subscribe(subscribe.clone()), &subscribe)?);
        self.subscribed = Some(settings.filter.clone());
        for publish in self.unacked.values() {
            let again = publish.clone().with_dup(true);
            out.push(outgoing(&Packet::Publish(again.clone()), &again)?);
        }
        Ok(out)
    }

    /// A message to `lab/chat` at QoS 1: the broker answers PUBACK, and the hub makes it an event every lane gets.
    pub fn publish_chat(&mut self, text: &str) -> Result<Outgoing, ClientError> {
        let packet_id = self.packet_id();
        let publish = PublishPacket::new(CHAT_TOPIC, text.as_bytes().to_vec(), QoS::AtLeastOnce)
            .with_packet_id(packet_id)
            .with_payload_format_indicator(true);
        let sent = outgoing(&Packet::Publish(publish.clone()), &publish)?;
        self.unacked.insert(packet_id, publish);
        Ok(sent)
    }

    pub fn ping(&self) -> Result<Outgoing, ClientError> {
        outgoing(&Packet::PingReq, &PingReqPacket::default())
    }

    /// A normal DISCONNECT: the broker discards the will, and keeps the session if one was asked for.
    pub fn disconnect(&self) -> Result<Outgoing, ClientError> {
        let packet = DisconnectPacket::new(ReasonCode::Success);
        outgoing(&Packet::Disconnect(packet.clone()), &packet)
    }

    /// Every packet `bytes` completes, with what it means and its answer. A packet the codec refuses ends the
    /// connection (the caller closes it): MQTT has no way to skip one.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<Vec<Incoming>, ClientError> {
        let mut incoming = Vec::new();
        for frame in self.reader.frames(bytes, MAX_PACKET_BYTES as u32)? {
            let packet = decode(&frame)?;
            let raw = frame.packet.to_vec();
            let info = PacketInfo::of(&packet, raw.len());
            let (received, answer) = self.interpret(packet)?;
            incoming.push(Incoming { packet: info, received, answer, bytes: raw });
        }
        Ok(incoming)
    }

    fn interpret(&mut self, packet: Packet) -> Result<(Received, Option<Outgoing>), ClientError> {
        Ok(match packet {
            Packet::ConnAck(connack) => {
                let properties = &connack.properties;
                let received = Received::ConnAck {
                    session_present: connack.session_present,
                    reason_code: u8::from(connack.reason_code),
                    exchange: properties.get_user_property_value(EXCHANGE_PROPERTY).and_then(|id| id.parse().ok()),
                    server_keep_alive: properties.get_server_keep_alive(),
                };
                (received, None)
            }
            Packet::SubAck(suback) => {
                let granted = suback.reason_codes.iter().map(|code| *code as u8).collect();
                (Received::SubAck { granted }, None)
            }
            Packet::UnsubAck(_) => (Received::UnsubAck, None),
            Packet::Publish(publish) => self.delivered(publish)?,
            Packet::PubRel(pubrel) => {
                let packet_id = pubrel.packet_id;
                let seq = self.awaiting_release.remove(&packet_id).flatten();
                // PUBCOMP even for an id this client does not know: the broker is waiting for it [MQTT-4.3.3-11].
                let answer = PubCompPacket::new(packet_id);
                (Received::Released { packet_id, seq }, Some(outgoing(&Packet::PubComp(answer.clone()), &answer)?))
            }
            Packet::PubAck(ack) => {
                let ours = self.unacked.remove(&ack.packet_id).is_some();
                (Received::Acked { packet_id: ack.packet_id, reason_code: u8::from(ack.reason_code), ours }, None)
            }
            Packet::PingResp => (Received::PingResp, None),
            Packet::Disconnect(disconnect) => {
                (Received::Disconnect { reason_code: u8::from(disconnect.reason_code) }, None)
            }
            _ => (Received::Unexpected, None),
        })
    }

    fn delivered(&mut self, publish: PublishPacket) -> Result<(Received, Option<Outgoing>), ClientError> {
        let properties = &publish.properties;
        let seq = properties.get_user_property_value(SEQ_PROPERTY).and_then(|seq| seq.parse().ok());
        let epoch = properties.get_user_property_value(EPOCH_PROPERTY).map(|epoch| Epoch(epoch.to_owned()));
        let qos = Qos::of(publish.qos);
        let packet_id = publish.packet_id;
        let answer = match (qos, packet_id) {
            (Qos::AtLeastOnce, Some(id)) => {
                let ack = PubAckPacket::new(id);
                Some(outgoing(&Packet::PubAck(ack.clone()), &ack)?)
            }
            (Qos::ExactlyOnce, Some(id)) => {
                let rec = PubRecPacket::new(id);
                Some(outgoing(&Packet::PubRec(rec.clone()), &rec)?)
            }
            _ => None,
        };
        if let (Qos::ExactlyOnce, Some(id)) = (qos, packet_id) {
            // Until the PUBREL, this id names a message already delivered: whatever comes under it again is the
            // same message resent [MQTT-4.3.3-9].
            if let Some(known) = self.awaiting_release.get(&id) {
                return Ok((Received::Repeated { packet_id: id, seq: known.or(seq) }, answer));
            }
            self.awaiting_release.insert(id, seq);
        }
        let delivery = Delivery {
            topic: publish.topic_name,
            qos,
            packet_id,
            dup: publish.dup,
            seq,
            epoch,
            payload: publish.payload.to_vec(),
        };
        Ok((Received::Delivery(delivery), answer))
    }

    /// Packet ids cycle through 1..=65535 (0 is not an id).
    fn packet_id(&mut self) -> u16 {
        let id = self.next_packet_id;
        self.next_packet_id = self.next_packet_id.checked_add(1).unwrap_or(1);
        id
    }
}

fn outgoing<P: MqttPacket>(packet: &Packet, encodable: &P) -> Result<Outgoing, ClientError> {
    let kind = PacketKind::of(packet).name();
    let mut bytes = Vec::new();
    encodable.encode(&mut bytes).map_err(|error| ClientError::Encode { kind, message: error.to_string() })?;
    let info = PacketInfo::of(packet, bytes.len());
    Ok(Outgoing { bytes, packet: info })
}

/// One whole packet to a typed packet.
fn decode(frame: &Frame) -> Result<Packet, ClientError> {
    let malformed = |message: String| ClientError::Malformed { kind: format!("type {}", frame.packet_type), message };
    let packet_type = PacketType::from_u8(frame.packet_type).ok_or_else(|| malformed("reserved packet type".into()))?;
    let header = FixedHeader::new(packet_type, frame.flags, u32::try_from(frame.body.len()).unwrap_or(u32::MAX));
    let mut body = &frame.body[..];
    let packet = Packet::decode_from_body_with_version(packet_type, &header, &mut body, MQTT_V5)
        .map_err(|error| malformed(error.to_string()))?;
    if !body.is_empty() {
        return Err(malformed(format!("{} bytes after the packet's fields", body.len())));
    }
    Ok(packet)
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
