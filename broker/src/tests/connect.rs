use std::time::Duration;

use mqtt5_protocol::packet::connect::ConnectPacket;
use mqtt5_protocol::packet::pingreq::PingReqPacket;
use mqtt5_protocol::{ConnectOptions, Packet, PropertyId, PropertyValue};

use super::*;
use crate::BrokerConfig;

fn connack_properties(packets: &[Packet]) -> mqtt5_protocol::Properties {
    match packets.first() {
        Some(Packet::ConnAck(connack)) => connack.properties.clone(),
        other => panic!("expected CONNACK, got {other:?}"),
    }
}

#[test]
fn v5_connack_announces_the_brokers_limits() {
    let mut harness = Harness::new();
    let connection = harness.open();
    harness.send(connection, &v5("alice"));
    let properties = connack_properties(&harness.packets(connection));
    let expected = [
        (PropertyId::ReceiveMaximum, PropertyValue::TwoByteInteger(32)),
        (PropertyId::MaximumPacketSize, PropertyValue::FourByteInteger(256 * 1024)),
        (PropertyId::TopicAliasMaximum, PropertyValue::TwoByteInteger(0)),
        (PropertyId::SharedSubscriptionAvailable, PropertyValue::Byte(0)),
        (PropertyId::SubscriptionIdentifierAvailable, PropertyValue::Byte(0)),
        (PropertyId::WildcardSubscriptionAvailable, PropertyValue::Byte(1)),
        (PropertyId::RetainAvailable, PropertyValue::Byte(1)),
    ];
    for (id, value) in expected {
        assert_eq!(properties.get(id), Some(&value), "{id:?}");
    }
    for absent in [PropertyId::AssignedClientIdentifier, PropertyId::ServerKeepAlive, PropertyId::SessionExpiryInterval]
    {
        assert!(!properties.contains(absent), "{absent:?}");
    }
}

#[test]
fn v5_empty_client_id_is_assigned_one() {
    let mut harness = Harness::new();
    let connection = harness.open();
    harness.send(connection, &v5(""));
    let properties = connack_properties(&harness.packets(connection));
    assert_eq!(properties.get(PropertyId::AssignedClientIdentifier), Some(&PropertyValue::Utf8String("auto-1".into())));
}

#[test]
fn keep_alive_and_session_expiry_are_capped_and_announced() {
    // (keep-alive asked, session expiry asked, Server Keep Alive announced, Session Expiry announced)
    let cases = [
        (60, 0, None, None),
        (0, 0, Some(300), None),
        (1000, 0, Some(300), None),
        (60, 100, None, None),
        (60, 7200, None, Some(3600)),
        (60, u32::MAX, None, Some(3600)),
    ];
    for (keep_alive, expiry, server_keep_alive, announced_expiry) in cases {
        let mut harness = Harness::new();
        let connection = harness.open();
        let options = ConnectOptions::new("c")
            .with_keep_alive(Duration::from_secs(keep_alive))
            .with_session_expiry_interval(expiry);
        harness.send(connection, &ConnectPacket::new(options));
        let properties = connack_properties(&harness.packets(connection));
        assert_eq!(properties.get_server_keep_alive(), server_keep_alive, "keep-alive {keep_alive}");
        assert_eq!(properties.get_session_expiry_interval(), announced_expiry, "expiry {expiry}");
    }
}

#[test]
fn v311_connack_and_client_id_rules() {
    // (client id, clean session, CONNACK bytes, closed)
    let cases: [(&str, bool, [u8; 4], bool); 3] = [
        ("bob", true, [0x20, 0x02, 0x00, 0x00], false),
        ("", true, [0x20, 0x02, 0x00, 0x00], false),
        ("", false, [0x20, 0x02, 0x00, 0x02], true),
    ];
    for (client_id, clean, connack, closed) in cases {
        let mut harness = Harness::new();
        let connection = harness.try_connect(&v311(client_id, clean));
        let outputs = harness.outputs();
        let sent: Vec<&[u8]> = outputs
            .iter()
            .filter_map(|output| match output {
                Output::Send { bytes, .. } => Some(&bytes[..]),
                _ => None,
            })
            .collect();
        assert_eq!(sent, vec![&connack[..]], "{client_id:?} clean={clean}");
        let was_closed =
            outputs.iter().any(|output| matches!(output, Output::Close { connection: c, .. } if *c == connection));
        assert_eq!(was_closed, closed);
    }
}

/// A CONNECT body: protocol name and level, flags (clean start), keep-alive 60, (v5: no properties), client id "x".
fn connect_bytes(name: &[u8], level: u8) -> Vec<u8> {
    let mut body = vec![0, name.len() as u8];
    body.extend_from_slice(name);
    body.extend_from_slice(&[level, 0x02, 0, 60]);
    if level == 5 {
        body.push(0);
    }
    body.extend_from_slice(&[0, 1, b'x']);
    let mut packet = vec![0x10, body.len() as u8];
    packet.extend(body);
    packet
}

