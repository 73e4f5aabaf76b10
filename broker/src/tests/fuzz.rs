//! Bytes in any chunking, oversized packets, and a few thousand pseudo-random and mutated inputs: the broker
//! must answer each correctly or close, never panic, and never hold more than one packet's worth of bytes.

use std::time::Duration;

use bytes::BytesMut;
use mqtt5_protocol::packet::subscribe::SubscribePacket;
use mqtt5_protocol::packet::MqttPacket;
use mqtt5_protocol::QoS;

use super::*;
use crate::BrokerConfig;

fn encoded<P: MqttPacket>(packets: &[&P]) -> Vec<u8> {
    let mut bytes = BytesMut::new();
    for packet in packets {
        packet.encode(&mut bytes).expect("encodes");
    }
    bytes.to_vec()
}

fn session_bytes() -> Vec<u8> {
    let mut bytes = encoded(&[&v5("a")]);
    bytes.extend(encoded(&[&SubscribePacket::new(1).add_filter("t", QoS::AtLeastOnce)]));
    bytes.extend(encoded(&[&publish("t", QoS::AtLeastOnce, 2, "hello"), &publish("t", QoS::AtMostOnce, 0, "again")]));
    bytes
}

const EXPECTED: [&str; 9] = [
    "1 -> CONNECT",
    "1 <- CONNACK rc=0x00 sp=0",
    "1 -> SUBSCRIBE",
    "1 <- SUBACK [0x01]",
    "1 -> PUBLISH",
    "1 <- PUBLISH t q1 id=1 \"hello\"",
    "1 <- PUBACK id=2",
    "1 -> PUBLISH",
    "1 <- PUBLISH t q0 \"again\"",
];

#[test]
fn many_packets_in_one_read() {
    let mut harness = Harness::new();
    let connection = harness.open();
    harness.raw(connection, &session_bytes());
    assert_eq!(harness.trace(), EXPECTED);
}

#[test]
fn packets_split_byte_by_byte() {
    let mut harness = Harness::new();
    let connection = harness.open();
    for byte in session_bytes() {
        harness.raw(connection, &[byte]);
    }
    assert_eq!(harness.trace(), EXPECTED);
    assert_eq!(harness.broker.buffered(connection), 0);
}

#[test]
fn oversized_packets_are_refused_before_their_body() {
    let config = BrokerConfig { max_packet_size: 100, ..BrokerConfig::default() };
    // Header of a PUBLISH announcing 200 bytes.
    let oversized = [0x30, 0xC8, 0x01];
    let cases: [(Option<ConnectPacketKind>, Vec<&str>); 3] = [
        (Some(ConnectPacketKind::V5), vec!["1 <- DISCONNECT rc=0x95", "1 closed"]),
        (Some(ConnectPacketKind::V311), vec!["1 closed"]),
        (None, vec!["1 closed"]),
    ];
    for (connect, expected) in cases {
        let mut harness = Harness::config(config.clone());
        let connection = match connect {
            Some(ConnectPacketKind::V5) => harness.connect("a"),
            Some(ConnectPacketKind::V311) => harness.connect_with(v311("a", true)),
            None => harness.open(),
        };
        harness.raw(connection, &oversized);
        assert_eq!(harness.trace(), expected);
        assert_eq!(harness.broker.stats().protocol_errors, 1);
    }
    let mut harness = Harness::config(config);
    let connection = harness.connect("a");
    harness.raw(connection, &[0x30, 0x80, 0x80, 0x80, 0x80]);
    assert_eq!(harness.trace(), vec!["1 <- DISCONNECT rc=0x81", "1 closed"]);
}

enum ConnectPacketKind {
    V5,
    V311,
}

/// xorshift64: deterministic, no dependency.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let mut v3 = encoded(&[&v311("b", false)]);
    v3.extend(encoded(&[&publish_v311("x", QoS::ExactlyOnce, 3, "p")]));
    vec![session_bytes(), v3, encoded(&[&v5("")])]
}

#[test]
fn random_and_mutated_input_never_panics_or_overbuffers() {
    let max_packet_size = 64;
    let config =
        BrokerConfig { max_packet_size, receive_maximum: 4, max_queued_messages: 4, ..BrokerConfig::default() };
    let mut harness = Harness::config(config);
    let mut random = Random(0x9E37_79B9_7F4A_7C15);
    let seeds = seeds();
    let watcher = harness.connect("watcher");
    harness.subscribe(watcher, "#", QoS::ExactlyOnce);
    for round in 0..4000 {
        let mut input = if round % 4 == 0 {
            (0..random.below(200)).map(|_| random.next() as u8).collect::<Vec<u8>>()
        } else {
            seeds[random.below(seeds.len())].clone()
        };
        for _ in 0..random.below(6) {
            if input.is_empty() {
                break;
            }
            let at = random.below(input.len());
            match random.below(3) {
                0 => input[at] = random.next() as u8,
                1 => {
                    input.remove(at);
                }
                _ => input.insert(at, random.next() as u8),
            }
        }
        let connection = harness.open();
        let mut rest = &input[..];
        while !rest.is_empty() {
            let (chunk, after) = rest.split_at(1 + random.below(rest.len()));
            harness.raw(connection, chunk);
            assert!(harness.broker.buffered(connection) <= max_packet_size as usize);
            rest = after;
            if random.below(8) == 0 {
                harness.advance(random.below(20) as u64);
            }
        }
        harness.outputs();
        if random.below(2) == 0 {
            harness.close(connection);
        }
        harness.broker.stats();
    }
    harness.now += Duration::from_secs(10_000);
    harness.broker.tick(harness.now);
    harness.outputs();
}
