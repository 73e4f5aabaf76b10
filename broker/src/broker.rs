use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use mqtt5_protocol::packet::disconnect::DisconnectPacket;
use mqtt5_protocol::packet::MqttPacket;
use mqtt5_protocol::{is_valid_topic_name, QoS, ReasonCode};

use crate::config::BrokerConfig;
use crate::connection::Connection;
use crate::decode;
use crate::error::Fault;
use crate::message::Message;
use crate::output::{ConnectionId, LabTicket, Output, PacketSummary, Publication};
use crate::session::{Session, SessionId};
use crate::timers::{Timer, Timers};
use crate::topics::{RetainedStore, SubscriptionTree};
use crate::wire;
use protocol::mqtt::framing::{Frame, FrameError};

/// CONNECT's packet type.
const CONNECT: u8 = 1;

/// Counts the lab shows (presenter, metrics, /api/stats). Plain numbers, read whenever asked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BrokerStats {
    /// Connections whose CONNECT was accepted.
    pub connections: usize,
    /// Sessions kept for clients that are away (clean start = 0 with a session expiry).
    pub sessions_away: usize,
    pub subscriptions: usize,
    pub retained: usize,
    /// Outgoing QoS 1 / QoS 2 messages sent and not yet acknowledged, over all sessions.
    pub in_flight_qos1: usize,
    pub in_flight_qos2: usize,
    /// Messages waiting in sessions' queues (client away or its Receive Maximum reached).
    pub queued: usize,
    /// Messages a full queue had to discard, or too big for the subscriber's Maximum Packet Size, since start.
    pub discarded: u64,
    /// Connections closed for a protocol violation, since start.
    pub protocol_errors: u64,
    /// Client publishes refused, since start: to the lab's own `lab/events/…`, with a payload the lab's rules
    /// refuse, or that the lab could not take.
    pub refused: u64,
}

/// How a connection ended, which decides its will [MQTT-3.1.2-8, -3.1.2-10, -3.14.4-3].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    /// DISCONNECT with reason 0x00: the will is discarded.
    Normal,
    /// Anything else: socket gone, DISCONNECT 0x04, protocol error, keep-alive timeout.
    WithWill,
    /// Another connection took the client id; `resumed` when it keeps the session (clean start = 0).
    TakenOver { resumed: bool },
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub discarded: u64,
    pub protocol_errors: u64,
    pub refused: u64,
}

/// The whole broker: connections, sessions, subscriptions and retained messages.
pub struct Broker {
    pub(crate) config: BrokerConfig,
    pub(crate) lab_topics: HashSet<String>,
    /// Clients' QoS 1 and 2 messages to the lab's topics, held with their acknowledgement until the lab settles them.
    pub(crate) lab_pending: HashMap<LabTicket, Arc<Message>>,
    pub(crate) outputs: Vec<Output>,
    pub(crate) connections: HashMap<ConnectionId, Connection>,
    pub(crate) sessions: HashMap<SessionId, Session>,
    pub(crate) session_ids: HashMap<String, SessionId>,
    pub(crate) subscriptions: SubscriptionTree,
    pub(crate) retained: RetainedStore,
    pub(crate) timers: Timers,
    pub(crate) counters: Counters,
    next_connection_id: ConnectionId,
    pub(crate) next_session_id: SessionId,
    pub(crate) next_assigned_client_id: u64,
}

impl Broker {
    /// `lab_topics`: topic names the lab acts on (e.g. `lab/chat`); a client's PUBLISH there also becomes an
    /// [`Output::Lab`]. Topics under `lab/events/` are the lab's own: clients may subscribe, never publish.
    pub fn new(config: BrokerConfig, lab_topics: Vec<String>) -> Self {
        Self {
            config,
            lab_topics: lab_topics.into_iter().collect(),
            lab_pending: HashMap::new(),
            outputs: Vec::new(),
            connections: HashMap::new(),
            sessions: HashMap::new(),
            session_ids: HashMap::new(),
            subscriptions: SubscriptionTree::default(),
            retained: RetainedStore::default(),
            timers: Timers::default(),
            counters: Counters::default(),
            next_connection_id: 1,
            next_session_id: 1,
            next_assigned_client_id: 1,
        }
    }

    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// A socket was accepted. It must send CONNECT within `connect_timeout`.
    pub fn open(&mut self, now: Instant) -> ConnectionId {
        self.open_with(now, Vec::new())
    }

