//! gRPC's side of the wire: the messages of `proto/lab/v1/events.proto` (generated at build time), how the lab's
//! events map onto them, and the length-prefixed framing that gRPC and gRPC-web put around every message, which
//! the page's gRPC-web client, the server's inspector and the load tool read alike.

pub mod fields;
pub mod framing;

/// The generated messages of package `lab.v1`.
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/lab.v1.rs"));
}

use crate::{AudioClip, Event, EventBody, Gap, WireLabel};

/// `proto/lab/v1/events.proto` compiled: what the server's reflection service answers with.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/lab_v1_descriptor.bin"));

/// The service's full name, and its methods' paths (the URL path of their `POST`).
pub const SERVICE: &str = "lab.v1.Events";
pub const SUBSCRIBE_PATH: &str = "/lab.v1.Events/Subscribe";
pub const PUBLISH_PATH: &str = "/lab.v1.Events/Publish";

/// Content types: native gRPC over HTTP/2, and gRPC-web's binary form, which a browser's `fetch` can send.
pub const CONTENT_TYPE: &str = "application/grpc";
pub const WEB_CONTENT_TYPE: &str = "application/grpc-web+proto";

/// The sequence number and kind of a `lab.v1.Event` from its first bytes only: `seq` (field 1) and `emitted_at`
/// (field 2) come first, then the `body` field whose number says the kind. The wire tap keeps no more than the
/// start of each message, so it reads this without buffering a whole event. `None` for bytes that do not start
/// like an Event.
pub fn peek_event(first_bytes: &[u8]) -> Option<(Option<u64>, WireLabel)> {
    use prost::encoding::{decode_key, decode_varint, WireType};
    let mut rest = first_bytes;
    let mut seq = None;
    while !rest.is_empty() {
        let (field, wire_type) = decode_key(&mut rest).ok()?;
        match (field, wire_type) {
            (1, WireType::Varint) => seq = Some(decode_varint(&mut rest).ok()?),
            (2, WireType::Varint) => {
                decode_varint(&mut rest).ok()?;
            }
            (3..=7, WireType::LengthDelimited) => {
                let label = match field {
                    3 => WireLabel::Tick,
                    4 => WireLabel::Message,
                    5 => WireLabel::Broadcast,
                    6 => WireLabel::Audio,
                    _ => return Some((None, WireLabel::Gap)),
                };
                return Some((seq, label));
            }
            _ => return None,
        }
    }
    None
}

impl From<&Event> for v1::Event {
    fn from(event: &Event) -> Self {
        use v1::event::Body;
        let body = match &event.body {
            EventBody::Tick { n, filler } => Body::Tick(v1::Tick { n: *n, filler: filler.clone() }),
            EventBody::Message { text } => Body::Message(v1::Text { text: text.clone() }),
            EventBody::Broadcast { text } => Body::Broadcast(v1::Text { text: text.clone() }),
            EventBody::Audio(clip) => Body::Audio(v1::Audio {
                mime_type: clip.mime_type.clone(),
                frequency_hz: clip.frequency_hz,
                duration_ms: clip.duration_ms,
                data: clip.data.clone(),
            }),
        };
        Self { seq: event.seq, emitted_at: event.emitted_at, body: Some(body) }
    }
}

impl From<Gap> for v1::Event {
    fn from(gap: Gap) -> Self {
        Self { seq: 0, emitted_at: 0, body: Some(v1::event::Body::Gap(v1::Gap { from: gap.from, to: gap.to })) }
    }
}

/// What one message of a `Subscribe` stream carries.
#[derive(Clone, Debug, PartialEq)]
pub enum Delivered {
    Event(Event),
    Gap(Gap),
}

/// A `lab.v1.Event` message that is neither an event nor a gap: one this lab does not send.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("an Event message with no body (seq {seq})")]
pub struct EmptyEvent {
    pub seq: u64,
}

impl TryFrom<v1::Event> for Delivered {
    type Error = EmptyEvent;

