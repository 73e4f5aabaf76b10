//! Broker tests: a client's packets built with mqtt5-protocol's encoders go in, and what comes out is decoded
//! with its decoder and written as one line per output, so each test reads as the exchange on the wire.

mod connect;
mod fuzz;
mod publish;
mod session;
mod subscribe;
mod will;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use mqtt5_protocol::packet::connect::ConnectPacket;
use mqtt5_protocol::packet::publish::PublishPacket;
use mqtt5_protocol::packet::subscribe::SubscribePacket;
use mqtt5_protocol::packet::MqttPacket;
use mqtt5_protocol::{ConnectOptions, FixedHeader, Packet, ProtocolVersion, QoS};

use crate::{Broker, BrokerConfig, ConnectionId, LabRefusal, LabTicket, Output};

pub(crate) struct Harness {
    pub broker: Broker,
    pub now: Instant,
    versions: HashMap<ConnectionId, u8>,
    /// Messages handed to the lab whose publisher waits for its answer, oldest first.
    held: std::collections::VecDeque<LabTicket>,
}

impl Harness {
    pub fn new() -> Self {
        Self::with(BrokerConfig::default(), vec!["lab/chat".into()])
    }

    pub fn with(config: BrokerConfig, lab_topics: Vec<String>) -> Self {
        Self {
            broker: Broker::new(config, lab_topics),
            now: Instant::now(),
            versions: HashMap::new(),
            held: Default::default(),
        }
    }

    pub fn config(config: BrokerConfig) -> Self {
        Self::with(config, vec!["lab/chat".into()])
    }

    pub fn open(&mut self) -> ConnectionId {
        self.broker.open(self.now)
    }

    pub fn raw(&mut self, connection: ConnectionId, bytes: &[u8]) {
        self.broker.receive(connection, bytes, self.now);
    }

    pub fn send<P: MqttPacket>(&mut self, connection: ConnectionId, packet: &P) {
        let mut bytes = BytesMut::new();
        packet.encode(&mut bytes).expect("test packets encode");
        self.raw(connection, &bytes);
    }

    /// Opens a connection, sends CONNECT and checks the CONNACK accepted it.
    pub fn connect_with(&mut self, connect: ConnectPacket) -> ConnectionId {
        let connection = self.open();
        self.versions.insert(connection, connect.protocol_version);
        self.send(connection, &connect);
        let trace = self.trace();
        assert!(
            trace.iter().any(|line| line.starts_with(&format!("{connection} <- CONNACK rc=0x00"))),
            "CONNECT refused: {trace:?}"
        );
        connection
    }

    pub fn connect(&mut self, client_id: &str) -> ConnectionId {
        self.connect_with(v5(client_id))
    }

    /// Sends CONNECT without checking the answer (for refusals).
    pub fn try_connect(&mut self, connect: &ConnectPacket) -> ConnectionId {
        let connection = self.open();
        self.versions.insert(connection, connect.protocol_version);
        self.send(connection, connect);
        connection
    }

    pub fn subscribe(&mut self, connection: ConnectionId, filter: &str, qos: QoS) {
        let version = self.version(connection);
        self.send(
            connection,
            &SubscribePacket { protocol_version: version, ..SubscribePacket::new(1) }.add_filter(filter, qos),
        );
        let trace = self.trace();
        assert!(trace.iter().any(|line| line.contains("SUBACK")), "{trace:?}");
    }

    pub fn advance(&mut self, seconds: u64) {
        self.now += Duration::from_secs(seconds);
        self.broker.tick(self.now);
    }

    pub fn close(&mut self, connection: ConnectionId) {
        self.broker.closed(connection, self.now);
    }

    pub fn outputs(&mut self) -> Vec<Output> {
        let outputs = self.broker.take_outputs();
        self.note_held(&outputs);
        outputs
    }

    /// Every output as a line; sent bytes are decoded (and checked against their summary).
    pub fn trace(&mut self) -> Vec<String> {
        let outputs = self.outputs();
        outputs.iter().map(|output| self.describe(output)).collect()
    }

    fn note_held(&mut self, outputs: &[Output]) {
        let tickets = outputs.iter().filter_map(|output| match output {
            Output::Lab(publish) => publish.ticket,
            _ => None,
        });
        self.held.extend(tickets);
    }

    /// Answers for the lab the oldest message it holds (seen in an earlier trace).
    pub fn settle(&mut self, outcome: Result<(), LabRefusal>) {
        let ticket = self.held.pop_front().expect("a message waiting for the lab");
        self.broker.settle_lab(ticket, outcome, self.now);
    }

    /// The packets sent to one connection, decoded.
    pub fn packets(&mut self, connection: ConnectionId) -> Vec<Packet> {
        let outputs = self.broker.take_outputs();
        outputs
            .iter()
            .filter_map(|output| match output {
                Output::Send { connection: to, bytes, .. } if *to == connection => {
                    Some(decode(bytes, self.version(connection)))
                }
                _ => None,
            })
            .collect()
    }

