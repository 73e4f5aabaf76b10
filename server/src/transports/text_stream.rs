//! What SSE and the HTTP stream share: one response that never ends, a hello first, then a chunk per hub event, a
//! gap chunk for history that is gone, and a keep-alive while idle, each chunk labelled for the wire tap. They
//! differ only in how each chunk is written (their [`StreamCodec`]), their content type, and who reconnects.

use std::convert::Infallible;
use std::net::IpAddr;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use protocol::{ClientId, Gap, StreamHello, Transport, WireLabel};
use tokio::io::AsyncWriteExt;
use tokio::time::{interval_at, Instant, Interval, MissedTickBehavior};

use super::direct_stream::{self, DirectStream, End, Framing, Hold, Outbound, Reads, StreamTask, Upkeep};
use crate::api::admission::AddressPermit;
use crate::api::error::ApiError;
use crate::api::handoff::{Handoff, Socket};
use crate::api::lanes::Lanes;
use crate::api::wire::Wire;
use crate::core::faults::FaultWatch;
use crate::core::feed::{Feed, FeedItem};
use crate::core::hub_event::{Http1Chunk, HubEvent, TextChunk};
use crate::core::stats::OpenConnection;
use crate::wire::connection::Annotation;

/// How one text stream writes what it carries.
pub trait StreamCodec: Send + 'static {
    const CONTENT_TYPE: &'static str;
    /// Written after this long without anything else.
    const KEEP_ALIVE: &'static str;
    fn hello(hello: &StreamHello) -> TextChunk;
    /// The event as this stream writes it, encoded once per event for every client (see `HubEvent`).
    fn event(event: &HubEvent) -> TextChunk;
    /// [`Self::event`] framed as an HTTP/1.1 chunk, once per event for every stream that writes its own socket.
    fn event_http1(event: &HubEvent) -> Http1Chunk;
    fn gap(gap: Gap) -> TextChunk;
}

