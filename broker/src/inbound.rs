//! Packets from a connected client, other than CONNECT.

use std::sync::Arc;
use std::time::Instant;

use mqtt5_protocol::packet::disconnect::DisconnectPacket;
use mqtt5_protocol::packet::pingresp::PingRespPacket;
use mqtt5_protocol::packet::puback::PubAckPacket;
use mqtt5_protocol::packet::pubcomp::PubCompPacket;
use mqtt5_protocol::packet::publish::PublishPacket;
use mqtt5_protocol::packet::pubrec::PubRecPacket;
use mqtt5_protocol::packet::pubrel::PubRelPacket;
use mqtt5_protocol::packet::suback::{SubAckPacket, SubAckReasonCode};
use mqtt5_protocol::packet::subscribe::SubscribePacket;
use mqtt5_protocol::packet::subscribe_options::RetainHandling;
use mqtt5_protocol::packet::unsuback::{UnsubAckPacket, UnsubAckReasonCode};
use mqtt5_protocol::packet::unsubscribe::UnsubscribePacket;
use mqtt5_protocol::{is_valid_topic_filter, is_valid_topic_name, Packet, PropertyId, QoS, ReasonCode};

use crate::broker::{Broker, Ending};
use crate::connection::Client;
use crate::error::Fault;
use crate::message::Message;
use crate::outbound::min_qos;
use crate::output::{ConnectionId, LabPublish, Output, PacketSummary};
use crate::session::{Delivery, PubrecOutcome, SessionId};
use crate::wire::PublishCache;

/// The lab's own topics: clients may subscribe, never publish.
pub(crate) fn is_lab_event_topic(topic: &str) -> bool {
    topic.starts_with(protocol::mqtt::EVENTS_TOPIC_PREFIX)
}

/// The connected client's settings the handlers need, copied so the broker can be borrowed again.
#[derive(Clone, Copy)]
struct Peer {
    id: ConnectionId,
    session: SessionId,
    is_v5: bool,
    connect_expiry_was_zero: bool,
}

impl Peer {
    fn of(id: ConnectionId, client: &Client) -> Self {
        Self {
            id,
            session: client.session,
            is_v5: client.is_v5(),
            connect_expiry_was_zero: client.connect_expiry_was_zero,
        }
    }
}

impl Broker {
    pub(crate) fn handle_packet(&mut self, id: ConnectionId, packet: Packet, now: Instant) -> Result<(), Fault> {
        let Some(peer) = self.connections.get(&id).and_then(|c| c.client.as_ref()).map(|c| Peer::of(id, c)) else {
            return Ok(());
        };
        match packet {
            Packet::Publish(publish) => self.handle_publish(peer, publish, now)?,
            Packet::PubAck(ack) => {
                if self.session_outgoing(peer).is_some_and(|outgoing| outgoing.puback(ack.packet_id)) {
                    self.drain_queue(peer.session, now);
                }
            }
            Packet::PubRec(ack) => self.handle_pubrec(peer, ack.packet_id, ack.reason_code.is_error(), now),
            Packet::PubRel(ack) => self.handle_pubrel(peer, ack.packet_id, now),
            Packet::PubComp(ack) => {
                if self.session_outgoing(peer).is_some_and(|outgoing| outgoing.pubcomp(ack.packet_id)) {
                    self.drain_queue(peer.session, now);
                }
            }
            Packet::Subscribe(subscribe) => self.handle_subscribe(peer, &subscribe, now)?,
            Packet::Unsubscribe(unsubscribe) => self.handle_unsubscribe(peer, &unsubscribe),
            Packet::PingReq => self.send(id, &PingRespPacket::default(), PacketSummary::control("PINGRESP", None)),
            Packet::Disconnect(disconnect) => self.handle_disconnect(peer, &disconnect, now)?,
            Packet::Connect(_) => return Err(Fault::Protocol("second CONNECT".into())),
            Packet::Auth(_) => return Err(Fault::Protocol("AUTH without an authentication method".into())),
            Packet::ConnAck(_) | Packet::SubAck(_) | Packet::UnsubAck(_) | Packet::PingResp => {
                return Err(Fault::Protocol(format!("{} is sent by servers only", packet.packet_type_name())))
            }
        }
        Ok(())
    }

