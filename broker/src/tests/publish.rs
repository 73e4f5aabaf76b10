use std::time::Duration;

use mqtt5_protocol::packet::connect::ConnectPacket;
use mqtt5_protocol::packet::puback::PubAckPacket;
use mqtt5_protocol::packet::pubcomp::PubCompPacket;
use mqtt5_protocol::packet::pubrec::PubRecPacket;
use mqtt5_protocol::packet::pubrel::PubRelPacket;
use mqtt5_protocol::{ConnectOptions, Packet, PropertyId, PropertyValue, QoS};

use super::*;
use crate::{BrokerConfig, LabRefusal, Output, Publication};

/// A publisher (connection 1) and a subscriber to `t` at `qos` (connection 2).
fn pair(qos: QoS) -> (Harness, ConnectionId, ConnectionId) {
    let mut harness = Harness::new();
    let publisher = harness.connect("pub");
    let subscriber = harness.connect("sub");
    harness.subscribe(subscriber, "t", qos);
    (harness, publisher, subscriber)
}

#[test]
fn qos0_and_qos1_end_to_end() {
    let (mut harness, publisher, subscriber) = pair(QoS::ExactlyOnce);
    harness.send(publisher, &publish("t", QoS::AtMostOnce, 0, "zero"));
    harness.send(publisher, &publish("t", QoS::AtLeastOnce, 9, "one"));
    harness.send(subscriber, &PubAckPacket::new(1));
    assert_eq!(
        harness.trace(),
        vec![
            "1 -> PUBLISH",
            "2 <- PUBLISH t q0 \"zero\"",
            "1 -> PUBLISH",
            "2 <- PUBLISH t q1 id=1 \"one\"",
            "1 <- PUBACK id=9",
            "2 -> PUBACK",
        ]
    );
    assert_eq!(harness.broker.stats().in_flight_qos1, 0);
}

#[test]
fn qos2_both_ways() {
    let (mut harness, publisher, subscriber) = pair(QoS::ExactlyOnce);
    harness.send(publisher, &publish("t", QoS::ExactlyOnce, 7, "two"));
    // A resent PUBLISH before PUBREL is acknowledged again, not delivered again.
    harness.send(publisher, &publish("t", QoS::ExactlyOnce, 7, "two").with_dup(true));
    harness.send(publisher, &PubRelPacket::new(7));
    harness.send(subscriber, &PubRecPacket::new(1));
    assert_eq!(harness.broker.stats().in_flight_qos2, 1);
    harness.send(subscriber, &PubCompPacket::new(1));
    assert_eq!(
        harness.trace(),
        vec![
            "1 -> PUBLISH",
            "1 <- PUBREC id=7",
            "1 -> PUBLISH",
            "1 <- PUBREC id=7",
            "1 -> PUBREL",
            "2 <- PUBLISH t q2 id=1 \"two\"",
            "1 <- PUBCOMP id=7",
            "2 -> PUBREC",
            "2 <- PUBREL id=1",
            "2 -> PUBCOMP",
        ]
    );
    assert_eq!(harness.broker.stats().in_flight_qos2, 0);
}

#[test]
fn unknown_packet_ids_in_acks() {
    let (mut harness, publisher, _) = pair(QoS::AtMostOnce);
    harness.send(publisher, &PubRelPacket::new(4));
    harness.send(publisher, &PubRecPacket::new(5));
    harness.send(publisher, &PubAckPacket::new(6));
    harness.send(publisher, &PubCompPacket::new(7));
    assert_eq!(
        harness.trace(),
        vec![
            "1 -> PUBREL",
            "1 <- PUBCOMP id=4 rc=0x92",
            "1 -> PUBREC",
            "1 <- PUBREL id=5 rc=0x92",
            "1 -> PUBACK",
            "1 -> PUBCOMP",
        ]
    );
}

