//! The page's MQTT client: its packets checked with mqtt5-protocol's decoder, its receive state with tables of
//! packets built by mqtt5-protocol's encoder, and whole exchanges against the lab's own broker with no socket.

use std::time::{Duration, Instant};

use broker::{Broker, BrokerConfig, ConnectionId, Output, Publication};
use mqtt5_protocol::packet::connack::ConnAckPacket;
use mqtt5_protocol::packet::pubrel::PubRelPacket;

use super::*;
use crate::{Event, EventBody, WsServerMessage};

/// One whole packet's bytes to a typed packet, through the same framer and decoder as `receive`.
fn decode(raw: &[u8]) -> Result<Packet, ClientError> {
    let mut frames = FrameReader::default().frames(raw, u32::MAX)?;
    assert_eq!(frames.len(), 1, "one whole packet");
    super::decode(&frames.remove(0))
}

fn encode<P: MqttPacket>(packet: &P) -> Vec<u8> {
    let mut bytes = Vec::new();
    packet.encode(&mut bytes).expect("test packets encode");
    bytes
}

fn event_json(seq: u64, text: &str) -> Vec<u8> {
    let event = Event { seq, emitted_at: 7, body: EventBody::Message { text: text.into() } };
    WsServerMessage::Event(event.into()).encode().into_bytes()
}

fn lab_publish(id: u16, seq: u64, qos: QoS, dup: bool) -> Vec<u8> {
    let publish = PublishPacket::new("lab/events/message", event_json(seq, "hi"), qos)
        .with_packet_id(id)
        .with_dup(dup)
        .with_user_property(SEQ_PROPERTY.into(), seq.to_string())
        .with_user_property(EPOCH_PROPERTY.into(), "e1".into());
    encode(&publish)
}

#[test]
fn connect_asks_for_what_the_knobs_say() {
    for keep_session in [true, false] {
        let mut client = MqttClient::new("page-1");
        let settings = ClientSettings { keep_session, keep_alive_secs: 42, ..ClientSettings::default() };
        let sent = client.connect(&settings).unwrap();
        assert_eq!(sent.packet.kind, PacketKind::Connect);
        let Packet::Connect(connect) = decode(&sent.bytes).unwrap() else { panic!("not a CONNECT") };
        assert_eq!(connect.protocol_version, 5);
        assert_eq!(connect.clean_start, !keep_session);
        assert_eq!(connect.keep_alive, 42);
        assert_eq!(connect.client_id, "page-1");
        let expiry = connect.properties.get_session_expiry_interval();
        assert_eq!(expiry, keep_session.then_some(SESSION_EXPIRY_SECS));
        let will = connect.will.expect("a will");
        assert_eq!(will.topic, "lab/presence/page-1");
        assert!(String::from_utf8_lossy(&will.payload).contains("left"));
    }
}

#[test]
fn the_packets_a_page_sends_decode_as_what_they_say() {
    let mut client = MqttClient::new("p");
    let settings = ClientSettings { qos: Qos::ExactlyOnce, ..ClientSettings::default() };
    let subscribe = client.after_connack(&settings, false).unwrap();
    let chat = client.publish_chat("hello").unwrap();
    let cases: Vec<(Outgoing, &str)> = vec![
        (subscribe.into_iter().next().unwrap(), "SUBSCRIBE id=1"),
        (chat, "PUBLISH q1 id=2"),
        (client.ping().unwrap(), "PINGREQ"),
        (client.disconnect().unwrap(), "DISCONNECT"),
    ];
    for (sent, label) in cases {
        assert_eq!(sent.packet.label(), label);
        assert_eq!(sent.packet.len, sent.bytes.len());
        let packet = decode(&sent.bytes).unwrap();
        assert_eq!(packet.packet_type_name(), sent.packet.kind.name());
        match packet {
            Packet::Subscribe(subscribe) => {
                assert_eq!(subscribe.filters[0].filter, EVENTS_FILTER);
                assert_eq!(subscribe.filters[0].options.qos, QoS::ExactlyOnce);
            }
            Packet::Publish(publish) => {
                assert_eq!((publish.topic_name.as_str(), &publish.payload[..]), (CHAT_TOPIC, &b"hello"[..]));
                assert_eq!(publish.qos, QoS::AtLeastOnce);
            }
            _ => {}
        }
    }
    assert_eq!(client.in_flight().qos1_awaiting_ack, 1);
}