    fn session_outgoing(&mut self, peer: Peer) -> Option<&mut crate::session::Outgoing> {
        self.sessions.get_mut(&peer.session).map(|session| &mut session.outgoing)
    }

    fn handle_publish(&mut self, peer: Peer, publish: PublishPacket, now: Instant) -> Result<(), Fault> {
        if publish.properties.contains(PropertyId::TopicAlias) {
            return Err(Fault::TopicAliasInvalid);
        }
        if publish.properties.contains(PropertyId::SubscriptionIdentifier) {
            return Err(Fault::Protocol("Subscription Identifier in a client's PUBLISH".into()));
        }
        if !is_valid_topic_name(&publish.topic_name) {
            return Err(Fault::TopicNameInvalid);
        }
        if publish.packet_id == Some(0) {
            return Err(Fault::Protocol("packet identifier 0".into()));
        }
        if is_lab_event_topic(&publish.topic_name) {
            return self.refuse_publish(peer, &publish, ReasonCode::NotAuthorized);
        }
        if self.lab_topics.contains(&publish.topic_name) && (self.config.lab_payload_check)(&publish.payload).is_err() {
            return self.refuse_publish(peer, &publish, ReasonCode::PayloadFormatInvalid);
        }
        let retain_fits = !publish.retain
            || self.retained.has_room(&publish.topic_name, publish.payload.is_empty(), self.config.max_retained);
        if self.lab_topics.contains(&publish.topic_name) && retain_fits {
            if let (QoS::AtLeastOnce | QoS::ExactlyOnce, Some(packet_id)) = (publish.qos, publish.packet_id) {
                return self.hold_for_lab(peer.session, peer.id, &publish, packet_id, now);
            }
        }
        match (publish.qos, publish.packet_id) {
            (QoS::AtMostOnce, _) | (_, None) => self.accept_publish(peer, &publish, now),
            (QoS::AtLeastOnce, Some(packet_id)) => {
                if !retain_fits && peer.is_v5 {
                    return self.refuse_publish(peer, &publish, ReasonCode::QuotaExceeded);
                }
                let reason = self.publish_reason(peer, &publish);
                self.accept_publish(peer, &publish, now);
                let ack = PubAckPacket::new_with_reason(packet_id, reason);
                self.send(peer.id, &ack, PacketSummary::control("PUBACK", Some(packet_id)));
            }
            (QoS::ExactlyOnce, Some(packet_id)) => {
                let Some(session) = self.sessions.get_mut(&peer.session) else {
                    return Ok(());
                };
                // A resent PUBLISH of a message already held is acknowledged again, not delivered again.
                if !session.awaiting_release.contains_key(&packet_id) {
                    if !retain_fits && peer.is_v5 {
                        return self.refuse_publish(peer, &publish, ReasonCode::QuotaExceeded);
                    }
                    if session.awaiting_release.len() >= usize::from(self.config.receive_maximum) {
                        return Err(Fault::ReceiveMaximumExceeded);
                    }
                    let message = Message::from_publish(&publish, peer.session, now);
                    session.awaiting_release.insert(packet_id, Some(Arc::new(message)));
                }
                let reason = self.publish_reason(peer, &publish);
                let ack = PubRecPacket::new_with_reason(packet_id, reason);
                self.send(peer.id, &ack, PacketSummary::control("PUBREC", Some(packet_id)));
            }
        }
        Ok(())
    }

    /// What an accepted PUBLISH's acknowledgement says: v5 lets the broker tell a publisher that nobody (no
    /// subscriber, and not the lab) will receive it, 0x10 No matching subscribers, as Mosquitto does.
    fn publish_reason(&self, peer: Peer, publish: &PublishPacket) -> ReasonCode {
        let heard = self.lab_topics.contains(&publish.topic_name)
            || self
                .subscriptions
                .matches(&publish.topic_name)
                .iter()
                .any(|(session, options)| !(options.no_local && *session == peer.session));
        if peer.is_v5 && !heard {
            ReasonCode::NoMatchingSubscribers
        } else {
            ReasonCode::Success
        }
    }