    fn version(&self, connection: ConnectionId) -> u8 {
        self.versions.get(&connection).copied().unwrap_or(5)
    }

    fn describe(&self, output: &Output) -> String {
        match output {
            Output::Send { connection, bytes, packet: summary } => {
                let packet = decode(bytes, self.version(*connection));
                assert_eq!(summary.kind, packet.packet_type_name());
                if let Packet::Publish(publish) = &packet {
                    assert_eq!(summary.packet_id, publish.packet_id);
                    assert_eq!((summary.dup, summary.retain), (publish.dup, publish.retain));
                    assert_eq!(summary.payload_len, publish.payload.len());
                }
                format!("{connection} <- {}", line(&packet))
            }
            Output::Close { connection, .. } => format!("{connection} closed"),
            Output::Received { connection, packet } => format!("{connection} -> {}", packet.kind),
            Output::Lab(publish) if publish.ticket.is_some() => {
                format!("lab {} from {}, ack held", publish.topic, publish.client_id)
            }
            Output::Lab(publish) => format!("lab {} from {}", publish.topic, publish.client_id),
        }
    }
}

pub(crate) fn decode(bytes: &[u8], version: u8) -> Packet {
    let mut buffer = bytes;
    let header = FixedHeader::decode(&mut buffer).expect("fixed header");
    assert_eq!(header.remaining_length as usize, buffer.remaining(), "one whole packet per Send");
    Packet::decode_from_body_with_version(header.packet_type, &header, &mut buffer, version).expect("decodes")
}

fn line(packet: &Packet) -> String {
    match packet {
        Packet::ConnAck(connack) => {
            format!("CONNACK rc=0x{:02X} sp={}", connack.reason_code as u8, u8::from(connack.session_present))
        }
        Packet::Publish(publish) => {
            let mut line = format!("PUBLISH {} q{}", publish.topic_name, publish.qos as u8);
            if let Some(id) = publish.packet_id {
                line += &format!(" id={id}");
            }
            if publish.dup {
                line += " dup";
            }
            if publish.retain {
                line += " retain";
            }
            line + &format!(" {:?}", String::from_utf8_lossy(&publish.payload))
        }
        Packet::PubAck(ack) => ack_line("PUBACK", ack.packet_id, ack.reason_code as u8),
        Packet::PubRec(ack) => ack_line("PUBREC", ack.packet_id, ack.reason_code as u8),
        Packet::PubRel(ack) => ack_line("PUBREL", ack.packet_id, ack.reason_code as u8),
        Packet::PubComp(ack) => ack_line("PUBCOMP", ack.packet_id, ack.reason_code as u8),
        Packet::SubAck(suback) => {
            let codes: Vec<String> = suback.reason_codes.iter().map(|code| format!("0x{:02X}", *code as u8)).collect();
            format!("SUBACK [{}]", codes.join(","))
        }
        Packet::UnsubAck(unsuback) => {
            let codes: Vec<String> =
                unsuback.reason_codes.iter().map(|code| format!("0x{:02X}", *code as u8)).collect();
            format!("UNSUBACK [{}]", codes.join(","))
        }
        Packet::Disconnect(disconnect) => format!("DISCONNECT rc=0x{:02X}", disconnect.reason_code as u8),
        other => other.packet_type_name().to_owned(),
    }
}

fn ack_line(kind: &str, packet_id: u16, reason: u8) -> String {
    if reason == 0 {
        format!("{kind} id={packet_id}")
    } else {
        format!("{kind} id={packet_id} rc=0x{reason:02X}")
    }
}

pub(crate) fn v5(client_id: &str) -> ConnectPacket {
    ConnectPacket::new(ConnectOptions::new(client_id).with_keep_alive(Duration::from_secs(60)))
}

/// A v5 CONNECT with clean start = 0 and a session expiry.
pub(crate) fn v5_persistent(client_id: &str, expiry: u32) -> ConnectPacket {
    ConnectPacket::new(
        ConnectOptions::new(client_id)
            .with_keep_alive(Duration::from_secs(60))
            .with_clean_start(false)
            .with_session_expiry_interval(expiry),
    )
}

pub(crate) fn v311(client_id: &str, clean_session: bool) -> ConnectPacket {
    ConnectPacket::new_v311(
        ConnectOptions::new(client_id)
            .with_keep_alive(Duration::from_secs(60))
            .with_clean_start(clean_session)
            .with_protocol_version(ProtocolVersion::V311),
    )
}

pub(crate) fn publish(topic: &str, qos: QoS, packet_id: u16, payload: &str) -> PublishPacket {
    PublishPacket::new(topic, payload.as_bytes().to_vec(), qos).with_packet_id(packet_id)
}

pub(crate) fn publish_v311(topic: &str, qos: QoS, packet_id: u16, payload: &str) -> PublishPacket {
    PublishPacket::new_v311(topic, payload.as_bytes().to_vec(), qos).with_packet_id(packet_id)
}
