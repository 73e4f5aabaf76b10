use mqtt5_protocol::packet::connect::ConnectPacket;
use mqtt5_protocol::packet::puback::PubAckPacket;
use mqtt5_protocol::packet::pubcomp::PubCompPacket;
use mqtt5_protocol::packet::pubrec::PubRecPacket;
use mqtt5_protocol::packet::pubrel::PubRelPacket;
use mqtt5_protocol::{ConnectOptions, QoS};

use super::*;
use crate::BrokerConfig;

/// A publisher (connection 1) and a persistent subscriber "sub" to `t` (connection 2).
fn persistent_pair(harness: &mut Harness, qos: QoS) -> (ConnectionId, ConnectionId) {
    let publisher = harness.connect("pub");
    let subscriber = harness.connect_with(v5_persistent("sub", 600));
    harness.subscribe(subscriber, "t", qos);
    (publisher, subscriber)
}

#[test]
fn qos1_messages_wait_for_the_client_and_unacknowledged_ones_are_resent() {
    let mut harness = Harness::new();
    let (publisher, subscriber) = persistent_pair(&mut harness, QoS::AtLeastOnce);
    harness.send(publisher, &publish("t", QoS::AtLeastOnce, 1, "unacked"));
    harness.trace();
    harness.close(subscriber);
    harness.send(publisher, &publish("t", QoS::AtLeastOnce, 2, "while away"));
    harness.send(publisher, &publish("t", QoS::AtMostOnce, 0, "qos0 is not kept"));
    harness.trace();
    assert_eq!(harness.broker.stats().sessions_away, 1);
    assert_eq!(harness.broker.stats().queued, 1);
    let back = harness.open();
    harness.send(back, &v5_persistent("sub", 600));
    assert_eq!(
        harness.trace(),
        vec![
            "3 -> CONNECT",
            "3 <- CONNACK rc=0x00 sp=1",
            "3 <- PUBLISH t q1 id=1 dup \"unacked\"",
            "3 <- PUBLISH t q1 id=2 \"while away\"",
        ]
    );
}

#[test]
fn pubrel_is_resent_after_a_drop_following_pubrec_and_the_message_arrives_once() {
    let mut harness = Harness::new();
    let (publisher, subscriber) = persistent_pair(&mut harness, QoS::ExactlyOnce);
    harness.send(publisher, &publish("t", QoS::ExactlyOnce, 1, "once"));
    harness.send(publisher, &PubRelPacket::new(1));
    harness.send(subscriber, &PubRecPacket::new(1));
    let trace = harness.trace();
    assert_eq!(trace[trace.len() - 2..], ["2 -> PUBREC", "2 <- PUBREL id=1"]);
    harness.close(subscriber);
    let back = harness.open();
    harness.send(back, &v5_persistent("sub", 600));
    harness.send(back, &PubCompPacket::new(1));
    assert_eq!(harness.trace(), vec!["3 -> CONNECT", "3 <- CONNACK rc=0x00 sp=1", "3 <- PUBREL id=1", "3 -> PUBCOMP"]);
    assert_eq!(harness.broker.stats().in_flight_qos2, 0);
}

#[test]
fn incoming_qos2_state_survives_a_reconnect() {
    let mut harness = Harness::new();
    let subscriber = harness.connect("sub");
    harness.subscribe(subscriber, "t", QoS::AtMostOnce);
    let publisher = harness.connect_with(v5_persistent("pub", 600));
    harness.send(publisher, &publish("t", QoS::ExactlyOnce, 5, "held"));
    harness.close(publisher);
    let back = harness.open();
    harness.send(back, &v5_persistent("pub", 600));
    harness.send(back, &PubRelPacket::new(5));
    let trace = harness.trace();
    let delivered: Vec<&String> = trace.iter().filter(|line| line.starts_with("1 <- PUBLISH")).collect();
    assert_eq!(delivered, vec!["1 <- PUBLISH t q0 \"held\""]);
    assert!(trace.contains(&"3 <- PUBCOMP id=5".to_string()));
}

#[test]
fn clean_start_discards_the_session() {
    let mut harness = Harness::new();
    let (publisher, subscriber) = persistent_pair(&mut harness, QoS::AtLeastOnce);
    harness.close(subscriber);
    harness.send(publisher, &publish("t", QoS::AtLeastOnce, 1, "lost"));
    harness.trace();
    let back = harness.open();
    harness.send(back, &v5("sub"));
    assert_eq!(harness.trace(), vec!["3 -> CONNECT", "3 <- CONNACK rc=0x00 sp=0"]);
    assert_eq!(harness.broker.stats().subscriptions, 0);
}

