use std::time::Duration;

use mqtt5_protocol::packet::connect::ConnectPacket;
use mqtt5_protocol::packet::disconnect::DisconnectPacket;
use mqtt5_protocol::types::WillProperties;
use mqtt5_protocol::{ConnectOptions, QoS, ReasonCode, WillMessage};

use super::*;

fn with_will(client_id: &str, delay: u32, expiry: u32) -> ConnectPacket {
    let mut will = WillMessage::new("status/gone", b"bye".to_vec()).with_qos(QoS::AtLeastOnce);
    will.properties = WillProperties { will_delay_interval: Some(delay), ..WillProperties::default() };
    ConnectPacket::new(
        ConnectOptions::new(client_id)
            .with_keep_alive(Duration::from_secs(10))
            .with_clean_start(false)
            .with_session_expiry_interval(expiry)
            .with_will(will),
    )
}

/// A watcher of `status/#` (connection 1) and a client with a will (connection 2).
fn setup(delay: u32, expiry: u32) -> (Harness, ConnectionId) {
    let mut harness = Harness::new();
    let watcher = harness.connect("watcher");
    harness.subscribe(watcher, "status/#", QoS::AtLeastOnce);
    let client = harness.connect_with(with_will("dying", delay, expiry));
    (harness, client)
}

fn wills(harness: &mut Harness) -> usize {
    harness.trace().iter().filter(|line| line.starts_with("1 <- PUBLISH status/gone")).count()
}

#[test]
fn how_the_connection_ends_decides_the_will() {
    let cases: [(&str, Option<DisconnectPacket>, usize); 3] = [
        ("socket gone", None, 1),
        ("normal DISCONNECT", Some(DisconnectPacket::normal()), 0),
        ("DISCONNECT with will", Some(DisconnectPacket::new(ReasonCode::DisconnectWithWillMessage)), 1),
    ];
    for (case, disconnect, expected) in cases {
        let (mut harness, client) = setup(0, 0);
        match disconnect {
            Some(packet) => harness.send(client, &packet),
            None => harness.close(client),
        }
        harness.close(client);
        assert_eq!(wills(&mut harness), expected, "{case}");
    }
}

#[test]
fn a_protocol_error_or_keep_alive_timeout_publishes_the_will() {
    let (mut harness, client) = setup(0, 0);
    harness.raw(client, &[0xF0, 0x00]);
    assert_eq!(wills(&mut harness), 1);

    let (mut harness, _) = setup(0, 0);
    harness.advance(14);
    assert_eq!(wills(&mut harness), 0);
    harness.advance(1);
    let trace = harness.trace();
    assert!(trace.contains(&"2 <- DISCONNECT rc=0x8D".to_string()), "{trace:?}");
    assert!(trace.iter().any(|line| line.starts_with("1 <- PUBLISH status/gone q1")), "{trace:?}");
}

#[test]
fn a_delayed_will_waits_and_a_reconnect_cancels_it() {
    let (mut harness, client) = setup(10, 100);
    harness.close(client);
    harness.advance(9);
    assert_eq!(wills(&mut harness), 0);
    harness.advance(1);
    assert_eq!(wills(&mut harness), 1);

    let (mut harness, client) = setup(10, 100);
    harness.close(client);
    harness.advance(5);
    harness.connect_with(with_will("dying", 10, 100));
    harness.advance(20);
    assert_eq!(wills(&mut harness), 0);
}

#[test]
fn a_delayed_will_goes_out_when_the_session_ends_first() {
    let (mut harness, client) = setup(60, 5);
    harness.close(client);
    harness.advance(4);
    assert_eq!(wills(&mut harness), 0);
    harness.advance(1);
    assert_eq!(wills(&mut harness), 1);
    assert_eq!(harness.broker.stats().sessions_away, 0);
}

#[test]
fn disconnect_may_not_give_an_expiry_to_a_session_without_one() {
    let (mut harness, client) = setup(0, 0);
    harness.send(client, &DisconnectPacket::normal().with_session_expiry_interval(30));
    let trace = harness.trace();
    assert!(trace.contains(&"2 <- DISCONNECT rc=0x82".to_string()), "{trace:?}");
    assert!(trace.iter().any(|line| line.starts_with("1 <- PUBLISH status/gone")), "{trace:?}");

    // With an expiry to begin with, DISCONNECT may change it: 0 ends the session at once.
    let (mut harness, client) = setup(0, 100);
    harness.send(client, &DisconnectPacket::normal().with_session_expiry_interval(0));
    harness.trace();
    assert_eq!(harness.broker.stats().sessions_away, 0);
}
