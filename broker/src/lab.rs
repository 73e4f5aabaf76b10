//! Clients' messages to the lab's topics (`lab/chat`): a QoS 1 or 2 publisher is told the message arrived only
//! once the lab has taken it, so a message the lab could not record (its shared log out of reach, too many
//! waiting) is answered with a reason code instead of an acknowledgement that loses it.

use std::sync::Arc;
use std::time::Instant;

use mqtt5_protocol::packet::puback::PubAckPacket;
use mqtt5_protocol::packet::pubrec::PubRecPacket;
use mqtt5_protocol::{QoS, ReasonCode};

use crate::broker::Broker;
use crate::error::Fault;
use crate::ids::SessionId;
use crate::message::Message;
use crate::output::{ConnectionId, LabPublish, LabRefusal, LabTicket, Output, PacketSummary};

impl LabRefusal {
    fn reason_code(&self) -> ReasonCode {
        match self {
            LabRefusal::Unavailable(_) => ReasonCode::ImplementationSpecificError,
            // 0x96 Message rate too high is a DISCONNECT's code only; a PUBACK or PUBREC says 0x97.
            LabRefusal::Busy | LabRefusal::RateTooHigh(_) => ReasonCode::QuotaExceeded,
            LabRefusal::Invalid(_) => ReasonCode::PayloadFormatInvalid,
        }
    }

    fn reason_string(&self) -> String {
        match self {
            LabRefusal::Unavailable(why) | LabRefusal::Invalid(why) | LabRefusal::RateTooHigh(why) => why.clone(),
            LabRefusal::Busy => "too many messages are waiting for the lab".into(),
        }
    }
}

impl Broker {
    /// Holds a QoS 1 or 2 message to a lab topic, unacknowledged and unrouted, and hands it to the lab.
    pub(crate) fn hold_for_lab(
        &mut self,
        session_id: SessionId,
        connection: ConnectionId,
        publish: &mqtt5_protocol::packet::publish::PublishPacket,
        packet_id: u16,
        now: Instant,
    ) -> Result<(), Fault> {
        let ticket = LabTicket { session: session_id, packet_id };
        // A resent PUBLISH while the lab decides: its answer will come for both.
        if self.lab_pending.contains_key(&ticket) {
            return Ok(());
        }
        let Some(session) = self.sessions.get(&session_id) else { return Ok(()) };
        if publish.qos == QoS::ExactlyOnce && session.awaiting_release.contains_key(&packet_id) {
            // Taken already; the PUBREC was lost on the way.
            let ack = PubRecPacket::new(packet_id);
            self.send(connection, &ack, PacketSummary::control("PUBREC", Some(packet_id)));
            return Ok(());
        }
        let waiting = self.lab_pending.keys().filter(|held| held.session == session_id).count();
        if waiting + session.awaiting_release.len() >= usize::from(self.config.receive_maximum) {
            return Err(Fault::ReceiveMaximumExceeded);
        }
        let client_id = session.client_id.clone();
        let message = Arc::new(Message::from_publish(publish, session_id, now));
        self.lab_pending.insert(ticket, Arc::clone(&message));
        self.outputs.push(Output::Lab(LabPublish {
            connection,
            client_id,
            topic: message.topic.clone(),
            payload: message.payload.clone(),
            ticket: Some(ticket),
        }));
        Ok(())
    }

    /// The lab's answer for a held message: taken, it goes to the topic's subscribers and the publisher gets its
    /// PUBACK or PUBREC; refused, the publisher gets the reason (MQTT 5) or is disconnected (v3.1.1 has no way to
    /// be told [MQTT-3.3.5-2]). The answer goes to whichever connection holds the session now.
    pub fn settle_lab(&mut self, ticket: LabTicket, outcome: Result<(), LabRefusal>, now: Instant) {
        let Some(message) = self.lab_pending.remove(&ticket) else { return };
        let qos = message.qos;
        let connection = self.sessions.get(&ticket.session).and_then(|session| session.connection);
        let is_v5 = connection.and_then(|id| self.connections.get(&id)).is_some_and(|c| c.is_v5());
        let packet_id = ticket.packet_id;
        match outcome {
            Ok(()) => {
                if qos == QoS::ExactlyOnce {
                    if let Some(session) = self.sessions.get_mut(&ticket.session) {
                        session.awaiting_release.insert(packet_id, None);
                    }
                }
                self.publish_message(message, now);
                let Some(connection) = connection else { return };
                if qos == QoS::ExactlyOnce {
                    self.send(
                        connection,
                        &PubRecPacket::new(packet_id),
                        PacketSummary::control("PUBREC", Some(packet_id)),
                    );
                } else {
                    self.send(
                        connection,
                        &PubAckPacket::new(packet_id),
                        PacketSummary::control("PUBACK", Some(packet_id)),
                    );
                }
            }
            Err(refusal) => {
                self.counters.refused += 1;
                let Some(connection) = connection else { return };
                if !is_v5 {
                    let fault = Fault::Refused { topic: message.topic.clone(), reason: refusal.reason_code() };
                    return self.fail(connection, fault, now);
                }
                let (code, why) = (refusal.reason_code(), refusal.reason_string());
                if qos == QoS::ExactlyOnce {
                    let ack = PubRecPacket::new_with_reason(packet_id, code).with_reason_string(why);
                    self.send(connection, &ack, PacketSummary::control("PUBREC", Some(packet_id)));
                } else {
                    let ack = PubAckPacket::new_with_reason(packet_id, code).with_reason_string(why);
                    self.send(connection, &ack, PacketSummary::control("PUBACK", Some(packet_id)));
                }
            }
        }
    }
}
