//! Server-Sent Events: `GET /api/sse` is one long `text/event-stream` response with an event per hub event.
//!
//! The text is encoded here rather than through axum's `Sse` type because the lab must know exactly which bytes
//! it wrote for each event (to count them, and later to show them); the format is tested against an independent
//! parser in `tests/streams.rs` and against the browser's own `EventSource` end to end.

use std::convert::Infallible;
use std::time::Duration;

use protocol::{Event, Gap, StreamHello, Transport, SSE_RETRY_MILLIS};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::time::{interval_at, Instant, Interval, MissedTickBehavior};

use crate::admission::AddressPermit;
use crate::error::ApiError;
use crate::extract::{ClientAddress, ValidQuery};
use crate::faults::FaultWatch;
use crate::feed::{Feed, FeedItem, ResumeParams};
use crate::state::AppState;
use crate::stats::OpenConnection;
use crate::wire::{Annotation, Wire};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/sse", get(sse))
}

async fn sse(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    wire: Wire,
    headers: HeaderMap,
    ValidQuery(params): ValidQuery<ResumeParams>,
) -> Result<Response, ApiError> {
    // On a reconnect the browser repeats the original URL (with its old `after`) and adds `Last-Event-ID`, which
    // is the newer cursor, so the header wins.
    let after = last_event_id(&headers)?.or(params.after);
    let (peer, permit) = state.admit_long_lived(Transport::Sse, params.client, address)?;
    let counters = state.counters.of(Transport::Sse).clone();
    let open = counters.open();
    let hub = state.hub();
    let subscription = hub.subscribe(after, usize::MAX);
    let hello = StreamHello { epoch: hub.epoch().clone(), head_seq: subscription.head_seq, exchange: wire.exchange() };
    let dropped = state.faults.watch(peer.clone());
    let feed = Feed::new(hub, counters, state.faults.clone(), peer, subscription, after);
    let keep_alive = keep_alive(state.timing.sse_keep_alive);
    let stream = SseStream { hello: Some(hello), feed, keep_alive, dropped, wire, _open: open, _permit: permit };
    let body = Body::from_stream(futures::stream::unfold(stream, |mut stream| async move {
        let chunk = stream.next_chunk().await?;
        Some((Ok::<_, Infallible>(chunk), stream))
    }));
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            // Tells reverse proxies such as nginx not to buffer the stream.
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        body,
    )
        .into_response())
}

pub fn last_event_id(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get("last-event-id") else { return Ok(None) };
    let text = value.to_str().unwrap_or_default().trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| ApiError::invalid_parameter("Last-Event-ID", "must be the sequence number of an event"))
}

fn keep_alive(period: Duration) -> Interval {
    let mut interval = interval_at(Instant::now() + period, period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    interval
}

struct SseStream {
    hello: Option<StreamHello>,
    feed: Feed,
    keep_alive: Interval,
    /// Tells when a fault drops this stream.
    dropped: FaultWatch,
    /// Told what each chunk carries, so its bytes can be attributed to the right arrow.
    wire: Wire,
    /// Keeps the stream counted as open until the client disconnects and hyper drops the body.
    _open: OpenConnection,
    _permit: AddressPermit,
}

impl SseStream {
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if let Some(hello) = self.hello.take() {
            return Some(self.annotated("hello", None, encode_hello(&hello)));
        }
        tokio::select! {
            item = self.feed.next() => {
                self.keep_alive.reset();
                let chunk = match item? {
                    FeedItem::Event(event) => {
                        let chunk = event.sse_chunk();
                        self.feed.counters().delivered(1, chunk.text.len());
                        self.annotated(event.body.kind_name(), Some(event.seq), chunk)
                    }
                    FeedItem::Gap(gap) => self.annotated("gap", None, encode_gap(gap)),
                };
                Some(chunk)
            }
            _ = self.keep_alive.tick() => {
                Some(self.annotated("keep-alive", None, SseChunk { text: Bytes::from_static(KEEP_ALIVE), json_len: 0 }))
            }
            // Ending the body closes the response; the browser's EventSource reconnects with Last-Event-ID.
            _ = self.dropped.until_dropped() => None,
        }
    }

    fn annotated(&self, event: &'static str, seq: Option<u64>, chunk: SseChunk) -> Bytes {
        self.wire.annotate(Annotation { event, seq, payload_len: Some(chunk.json_len) });
        chunk.text
    }
}

/// One SSE event's text, and how much of it is the JSON in its `data:` line (the rest is field syntax).
#[derive(Clone, Debug)]
pub struct SseChunk {
    pub text: Bytes,
    pub json_len: usize,
}

fn sse_chunk(fields: String, data: String) -> SseChunk {
    let json_len = data.len();
    SseChunk { text: Bytes::from(format!("{fields}data: {data}\n\n")), json_len }
}

/// A comment line: ignored by `EventSource`, but it keeps proxies and NAT tables from closing an idle stream.
pub const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";

/// `retry:` first, so the browser knows how long to wait before reconnecting, then the stream's `hello`.
pub fn encode_hello(hello: &StreamHello) -> SseChunk {
    let data = serde_json::to_string(hello).unwrap_or_default();
    sse_chunk(format!("retry: {SSE_RETRY_MILLIS}\nevent: hello\n"), data)
}

/// `id` is the sequence number, so the browser's automatic reconnect sends it back as `Last-Event-ID`. The JSON
/// never contains a raw newline (serde escapes it), so one `data:` line always holds the whole event.
pub fn encode_event(event: &Event) -> SseChunk {
    let data = serde_json::to_string(event).unwrap_or_default();
    sse_chunk(format!("id: {}\nevent: {}\n", event.seq, event.body.kind_name()), data)
}

/// The gap's `id` is its last lost sequence number, so a reconnect after it does not ask for the lost range again.
pub fn encode_gap(gap: Gap) -> SseChunk {
    let data = serde_json::to_string(&gap).unwrap_or_default();
    sse_chunk(format!("id: {}\nevent: gap\n", gap.to), data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{Epoch, EventBody};

    #[test]
    fn event_text_is_id_event_data_and_blank_line() {
        let event = Event { seq: 42, emitted_at: 1, body: EventBody::Message { text: "two\nlines".into() } };
        let chunk = encode_event(&event);
        let text = String::from_utf8(chunk.text.to_vec()).unwrap();
        assert_eq!(
            text,
            "id: 42\nevent: message\ndata: {\"seq\":42,\"emitted_at\":1,\"kind\":\"message\",\"payload\":{\"text\":\"two\\nlines\"}}\n\n"
        );
        // Everything but the JSON is framing: "id: 42\n" (7) + "event: message\n" (15) + "data: " (6) + "\n\n" (2).
        assert_eq!(chunk.text.len() - chunk.json_len, 30);
    }

    #[test]
    fn hello_starts_with_retry() {
        let chunk = encode_hello(&StreamHello { epoch: Epoch("e".into()), head_seq: 3, exchange: 9 });
        assert_eq!(chunk.text, "retry: 2000\nevent: hello\ndata: {\"epoch\":\"e\",\"head_seq\":3,\"exchange\":9}\n\n");
    }
}