/// One packet from the broker, and what the client must make of it.
struct Step {
    packet: Vec<u8>,
    meaning: &'static str,
    answer: Option<&'static str>,
}

fn meaning(received: &Received) -> String {
    match received {
        Received::Delivery(delivery) => format!("deliver #{}", delivery.seq.unwrap_or_default()),
        Received::Repeated { seq, .. } => format!("repeat of #{}", seq.unwrap_or_default()),
        Received::Released { seq, .. } => format!("released #{}", seq.map_or("?".into(), |seq| seq.to_string())),
        Received::Acked { ours, .. } => format!("acked ours={ours}"),
        other => format!("{other:?}"),
    }
}

#[test]
fn the_receive_state_table() {
    let step = |packet, meaning, answer| Step { packet, meaning, answer };
    let pubrel = |id| encode(&PubRelPacket::new(id));
    let cases: Vec<(&str, Vec<Step>)> = vec![
        (
            "QoS 2: PUBREC, then PUBCOMP for the PUBREL",
            vec![
                step(lab_publish(5, 11, QoS::ExactlyOnce, false), "deliver #11", Some("PUBREC id=5")),
                step(pubrel(5), "released #11", Some("PUBCOMP id=5")),
            ],
        ),
        (
            "QoS 2 resent with DUP before the PUBREL is answered, not delivered twice",
            vec![
                step(lab_publish(5, 11, QoS::ExactlyOnce, false), "deliver #11", Some("PUBREC id=5")),
                step(lab_publish(5, 11, QoS::ExactlyOnce, true), "repeat of #11", Some("PUBREC id=5")),
                step(pubrel(5), "released #11", Some("PUBCOMP id=5")),
                step(lab_publish(5, 12, QoS::ExactlyOnce, false), "deliver #12", Some("PUBREC id=5")),
            ],
        ),
        (
            "a PUBREL for an id this client forgot still gets its PUBCOMP",
            vec![step(pubrel(9), "released #?", Some("PUBCOMP id=9"))],
        ),
        (
            "QoS 1 is acknowledged, and a resend is delivered again (at least once)",
            vec![
                step(lab_publish(3, 4, QoS::AtLeastOnce, false), "deliver #4", Some("PUBACK id=3")),
                step(lab_publish(3, 4, QoS::AtLeastOnce, true), "deliver #4", Some("PUBACK id=3")),
            ],
        ),
        ("QoS 0 has no answer", vec![step(lab_publish(0, 1, QoS::AtMostOnce, false), "deliver #1", None)]),
        ("a PUBACK for nothing we sent", vec![step(encode(&PubAckPacket::new(77)), "acked ours=false", None)]),
        ("PINGRESP", vec![step(vec![0xD0, 0x00], "PingResp", None)]),
    ];
    for (name, steps) in cases {
        let mut client = MqttClient::new("p");
        for (index, step) in steps.iter().enumerate() {
            let incoming = client.receive(&step.packet).unwrap();
            assert_eq!(incoming.len(), 1, "{name} step {index}");
            assert_eq!(meaning(&incoming[0].received), step.meaning, "{name} step {index}");
            let answer = incoming[0].answer.as_ref().map(|answer| answer.packet.label());
            assert_eq!(answer.as_deref(), step.answer, "{name} step {index}");
        }
    }
}