    /// v5 says no with a reason code; v3.1.1 cannot, so its connection is closed [MQTT-3.3.5-2].
    fn refuse_publish(&mut self, peer: Peer, publish: &PublishPacket, reason: ReasonCode) -> Result<(), Fault> {
        if !peer.is_v5 {
            return Err(Fault::Refused { topic: publish.topic_name.clone(), reason });
        }
        self.counters.refused += 1;
        match (publish.qos, publish.packet_id) {
            (QoS::AtLeastOnce, Some(id)) => self.send(
                peer.id,
                &PubAckPacket::new_with_reason(id, reason),
                PacketSummary::control("PUBACK", Some(id)),
            ),
            (QoS::ExactlyOnce, Some(id)) => self.send(
                peer.id,
                &PubRecPacket::new_with_reason(id, reason),
                PacketSummary::control("PUBREC", Some(id)),
            ),
            _ => {}
        }
        Ok(())
    }

    fn accept_publish(&mut self, peer: Peer, publish: &PublishPacket, now: Instant) {
        self.release(peer, Arc::new(Message::from_publish(publish, peer.session, now)), now);
    }

    /// Routes a client's message, then hands it to the lab if it listens there.
    fn release(&mut self, peer: Peer, message: Arc<Message>, now: Instant) {
        self.publish_message(Arc::clone(&message), now);
        if self.lab_topics.contains(&message.topic) {
            let client_id = self.sessions.get(&peer.session).map(|s| s.client_id.clone()).unwrap_or_default();
            self.outputs.push(Output::Lab(LabPublish {
                connection: peer.id,
                client_id,
                topic: message.topic.clone(),
                payload: message.payload.clone(),
                ticket: None,
            }));
        }
    }

    fn handle_pubrel(&mut self, peer: Peer, packet_id: u16, now: Instant) {
        let held = self.sessions.get_mut(&peer.session).and_then(|s| s.awaiting_release.remove(&packet_id));
        let pubcomp = match (held, peer.is_v5) {
            (Some(Some(message)), _) => {
                self.release(peer, message, now);
                PubCompPacket::new(packet_id)
            }
            (Some(None), _) => PubCompPacket::new(packet_id),
            (None, true) => PubCompPacket::new_with_reason(packet_id, ReasonCode::PacketIdentifierNotFound),
            // v3.1.1 answers every PUBREL with a PUBCOMP [MQTT-4.3.3-11].
            (None, false) => PubCompPacket::new(packet_id),
        };
        self.send(peer.id, &pubcomp, PacketSummary::control("PUBCOMP", Some(packet_id)));
    }

    fn handle_pubrec(&mut self, peer: Peer, packet_id: u16, refused: bool, now: Instant) {
        let Some(outgoing) = self.session_outgoing(peer) else {
            return;
        };
        let pubrel = match outgoing.pubrec(packet_id, refused) {
            PubrecOutcome::Release => PubRelPacket::new(packet_id),
            PubrecOutcome::Refused => return self.drain_queue(peer.session, now),
            PubrecOutcome::Unknown if peer.is_v5 => {
                PubRelPacket::new_with_reason(packet_id, ReasonCode::PacketIdentifierNotFound)
            }
            PubrecOutcome::Unknown => PubRelPacket::new(packet_id),
        };
        self.send(peer.id, &pubrel, PacketSummary::control("PUBREL", Some(packet_id)));
    }