/// The whole answer to a stream request: admitted like every held connection, subscribed after `after`, and
/// written with `C` until the client goes or a fault drops it.
pub fn open<C: StreamCodec>(
    lanes: &Lanes,
    transport: Transport,
    client: Option<ClientId>,
    address: IpAddr,
    wire: Wire,
    after: Option<u64>,
    handoff: Option<Handoff>,
) -> Result<Response, ApiError> {
    let (peer, permit) = lanes.admit_long_lived(transport, client, address)?;
    let counters = lanes.counters().of(transport).clone();
    let open = counters.open();
    let hub = lanes.hub();
    let exchange = wire.exchange();
    let instance = lanes.instance();
    let hello = |head_seq| StreamHello { epoch: hub.epoch().clone(), head_seq, exchange, instance };
    let dropped = lanes.faults().watch(peer.clone());
    // Over HTTP/1.1 the lab writes the chunks itself once hyper has written the head (see `api::handoff`), unless
    // the client has sent another request behind this one, which hyper must answer after it.
    let body = match handoff.filter(|_| wire.answering_the_last_request()) {
        Some(handoff) => {
            let upkeep = Upkeep::WhenIdle(lanes.timing().sse_keep_alive);
            let faults = lanes.faults().clone();
            let setup = direct_stream::Setup { hub: hub.clone(), counters, faults, peer, wire, upkeep };
            let stream = DirectStream::<Chunked<C>>::open(setup, after, hello);
            handoff.give(move |socket| async move {
                // Held until the stream ends: it counts as open and keeps its address's place.
                let (_open, _permit) = (open, permit);
                write_chunked(stream, socket, dropped).await;
            });
            Handoff::placeholder()
        }
        None => {
            let subscription = hub.subscribe(after, usize::MAX);
            let hello = hello(subscription.head_seq);
            let feed = Feed::new(hub, counters, lanes.faults().clone(), peer, subscription, after);
            let stream = TextStream::<C> {
                hello: Some(hello),
                feed,
                keep_alive: keep_alive(lanes.timing().sse_keep_alive),
                dropped,
                wire,
                _open: open,
                _permit: permit,
                _codec: std::marker::PhantomData,
            };
            Body::from_stream(futures::stream::unfold(stream, |mut stream| async move {
                let chunk = stream.next_chunk().await?;
                Some((Ok::<_, Infallible>(chunk), stream))
            }))
        }
    };
    Ok((
        [
            // Not compressible (see `router::is_page_or_asset`): a compressor would hold chunks back.
            (header::CONTENT_TYPE, C::CONTENT_TYPE),
            (header::CACHE_CONTROL, "no-cache"),
            // Tells reverse proxies such as nginx not to buffer the stream.
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        body,
    )
        .into_response())
}

/// A text stream's units as HTTP/1.1 chunks: each event's chunk framed once, for every stream.
struct Chunked<C>(std::marker::PhantomData<C>);

impl<C: StreamCodec> Chunked<C> {
    fn outbound(label: WireLabel, seq: Option<u64>, chunk: TextChunk) -> Outbound {
        let chunk = chunk.http1_chunk();
        Outbound { bytes: chunk.framed, label: Some(label), seq, payload_len: Some(chunk.json_len), delivered: None }
    }
}

impl<C: StreamCodec> Framing for Chunked<C> {
    fn hello(hello: &StreamHello) -> Outbound {
        Self::outbound(WireLabel::Hello, None, C::hello(hello))
    }

    fn event(event: &HubEvent) -> Outbound {
        let Http1Chunk { framed, body_len, json_len } = C::event_http1(event);
        let label = WireLabel::of_event(&event.body);
        let (seq, payload_len, delivered) = (Some(event.seq), Some(json_len), Some(body_len));
        Outbound { bytes: framed, label: Some(label), seq, payload_len, delivered }
    }

    fn gap(gap: Gap) -> Outbound {
        Self::outbound(WireLabel::Gap, None, C::gap(gap))
    }

    fn keep_alive() -> Outbound {
        Self::outbound(WireLabel::KeepAlive, None, TextChunk::from_static(C::KEEP_ALIVE))
    }
}

/// Writes a handed-off stream's chunks on `socket` until the client leaves, or the hub closes or a fault drops the
/// stream: then the body ends with its last chunk (`0\r\n\r\n`) and the connection closes, as hyper would end it.
async fn write_chunked<C: StreamCodec>(
    stream: StreamTask<Chunked<C>>,
    socket: Box<dyn Socket>,
    mut dropped: FaultWatch,
) {
    stream.attach(socket);
    let mut hold = Hold::default();
    let ended = tokio::select! {
        end = std::future::poll_fn(|cx| stream.poll_work(cx, &mut hold, Reads::OnlyForClose)) => end,
        // Ending the body closes the response; the client reconnects (EventSource by itself, a fetch reader by its
        // own code).
        () = dropped.until_dropped() => End::Closed,
    };
    if let End::Lost = ended {
        return;
    }
    if stream.stop().await {
        if let Some(mut socket) = stream.take_socket() {
            if socket.write_all(b"0\r\n\r\n").await.is_ok() {
                let _ = socket.shutdown().await;
            }
        }
    }
}

fn keep_alive(period: Duration) -> Interval {
    let mut interval = interval_at(Instant::now() + period, period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    interval
}

struct TextStream<C> {
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
    _codec: std::marker::PhantomData<C>,
}

impl<C: StreamCodec> TextStream<C> {
    /// One message per chunk, so each chunk on the wire is one labelled record.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if let Some(hello) = self.hello.take() {
            return Some(self.annotated(WireLabel::Hello, None, C::hello(&hello)));
        }
        tokio::select! {
            item = self.feed.next() => {
                self.keep_alive.reset();
                let chunk = match item? {
                    FeedItem::Event(event) => {
                        let chunk = C::event(&event);
                        self.feed.counters().delivered(1, chunk.text.len());
                        self.annotated(WireLabel::of_event(&event.body), Some(event.seq), chunk)
                    }
                    FeedItem::Gap(gap) => self.annotated(WireLabel::Gap, None, C::gap(gap)),
                };
                Some(chunk)
            }
            _ = self.keep_alive.tick() => {
                Some(self.annotated(WireLabel::KeepAlive, None, TextChunk::from_static(C::KEEP_ALIVE)))
            }
            // Ending the body closes the response; the client reconnects (EventSource by itself, a fetch reader
            // by its own code).
            _ = self.dropped.until_dropped() => None,
        }
    }

    fn annotated(&self, event: WireLabel, seq: Option<u64>, chunk: TextChunk) -> Bytes {
        self.wire.annotate(Annotation { event, seq, payload_len: Some(chunk.json_len) });
        chunk.text
    }
}