#[test]
fn effective_qos_is_the_lower_and_overlaps_deliver_once() {
    let (mut harness, publisher, subscriber) = pair(QoS::AtLeastOnce);
    harness.subscribe(subscriber, "#", QoS::AtMostOnce);
    harness.send(publisher, &publish("t", QoS::ExactlyOnce, 1, "x"));
    harness.send(publisher, &PubRelPacket::new(1));
    harness.send(publisher, &publish("t", QoS::AtMostOnce, 0, "y"));
    let trace = harness.trace();
    let delivered: Vec<&String> = trace.iter().filter(|line| line.starts_with("2 <- PUBLISH")).collect();
    assert_eq!(delivered, vec!["2 <- PUBLISH t q1 id=1 \"x\"", "2 <- PUBLISH t q0 \"y\""]);
}

#[test]
fn bad_publishes_end_the_connection_with_their_reason_code() {
    // (case, bytes after CONNECT, v5 reason code)
    let cases: [(&str, Vec<u8>, u8); 6] = [
        ("wildcard in topic", vec![0x30, 0x06, 0x00, 0x03, b'a', b'/', b'+', 0x00], 0x90),
        ("empty topic", vec![0x30, 0x03, 0x00, 0x00, 0x00], 0x90),
        ("invalid UTF-8", vec![0x30, 0x05, 0x00, 0x02, 0xC3, 0x28, 0x00], 0x81),
        ("QoS 3", vec![0x36, 0x06, 0x00, 0x01, b'a', 0x00, 0x01, 0x00], 0x81),
        ("QoS 0 with DUP", vec![0x38, 0x04, 0x00, 0x01, b'a', 0x00], 0x81),
        ("topic alias", vec![0x30, 0x07, 0x00, 0x01, b'a', 0x03, 0x23, 0x00, 0x01], 0x94),
    ];
    for (case, bytes, reason) in cases {
        let mut harness = Harness::new();
        let connection = harness.connect("a");
        harness.raw(connection, &bytes);
        let trace = harness.trace();
        let tail: Vec<&str> = trace.iter().rev().take(2).rev().map(String::as_str).collect();
        assert_eq!(tail, vec![format!("1 <- DISCONNECT rc=0x{reason:02X}").as_str(), "1 closed"], "{case}");
        assert_eq!(harness.broker.stats().protocol_errors, 1);
    }
    let mut harness = Harness::new();
    let connection = harness.connect_with(v311("a", true));
    harness.send(connection, &publish_v311("a/#", QoS::AtMostOnce, 0, "x"));
    assert_eq!(harness.trace(), vec!["1 -> PUBLISH", "1 closed"]);
}

#[test]
fn too_many_unreleased_qos2_messages() {
    let config = BrokerConfig { receive_maximum: 2, ..BrokerConfig::default() };
    let mut harness = Harness::config(config);
    let connection = harness.connect("a");
    for id in 1..=3 {
        harness.send(connection, &publish("t", QoS::ExactlyOnce, id, "x"));
    }
    let trace = harness.trace();
    assert_eq!(trace[trace.len() - 2..], ["1 <- DISCONNECT rc=0x93", "1 closed"]);
}

#[test]
fn clients_may_not_publish_to_lab_events() {
    let (mut harness, publisher, _) = pair(QoS::ExactlyOnce);
    let watcher = harness.connect("watch");
    harness.subscribe(watcher, "lab/#", QoS::ExactlyOnce);
    harness.send(publisher, &publish("lab/events/chat", QoS::AtMostOnce, 0, "x"));
    harness.send(publisher, &publish("lab/events/chat", QoS::AtLeastOnce, 1, "x"));
    harness.send(publisher, &publish("lab/events/chat", QoS::ExactlyOnce, 2, "x"));
    assert_eq!(
        harness.trace(),
        vec!["1 -> PUBLISH", "1 -> PUBLISH", "1 <- PUBACK id=1 rc=0x87", "1 -> PUBLISH", "1 <- PUBREC id=2 rc=0x87",]
    );
    assert_eq!(harness.broker.stats().refused, 3);
    let v3 = harness.connect_with(v311("old", true));
    harness.send(v3, &publish_v311("lab/events/chat", QoS::AtLeastOnce, 1, "x"));
    assert_eq!(harness.trace(), vec!["4 -> PUBLISH", "4 closed"]);
}

