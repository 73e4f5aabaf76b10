//! CONNECT: checking it, taking over or starting the session, and the CONNACK that tells the client what the
//! broker granted.

use std::time::{Duration, Instant};

use mqtt5_protocol::packet::connack::ConnAckPacket;
use mqtt5_protocol::packet::connect::ConnectPacket;
use mqtt5_protocol::{is_valid_topic_name, Packet, ReasonCode};

use crate::broker::{Broker, Ending};
use crate::connection::Client;
use crate::decode::{self, ProtocolLevel, MQTT_V311, MQTT_V5};
use crate::error::Fault;
use crate::inbound::is_lab_event_topic;
use crate::message::Will;
use crate::output::{ConnectionId, Output, PacketSummary};
use crate::session::{Session, SessionId};
use crate::timers::Timer;
use protocol::mqtt::framing::Frame;

/// Why a CONNECT is answered with a refusing CONNACK.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
enum Refusal {
    #[error("protocol level {0} is not supported")]
    UnsupportedVersion(u8),
    #[error("a v3.1.1 client must give a client id to keep a session")]
    ClientIdRejected,
    #[error("session limit reached")]
    ServerFull,
    #[error("enhanced authentication is not supported")]
    BadAuthenticationMethod,
    #[error("protocol error in CONNECT: {0}")]
    Protocol(&'static str),
    #[error("invalid will topic")]
    WillTopicInvalid,
    #[error("wills may not be published to lab/events/")]
    NotAuthorized,
}

impl Refusal {
    fn reason_code(&self) -> ReasonCode {
        match self {
            Self::UnsupportedVersion(_) => ReasonCode::UnsupportedProtocolVersion,
            Self::ClientIdRejected => ReasonCode::ClientIdentifierNotValid,
            Self::ServerFull => ReasonCode::QuotaExceeded,
            Self::BadAuthenticationMethod => ReasonCode::BadAuthenticationMethod,
            Self::Protocol(_) => ReasonCode::ProtocolError,
            Self::WillTopicInvalid => ReasonCode::TopicNameInvalid,
            Self::NotAuthorized => ReasonCode::NotAuthorized,
        }
    }

    /// v3.1.1's five return codes can say some of these; for the rest the socket just closes.
    fn v311_can_say(&self) -> bool {
        matches!(self, Self::UnsupportedVersion(_) | Self::ClientIdRejected | Self::ServerFull | Self::NotAuthorized)
    }

    fn is_protocol_error(&self) -> bool {
        matches!(self, Self::Protocol(_) | Self::WillTopicInvalid)
    }
}

impl Broker {
    pub(crate) fn handle_connect(&mut self, id: ConnectionId, frame: &Frame, now: Instant) {
        let version = match decode::protocol_level(&frame.body) {
            ProtocolLevel::Supported(version) => version,
            // A client newer than 5 most likely reads a v5 CONNACK; an older one the v3.1.1 form.
            ProtocolLevel::Unsupported(level) => {
                let form = if level > MQTT_V5 { MQTT_V5 } else { MQTT_V311 };
                return self.refuse(id, form, Refusal::UnsupportedVersion(level), now);
            }
            ProtocolLevel::NotMqtt => return self.fail(id, Fault::Protocol("not an MQTT CONNECT".into()), now),
        };
        let connect = match decode::decode(frame, version) {
            Ok(Packet::Connect(connect)) => connect,
            Ok(_) => return self.fail(id, Fault::Protocol("expected CONNECT".into()), now),
            Err(fault) => return self.fail(id, fault, now),
        };
        self.outputs.push(Output::Received { connection: id, packet: PacketSummary::control("CONNECT", None) });
        match self.check_connect(&connect) {
            Ok(()) => self.accept(id, &connect, now),
            Err(refusal) => self.refuse(id, version, refusal, now),
        }
    }

    fn check_connect(&self, connect: &ConnectPacket) -> Result<(), Refusal> {
        let properties = &connect.properties;
        if properties.get_authentication_method().is_some() {
            return Err(Refusal::BadAuthenticationMethod);
        }
        if properties.get_receive_maximum() == Some(0) {
            return Err(Refusal::Protocol("Receive Maximum 0"));
        }
        if properties.get_maximum_packet_size() == Some(0) {
            return Err(Refusal::Protocol("Maximum Packet Size 0"));
        }
        if let Some(will) = &connect.will {
            if !is_valid_topic_name(&will.topic) {
                return Err(Refusal::WillTopicInvalid);
            }
            if is_lab_event_topic(&will.topic) {
                return Err(Refusal::NotAuthorized);
            }
        }
        if connect.client_id.is_empty() && connect.protocol_version == MQTT_V311 && !connect.clean_start {
            return Err(Refusal::ClientIdRejected);
        }
        let needs_new_session = !self.session_ids.contains_key(&connect.client_id);
        if needs_new_session && self.sessions.len() >= self.config.max_sessions {
            return Err(Refusal::ServerFull);
        }
        Ok(())
    }

    fn refuse(&mut self, id: ConnectionId, version: u8, refusal: Refusal, now: Instant) {
        let code = refusal.reason_code();
        if version == MQTT_V5 {
            self.send(id, &ConnAckPacket::new(false, code), PacketSummary::control("CONNACK", None));
        } else if refusal.v311_can_say() {
            self.send(id, &ConnAckPacket::new_v311(false, code), PacketSummary::control("CONNACK", None));
        }
        if refusal.is_protocol_error() {
            self.counters.protocol_errors += 1;
        }
        self.close(id, &refusal.to_string(), Ending::WithWill, now);
    }