    /// [`Broker::open`], with user properties for this connection's CONNACK (MQTT 5 only): the lab names the HTTP
    /// exchange that upgraded the socket, so a page can find the bytes measured for it.
    pub fn open_with(&mut self, now: Instant, connack_properties: Vec<(String, String)>) -> ConnectionId {
        let id = self.next_connection_id;
        self.next_connection_id += 1;
        let mut connection = Connection::new(now);
        connection.connack_properties = connack_properties;
        if let Some(deadline) = connection.deadline(self.config.connect_timeout) {
            self.timers.push(deadline, Timer::Connection(id));
        }
        self.connections.insert(id, connection);
        id
    }

    /// Bytes read from the socket, in any chunking (a packet may span reads; one read may hold many packets).
    pub fn receive(&mut self, connection: ConnectionId, bytes: &[u8], now: Instant) {
        let mut input = bytes;
        let max_packet_size = self.config.max_packet_size;
        loop {
            // A packet may have closed the connection; what follows it is not read.
            let Some(state) = self.connections.get_mut(&connection) else {
                return;
            };
            match state.frames.next_frame(&mut input, max_packet_size) {
                Ok(Some(frame)) => {
                    state.last_packet_at = now;
                    self.handle_frame(connection, frame, now);
                }
                Ok(None) => return,
                Err(FrameError::TooLarge { size, max }) => {
                    return self.fail(connection, Fault::PacketTooLarge { size, max }, now)
                }
                Err(error @ FrameError::RemainingLengthTooLong) => {
                    return self.fail(connection, Fault::Malformed(error.to_string()), now)
                }
            }
        }
    }

    /// The socket is gone without a DISCONNECT from the client (or after one): the will is scheduled unless the
    /// client disconnected normally, and the session is kept for its expiry or dropped.
    pub fn closed(&mut self, connection: ConnectionId, now: Instant) {
        self.end_connection(connection, Ending::WithWill, now);
    }

    /// A message from the lab itself (a hub event), routed like any client's.
    pub fn publish(&mut self, publication: Publication, now: Instant) {
        if !is_valid_topic_name(&publication.topic) {
            self.counters.discarded += 1;
            return;
        }
        self.publish_message(Arc::new(Message::from_publication(publication)), now);
    }

    /// Time passed: keep-alive and CONNECT timeouts, delayed wills, session and message expiry.
    pub fn tick(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_due(now) {
            match timer {
                Timer::Connection(id) => self.check_silence(id, now),
                Timer::Will(session) => self.publish_due_will(session, now),
                Timer::SessionExpiry(session) => {
                    let expired = self.sessions.get(&session).is_some_and(|session| {
                        session.connection.is_none() && session.expires_at.is_some_and(|at| at <= now)
                    });
                    if expired {
                        self.end_session(session, now);
                    }
                }
                Timer::QueuedMessageExpiry(session) => {
                    if let Some(session) = self.sessions.get_mut(&session) {
                        session.outgoing.drop_expired(now);
                    }
                }
            }
        }
    }

    /// When `tick` next has something to do (possibly a little early: a timer may turn out to be stale).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Bytes held for the connection's packet not yet complete; never more than `max_packet_size`.
    pub fn buffered(&self, connection: ConnectionId) -> usize {
        self.connections.get(&connection).map_or(0, |connection| connection.frames.buffered())
    }

