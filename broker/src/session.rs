//! What outlives a connection [MQTT-4.1]: subscriptions, the outgoing QoS 1/2 messages not yet acknowledged and
//! the queue behind them, incoming QoS 2 messages awaiting PUBREL, and the will.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mqtt5_protocol::packet::subscribe_options::SubscriptionOptions;
use mqtt5_protocol::QoS;

use crate::message::{Message, Will};
use crate::output::ConnectionId;

pub(crate) use crate::ids::SessionId;

#[derive(Debug)]
pub(crate) struct Session {
    pub client_id: String,
    pub connection: Option<ConnectionId>,
    pub subscriptions: HashMap<String, SubscriptionOptions>,
    pub outgoing: Outgoing,
    /// Incoming QoS 2 messages acknowledged with PUBREC and held until PUBREL releases them (Mosquitto's order:
    /// subscribers get the message after the publisher's PUBREL).
    /// `None` for a message to the lab's topics, which was routed as soon as the lab took it.
    pub awaiting_release: HashMap<u16, Option<Arc<Message>>>,
    pub will: Option<Will>,
    /// Set once the connection ended in a way that publishes the will, if its delay has not yet passed.
    pub will_due: Option<Instant>,
    /// Granted Session Expiry Interval.
    pub expiry: Duration,
    /// Set while no connection holds the session.
    pub expires_at: Option<Instant>,
}

impl Session {
    pub(crate) fn new(client_id: String) -> Self {
        Self {
            client_id,
            connection: None,
            subscriptions: HashMap::new(),
            outgoing: Outgoing::default(),
            awaiting_release: HashMap::new(),
            will: None,
            will_due: None,
            expiry: Duration::ZERO,
            expires_at: None,
        }
    }
}

/// A message on its way to this session's client, with the QoS and RETAIN flag it is sent with.
#[derive(Clone, Debug)]
pub(crate) struct Delivery {
    pub message: Arc<Message>,
    pub qos: QoS,
    pub retain: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
/// The acknowledgement an in-flight message waits for.
pub(crate) enum AckState {
    /// QoS 1, PUBLISH sent.
    Puback,
    /// QoS 2, PUBLISH sent.
    Pubrec,
    /// QoS 2, PUBREL sent.
    Pubcomp,
}

#[derive(Debug)]
pub(crate) struct InFlight {
    pub delivery: Delivery,
    pub state: AckState,
    /// Send order, for resending in the original order [MQTT-4.6.0-1].
    order: u64,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PubrecOutcome {
    /// Send PUBREL.
    Release,
    /// The client refused the message (reason code ≥ 0x80): the flow ends here.
    Refused,
    Unknown,
}

#[derive(Debug, Default)]
pub(crate) struct Outgoing {
    in_flight: HashMap<u16, InFlight>,
    queue: VecDeque<Delivery>,
    last_packet_id: u16,
    next_order: u64,
}

impl Outgoing {
    pub(crate) fn in_flight_len(&self) -> usize {
        self.in_flight.len()
    }

    pub(crate) fn in_flight_count(&self, qos: QoS) -> usize {
        self.in_flight.values().filter(|entry| entry.delivery.qos == qos).count()
    }

    pub(crate) fn queue_len(&self) -> usize {
        self.queue.len()
    }

    /// Queues a delivery, discarding the oldest QoS 0 one (else the oldest) when full. Returns how many were lost.
    pub(crate) fn enqueue(&mut self, delivery: Delivery, max: usize) -> u64 {
        if max == 0 {
            return 1;
        }
        let mut discarded = 0;
        while self.queue.len() >= max {
            let victim = self.queue.iter().position(|queued| queued.qos == QoS::AtMostOnce).unwrap_or(0);
            self.queue.remove(victim);
            discarded += 1;
        }
        self.queue.push_back(delivery);
        discarded
    }

    /// The next queued delivery still alive; expired ones are dropped [MQTT-3.3.2-5].
    pub(crate) fn dequeue(&mut self, now: Instant) -> Option<Delivery> {
        while let Some(delivery) = self.queue.pop_front() {
            if !delivery.message.is_expired(now) {
                return Some(delivery);
            }
        }
        None
    }

    pub(crate) fn has_queued(&self) -> bool {
        !self.queue.is_empty()
    }