#[test]
fn packets_split_anyhow_come_out_whole() {
    let mut stream = lab_publish(1, 1, QoS::AtLeastOnce, false);
    stream.extend(lab_publish(2, 2, QoS::AtLeastOnce, false));
    stream.extend([0xD0, 0x00]);
    for chunk_size in [1, 2, 7, 64, stream.len()] {
        let mut client = MqttClient::new("p");
        let kinds: Vec<_> = stream
            .chunks(chunk_size)
            .flat_map(|chunk| client.receive(chunk).unwrap())
            .map(|incoming| incoming.packet.label())
            .collect();
        assert_eq!(kinds, ["PUBLISH q1 id=1", "PUBLISH q1 id=2", "PINGRESP"], "chunks of {chunk_size}");
    }
}

#[test]
fn hostile_bytes_are_errors_not_panics() {
    let cases: [&[u8]; 4] =
        [&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], &[0x00, 0x00], &[0x62, 0x01, 0x00], &[0x30, 0x03, 0x00, 0x09, b'a']];
    for bytes in cases {
        assert!(MqttClient::new("p").receive(bytes).is_err(), "{bytes:02x?}");
    }
    let mut client = MqttClient::new("p");
    let too_big = [0x30, 0xFF, 0xFF, 0x7F];
    assert!(matches!(client.receive(&too_big), Err(ClientError::Frame(FrameError::TooLarge { .. }))));
}

#[test]
fn connack_brings_the_exchange_and_a_fresh_session_forgets_the_old_one() {
    let mut client = MqttClient::new("p");
    client.receive(&lab_publish(5, 11, QoS::ExactlyOnce, false)).unwrap();
    let connack =
        ConnAckPacket::new(false, ReasonCode::Success).with_user_property(EXCHANGE_PROPERTY.into(), "42".into());
    let incoming = client.receive(&encode(&connack)).unwrap();
    let Received::ConnAck { session_present, exchange, .. } = incoming[0].received else { panic!("not a CONNACK") };
    assert_eq!((session_present, exchange), (false, Some(42)));
    assert_eq!(client.in_flight().qos2_awaiting_release, 1);
    client.after_connack(&ClientSettings::default(), false).unwrap();
    assert_eq!(client.in_flight(), InFlight::default(), "no session kept: nothing of it either");
    let again = client.receive(&lab_publish(5, 11, QoS::ExactlyOnce, true)).unwrap();
    assert!(matches!(again[0].received, Received::Delivery(_)), "a new session's message, not a repeat");
}

#[test]
fn a_kept_session_with_a_new_filter_unsubscribes_the_old_one_and_resends_publishes() {
    let mut client = MqttClient::new("p");
    client.after_connack(&ClientSettings::default(), false).unwrap();
    client.publish_chat("hi").unwrap();
    let narrower = ClientSettings { filter: "lab/events/message".into(), ..ClientSettings::default() };
    let labels: Vec<_> =
        client.after_connack(&narrower, true).unwrap().iter().map(|sent| sent.packet.label()).collect();
    assert_eq!(labels, ["UNSUBSCRIBE id=3", "SUBSCRIBE id=4", "PUBLISH q1 id=2 DUP"]);
    let labels: Vec<_> =
        client.after_connack(&narrower, true).unwrap().iter().map(|sent| sent.packet.label()).collect();
    assert_eq!(labels, ["SUBSCRIBE id=5", "PUBLISH q1 id=2 DUP"], "same filter: no UNSUBSCRIBE");
}

#[test]
fn the_settings_table() {
    let with = |filter: &str, keep_alive_secs| ClientSettings {
        filter: filter.into(),
        keep_alive_secs,
        ..ClientSettings::default()
    };
    let cases = [
        (with("lab/events/#", 30), Ok(())),
        (with("lab/+/tick", 5), Ok(())),
        (with("", 30), Err(SettingsError::EmptyFilter)),
        (with("lab/#/tick", 30), Err(SettingsError::InvalidFilter("lab/#/tick".into()))),
        (with("lab/ev+", 30), Err(SettingsError::InvalidFilter("lab/ev+".into()))),
        (with("lab/events/#", 4), Err(SettingsError::KeepAliveOutOfRange)),
        (with("lab/events/#", 301), Err(SettingsError::KeepAliveOutOfRange)),
    ];
    for (settings, expected) in cases {
        assert_eq!(settings.check(), expected, "{settings:?}");
    }
}