#[test]
fn unsupported_protocol_levels_are_refused_then_closed() {
    let cases: [(&[u8], u8, &[u8]); 4] = [
        (b"MQTT", 3, &[0x20, 0x02, 0x00, 0x01]),
        (b"MQIsdp", 3, &[0x20, 0x02, 0x00, 0x01]),
        (b"MQTT", 6, &[0x20, 0x03, 0x00, 0x84, 0x00]),
        (b"MQTX", 4, &[]),
    ];
    for (name, level, connack) in cases {
        let mut harness = Harness::new();
        let connection = harness.open();
        harness.raw(connection, &connect_bytes(name, level));
        let outputs = harness.outputs();
        let sent: Vec<u8> = outputs
            .iter()
            .flat_map(|output| match output {
                Output::Send { bytes, .. } => bytes.to_vec(),
                _ => Vec::new(),
            })
            .collect();
        assert_eq!(sent, connack, "{:?} {level}", String::from_utf8_lossy(name));
        assert!(matches!(outputs.last(), Some(Output::Close { .. })));
    }
    // The hand-made CONNECT is right: level 5 and 4 are accepted.
    for level in [4, 5] {
        let mut harness = Harness::new();
        let connection = harness.open();
        harness.raw(connection, &connect_bytes(b"MQTT", level));
        assert_eq!(harness.trace(), vec!["1 -> CONNECT".to_string(), "1 <- CONNACK rc=0x00 sp=0".into()]);
    }
}

#[test]
fn a_packet_before_connect_just_closes() {
    let mut harness = Harness::new();
    let connection = harness.open();
    harness.send(connection, &PingReqPacket::default());
    assert_eq!(harness.trace(), vec![format!("{connection} closed")]);
    assert_eq!(harness.broker.stats().protocol_errors, 1);
}

#[test]
fn a_second_connect_is_a_protocol_error() {
    let mut harness = Harness::new();
    let connection = harness.connect("a");
    harness.send(connection, &v5("a"));
    assert_eq!(harness.trace(), vec!["1 -> CONNECT", "1 <- DISCONNECT rc=0x82", "1 closed"]);

    let old = harness.connect_with(v311("b", true));
    harness.send(old, &v311("b", true));
    assert_eq!(harness.trace(), vec!["2 -> CONNECT", "2 closed"]);
}

#[test]
fn no_connect_within_the_timeout_closes() {
    let mut harness = Harness::new();
    let connection = harness.open();
    harness.raw(connection, &[0x10]);
    assert_eq!(harness.broker.next_deadline(), Some(harness.now + Duration::from_secs(10)));
    harness.advance(9);
    assert!(harness.trace().is_empty());
    harness.advance(1);
    assert_eq!(harness.trace(), vec![format!("{connection} closed")]);
    assert_eq!(harness.broker.next_deadline(), None);
}

#[test]
fn session_limit_refuses_new_sessions() {
    let config = BrokerConfig { max_sessions: 1, ..BrokerConfig::default() };
    let mut harness = Harness::config(config);
    harness.connect("first");
    harness.try_connect(&v5("second"));
    assert_eq!(harness.trace(), vec!["2 -> CONNECT", "2 <- CONNACK rc=0x97 sp=0", "2 closed"]);
    harness.try_connect(&v311("third", true));
    // v3.1.1's return code 3 (server unavailable), which the decoder reads as 0x88.
    assert_eq!(harness.trace(), vec!["3 -> CONNECT", "3 <- CONNACK rc=0x88 sp=0", "3 closed"]);
    // The same client id may still come back (and take its session over).
    harness.try_connect(&v5("first"));
    let trace = harness.trace();
    assert!(trace.contains(&"4 <- CONNACK rc=0x00 sp=0".to_string()), "{trace:?}");
}

#[test]
fn enhanced_authentication_is_refused() {
    let mut harness = Harness::new();
    let options = ConnectOptions::new("a").with_authentication_method("SCRAM-SHA-1");
    harness.try_connect(&ConnectPacket::new(options));
    assert_eq!(harness.trace(), vec!["1 -> CONNECT", "1 <- CONNACK rc=0x8C sp=0", "1 closed"]);
}

#[test]
fn credentials_are_accepted_and_ping_answered() {
    let mut harness = Harness::new();
    let options = ConnectOptions::new("a").with_credentials("user", "secret");
    let connection = harness.connect_with(ConnectPacket::new(options));
    harness.send(connection, &PingReqPacket::default());
    assert_eq!(harness.trace(), vec!["1 -> PINGREQ", "1 <- PINGRESP"]);
    assert_eq!(harness.broker.stats().connections, 1);
}
