//! An event as the hub holds it: the event itself plus each streaming transport's encoding of it, made once, by
//! whichever client needs it first, and then shared by every other client.
//!
//! With 10,000 SSE streams or WebSockets, encoding per client would turn one event into 10,000 JSON
//! serialisations and 10,000 allocations; shared, a delivery costs a reference-count increment and the socket write.

use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use protocol::ndjson::{self, LineText};
use protocol::sse::{encode_event, SseText};
use protocol::{encode_audio_frame, Event, EventBody, WsServerMessage};

/// A chunk of a streamed response body (an SSE event, an NDJSON line) in a buffer every stream can share.
#[derive(Clone, Debug)]
pub struct TextChunk {
    pub text: Bytes,
    /// How much of `text` is the event's JSON; the rest is framing (SSE field syntax, a line's newline).
    pub json_len: usize,
}

impl TextChunk {
    pub fn from_static(text: &'static str) -> Self {
        Self { text: Bytes::from_static(text.as_bytes()), json_len: 0 }
    }
}

impl From<LineText> for TextChunk {
    fn from(LineText { text, json_len }: LineText) -> Self {
        Self { text: Bytes::from(text), json_len }
    }
}

impl From<SseText> for TextChunk {
    fn from(SseText { text, json_len }: SseText) -> Self {
        Self { text: Bytes::from(text), json_len }
    }
}

impl TextChunk {
    /// This chunk as one HTTP/1.1 chunk of a `Transfer-Encoding: chunked` body, as hyper frames it: the size in
    /// upper-case hex and CRLF, the data, CRLF. For a stream that writes its own socket (`api::handoff`). An empty
    /// chunk frames as nothing at all, as hyper skips it: framed, it would read as the body's end.
    pub fn http1_chunk(&self) -> Http1Chunk {
        if self.text.is_empty() {
            return Http1Chunk { framed: Bytes::new(), body_len: 0, json_len: 0 };
        }
        let mut framed = format!("{:X}\r\n", self.text.len()).into_bytes();
        framed.extend_from_slice(&self.text);
        framed.extend_from_slice(b"\r\n");
        Http1Chunk { framed: Bytes::from(framed), body_len: self.text.len(), json_len: self.json_len }
    }
}

/// A [`TextChunk`] framed as an HTTP/1.1 chunk: what one `write(2)` sends.
#[derive(Clone, Debug)]
pub struct Http1Chunk {
    pub framed: Bytes,
    /// The chunk's data, without its framing: what the body carries.
    pub body_len: usize,
    pub json_len: usize,
}

/// A WebSocket frame as it crosses: header and payload, and how much of it is payload.
#[derive(Clone, Debug)]
pub struct WireFrame {
    pub bytes: Bytes,
    pub payload_len: usize,
}

/// One event's WebSocket frame, before the socket layer wraps it in its own message type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebSocketFrame {
    /// JSON text: always valid UTF-8.
    Text(Bytes),
    Binary(Bytes),
}

pub struct HubEvent {
    event: Arc<Event>,
    sse: OnceLock<TextChunk>,
    /// The SSE chunk as an HTTP/1.1 chunk, framed once for every stream that writes its own socket: 10,000
    /// streams then send one shared buffer with one `write(2)` each, and frame nothing.
    sse_http1: OnceLock<Http1Chunk>,
    /// The NDJSON line of `/api/stream`.
    http_stream: OnceLock<TextChunk>,
    http_stream_http1: OnceLock<Http1Chunk>,
    /// The JSON text frame, as bytes so this module needs no WebSocket library (see [`WebSocketFrame`]).
    web_socket: OnceLock<Bytes>,
    /// An audio event's binary frame; `None` inside for every other event, which goes as text.
    web_socket_binary: OnceLock<Option<Bytes>>,
    /// The whole frame as it crosses, header and payload, for every WebSocket that writes its own socket.
    web_socket_wire: OnceLock<WireFrame>,
}

impl HubEvent {
    pub fn new(event: Event) -> Self {
        Self {
            event: Arc::new(event),
            sse: OnceLock::new(),
            sse_http1: OnceLock::new(),
            http_stream: OnceLock::new(),
            http_stream_http1: OnceLock::new(),
            web_socket: OnceLock::new(),
            web_socket_binary: OnceLock::new(),
            web_socket_wire: OnceLock::new(),
        }
    }

    /// The event alone, for answers that serialise several events together (poll and long-poll bodies).
    pub fn event(&self) -> &Arc<Event> {
        &self.event
    }

    /// The `id:`/`event:`/`data:` text of this event on an SSE stream.
    pub fn sse_chunk(&self) -> TextChunk {
        self.sse.get_or_init(|| encode_event(&self.event).into()).clone()
    }

    /// [`Self::sse_chunk`] framed as an HTTP/1.1 chunk.
    pub fn sse_http1_chunk(&self) -> Http1Chunk {
        self.sse_http1.get_or_init(|| self.sse_chunk().http1_chunk()).clone()
    }

    /// [`Self::http_stream_line`] framed as an HTTP/1.1 chunk.
    pub fn http_stream_http1_chunk(&self) -> Http1Chunk {
        self.http_stream_http1.get_or_init(|| self.http_stream_line().http1_chunk()).clone()
    }