#[test]
fn a_delivery_becomes_the_hub_event() {
    let delivery = |topic: &str, seq: Option<u64>, payload: Vec<u8>| Delivery {
        topic: topic.into(),
        qos: Qos::AtLeastOnce,
        packet_id: Some(1),
        dup: false,
        seq,
        epoch: None,
        payload,
    };
    let message = delivery("lab/events/message", Some(3), event_json(3, "hi")).event().unwrap();
    assert!(message.timed);
    assert_eq!(message.event.body, EventBody::Message { text: "hi".into() });
    let mut wav = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
    wav.resize(28, 0);
    wav.extend(16_000u32.to_le_bytes());
    wav.resize(40, 0);
    wav.extend(8_000u32.to_le_bytes());
    let audio = delivery("lab/events/audio", Some(4), wav).event().unwrap();
    assert!(!audio.timed);
    let EventBody::Audio(clip) = audio.event.body else { panic!("not audio") };
    assert_eq!((audio.event.seq, clip.duration_ms), (4, 500));
    assert_eq!(delivery("lab/events/tick", None, vec![]).event(), Err(DeliveryError::NoSeq));
    assert_eq!(
        delivery("lab/events/message", Some(9), event_json(3, "hi")).event(),
        Err(DeliveryError::SeqMismatch { json: 3, property: 9 })
    );
    assert!(matches!(
        delivery("lab/events/message", Some(3), b"{".to_vec()).event(),
        Err(DeliveryError::NotAnEvent(_))
    ));
}

/// The page's client and the lab's broker, wired together by hand: what one writes, the other reads.
struct Wire {
    broker: Broker,
    now: Instant,
    connection: ConnectionId,
    client: MqttClient,
    settings: ClientSettings,
    /// Every packet in order, `->` from the page, `<-` to it.
    log: Vec<String>,
    delivered: Vec<u64>,
}

impl Wire {
    fn new(settings: ClientSettings) -> Self {
        let now = Instant::now();
        let broker = Broker::new(BrokerConfig::default(), vec![CHAT_TOPIC.into()]);
        let mut wire = Self {
            broker,
            now,
            connection: 0,
            client: MqttClient::new("page"),
            settings,
            log: vec![],
            delivered: vec![],
        };
        wire.connect();
        wire
    }

    fn connect(&mut self) {
        self.connection = self.broker.open_with(self.now, vec![(EXCHANGE_PROPERTY.into(), "7".into())]);
        let connect = self.client.connect(&self.settings).unwrap();
        self.send(connect);
        self.pump(None);
    }

    fn send(&mut self, sent: Outgoing) {
        self.log.push(format!("-> {}", sent.packet.label()));
        self.broker.receive(self.connection, &sent.bytes, self.now);
    }

    /// Delivers what the broker wrote until it has nothing more; `drop_after_pubrec` cuts the connection right
    /// after the page answers a QoS 2 PUBLISH, as the lane's fault button does.
    fn pump(&mut self, mut drop_after_pubrec: Option<()>) {
        loop {
            let outputs = self.broker.take_outputs();
            if outputs.is_empty() {
                return;
            }
            for output in outputs {
                let Output::Send { connection, bytes, .. } = output else { continue };
                if connection != self.connection {
                    continue;
                }
                for incoming in self.client.receive(&bytes).unwrap() {
                    self.log.push(format!("<- {}", incoming.packet.label()));
                    let mut follow_up = Vec::new();
                    match &incoming.received {
                        Received::ConnAck { session_present, .. } => {
                            follow_up = self.client.after_connack(&self.settings, *session_present).unwrap();
                        }
                        Received::Delivery(delivery) => self.delivered.push(delivery.seq.unwrap_or_default()),
                        _ => {}
                    }
                    let is_pubrec = incoming.answer.as_ref().is_some_and(|a| a.packet.kind == PacketKind::PubRec);
                    if let Some(answer) = incoming.answer {
                        self.send(answer);
                    }
                    for sent in follow_up {
                        self.send(sent);
                    }
                    if is_pubrec && drop_after_pubrec.take().is_some() {
                        self.log.push("dropped".into());
                        self.broker.closed(self.connection, self.now);
                        let _ = self.broker.take_outputs();
                        return;
                    }
                }
            }
        }
    }

