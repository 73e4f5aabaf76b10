//! HTTP streaming: `GET /api/stream` is one `application/x-ndjson` response that never ends, a JSON line per hub
//! event (`protocol::ndjson`). The plainest push there is: no event ids, no `retry:`, no automatic reconnect; the
//! client resumes itself with `after=` on the last sequence number it read.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use protocol::ndjson::{self, encode_gap, encode_hello, KEEP_ALIVE};
use protocol::routes::{self, StreamQuery};
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
    Router::new().route(routes::HTTP_STREAM, get(get_stream))
}

async fn get_stream(
    State(lanes): State<Lanes>,
    ClientAddress(address): ClientAddress,
    wire: Wire,
    ValidQuery(params): ValidQuery<StreamQuery>,
) -> Result<Response, ApiError> {
    let (peer, permit) = lanes.admit_long_lived(Transport::HttpStream, params.client, address)?;
    let counters = lanes.counters.of(Transport::HttpStream).clone();
    let open = counters.open();
    let hub = lanes.hub();
    let subscription = hub.subscribe(params.after, usize::MAX);
    let hello = StreamHello { epoch: hub.epoch().clone(), head_seq: subscription.head_seq, exchange: wire.exchange() };
    let dropped = lanes.faults.watch(peer.clone());
    let feed = Feed::new(hub, counters, lanes.faults.clone(), peer, subscription, params.after);
    let keep_alive = keep_alive(lanes.timing.sse_keep_alive);
    let stream = LineStream { hello: Some(hello), feed, keep_alive, dropped, wire, _open: open, _permit: permit };
    let body = Body::from_stream(futures::stream::unfold(stream, |mut stream| async move {
        let chunk = stream.next_chunk().await?;
        Some((Ok::<_, Infallible>(chunk), stream))
    }));
    Ok((
        [
            // Not compressible (see `router::is_page_or_asset`): a compressor would hold lines back.
            (header::CONTENT_TYPE, ndjson::CONTENT_TYPE),
            (header::CACHE_CONTROL, "no-cache"),
            // Tells reverse proxies such as nginx not to buffer the stream.
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        body,
    )
        .into_response())
}

fn keep_alive(period: Duration) -> Interval {
    let mut interval = interval_at(Instant::now() + period, period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    interval
}

struct LineStream {
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

impl LineStream {
    /// One line per chunk, so each chunk on the wire is one labelled record.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if let Some(hello) = self.hello.take() {
            return Some(self.annotated(WireLabel::Hello, None, encode_hello(&hello).into()));
        }
        tokio::select! {
            item = self.feed.next() => {
                self.keep_alive.reset();
                let chunk = match item? {
                    FeedItem::Event(event) => {
                        let line = event.http_stream_line();
                        self.feed.counters().delivered(1, line.text.len());
                        self.annotated(WireLabel::of_event(&event.body), Some(event.seq), line)
                    }
                    FeedItem::Gap(gap) => self.annotated(WireLabel::Gap, None, encode_gap(gap).into()),
                };
                Some(chunk)
            }
            _ = self.keep_alive.tick() => {
                Some(self.annotated(WireLabel::KeepAlive, None, TextChunk::from_static(KEEP_ALIVE)))
            }
            // Ending the body closes the response; nothing reconnects but the client itself.
            _ = self.dropped.until_dropped() => None,
        }
    }

    fn annotated(&self, event: WireLabel, seq: Option<u64>, chunk: TextChunk) -> Bytes {
        self.wire.annotate(Annotation { event, seq, payload_len: Some(chunk.json_len) });
        chunk.text
    }
}
