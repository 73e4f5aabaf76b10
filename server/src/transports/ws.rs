//! WebSocket: `GET /api/ws` upgrades to one socket that carries a text frame per event down (a binary frame for an
//! audio clip), and `publish` frames up. Protocol errors that a frame can explain get an `error` frame and the
//! socket stays open; the rest get a close code from RFC 6455 with a reason.

use std::net::IpAddr;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use protocol::routes::{self, StreamQuery};
use protocol::{close_code, EventBody, StreamHello, Transport, WireLabel, WsServerMessage};
use tokio::time::{interval_at, Instant, MissedTickBehavior};

use crate::api::admission::AddressPermit;
use crate::api::error::ApiError;
use crate::api::extract::{ClientAddress, Upgrade, ValidQuery};
use crate::api::lanes::Lanes;
use crate::api::state::AppState;
use crate::api::wire::Wire;
use crate::core::feed::{Feed, FeedItem};
use crate::core::hub_event::WebSocketFrame;
use crate::core::peer::Peer;
use crate::wire::connection::Annotation;

/// Largest frame or message a client may send. A `publish` of 1 KiB of text fits with room to spare; anything
/// bigger is not a message this protocol has.
pub const MAX_CLIENT_MESSAGE_BYTES: usize = 8 * 1024;

pub fn router() -> Router<AppState> {
    Router::new().route(routes::WEB_SOCKET, get(get_ws))
}

async fn get_ws(
    State(lanes): State<Lanes>,
    ClientAddress(address): ClientAddress,
    wire: Wire,
    headers: HeaderMap,
    ValidQuery(params): ValidQuery<StreamQuery>,
    Upgrade(upgrade): Upgrade,
) -> Result<Response, ApiError> {
    lanes.admission().check_origin(&headers)?;
    let (peer, permit) = lanes.admit_long_lived(Transport::WebSocket, params.client, address)?;
    Ok(upgrade
        .max_message_size(MAX_CLIENT_MESSAGE_BYTES)
        .max_frame_size(MAX_CLIENT_MESSAGE_BYTES)
        // Small buffers: a class or a load test opens thousands of sockets and each reads little (pongs and the
        // odd publish); the buffer grows for a bigger frame. Measured over 5,000 idle sockets: 9,244 B of server
        // RSS each with 4 KiB here, 5,623 B with 512 B (target: 8 KiB; see docs/src/scale.md).
        .read_buffer_size(512)
        .write_buffer_size(0)
        .max_write_buffer_size(256 * 1024)
        .on_upgrade(move |socket| session(socket, lanes, peer, wire, params.after, permit))
        .into_response())
}

/// Why a session ended, and what the close frame says.
struct Closing {
    code: u16,
    reason: &'static str,
}