#[test]
fn lab_topics_reach_the_lab_once() {
    let mut harness = Harness::new();
    let connection = harness.connect("alice");
    harness.send(connection, &publish("lab/chat", QoS::ExactlyOnce, 3, "hi"));
    harness.send(connection, &publish("lab/chat", QoS::ExactlyOnce, 3, "hi").with_dup(true));
    harness.send(connection, &publish("lab/other", QoS::AtMostOnce, 0, "no"));
    harness.send(connection, &publish("lab/chat", QoS::AtMostOnce, 0, "q0"));
    let labs: Vec<_> = harness.outputs().into_iter().filter(|output| matches!(output, Output::Lab(_))).collect();
    assert_eq!(labs.len(), 2);
    let Output::Lab(lab) = &labs[0] else { unreachable!() };
    assert_eq!((lab.client_id.as_str(), lab.topic.as_str(), &lab.payload[..]), ("alice", "lab/chat", &b"hi"[..]));
    assert!(lab.ticket.is_some(), "QoS 2 waits for the lab's answer");
    let Output::Lab(at_most_once) = &labs[1] else { unreachable!() };
    assert_eq!(at_most_once.ticket, None, "QoS 0 has no acknowledgement to hold");
    harness.settle(Ok(()));
    harness.send(connection, &publish("lab/chat", QoS::ExactlyOnce, 3, "hi").with_dup(true));
    harness.send(connection, &PubRelPacket::new(3));
    assert_eq!(
        harness.trace(),
        vec!["1 <- PUBREC id=3", "1 -> PUBLISH", "1 <- PUBREC id=3", "1 -> PUBREL", "1 <- PUBCOMP id=3"]
    );
}

