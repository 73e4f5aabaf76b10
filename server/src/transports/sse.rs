//! Server-Sent Events: `GET /api/sse` is one long `text/event-stream` response with an event per hub event.
//!
//! The text is encoded by `protocol::sse` rather than through axum's `Sse` type because the lab must know exactly
//! which bytes it wrote for each event (to count them, and later to show them); the format is tested against an
//! independent parser in `tests/streams.rs` and against the browser's own `EventSource` end to end.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use protocol::routes::{self, StreamQuery};
use protocol::sse::{encode_gap, encode_hello, parse_last_event_id, KEEP_ALIVE};
use protocol::{StreamHello, Transport, WireLabel};
use tokio::time::{interval_at, Instant, Interval, MissedTickBehavior};

use crate::api::admission::AddressPermit;
use crate::api::error::ApiError;
use crate::api::extract::{ClientAddress, ValidQuery};
use crate::api::lanes::Lanes;
use crate::api::state::AppState;
use crate::api::wire::Wire;
use crate::core::faults::FaultWatch;
use crate::core::feed::{Feed, FeedItem};
use crate::core::hub_event::TextChunk;
use crate::core::stats::OpenConnection;
use crate::wire::connection::Annotation;

pub fn router() -> Router<AppState> {
    Router::new().route(routes::SSE, get(get_sse))
}

async fn get_sse(
    State(lanes): State<Lanes>,
    ClientAddress(address): ClientAddress,
    wire: Wire,
    headers: HeaderMap,
    ValidQuery(params): ValidQuery<StreamQuery>,
) -> Result<Response, ApiError> {
    // On a reconnect the browser repeats the original URL (with its old `after`) and adds `Last-Event-ID`, which
    // is the newer cursor, so the header wins.
    let after = last_event_id(&headers)?.or(params.after);
    let (peer, permit) = lanes.admit_long_lived(Transport::Sse, params.client, address)?;
    let counters = lanes.counters.of(Transport::Sse).clone();
    let open = counters.open();
    let hub = lanes.hub();
    let subscription = hub.subscribe(after, usize::MAX);
    let hello = StreamHello { epoch: hub.epoch().clone(), head_seq: subscription.head_seq, exchange: wire.exchange() };
    let dropped = lanes.faults.watch(peer.clone());
    let feed = Feed::new(hub, counters, lanes.faults.clone(), peer, subscription, after);
    let keep_alive = keep_alive(lanes.timing.sse_keep_alive);
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

/// The cursor a reconnecting `EventSource` sends. A value that is not visible ASCII reads as blank, as no browser
/// sends one.
pub fn last_event_id(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get("last-event-id") else { return Ok(None) };
    Ok(parse_last_event_id(value.to_str().unwrap_or_default())?)
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
            return Some(self.annotated(WireLabel::Hello, None, encode_hello(&hello).into()));
        }
        tokio::select! {
            item = self.feed.next() => {
                self.keep_alive.reset();
                let chunk = match item? {
                    FeedItem::Event(event) => {
                        let chunk = event.sse_chunk();
                        self.feed.counters().delivered(1, chunk.text.len());
                        self.annotated(WireLabel::of_event(&event.body), Some(event.seq), chunk)
                    }
                    FeedItem::Gap(gap) => self.annotated(WireLabel::Gap, None, encode_gap(gap).into()),
                };
                Some(chunk)
            }
            _ = self.keep_alive.tick() => {
                Some(self.annotated(WireLabel::KeepAlive, None, TextChunk::from_static(KEEP_ALIVE)))
            }
            // Ending the body closes the response; the browser's EventSource reconnects with Last-Event-ID.
            _ = self.dropped.until_dropped() => None,
        }
    }

    fn annotated(&self, event: WireLabel, seq: Option<u64>, chunk: TextChunk) -> Bytes {
        self.wire.annotate(Annotation { event, seq, payload_len: Some(chunk.json_len) });
        chunk.text
    }
}