#[test]
fn sessions_expire() {
    let mut harness = Harness::new();
    let (publisher, subscriber) = persistent_pair(&mut harness, QoS::AtLeastOnce);
    harness.close(subscriber);
    harness.close(publisher);
    harness.advance(599);
    assert_eq!(harness.broker.stats().sessions_away, 1);
    harness.advance(1);
    assert_eq!(harness.broker.stats().sessions_away, 0);
    assert_eq!(harness.broker.stats().subscriptions, 0);
    let back = harness.open();
    harness.send(back, &v5_persistent("sub", 600));
    assert_eq!(harness.trace(), vec!["3 -> CONNECT", "3 <- CONNACK rc=0x00 sp=0"]);
}

#[test]
fn v311_persistent_sessions_resume() {
    let mut harness = Harness::new();
    let publisher = harness.connect("pub");
    let subscriber = harness.connect_with(v311("old", false));
    harness.subscribe(subscriber, "t", QoS::AtLeastOnce);
    harness.close(subscriber);
    harness.send(publisher, &publish("t", QoS::AtLeastOnce, 1, "kept"));
    harness.trace();
    let back = harness.try_connect(&v311("old", false));
    assert_eq!(harness.trace(), vec!["3 -> CONNECT", "3 <- CONNACK rc=0x00 sp=1", "3 <- PUBLISH t q1 id=1 \"kept\""]);
    let _ = back;
}

#[test]
fn takeover_disconnects_the_old_connection() {
    let mut harness = Harness::new();
    let old = harness.connect_with(v5_persistent("same", 600));
    let new = harness.open();
    harness.send(new, &v5_persistent("same", 600));
    assert_eq!(
        harness.trace(),
        vec!["2 -> CONNECT", "1 <- DISCONNECT rc=0x8E", "1 closed", "2 <- CONNACK rc=0x00 sp=1"]
    );
    // The old socket's late `closed` changes nothing.
    harness.close(old);
    harness.close(old);
    harness.close(999);
    assert_eq!(harness.broker.stats().connections, 1);
    assert_eq!(harness.broker.stats().sessions_away, 0);
}

#[test]
fn the_clients_receive_maximum_queues_the_rest() {
    let mut harness = Harness::new();
    let publisher = harness.connect("pub");
    let subscriber = harness.connect_with(ConnectPacket::new(ConnectOptions::new("sub").with_receive_maximum(2)));
    harness.subscribe(subscriber, "t", QoS::AtLeastOnce);
    for id in 1..=4 {
        harness.send(publisher, &publish("t", QoS::AtLeastOnce, id, &id.to_string()));
    }
    let delivered: Vec<String> = harness.trace().into_iter().filter(|line| line.starts_with("2 <-")).collect();
    assert_eq!(delivered, vec!["2 <- PUBLISH t q1 id=1 \"1\"", "2 <- PUBLISH t q1 id=2 \"2\""]);
    assert_eq!((harness.broker.stats().in_flight_qos1, harness.broker.stats().queued), (2, 2));
    harness.send(subscriber, &PubAckPacket::new(2));
    assert_eq!(harness.trace(), vec!["2 -> PUBACK", "2 <- PUBLISH t q1 id=3 \"3\""]);
}

#[test]
fn a_full_queue_discards_the_oldest() {
    let config = BrokerConfig { max_queued_messages: 2, ..BrokerConfig::default() };
    let mut harness = Harness::config(config);
    let (publisher, subscriber) = persistent_pair(&mut harness, QoS::AtLeastOnce);
    harness.close(subscriber);
    for id in 1..=3 {
        harness.send(publisher, &publish("t", QoS::AtLeastOnce, id, &id.to_string()));
    }
    harness.trace();
    assert_eq!((harness.broker.stats().queued, harness.broker.stats().discarded), (2, 1));
    let back = harness.open();
    harness.send(back, &v5_persistent("sub", 600));
    let delivered: Vec<String> = harness.trace().into_iter().filter(|line| line.starts_with("3 <- PUBLISH")).collect();
    assert_eq!(delivered, vec!["3 <- PUBLISH t q1 id=1 \"2\"", "3 <- PUBLISH t q1 id=2 \"3\""]);
}