    fn accept(&mut self, id: ConnectionId, connect: &ConnectPacket, now: Instant) {
        let is_v5 = connect.protocol_version == MQTT_V5;
        let assigned_client_id = connect.client_id.is_empty().then(|| self.assign_client_id());
        let client_id = assigned_client_id.clone().unwrap_or_else(|| connect.client_id.clone());

        let max_keep_alive = u16::try_from(self.config.max_keep_alive.as_secs()).unwrap_or(u16::MAX);
        let keep_alive = if max_keep_alive > 0 && (connect.keep_alive == 0 || connect.keep_alive > max_keep_alive) {
            max_keep_alive
        } else {
            connect.keep_alive
        };
        let requested_expiry = match (is_v5, connect.clean_start) {
            (true, _) => connect.properties.get_session_expiry_interval().unwrap_or(0),
            // v3.1.1: a clean session ends with the connection; any other never expires, which the cap bounds.
            (false, true) => 0,
            (false, false) => u32::MAX,
        };
        let max_expiry = u32::try_from(self.config.max_session_expiry.as_secs()).unwrap_or(u32::MAX);
        let granted_expiry = requested_expiry.min(max_expiry);

        let (session_id, session_present) = self.take_session(&client_id, connect.clean_start, now);
        if let Some(session) = self.sessions.get_mut(&session_id) {
            session.connection = Some(id);
            session.expiry = Duration::from_secs(u64::from(granted_expiry));
            session.will = connect.will.as_ref().map(|will| Will::from_connect(will, &connect.will_properties));
        }
        let client = Client {
            session: session_id,
            version: connect.protocol_version,
            keep_alive: Duration::from_secs(u64::from(keep_alive)),
            receive_maximum: connect.properties.get_receive_maximum().unwrap_or(u16::MAX),
            max_packet_size: connect.properties.get_maximum_packet_size().unwrap_or(u32::MAX),
            connect_expiry_was_zero: requested_expiry == 0,
        };
        if let Some(connection) = self.connections.get_mut(&id) {
            connection.client = Some(client);
            if let Some(deadline) = connection.deadline(self.config.connect_timeout) {
                self.timers.push(deadline, Timer::Connection(id));
            }
        }

        let connack = if is_v5 {
            let mut connack = ConnAckPacket::new(session_present, ReasonCode::Success)
                .with_receive_maximum(self.config.receive_maximum.max(1))
                .with_maximum_packet_size(self.config.max_packet_size)
                .with_topic_alias_maximum(0)
                .with_wildcard_subscription_available(true)
                .with_subscription_identifier_available(false)
                .with_shared_subscription_available(false)
                .with_retain_available(true);
            if let Some(assigned) = assigned_client_id {
                connack = connack.with_assigned_client_id(assigned);
            }
            if keep_alive != connect.keep_alive {
                connack = connack.with_server_keep_alive(keep_alive);
            }
            if granted_expiry != requested_expiry {
                connack = connack.with_session_expiry_interval(granted_expiry);
            }
            let extra = self.connections.get(&id).map(|connection| connection.connack_properties.clone());
            for (key, value) in extra.unwrap_or_default() {
                connack = connack.with_user_property(key, value);
            }
            connack
        } else {
            ConnAckPacket::new_v311(session_present, ReasonCode::Success)
        };
        self.send(id, &connack, PacketSummary::control("CONNACK", None));
        if session_present {
            self.resume_deliveries(session_id, now);
        }
    }

    /// The session for `client_id`: the existing one resumed (clean start = 0), or a new one. A connection still
    /// holding it is taken over first [MQTT-3.1.4-3].
    fn take_session(&mut self, client_id: &str, clean_start: bool, now: Instant) -> (SessionId, bool) {
        let existing = self.session_ids.get(client_id).copied();
        if let Some(old_connection) = existing.and_then(|id| self.sessions.get(&id)).and_then(|s| s.connection) {
            let ending = Ending::TakenOver { resumed: !clean_start };
            self.disconnect(old_connection, "session taken over", ReasonCode::SessionTakenOver, ending, now);
        }
        match existing {
            Some(session_id) if !clean_start => {
                if let Some(session) = self.sessions.get_mut(&session_id) {
                    // Back before the will's delay ran out: the will is cancelled [MQTT-3.1.3-9].
                    session.will = None;
                    session.will_due = None;
                    session.expires_at = None;
                    return (session_id, true);
                }
                self.new_session(client_id)
            }
            _ => {
                if let Some(session_id) = existing {
                    self.end_session(session_id, now);
                }
                self.new_session(client_id)
            }
        }
    }

    fn new_session(&mut self, client_id: &str) -> (SessionId, bool) {
        let session_id = self.next_session_id;
        self.next_session_id += 1;
        self.sessions.insert(session_id, Session::new(client_id.to_owned()));
        self.session_ids.insert(client_id.to_owned(), session_id);
        (session_id, false)
    }

    fn assign_client_id(&mut self) -> String {
        loop {
            let candidate = format!("auto-{}", self.next_assigned_client_id);
            self.next_assigned_client_id += 1;
            if !self.session_ids.contains_key(&candidate) {
                return candidate;
            }
        }
    }
}
