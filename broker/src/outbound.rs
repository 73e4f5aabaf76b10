//! Messages on their way to subscribers: matching, the effective QoS, the client's Receive Maximum (beyond it,
//! the session's queue) and Maximum Packet Size, and resending what a resumed session left unacknowledged.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use mqtt5_protocol::packet::pubrel::PubRelPacket;
use mqtt5_protocol::QoS;

use crate::broker::Broker;
use crate::connection::Client;
use crate::message::Message;
use crate::output::{ConnectionId, Output, PacketSummary};
use crate::session::{AckState, Delivery, Session, SessionId};
use crate::timers::Timer;
use crate::wire::{self, PublishCache};

pub(crate) fn min_qos(a: QoS, b: QoS) -> QoS {
    if (a as u8) <= (b as u8) {
        a
    } else {
        b
    }
}

fn max_qos(a: QoS, b: QoS) -> QoS {
    if (a as u8) >= (b as u8) {
        a
    } else {
        b
    }
}

enum Transmitted {
    Sent,
    /// Too big for the client, or not encodable: dropped for this client and counted.
    Discarded,
    /// All 65535 packet identifiers in use; the delivery waits in the queue.
    NoPacketId(Delivery),
}

impl Broker {
    /// Stores (if RETAIN) and routes a message from a client, a will or the lab.
    pub(crate) fn publish_message(&mut self, message: Arc<Message>, now: Instant) {
        if message.retain {
            // Over `max_retained` the message is still delivered, just not kept; a v5 publisher has been told.
            let _ = self.retained.store(&message, self.config.max_retained);
        }
        self.route(&message, now);
    }

    /// One delivery per matching session, at the highest QoS of its matching subscriptions [MQTT-3.3.4-2].
    fn route(&mut self, message: &Arc<Message>, now: Instant) {
        let mut targets: BTreeMap<SessionId, (QoS, bool)> = BTreeMap::new();
        for (session, options) in self.subscriptions.matches(&message.topic) {
            if options.no_local && message.publisher == Some(session) {
                continue;
            }
            let target = targets.entry(session).or_insert((QoS::AtMostOnce, false));
            target.0 = max_qos(target.0, options.qos);
            target.1 |= options.retain_as_published;
        }
        let mut cache = PublishCache::new(message, now);
        for (session, (subscription_qos, retain_as_published)) in targets {
            let delivery = Delivery {
                message: Arc::clone(message),
                qos: min_qos(message.qos, subscription_qos),
                // Forwarded messages carry RETAIN only when the subscription asked for it [MQTT-3.3.1-12, -13].
                retain: retain_as_published && message.retain,
            };
            self.deliver(session, delivery, &mut cache);
        }
    }

    /// Sends now if the client is here and its window has room, else queues (QoS 1/2 only: QoS 0 for an absent
    /// client is dropped).
    pub(crate) fn deliver(&mut self, session_id: SessionId, delivery: Delivery, cache: &mut PublishCache) {
        let Self { sessions, connections, outputs, counters, timers, config, .. } = self;
        let Some(session) = sessions.get_mut(&session_id) else {
            return;
        };
        let client = session.connection.and_then(|id| Some((id, connections.get(&id)?.client.as_ref()?)));
        let queue_it = match client {
            None => delivery.qos != QoS::AtMostOnce,
            Some((connection, client)) => {
                let window_open = delivery.qos == QoS::AtMostOnce
                    || (!session.outgoing.has_queued()
                        && session.outgoing.in_flight_len() < usize::from(client.receive_maximum));
                if window_open {
                    match transmit(session, connection, client, delivery, cache, outputs) {
                        Transmitted::Sent => {}
                        Transmitted::Discarded => counters.discarded += 1,
                        Transmitted::NoPacketId(delivery) => {
                            counters.discarded += session.outgoing.enqueue(delivery, config.max_queued_messages);
                        }
                    }
                    return;
                }
                true
            }
        };
        if queue_it {
            if let Some(expires_at) = delivery.message.expires_at {
                timers.push(expires_at, Timer::QueuedMessageExpiry(session_id));
            }
            counters.discarded += session.outgoing.enqueue(delivery, config.max_queued_messages);
        }
    }