/// A QoS 1 or 2 message to a lab topic is acknowledged when the lab has taken it, and reaches the topic's
/// subscribers only then; one the lab could not take is answered with the reason (MQTT 5) and reaches nobody.
#[test]
fn the_publisher_s_acknowledgement_waits_for_the_lab_and_says_if_it_could_not_take_the_message() {
    let config = BrokerConfig { receive_maximum: 2, ..BrokerConfig::default() };
    let mut harness = Harness::config(config);
    let watcher = harness.connect("watch");
    harness.subscribe(watcher, "lab/chat", QoS::AtLeastOnce);
    let talker = harness.connect("talk");
    harness.send(talker, &publish("lab/chat", QoS::AtLeastOnce, 1, "hi"));
    assert_eq!(harness.trace(), vec!["2 -> PUBLISH", "lab lab/chat from talk, ack held"], "nothing yet");
    harness.settle(Ok(()));
    assert_eq!(harness.trace(), vec!["1 <- PUBLISH lab/chat q1 id=1 \"hi\"", "2 <- PUBACK id=1"]);

    harness.send(talker, &publish("lab/chat", QoS::AtLeastOnce, 2, "lost?"));
    harness.send(talker, &publish("lab/chat", QoS::ExactlyOnce, 3, "busy"));
    harness.trace();
    harness.settle(Err(LabRefusal::Unavailable("the shared log at nats://x is out of reach".into())));
    harness.settle(Err(LabRefusal::Busy));
    let answers = harness.packets(talker);
    let said = |properties: &mqtt5_protocol::Properties| match properties.get(PropertyId::ReasonString) {
        Some(PropertyValue::Utf8String(why)) => Some(why.clone()),
        _ => None,
    };
    let reasons: Vec<_> = answers
        .iter()
        .map(|packet| match packet {
            Packet::PubAck(ack) => (ack.reason_code as u8, said(&ack.properties)),
            Packet::PubRec(ack) => (ack.reason_code as u8, said(&ack.properties)),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        reasons,
        vec![
            (0x83, Some("the shared log at nats://x is out of reach".to_owned())),
            (0x97, Some("too many messages are waiting for the lab".to_owned())),
        ],
        "the watcher got neither"
    );
    assert_eq!(harness.broker.stats().refused, 2);

    // Held messages count against the Receive Maximum the broker granted: the lab's wait is bounded.
    harness.send(talker, &publish("lab/chat", QoS::AtLeastOnce, 4, "a"));
    harness.send(talker, &publish("lab/chat", QoS::AtLeastOnce, 5, "b"));
    harness.send(talker, &publish("lab/chat", QoS::AtLeastOnce, 6, "c"));
    let trace = harness.trace();
    assert_eq!(trace.last().map(String::as_str), Some("2 closed"), "{trace:?}");
    assert!(trace.contains(&"2 <- DISCONNECT rc=0x93".to_owned()), "{trace:?}");

    // v3.1.1 has no reason code to be refused with: the connection is closed instead.
    let old = harness.connect_with(v311("old", true));
    harness.send(old, &publish_v311("lab/chat", QoS::AtLeastOnce, 1, "hi"));
    harness.trace();
    harness.settle(Err(LabRefusal::Busy));
    harness.settle(Err(LabRefusal::Busy));
    harness.settle(Err(LabRefusal::Busy));
    assert_eq!(harness.trace(), vec!["3 closed"]);
}

/// The lab's own rule for what may be said on its topics: a refused payload is answered 0x99 and goes nowhere.
#[test]
fn a_payload_the_lab_refuses_is_answered_0x99_and_reaches_nobody() {
    fn short_text(payload: &[u8]) -> Result<(), String> {
        match std::str::from_utf8(payload) {
            Ok(text) if !text.is_empty() && text.len() <= 4 => Ok(()),
            _ => Err("1 to 4 bytes of UTF-8".into()),
        }
    }
    let config = BrokerConfig { lab_payload_check: short_text, ..BrokerConfig::default() };
    let mut harness = Harness::with(config, vec!["lab/chat".into()]);
    let watcher = harness.connect("watch");
    harness.subscribe(watcher, "lab/chat", QoS::AtLeastOnce);
    let talker = harness.connect("talk");
    harness.send(talker, &publish("lab/chat", QoS::AtLeastOnce, 1, "far too long"));
    harness.send(talker, &PublishPacket::new("lab/chat", vec![0xff, 0xfe], QoS::ExactlyOnce).with_packet_id(2));
    assert_eq!(
        harness.trace(),
        vec!["2 -> PUBLISH", "2 <- PUBACK id=1 rc=0x99", "2 -> PUBLISH", "2 <- PUBREC id=2 rc=0x99"]
    );
    harness.send(talker, &publish("lab/chat", QoS::AtLeastOnce, 3, "ok"));
    harness.trace();
    harness.settle(Ok(()));
    let delivered = harness.trace();
    assert!(delivered.contains(&"1 <- PUBLISH lab/chat q1 id=1 \"ok\"".to_owned()), "{delivered:?}");
    let v3 = harness.connect_with(v311("old", true));
    harness.send(v3, &publish_v311("lab/chat", QoS::AtLeastOnce, 1, "far too long"));
    assert_eq!(harness.trace(), vec!["3 -> PUBLISH", "3 closed"]);
}

#[test]
fn lab_publications_are_encoded_once_and_carry_their_properties() {
    let mut harness = Harness::new();
    let v5_subscriber = harness.connect("new");
    let v3_subscriber = harness.connect_with(v311("old", true));
    harness.subscribe(v5_subscriber, "lab/events/#", QoS::AtMostOnce);
    harness.subscribe(v3_subscriber, "lab/events/#", QoS::AtMostOnce);
    let publication = Publication {
        topic: "lab/events/chat".into(),
        payload: bytes::Bytes::from_static(b"{}"),
        qos: QoS::ExactlyOnce,
        retain: false,
        user_properties: vec![("seq".into(), "42".into()), ("epoch".into(), "7".into())],
        utf8: true,
    };
    harness.broker.publish(publication, harness.now);
    let outputs = harness.outputs();
    assert_eq!(outputs.len(), 2);
    for output in &outputs {
        let Output::Send { connection, bytes, packet } = output else { panic!("{output:?}") };
        assert_eq!(packet.seq, Some(42));
        let version = if *connection == v5_subscriber { 5 } else { 4 };
        let Packet::Publish(publish) = decode(bytes, version) else { panic!() };
        if version == 5 {
            assert_eq!(publish.properties.get_user_property_value("epoch"), Some("7"));
            assert_eq!(publish.properties.get(PropertyId::PayloadFormatIndicator), Some(&PropertyValue::Byte(1)));
        } else {
            assert_eq!(
                &bytes[..],
                &[
                    0x30, 19, 0, 15, b'l', b'a', b'b', b'/', b'e', b'v', b'e', b'n', b't', b's', b'/', b'c', b'h',
                    b'a', b't', b'{', b'}'
                ][..]
            );
        }
    }
}

#[test]
fn forwarded_properties_and_remaining_expiry() {
    let (mut harness, publisher, subscriber) = pair(QoS::AtLeastOnce);
    let message = publish("t", QoS::AtLeastOnce, 1, "x")
        .with_message_expiry_interval(100)
        .with_content_type("text/plain".into())
        .with_response_topic("reply".into())
        .with_correlation_data(b"id".to_vec())
        .with_user_property("k".into(), "v".into());
    harness.send(publisher, &message);
    let packets = harness.packets(subscriber);
    let Some(Packet::Publish(forwarded)) = packets.first() else { panic!("{packets:?}") };
    let properties = &forwarded.properties;
    assert_eq!(properties.get_message_expiry_interval(), Some(100));
    assert_eq!(properties.get_content_type().as_deref(), Some("text/plain"));
    assert_eq!(properties.get(PropertyId::ResponseTopic), Some(&PropertyValue::Utf8String("reply".into())));
    assert_eq!(properties.get_user_property_value("k"), Some("v"));
    assert!(properties.contains(PropertyId::CorrelationData));

    // Queued while the subscriber's window is full, it is sent later with what is left of its life.
    let mut harness = Harness::new();
    let publisher = harness.connect("pub");
    let options = ConnectOptions::new("sub").with_receive_maximum(1);
    let subscriber = harness.connect_with(ConnectPacket::new(options));
    harness.subscribe(subscriber, "t", QoS::AtLeastOnce);
    harness.send(publisher, &publish("t", QoS::AtLeastOnce, 1, "first"));
    harness.send(publisher, &publish("t", QoS::AtLeastOnce, 2, "late").with_message_expiry_interval(100));
    harness.send(publisher, &publish("t", QoS::AtLeastOnce, 3, "gone").with_message_expiry_interval(10));
    harness.trace();
    harness.now += Duration::from_secs(30);
    harness.send(subscriber, &PubAckPacket::new(1));
    let packets = harness.packets(subscriber);
    assert_eq!(packets.len(), 1, "the 10 s message expired in the queue");
    let Packet::Publish(late) = &packets[0] else { panic!() };
    assert_eq!((&late.payload[..], late.properties.get_message_expiry_interval()), (&b"late"[..], Some(70)));
}

#[test]
fn messages_too_big_for_the_subscriber_are_discarded() {
    let mut harness = Harness::new();
    let publisher = harness.connect("pub");
    let options = ConnectOptions::new("sub").with_receive_maximum(5);
    let mut connect = ConnectPacket::new(options);
    connect.properties.set_maximum_packet_size(20);
    let subscriber = harness.connect_with(connect);
    harness.subscribe(subscriber, "t", QoS::AtLeastOnce);
    harness.send(publisher, &publish("t", QoS::AtLeastOnce, 1, "this payload is too long"));
    harness.send(publisher, &publish("t", QoS::AtLeastOnce, 2, "fits"));
    let delivered: Vec<String> = harness.trace().into_iter().filter(|line| line.starts_with("2 <-")).collect();
    assert_eq!(delivered, vec!["2 <- PUBLISH t q1 id=1 \"fits\""]);
    assert_eq!(harness.broker.stats().discarded, 1);
}
