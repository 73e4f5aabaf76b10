//! Connections ending and sessions ending, and the wills that follow.

use std::sync::Arc;
use std::time::Instant;

use crate::broker::{Broker, Ending};
use crate::message::{Message, Will};
use crate::output::ConnectionId;
use crate::session::SessionId;
use crate::timers::Timer;

impl Broker {
    /// Forgets the socket, settles its will and keeps the session for its expiry (or ends it). Harmless for a
    /// connection already ended.
    pub(crate) fn end_connection(&mut self, id: ConnectionId, ending: Ending, now: Instant) {
        let Some(client) = self.connections.remove(&id).and_then(|connection| connection.client) else {
            return;
        };
        let session_id = client.session;
        let Some(session) = self.sessions.get_mut(&session_id) else {
            return;
        };
        if session.connection != Some(id) {
            return;
        }
        session.connection = None;
        let mut publish_now = None;
        if let Some(will) = session.will.take() {
            let delay = will.delay.min(session.expiry);
            match ending {
                Ending::Normal => {}
                // The client is back on the session before the delay ran out [MQTT-3.1.3-9].
                Ending::TakenOver { resumed: true } if !delay.is_zero() => {}
                Ending::TakenOver { .. } => publish_now = Some(will),
                Ending::WithWill if delay.is_zero() => publish_now = Some(will),
                Ending::WithWill => {
                    let due = now.checked_add(delay).unwrap_or(now);
                    session.will = Some(will);
                    session.will_due = Some(due);
                    self.timers.push(due, Timer::Will(session_id));
                }
            }
        }
        let expires = !matches!(ending, Ending::TakenOver { .. });
        let expiry = session.expiry;
        if expires && !expiry.is_zero() {
            let at = now.checked_add(expiry).unwrap_or(now);
            session.expires_at = Some(at);
            self.timers.push(at, Timer::SessionExpiry(session_id));
        }
        if let Some(will) = publish_now {
            self.publish_will(&will, session_id, now);
        }
        if expires && expiry.is_zero() {
            self.end_session(session_id, now);
        }
    }

    /// Drops the session and its subscriptions; a will still waiting for its delay goes out now, since the session
    /// ending is the other moment a delayed will is due [MQTT-3.1.3-9].
    pub(crate) fn end_session(&mut self, session_id: SessionId, now: Instant) {
        let Some(session) = self.sessions.remove(&session_id) else {
            return;
        };
        if self.session_ids.get(&session.client_id) == Some(&session_id) {
            self.session_ids.remove(&session.client_id);
        }
        for filter in session.subscriptions.keys() {
            self.subscriptions.remove(filter, session_id);
        }
        if let (Some(will), Some(_)) = (&session.will, session.will_due) {
            self.publish_will(will, session_id, now);
        }
    }

    pub(crate) fn publish_due_will(&mut self, session_id: SessionId, now: Instant) {
        let Some(session) = self.sessions.get_mut(&session_id) else {
            return;
        };
        if session.will_due.is_none_or(|due| due > now) {
            return;
        }
        session.will_due = None;
        if let Some(will) = session.will.take() {
            self.publish_will(&will, session_id, now);
        }
    }

    fn publish_will(&mut self, will: &Will, session_id: SessionId, now: Instant) {
        self.publish_message(Arc::new(Message::from_will(will, session_id, now)), now);
    }
}
