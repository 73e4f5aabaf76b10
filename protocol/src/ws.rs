use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Event, Gap, StreamHello, WireLabel};

/// What a browser may send on `/api/ws`, as a JSON text frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum WsClientMessage {
    Publish { text: String },
}

/// What the server sends on `/api/ws`, one JSON text frame each.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WsServerMessage {
    /// First frame after the upgrade.
    Hello(StreamHello),
    /// One event: the event's own JSON fields beside `"type": "event"`. Shared with the hub, not copied per client.
    Event(Arc<Event>),
    /// Events the client asked for that the history no longer holds.
    Gap(Gap),
    /// The sequence number given to the client's `publish`.
    Ack { seq: u64 },
    /// A frame the server could not act on; the connection stays open.
    Error { error: String, message: String },
}

impl WsServerMessage {
    /// The frame's text: the one JSON encoding of the WebSocket protocol.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// What the frame carries, for the wire record: its label and, where it has one, its sequence number.
    pub fn label(&self) -> (WireLabel, Option<u64>) {
        match self {
            WsServerMessage::Hello(_) => (WireLabel::Hello, None),
            WsServerMessage::Event(event) => (WireLabel::of_event(&event.body), Some(event.seq)),
            WsServerMessage::Gap(_) => (WireLabel::Gap, None),
            WsServerMessage::Ack { seq } => (WireLabel::Ack, Some(*seq)),
            WsServerMessage::Error { .. } => (WireLabel::Error, None),
        }
    }
}

impl WsClientMessage {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Close codes this server uses, from RFC 6455 section 7.4.1.
pub mod close_code {
    /// The connection did what it was for (the MQTT broker's DISCONNECT, say).
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// A binary frame: this protocol speaks JSON text only.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// A text frame that is not valid UTF-8.
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// The client broke the protocol in a way an error frame cannot fix (e.g. it stopped answering pings).
    pub const POLICY_VIOLATION: u16 = 1008;
    /// A frame that breaks the WebSocket protocol itself.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A frame or message over the size limit.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EventBody;

    #[test]
    fn event_frame_is_the_event_json_with_a_type() {
        let frame = WsServerMessage::Event(Arc::new(Event {
            seq: 3,
            emitted_at: 9,
            body: EventBody::Tick { n: 3, filler: String::new() },
        }));
        let json = serde_json::to_value(&frame).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "event", "seq": 3, "emitted_at": 9, "kind": "tick",
                               "payload": {"n": 3, "filler": ""}})
        );
        assert_eq!(serde_json::from_value::<WsServerMessage>(json).unwrap(), frame);
    }

    #[test]
    fn unknown_client_type_is_rejected() {
        assert!(serde_json::from_str::<WsClientMessage>(r#"{"type":"shout","text":"x"}"#).is_err());
        assert!(serde_json::from_str::<WsClientMessage>(r#"{"type":"publish","text":"x"}"#).is_ok());
    }
}