    fn publish_event(&mut self, seq: u64) {
        let publication = Publication {
            topic: "lab/events/message".into(),
            payload: event_json(seq, "hi").into(),
            qos: QoS::ExactlyOnce,
            retain: false,
            user_properties: vec![(SEQ_PROPERTY.into(), seq.to_string()), (EPOCH_PROPERTY.into(), "e".into())],
            utf8: true,
        };
        self.broker.publish(publication, self.now);
    }
}

#[test]
fn a_qos_2_delivery_is_four_packets_against_the_lab_broker() {
    let mut wire = Wire::new(ClientSettings { qos: Qos::ExactlyOnce, ..ClientSettings::default() });
    wire.publish_event(1);
    wire.pump(None);
    assert_eq!(
        wire.log,
        [
            "-> CONNECT",
            "<- CONNACK",
            "-> SUBSCRIBE id=1",
            "<- SUBACK id=1",
            "<- PUBLISH q2 id=1",
            "-> PUBREC id=1",
            "<- PUBREL id=1",
            "-> PUBCOMP id=1"
        ]
    );
    assert_eq!(wire.delivered, [1]);
    assert_eq!(wire.client.in_flight(), InFlight::default());
}

#[test]
fn dropped_after_pubrec_a_kept_session_releases_the_message_once() {
    let mut wire = Wire::new(ClientSettings { qos: Qos::ExactlyOnce, ..ClientSettings::default() });
    wire.publish_event(1);
    wire.pump(Some(()));
    assert_eq!(wire.client.in_flight().qos2_awaiting_release, 1);
    // Published while the page is away: the kept session queues it.
    wire.publish_event(2);
    wire.now += Duration::from_secs(1);
    wire.log.clear();
    wire.connect();
    assert_eq!(wire.log[..2], ["-> CONNECT", "<- CONNACK"]);
    assert!(wire.log.contains(&"<- PUBREL id=1".to_owned()), "{:?}", wire.log);
    assert!(wire.log.contains(&"-> PUBCOMP id=1".to_owned()), "{:?}", wire.log);
    assert_eq!(wire.delivered, [1, 2], "each exactly once: {:?}", wire.log);
    assert_eq!(wire.client.in_flight(), InFlight::default());
}

#[test]
fn a_chat_message_is_acknowledged_once_the_lab_has_it() {
    let mut wire = Wire::new(ClientSettings::default());
    let chat = wire.client.publish_chat("hello").unwrap();
    wire.send(chat);
    let outputs = wire.broker.take_outputs();
    let ticket = outputs.iter().find_map(|output| match output {
        Output::Lab(lab) if &lab.payload[..] == b"hello" => lab.ticket,
        _ => None,
    });
    assert!(!outputs.iter().any(|output| matches!(output, Output::Send { .. })), "no PUBACK before the lab answers");
    assert_eq!(wire.client.in_flight().qos1_awaiting_ack, 1);
    wire.broker.settle_lab(ticket.expect("the lab holds the acknowledgement"), Ok(()), wire.now);
    let outputs = wire.broker.take_outputs();
    for output in outputs {
        if let Output::Send { bytes, .. } = output {
            let incoming = wire.client.receive(&bytes).unwrap();
            assert!(matches!(incoming[0].received, Received::Acked { packet_id: 2, ours: true, .. }));
        }
    }
    assert_eq!(wire.client.in_flight().qos1_awaiting_ack, 0);
}
