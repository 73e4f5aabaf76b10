use serde::{Deserialize, Serialize};

use super::AudioClip;

/// A random id chosen once per server run. A client that sees it change knows the server restarted and its
/// cursor (a sequence number from the old run) means nothing any more.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Epoch(pub String);

impl std::fmt::Display for Epoch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One entry of the hub's ordered log. Every transport delivers exactly these.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Starts at 1, strictly increasing, never reused within one epoch.
    pub seq: u64,
    /// Server wall clock when the hub accepted the event, in Unix microseconds.
    pub emitted_at: u64,
    #[serde(flatten)]
    pub body: EventBody,
}

/// What happened, tagged the way it appears on the wire: `"kind": "tick", "payload": {...}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload", rename_all = "snake_case")]
pub enum EventBody {
    /// Made by the server's generator; `filler` has the configured payload size so that learners can watch
    /// what large payloads cost on each transport.
    Tick { n: u64, filler: String },
    /// Sent by a person, through `POST /api/publish` or a WebSocket `publish` frame.
    Message { text: String },
    /// Sent by the teacher from the presenter view (`POST /api/class/broadcast`) to every student's lanes. Its own
    /// kind, so a lane (and an SSE client, which must listen for it by name) can tell it from anyone's message.
    Broadcast { text: String },
    /// A short tone made by `POST /api/audio`: base64 inside JSON, one binary frame on the WebSocket (see
    /// [`super::encode_audio_frame`]), so each lane shows what binary data costs it.
    Audio(AudioClip),
}

impl EventBody {
    /// The SSE `event:` name and the diagram label for this kind of event.
    pub fn kind_name(&self) -> &'static str {
        match self {
            EventBody::Tick { .. } => "tick",
            EventBody::Message { .. } => "message",
            EventBody::Broadcast { .. } => "broadcast",
            EventBody::Audio(_) => "audio",
        }
    }
}

/// Every kind name an event can carry; an `EventSource` must listen for each one by name.
pub const EVENT_KIND_NAMES: [&str; 4] = ["tick", "message", "broadcast", "audio"];

/// Sequence numbers that a request asked for but the bounded history no longer holds. Sent instead of a
/// silently shortened list, so a client can show the loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// First lost sequence number.
    pub from: u64,
    /// Last lost sequence number (inclusive).
    pub to: u64,
}

impl Gap {
    pub fn lost_count(&self) -> u64 {
        self.to - self.from + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WAV_MIME_TYPE;

    #[test]
    fn event_json_has_flat_kind_and_payload() {
        let event = Event { seq: 42, emitted_at: 7, body: EventBody::Message { text: "hi".into() } };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json, serde_json::json!({"seq": 42, "emitted_at": 7, "kind": "message", "payload": {"text": "hi"}}));
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn a_broadcast_is_its_own_kind() {
        let event = Event { seq: 5, emitted_at: 7, body: EventBody::Broadcast { text: "hi".into() } };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["kind"], "broadcast");
        assert_eq!(serde_json::from_value::<Event>(json).unwrap(), event);
    }

    #[test]
    fn kind_names_cover_every_body() {
        let tick = EventBody::Tick { n: 1, filler: String::new() };
        let message = EventBody::Message { text: String::new() };
        let broadcast = EventBody::Broadcast { text: String::new() };
        let audio = EventBody::Audio(AudioClip {
            mime_type: WAV_MIME_TYPE.into(),
            frequency_hz: 440,
            duration_ms: 500,
            data: Vec::new(),
        });
        assert_eq!([tick.kind_name(), message.kind_name(), broadcast.kind_name(), audio.kind_name()], EVENT_KIND_NAMES);
    }
}
