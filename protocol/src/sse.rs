//! The SSE codec: the exact text of every chunk the lab writes on `GET /api/sse`.
//!
//! Written here rather than by a framework's SSE type because the lab must know exactly which bytes it wrote for
//! each event (to count them and show them). The format is checked against an independent parser in the server's
//! tests and against the browser's own `EventSource` end to end.

use super::{Event, Gap, StreamHello, WireLabel, SSE_RETRY_MILLIS};

/// One SSE event's text, and how much of it is the JSON in its `data:` line (the rest is field syntax).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseText {
    pub text: String,
    pub json_len: usize,
}

/// A comment line: ignored by `EventSource`, but it keeps proxies and NAT tables from closing an idle stream.
pub const KEEP_ALIVE: &str = ": keep-alive\n\n";

fn chunk(fields: String, data: String) -> SseText {
    let json_len = data.len();
    SseText { text: format!("{fields}data: {data}\n\n"), json_len }
}

/// `retry:` first, so the browser knows how long to wait before reconnecting, then the stream's `hello`.
pub fn encode_hello(hello: &StreamHello) -> SseText {
    let data = serde_json::to_string(hello).unwrap_or_default();
    chunk(format!("retry: {SSE_RETRY_MILLIS}\nevent: {}\n", WireLabel::Hello), data)
}

/// `id` is the sequence number, so the browser's automatic reconnect sends it back as `Last-Event-ID`. The JSON
/// never contains a raw newline (serde escapes it), so one `data:` line always holds the whole event.
pub fn encode_event(event: &Event) -> SseText {
    let data = serde_json::to_string(event).unwrap_or_default();
    chunk(format!("id: {}\nevent: {}\n", event.seq, WireLabel::of_event(&event.body)), data)
}

/// The gap's `id` is its last lost sequence number, so a reconnect after it does not ask for the lost range again.
pub fn encode_gap(gap: Gap) -> SseText {
    let data = serde_json::to_string(&gap).unwrap_or_default();
    chunk(format!("id: {}\nevent: {}\n", gap.to, WireLabel::Gap), data)
}

/// What a `Last-Event-ID` header says: nothing (absent or blank), or the sequence number to resume after.
pub fn parse_last_event_id(value: &str) -> Result<Option<u64>, crate::routes::ParamError> {
    let text = value.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| crate::routes::ParamError {
        parameter: "Last-Event-ID".into(),
        problem: "must be the sequence number of an event".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Epoch, EventBody};

    #[test]
    fn event_text_is_id_event_data_and_blank_line() {
        let event = Event { seq: 42, emitted_at: 1, body: EventBody::Message { text: "two\nlines".into() } };
        let chunk = encode_event(&event);
        assert_eq!(
            chunk.text,
            "id: 42\nevent: message\ndata: {\"seq\":42,\"emitted_at\":1,\"kind\":\"message\",\"payload\":{\"text\":\"two\\nlines\"}}\n\n"
        );
        // Everything but the JSON is framing: "id: 42\n" (7) + "event: message\n" (15) + "data: " (6) + "\n\n" (2).
        assert_eq!(chunk.text.len() - chunk.json_len, 30);
    }

    #[test]
    fn hello_starts_with_retry() {
        let chunk = encode_hello(&StreamHello { epoch: Epoch("e".into()), head_seq: 3, exchange: 9, instance: None });
        assert_eq!(chunk.text, "retry: 2000\nevent: hello\ndata: {\"epoch\":\"e\",\"head_seq\":3,\"exchange\":9}\n\n");
    }

    #[test]
    fn gap_id_is_its_last_lost_seq() {
        assert_eq!(encode_gap(Gap { from: 3, to: 7 }).text, "id: 7\nevent: gap\ndata: {\"from\":3,\"to\":7}\n\n");
    }

    #[test]
    fn last_event_id_is_blank_or_a_seq() {
        assert_eq!(parse_last_event_id(" 12 ").unwrap(), Some(12));
        assert_eq!(parse_last_event_id("").unwrap(), None);
        assert_eq!(parse_last_event_id("x").unwrap_err().parameter, "Last-Event-ID");
    }
}