    pub(crate) fn drop_expired(&mut self, now: Instant) {
        self.queue.retain(|delivery| !delivery.message.is_expired(now));
    }

    /// Takes a packet identifier not in use [MQTT-2.2.1-3] and records the delivery as sent.
    pub(crate) fn start(&mut self, delivery: Delivery) -> Option<u16> {
        let packet_id = self.free_packet_id()?;
        let state = if delivery.qos == QoS::ExactlyOnce { AckState::Pubrec } else { AckState::Puback };
        self.next_order += 1;
        self.in_flight.insert(packet_id, InFlight { delivery, state, order: self.next_order });
        Some(packet_id)
    }

    fn free_packet_id(&mut self) -> Option<u16> {
        for _ in 0..=u16::MAX {
            self.last_packet_id = self.last_packet_id.checked_add(1).unwrap_or(1);
            if !self.in_flight.contains_key(&self.last_packet_id) {
                return Some(self.last_packet_id);
            }
        }
        None
    }

    pub(crate) fn puback(&mut self, packet_id: u16) -> bool {
        self.take_if(packet_id, AckState::Puback)
    }

    pub(crate) fn pubcomp(&mut self, packet_id: u16) -> bool {
        self.take_if(packet_id, AckState::Pubcomp)
    }

    pub(crate) fn pubrec(&mut self, packet_id: u16, refused: bool) -> PubrecOutcome {
        let Some(entry) = self.in_flight.get_mut(&packet_id) else {
            return PubrecOutcome::Unknown;
        };
        match entry.state {
            AckState::Puback => PubrecOutcome::Unknown,
            AckState::Pubrec if refused => {
                self.in_flight.remove(&packet_id);
                PubrecOutcome::Refused
            }
            // A repeated PUBREC (the PUBREL crossed it) is answered again.
            AckState::Pubrec | AckState::Pubcomp => {
                entry.state = AckState::Pubcomp;
                PubrecOutcome::Release
            }
        }
    }

    /// Drops an in-flight message that can no longer be sent (too big for the client's new Maximum Packet Size).
    pub(crate) fn forget(&mut self, packet_id: u16) {
        self.in_flight.remove(&packet_id);
    }

    fn take_if(&mut self, packet_id: u16, state: AckState) -> bool {
        if self.in_flight.get(&packet_id).is_some_and(|entry| entry.state == state) {
            self.in_flight.remove(&packet_id);
            return true;
        }
        false
    }

    /// What to send again on session resumption, in the original order [MQTT-4.4.0-1].
    pub(crate) fn unacknowledged(&self) -> Vec<(u16, &InFlight)> {
        let mut entries: Vec<(u16, &InFlight)> = self.in_flight.iter().map(|(id, entry)| (*id, entry)).collect();
        entries.sort_by_key(|(_, entry)| entry.order);
        entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn delivery(qos: QoS) -> Delivery {
        let message = Message {
            topic: "t".into(),
            payload: Bytes::new(),
            qos,
            retain: false,
            properties: Default::default(),
            expires_at: None,
            publisher: None,
            seq: None,
        };
        Delivery { message: Arc::new(message), qos, retain: false }
    }

    #[test]
    fn packet_ids_skip_those_in_use_and_wrap() {
        let mut outgoing = Outgoing { last_packet_id: u16::MAX - 1, ..Outgoing::default() };
        assert_eq!(outgoing.start(delivery(QoS::AtLeastOnce)), Some(u16::MAX));
        outgoing.last_packet_id = u16::MAX - 1;
        assert_eq!(outgoing.start(delivery(QoS::AtLeastOnce)), Some(1));
        assert!(outgoing.puback(u16::MAX));
        assert!(!outgoing.puback(u16::MAX));
        assert!(!outgoing.pubcomp(1));
    }

    #[test]
    fn full_queue_discards_qos0_first() {
        let mut outgoing = Outgoing::default();
        assert_eq!(outgoing.enqueue(delivery(QoS::AtLeastOnce), 2), 0);
        assert_eq!(outgoing.enqueue(delivery(QoS::AtMostOnce), 2), 0);
        assert_eq!(outgoing.enqueue(delivery(QoS::ExactlyOnce), 2), 1);
        let left: Vec<QoS> = outgoing.queue.iter().map(|d| d.qos).collect();
        assert_eq!(left, vec![QoS::AtLeastOnce, QoS::ExactlyOnce]);
    }
}