/// `permit` holds the client's share of the connection cap for as long as the session lasts.
async fn session(socket: WebSocket, lanes: Lanes, peer: Peer, wire: Wire, after: Option<u64>, permit: AddressPermit) {
    let counters = lanes.counters().of(Transport::WebSocket).clone();
    let _open = counters.open();
    let hub = lanes.hub();
    let subscription = hub.subscribe(after, usize::MAX);
    let exchange = wire.exchange();
    let hello = WsServerMessage::Hello(StreamHello {
        epoch: hub.epoch().clone(),
        head_seq: subscription.head_seq,
        exchange,
        instance: lanes.instance(),
    });
    let mut dropped = lanes.faults().watch(peer.clone());
    let mut feed = Feed::new(hub, counters.clone(), lanes.faults().clone(), peer, subscription, after);
    let (mut sink, mut incoming) = socket.split();
    let ping_interval = lanes.timing().ws_ping_interval;
    let mut pings = interval_at(Instant::now() + ping_interval, ping_interval);
    pings.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut heard_since_last_ping = true;

    if !send_within(&mut sink, annotated_frame(&wire, &hello), ping_interval).await {
        return;
    }
    let closing = loop {
        tokio::select! {
            item = feed.next() => {
                let Some(item) = item else {
                    break Some(Closing { code: close_code::GOING_AWAY, reason: "server shutting down" });
                };
                let (frame, is_event) = match item {
                    FeedItem::Event(event) => {
                        let event_label = WireLabel::of_event(&event.body);
                        wire.annotate(Annotation { event: event_label, seq: Some(event.seq), payload_len: None });
                        (message_of(event.web_socket_frame()), true)
                    }
                    FeedItem::Gap(gap) => (annotated_frame(&wire, &WsServerMessage::Gap(gap)), false),
                };
                let payload_len = frame_len(&frame);
                if !send_within(&mut sink, frame, ping_interval).await {
                    break None;
                }
                if is_event {
                    counters.delivered(1, payload_len);
                }
            }
            received = incoming.next() => {
                heard_since_last_ping = true;
                match received {
                    Some(Ok(Message::Text(text))) => {
                        // Boxed: appending to the log (on NATS or Redis too) is a large future, and every idle
                        // socket's task would otherwise hold room for it (measured: docs/src/scale.md).
                        let reply = Box::pin(handle_text(&lanes, permit.address(), &text)).await;
                        if !send_within(&mut sink, annotated_frame(&wire, &reply), ping_interval).await {
                            break None;
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        break Some(Closing { code: close_code::UNSUPPORTED_DATA, reason: "binary frames are not part of this protocol; send JSON text" });
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    // The closing handshake (RFC 6455 §5.5.1): the library has queued the reply, which echoes the
                    // client's code; flushing sends it, so the client sees its own code rather than 1006.
                    Some(Ok(Message::Close(_))) => {
                        let _ = tokio::time::timeout(Duration::from_secs(1), sink.flush()).await;
                        break None;
                    }
                    None => break None,
                    Some(Err(error)) => break closing_for(error),
                }
            }
            // No close frame: the TCP connection just ends, as in a crash or a cut cable (the browser sees 1006).
            _ = dropped.until_dropped() => break None,
            _ = pings.tick() => {
                if !heard_since_last_ping {
                    break Some(Closing { code: close_code::POLICY_VIOLATION, reason: "no pong within the heartbeat interval" });
                }
                heard_since_last_ping = false;
                if !send_within(&mut sink, Message::Ping(Default::default()), ping_interval).await {
                    break None;
                }
            }
        }
    };
    if let Some(Closing { code, reason }) = closing {
        let close = Message::Close(Some(CloseFrame { code, reason: Utf8Bytes::from_static(reason) }));
        // Best effort: the peer may already be gone.
        let _ = tokio::time::timeout(Duration::from_secs(1), sink.send(close)).await;
    }
}

/// Sends one frame, giving up if the client has not taken it within `patience`. A client that stops reading
/// fills the TCP buffers and would otherwise block this session forever (its heartbeat included); the events it
/// misses stay in the history for when it reconnects with `after`.
async fn send_within(sink: &mut SplitSink<WebSocket, Message>, message: Message, patience: Duration) -> bool {
    matches!(tokio::time::timeout(patience, sink.send(message)).await, Ok(Ok(())))
}

/// What a client's text frame asks for: the one parser of the client protocol (fuzzed by `fuzz/`).
pub fn parse_client_message(text: &str) -> Result<EventBody, ApiError> {
    Ok(protocol::parse::parse_client_message(text)?)
}

/// The answer to a client's text frame: the `ack` of what it published, or an `error` frame with the same code and
/// message an HTTP client would get. Each frame counts against its address's request rate, as a `POST` would: a
/// socket is not a way around the limit.
async fn handle_text(lanes: &Lanes, address: IpAddr, text: &str) -> WsServerMessage {
    let appended = match lanes.rate_limit().check(address).and_then(|()| parse_client_message(text)) {
        Ok(body) => lanes.log().append(body).await.map_err(ApiError::from),
        Err(error) => Err(error),
    };
    match appended {
        Ok(seq) => WsServerMessage::Ack { seq },
        Err(error) => {
            let body = error.body();
            WsServerMessage::Error { error: body.error, message: body.message }
        }
    }
}

/// Maps a read error to the close code RFC 6455 defines for it.
fn closing_for(error: axum::Error) -> Option<Closing> {
    let error = error.into_inner().downcast::<tungstenite::Error>().ok()?;
    match *error {
        tungstenite::Error::Capacity(_) => {
            Some(Closing { code: close_code::MESSAGE_TOO_BIG, reason: "frame or message over the 8 KiB limit" })
        }
        tungstenite::Error::Utf8(_) => {
            Some(Closing { code: close_code::INVALID_PAYLOAD, reason: "text frame is not valid UTF-8" })
        }
        tungstenite::Error::Protocol(_) => {
            Some(Closing { code: close_code::PROTOCOL_ERROR, reason: "WebSocket protocol error" })
        }
        _ => None,
    }
}

/// The text frame for `message`, with the wire accounting told what the frame carries.
fn annotated_frame(wire: &Wire, message: &WsServerMessage) -> Message {
    let (event, seq) = message.label();
    wire.annotate(Annotation { event, seq, payload_len: None });
    Message::Text(message.encode().into())
}

/// The socket's message for an event's shared frame. axum has no unchecked way to make text from bytes, so the
/// JSON is checked as UTF-8 once more (it always is: serde wrote it); the buffer itself is shared, not copied.
fn message_of(frame: WebSocketFrame) -> Message {
    match frame {
        WebSocketFrame::Text(text) => Message::Text(Utf8Bytes::try_from(text).unwrap_or_default()),
        WebSocketFrame::Binary(bytes) => Message::Binary(bytes),
    }
}

fn frame_len(message: &Message) -> usize {
    match message {
        Message::Text(text) => text.len(),
        Message::Binary(bytes) => bytes.len(),
        _ => 0,
    }
}