    fn handle_subscribe(&mut self, peer: Peer, subscribe: &SubscribePacket, now: Instant) -> Result<(), Fault> {
        if subscribe.packet_id == 0 {
            return Err(Fault::Protocol("packet identifier 0".into()));
        }
        if subscribe.properties.contains(PropertyId::SubscriptionIdentifier) {
            return Err(Fault::SubscriptionIdentifiersNotSupported);
        }
        let max_subscriptions = self.config.max_subscriptions;
        let mut reason_codes = Vec::with_capacity(subscribe.filters.len());
        let mut retained_for = Vec::new();
        for request in &subscribe.filters {
            let Some(session) = self.sessions.get_mut(&peer.session) else {
                return Ok(());
            };
            let filter = request.filter.as_str();
            let options = request.options;
            let existed = session.subscriptions.contains_key(filter);
            let code = if filter.starts_with("$share/") {
                SubAckReasonCode::SharedSubscriptionsNotSupported
            } else if !is_valid_topic_filter(filter) {
                SubAckReasonCode::TopicFilterInvalid
            } else if !existed && session.subscriptions.len() >= max_subscriptions {
                SubAckReasonCode::QuotaExceeded
            } else {
                session.subscriptions.insert(filter.to_owned(), options);
                self.subscriptions.insert(filter, peer.session, options);
                let send_retained = match options.retain_handling {
                    RetainHandling::SendAtSubscribe => true,
                    RetainHandling::SendAtSubscribeIfNew => !existed,
                    RetainHandling::DoNotSend => false,
                };
                if send_retained {
                    retained_for.push((filter.to_owned(), options.qos));
                }
                SubAckReasonCode::from_qos(options.qos)
            };
            reason_codes.push(code);
        }
        let mut suback = if peer.is_v5 {
            SubAckPacket::new(subscribe.packet_id)
        } else {
            SubAckPacket::new_v311(subscribe.packet_id)
        };
        suback.reason_codes = reason_codes;
        self.send(peer.id, &suback, PacketSummary::control("SUBACK", Some(subscribe.packet_id)));
        // Retained messages after the SUBACK, as Mosquitto 2.0 sends them, always with RETAIN set [MQTT-3.3.1-9].
        for (filter, subscription_qos) in retained_for {
            for message in self.retained.matching(&filter, now) {
                let delivery = Delivery {
                    qos: min_qos(message.qos, subscription_qos),
                    retain: true,
                    message: Arc::clone(&message),
                };
                self.deliver(peer.session, delivery, &mut PublishCache::new(&message, now));
            }
        }
        Ok(())
    }

    fn handle_unsubscribe(&mut self, peer: Peer, unsubscribe: &UnsubscribePacket) {
        let Some(session) = self.sessions.get_mut(&peer.session) else {
            return;
        };
        let mut unsuback = if peer.is_v5 {
            UnsubAckPacket::new(unsubscribe.packet_id)
        } else {
            UnsubAckPacket::new_v311(unsubscribe.packet_id)
        };
        for filter in &unsubscribe.filters {
            let code = if session.subscriptions.remove(filter).is_some() {
                self.subscriptions.remove(filter, peer.session);
                UnsubAckReasonCode::Success
            } else {
                UnsubAckReasonCode::NoSubscriptionExisted
            };
            unsuback.reason_codes.push(code);
        }
        self.send(peer.id, &unsuback, PacketSummary::control("UNSUBACK", Some(unsubscribe.packet_id)));
    }

    fn handle_disconnect(&mut self, peer: Peer, disconnect: &DisconnectPacket, now: Instant) -> Result<(), Fault> {
        if let Some(expiry) = disconnect.properties.get_session_expiry_interval() {
            if peer.connect_expiry_was_zero && expiry != 0 {
                return Err(Fault::Protocol("DISCONNECT gave an expiry to a session that had none".into()));
            }
            let max_expiry = self.config.max_session_expiry;
            if let Some(session) = self.sessions.get_mut(&peer.session) {
                session.expiry = std::time::Duration::from_secs(u64::from(expiry)).min(max_expiry);
            }
        }
        let ending = if disconnect.reason_code == ReasonCode::Success { Ending::Normal } else { Ending::WithWill };
        self.close(peer.id, "client disconnected", ending, now);
        Ok(())
    }
}
