use std::time::Instant;

use crate::config::BrokerConfig;
use crate::output::{ConnectionId, Output, Publication};

/// Counts the lab shows (presenter, metrics, /api/stats). Plain numbers, read whenever asked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BrokerStats {
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
    /// Messages a full queue had to discard, since start.
    pub discarded: u64,
    /// Connections closed for a protocol violation, since start.
    pub protocol_errors: u64,
}

/// The whole broker: connections, sessions, subscriptions and retained messages.
pub struct Broker {
    config: BrokerConfig,
    lab_topics: Vec<String>,
    outputs: Vec<Output>,
}

impl Broker {
    /// `lab_topics`: topic names the lab acts on (e.g. `lab/chat`); a client's PUBLISH there also becomes an
    /// [`Output::Lab`]. Topics under `lab/events/` are the lab's own: clients may subscribe, never publish.
    pub fn new(config: BrokerConfig, lab_topics: Vec<String>) -> Self {
        Self { config, lab_topics, outputs: Vec::new() }
    }

    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// A socket was accepted. It must send CONNECT within `connect_timeout`.
    pub fn open(&mut self, now: Instant) -> ConnectionId {
        let _ = (now, &self.lab_topics);
        todo!()
    }

    /// Bytes read from the socket, in any chunking (a packet may span reads; one read may hold many packets).
    pub fn receive(&mut self, connection: ConnectionId, bytes: &[u8], now: Instant) {
        let _ = (connection, bytes, now);
        todo!()
    }

    /// The socket is gone without a DISCONNECT from the client (or after one): the will is scheduled unless the
    /// client disconnected normally, and the session is kept for its expiry or dropped.
    pub fn closed(&mut self, connection: ConnectionId, now: Instant) {
        let _ = (connection, now);
        todo!()
    }

    /// A message from the lab itself (a hub event), routed like any client's.
    pub fn publish(&mut self, publication: Publication, now: Instant) {
        let _ = (publication, now);
        todo!()
    }

    /// Time passed: keep-alive and CONNECT timeouts, delayed wills, session and message expiry.
    pub fn tick(&mut self, now: Instant) {
        let _ = now;
        todo!()
    }

    /// When `tick` next has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        todo!()
    }

    /// Everything the I/O layer must do since the last call, in order.
    pub fn take_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.outputs)
    }

    pub fn stats(&self) -> BrokerStats {
        todo!()
    }
}