    /// Everything the I/O layer must do since the last call, in order.
    pub fn take_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.outputs)
    }

    pub fn stats(&self) -> BrokerStats {
        let sessions = self.sessions.values();
        BrokerStats {
            connections: self.connections.values().filter(|connection| connection.client.is_some()).count(),
            sessions_away: self.sessions.values().filter(|session| session.connection.is_none()).count(),
            subscriptions: self.subscriptions.len(),
            retained: self.retained.len(),
            in_flight_qos1: sessions.clone().map(|session| session.outgoing.in_flight_count(QoS::AtLeastOnce)).sum(),
            in_flight_qos2: sessions.clone().map(|session| session.outgoing.in_flight_count(QoS::ExactlyOnce)).sum(),
            queued: sessions.map(|session| session.outgoing.queue_len()).sum(),
            discarded: self.counters.discarded,
            protocol_errors: self.counters.protocol_errors,
            refused: self.counters.refused,
        }
    }

    fn handle_frame(&mut self, id: ConnectionId, frame: Frame, now: Instant) {
        let version = self.connections.get(&id).and_then(|connection| connection.client.as_ref()).map(|c| c.version);
        let Some(version) = version else {
            if frame.packet_type == CONNECT {
                return self.handle_connect(id, &frame, now);
            }
            return self.fail(id, Fault::Protocol("the first packet must be CONNECT".into()), now);
        };
        match decode::decode(&frame, version) {
            Ok(packet) => {
                self.outputs.push(Output::Received { connection: id, packet: decode::summary(&packet) });
                if let Err(fault) = self.handle_packet(id, packet, now) {
                    self.fail(id, fault, now);
                }
            }
            Err(fault) => self.fail(id, fault, now),
        }
    }

    /// Ends the connection for a violation: DISCONNECT with its reason code for a v5 client, then Close.
    pub(crate) fn fail(&mut self, id: ConnectionId, fault: Fault, now: Instant) {
        if fault.is_protocol_error() {
            self.counters.protocol_errors += 1;
        } else {
            self.counters.refused += 1;
        }
        self.disconnect(id, &fault.to_string(), fault.reason_code(), Ending::WithWill, now);
    }

    /// Sends a v5 client DISCONNECT with `reason_code`, then closes the connection.
    pub(crate) fn disconnect(&mut self, id: ConnectionId, why: &str, reason: ReasonCode, ending: Ending, now: Instant) {
        if self.connections.get(&id).is_some_and(Connection::is_v5) {
            self.send(id, &DisconnectPacket::new(reason), PacketSummary::control("DISCONNECT", None));
        }
        self.close(id, why, ending, now);
    }

    pub(crate) fn close(&mut self, id: ConnectionId, why: &str, ending: Ending, now: Instant) {
        if self.connections.contains_key(&id) {
            self.outputs.push(Output::Close { connection: id, reason: why.to_owned() });
            self.end_connection(id, ending, now);
        }
    }

    /// Encodes and queues one control packet for the connection.
    pub(crate) fn send<P: MqttPacket>(&mut self, id: ConnectionId, packet: &P, summary: PacketSummary) {
        // Only strings over 64 KiB fail to encode, and the broker builds none in its control packets.
        if let Ok(bytes) = wire::encode(packet) {
            self.outputs.push(Output::Send { connection: id, bytes, packet: summary });
        }
    }

    fn check_silence(&mut self, id: ConnectionId, now: Instant) {
        let Some(connection) = self.connections.get(&id) else {
            return;
        };
        let Some(deadline) = connection.deadline(self.config.connect_timeout) else {
            return;
        };
        if deadline > now {
            return self.timers.push(deadline, Timer::Connection(id));
        }
        if connection.client.is_none() {
            return self.close(id, "no CONNECT in time", Ending::WithWill, now);
        }
        self.disconnect(id, "keep-alive timeout", ReasonCode::KeepAliveTimeout, Ending::WithWill, now);
    }
}