    /// This event's line on an HTTP stream: `{"type":"event", ...the event's fields}` and a newline.
    pub fn http_stream_line(&self) -> TextChunk {
        self.http_stream.get_or_init(|| ndjson::encode_event(&self.event).into()).clone()
    }

    /// The text of this event's WebSocket frame: `{"type":"event", ...the event's fields}`.
    pub fn web_socket_text(&self) -> Bytes {
        self.web_socket.get_or_init(|| Bytes::from(WsServerMessage::Event(self.event.clone()).encode())).clone()
    }

    /// This event's WebSocket frame: one binary frame for an audio clip (see [`protocol::encode_audio_frame`]),
    /// the JSON text frame for everything else.
    pub fn web_socket_frame(&self) -> WebSocketFrame {
        let binary = self.web_socket_binary.get_or_init(|| encode_audio_frame(&self.event).map(Bytes::from));
        match binary {
            Some(frame) => WebSocketFrame::Binary(frame.clone()),
            None => WebSocketFrame::Text(self.web_socket_text()),
        }
    }

    /// [`Self::web_socket_frame`] as it crosses, framed by `frame` once for every socket.
    pub fn web_socket_wire_frame(&self, frame: impl FnOnce(WebSocketFrame) -> Bytes) -> WireFrame {
        let framed = || {
            let payload = self.web_socket_frame();
            let payload_len = match &payload {
                WebSocketFrame::Text(bytes) | WebSocketFrame::Binary(bytes) => bytes.len(),
            };
            WireFrame { bytes: frame(payload), payload_len }
        };
        self.web_socket_wire.get_or_init(framed).clone()
    }

    /// Bytes of audio this event holds, which the hub's history budgets separately from its event count.
    pub fn clip_bytes(&self) -> usize {
        match &self.event.body {
            EventBody::Audio(clip) => clip.data.len(),
            _ => 0,
        }
    }
}

impl std::fmt::Debug for HubEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.event.fmt(f)
    }
}

/// A hub event reads as the event it carries; the cached encodings are an implementation detail of delivery.
impl Deref for HubEvent {
    type Target = Event;

    fn deref(&self) -> &Event {
        &self.event
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::EventBody;

    fn hub_event() -> HubEvent {
        HubEvent::new(Event { seq: 7, emitted_at: 1, body: EventBody::Message { text: "hi".into() } })
    }

    #[test]
    fn encodings_match_the_per_client_encoders() {
        let shared = hub_event();
        assert_eq!(shared.sse_chunk().text, encode_event(shared.event()).text);
        let expected = serde_json::to_string(&WsServerMessage::Event(shared.event().clone())).unwrap();
        assert_eq!(shared.web_socket_text(), expected);
        assert_eq!(shared.http_stream_line().text, format!("{expected}\n"), "the same JSON as the WebSocket's");
    }

    #[test]
    fn an_audio_event_is_one_shared_binary_frame_and_anything_else_text() {
        let clip = protocol::AudioClip {
            mime_type: protocol::WAV_MIME_TYPE.into(),
            frequency_hz: 440,
            duration_ms: 500,
            data: b"RIFF....WAVE".to_vec(),
        };
        let audio = HubEvent::new(Event { seq: 9, emitted_at: 2, body: EventBody::Audio(clip) });
        let (WebSocketFrame::Binary(first), WebSocketFrame::Binary(second)) =
            (audio.web_socket_frame(), audio.web_socket_frame())
        else {
            panic!("an audio event goes as a binary frame");
        };
        assert_eq!(first.as_ptr(), second.as_ptr());
        assert_eq!(protocol::decode_audio_frame(&first).unwrap(), *audio.event().as_ref());
        assert_eq!(audio.clip_bytes(), 12);
        assert!(matches!(hub_event().web_socket_frame(), WebSocketFrame::Text(_)));
        assert_eq!(hub_event().clip_bytes(), 0);
    }

    #[test]
    fn a_chunk_is_framed_as_hyper_frames_it() {
        let chunk = TextChunk { text: Bytes::from_static(b"data: {}\n\n"), json_len: 2 }.http1_chunk();
        assert_eq!(&chunk.framed[..], b"A\r\ndata: {}\n\n\r\n");
        assert_eq!((chunk.body_len, chunk.json_len), (10, 2));
        let long = TextChunk { text: Bytes::from(vec![b'x'; 65_536]), json_len: 0 }.http1_chunk();
        assert!(long.framed.starts_with(b"10000\r\nxx"));
        assert!(TextChunk::from_static("").http1_chunk().framed.is_empty(), "never the last chunk's framing");
        let shared = hub_event();
        let framed = shared.sse_http1_chunk();
        assert_eq!(framed.framed.as_ptr(), shared.sse_http1_chunk().framed.as_ptr(), "framed once");
        assert_eq!(framed.body_len, shared.sse_chunk().text.len());
    }

    #[test]
    fn every_client_shares_one_buffer() {
        let shared = hub_event();
        let (first, second) = (shared.sse_chunk(), shared.sse_chunk());
        assert_eq!(first.text.as_ptr(), second.text.as_ptr());
        let (first, second) = (shared.web_socket_text(), shared.web_socket_text());
        assert_eq!(first.as_ptr(), second.as_ptr());
        let (first, second) = (shared.http_stream_line(), shared.http_stream_line());
        assert_eq!(first.text.as_ptr(), second.text.as_ptr());
    }
}