    /// Sends queued deliveries while the client's Receive Maximum allows.
    pub(crate) fn drain_queue(&mut self, session_id: SessionId, now: Instant) {
        let Self { sessions, connections, outputs, counters, config, .. } = self;
        let Some(session) = sessions.get_mut(&session_id) else {
            return;
        };
        let Some((connection, client)) =
            session.connection.and_then(|id| Some((id, connections.get(&id)?.client.as_ref()?)))
        else {
            return;
        };
        while session.outgoing.in_flight_len() < usize::from(client.receive_maximum) {
            let Some(delivery) = session.outgoing.dequeue(now) else {
                return;
            };
            let message = Arc::clone(&delivery.message);
            let mut cache = PublishCache::new(&message, now);
            match transmit(session, connection, client, delivery, &mut cache, outputs) {
                Transmitted::Sent => {}
                Transmitted::Discarded => counters.discarded += 1,
                Transmitted::NoPacketId(delivery) => {
                    counters.discarded += session.outgoing.enqueue(delivery, config.max_queued_messages);
                    return;
                }
            }
        }
    }

    /// On session resumption: unacknowledged PUBLISHes again with DUP and their packet identifiers, PUBRELs for
    /// those already PUBREC'd [MQTT-4.4.0-1], then the queue.
    pub(crate) fn resume_deliveries(&mut self, session_id: SessionId, now: Instant) {
        let Self { sessions, connections, outputs, counters, .. } = self;
        let Some(session) = sessions.get_mut(&session_id) else {
            return;
        };
        let Some((connection, client)) =
            session.connection.and_then(|id| Some((id, connections.get(&id)?.client.as_ref()?)))
        else {
            return;
        };
        let pending: Vec<(u16, AckState, Delivery)> = session
            .outgoing
            .unacknowledged()
            .into_iter()
            .map(|(packet_id, entry)| (packet_id, entry.state, entry.delivery.clone()))
            .collect();
        for (packet_id, state, delivery) in pending {
            if state == AckState::Pubcomp {
                let bytes = wire::encode(&PubRelPacket::new(packet_id));
                if let Ok(bytes) = bytes {
                    let packet = PacketSummary::control("PUBREL", Some(packet_id));
                    outputs.push(Output::Send { connection, bytes, packet });
                }
                continue;
            }
            let mut cache = PublishCache::new(&delivery.message, now);
            let template = cache.template(client.version, delivery.qos, delivery.retain);
            match template.filter(|template| fits(template.len(), client)) {
                Some(template) => {
                    let bytes = template.stamp(Some(packet_id), true);
                    let packet =
                        wire::publish_summary(&delivery.message, delivery.qos, Some(packet_id), true, delivery.retain);
                    outputs.push(Output::Send { connection, bytes, packet });
                }
                None => {
                    session.outgoing.forget(packet_id);
                    counters.discarded += 1;
                }
            }
        }
        self.drain_queue(session_id, now);
    }
}

fn fits(len: usize, client: &Client) -> bool {
    u64::try_from(len).unwrap_or(u64::MAX) <= u64::from(client.max_packet_size)
}

fn transmit(
    session: &mut Session,
    connection: ConnectionId,
    client: &Client,
    delivery: Delivery,
    cache: &mut PublishCache,
    outputs: &mut Vec<Output>,
) -> Transmitted {
    let Some(template) = cache.template(client.version, delivery.qos, delivery.retain) else {
        return Transmitted::Discarded;
    };
    if !fits(template.len(), client) {
        return Transmitted::Discarded;
    }
    let packet_id = match delivery.qos {
        QoS::AtMostOnce => None,
        QoS::AtLeastOnce | QoS::ExactlyOnce => match session.outgoing.start(delivery.clone()) {
            Some(packet_id) => Some(packet_id),
            None => return Transmitted::NoPacketId(delivery),
        },
    };
    let bytes = template.stamp(packet_id, false);
    let packet = wire::publish_summary(&delivery.message, delivery.qos, packet_id, false, delivery.retain);
    outputs.push(Output::Send { connection, bytes, packet });
    Transmitted::Sent
}
