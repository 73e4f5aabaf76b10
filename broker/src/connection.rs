//! One socket: its framing buffer and, once CONNECT is accepted, what the client announced.

use std::time::{Duration, Instant};

use crate::decode::MQTT_V5;
use crate::session::SessionId;
use protocol::mqtt::framing::FrameReader;

#[derive(Debug)]
pub(crate) struct Connection {
    pub frames: FrameReader,
    pub opened_at: Instant,
    pub last_packet_at: Instant,
    pub client: Option<Client>,
    /// User properties the socket's owner asked to add to this connection's CONNACK (v5).
    pub connack_properties: Vec<(String, String)>,
}

/// What the client's CONNECT settled.
#[derive(Debug)]
pub(crate) struct Client {
    pub session: SessionId,
    pub version: u8,
    /// The keep-alive in force (the client's, or the broker's Server Keep Alive).
    pub keep_alive: Duration,
    /// The client's Receive Maximum: QoS 1/2 messages the broker may have unacknowledged towards it.
    pub receive_maximum: u16,
    /// The client's Maximum Packet Size; larger messages are discarded for it [MQTT-3.1.2-25].
    pub max_packet_size: u32,
    /// A session that expires on close may not be given an expiry by DISCONNECT [MQTT-3.14.2-2].
    pub connect_expiry_was_zero: bool,
}

impl Client {
    pub(crate) fn is_v5(&self) -> bool {
        self.version == MQTT_V5
    }
}

impl Connection {
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            frames: FrameReader::default(),
            opened_at: now,
            last_packet_at: now,
            client: None,
            connack_properties: Vec::new(),
        }
    }

    pub(crate) fn is_v5(&self) -> bool {
        self.client.as_ref().is_some_and(Client::is_v5)
    }

    /// When the connection is dropped for silence: CONNECT timeout before, one and a half keep-alives after
    /// [MQTT-3.1.2-22]. `None` when the broker imposes no keep-alive.
    pub(crate) fn deadline(&self, connect_timeout: Duration) -> Option<Instant> {
        match &self.client {
            None => self.opened_at.checked_add(connect_timeout),
            Some(client) if client.keep_alive.is_zero() => None,
            Some(client) => self.last_packet_at.checked_add(client.keep_alive * 3 / 2),
        }
    }
}