    fn try_from(message: v1::Event) -> Result<Self, Self::Error> {
        use v1::event::Body;
        let body = match message.body.ok_or(EmptyEvent { seq: message.seq })? {
            Body::Gap(gap) => return Ok(Delivered::Gap(Gap { from: gap.from, to: gap.to })),
            Body::Tick(tick) => EventBody::Tick { n: tick.n, filler: tick.filler },
            Body::Message(text) => EventBody::Message { text: text.text },
            Body::Broadcast(text) => EventBody::Broadcast { text: text.text },
            Body::Audio(audio) => EventBody::Audio(AudioClip {
                mime_type: audio.mime_type,
                frequency_hz: audio.frequency_hz,
                duration_ms: audio.duration_ms,
                data: audio.data,
            }),
        };
        Ok(Delivered::Event(Event { seq: message.seq, emitted_at: message.emitted_at, body }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn every_kind_of_event_survives_protobuf_and_back() {
        let clip =
            AudioClip { mime_type: "audio/wav".into(), frequency_hz: 440, duration_ms: 5, data: vec![0, 255, 7] };
        let bodies = [
            EventBody::Tick { n: 3, filler: "abc".into() },
            EventBody::Message { text: "hé".into() },
            EventBody::Broadcast { text: "all".into() },
            EventBody::Audio(clip),
        ];
        for (seq, body) in (1..).zip(bodies) {
            let event = Event { seq, emitted_at: 1_795_303_724_621_196, body };
            let bytes = v1::Event::from(&event).encode_to_vec();
            let decoded = Delivered::try_from(v1::Event::decode(&bytes[..]).unwrap()).unwrap();
            assert_eq!(decoded, Delivered::Event(event));
        }
        let gap = Gap { from: 4, to: 9 };
        let bytes = v1::Event::from(gap).encode_to_vec();
        assert_eq!(Delivered::try_from(v1::Event::decode(&bytes[..]).unwrap()).unwrap(), Delivered::Gap(gap));
    }

    /// Protobuf's saving is the field names and the base64 (audio); a tiny tick costs a few bytes either way.
    #[test]
    fn a_tick_in_protobuf_is_its_numbers_and_filler_with_a_few_bytes_of_tags() {
        let event = Event {
            seq: 300,
            emitted_at: 1_795_303_724_621_196,
            body: EventBody::Tick { n: 300, filler: String::new() },
        };
        let protobuf = v1::Event::from(&event).encode_to_vec();
        // seq: tag + 2-byte varint; emitted_at: tag + 8-byte varint; tick: tag + length + (tag + 2-byte n).
        assert_eq!(protobuf.len(), 3 + 9 + 5);
        assert!(serde_json::to_vec(&event).unwrap().len() > 4 * protobuf.len());
    }

    #[test]
    fn the_first_bytes_of_an_event_name_its_seq_and_kind() {
        let event =
            Event { seq: 300, emitted_at: 1_795_303_724_621_196, body: EventBody::Message { text: "x".repeat(500) } };
        let bytes = v1::Event::from(&event).encode_to_vec();
        assert_eq!(peek_event(&bytes[..16]), Some((Some(300), WireLabel::Message)));
        let gap = v1::Event::from(Gap { from: 4, to: 9 }).encode_to_vec();
        assert_eq!(peek_event(&gap), Some((None, WireLabel::Gap)), "a gap's seq is 0, so not on the wire");
        assert_eq!(peek_event(&bytes[..5]), None, "cut before the body's tag");
        assert_eq!(peek_event(b"grpc-status: 0"), None);
    }

    #[test]
    fn an_event_with_no_body_is_an_error_not_a_panic() {
        let empty = v1::Event { seq: 5, emitted_at: 0, body: None };
        assert_eq!(Delivered::try_from(empty), Err(EmptyEvent { seq: 5 }));
    }

    #[test]
    fn the_descriptor_set_names_the_service() {
        let set = prost_types_free_check(FILE_DESCRIPTOR_SET);
        assert!(set.contains("lab.v1") && set.contains("Events") && set.contains("Subscribe"));
    }

    /// The descriptor set is protobuf too; its strings are readable as they are, which is all this test needs.
    fn prost_types_free_check(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }
}
