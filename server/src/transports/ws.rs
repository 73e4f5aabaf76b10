//! WebSocket: `GET /api/ws` upgrades to one socket that carries a text frame per event down (a binary frame for an
//! audio clip), and `publish` frames up. Protocol errors that a frame can explain get an `error` frame and the
//! socket stays open; the rest get a close code from RFC 6455 with a reason.
//!
//! The lab answers the handshake itself and then shares the socket between tungstenite, which reads the client's
//! frames and writes the lab's replies, pongs and close, and the hub's fan-out, which writes each event's frame
//! (made once for every socket) the moment it is published, and the heartbeat's pings (`direct_stream`).

use std::net::IpAddr;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use protocol::routes::{self, StreamQuery};
use protocol::{close_code, EventBody, Gap, StreamHello, Transport, WireLabel, WsServerMessage};
use tokio_tungstenite::WebSocketStream;
use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::protocol::frame::Frame;
use tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tungstenite::{Message, Utf8Bytes};

use super::direct_stream::{
    DirectStream, End, Framing, Hold, Outbound, Reads, Setup, SharedSocket, StreamTask, Upkeep,
};
use crate::api::admission::AddressPermit;
use crate::api::error::ApiError;
use crate::api::extract::{ClientAddress, Handshake, ValidQuery};
use crate::api::handoff::Socket;
use crate::api::lanes::Lanes;
use crate::api::state::AppState;
use crate::api::wire::Wire;
use crate::core::hub_event::{HubEvent, WebSocketFrame, WireFrame};
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
    handshake: Handshake,
) -> Result<Response, ApiError> {
    lanes.admission().check_origin(&headers)?;
    let (peer, permit) = lanes.admit_long_lived(Transport::WebSocket, params.client, address)?;
    let Handshake { on_upgrade, response } = handshake;
    tokio::spawn(async move {
        // The client went before the 101 crossed: nothing to do.
        let Ok(upgraded) = on_upgrade.await else { return };
        session(Box::new(TokioIo::new(upgraded)), lanes, peer, wire, params.after, permit).await;
    });
    Ok(response)
}

/// Small buffers: a class or a load test opens thousands of sockets and each reads little (pongs and the odd
/// publish); the buffer grows for a bigger frame. Measured over 5,000 idle sockets: 9,244 B of server RSS each with
/// 4 KiB here, 5,623 B with 512 B (target: 8 KiB; see docs/src/scale.md).
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_CLIENT_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_CLIENT_MESSAGE_BYTES))
        .read_buffer_size(512)
        .write_buffer_size(0)
        .max_write_buffer_size(256 * 1024)
}

/// Why a session ended, and what the close frame says.
pub(crate) struct Closing {
    pub code: u16,
    pub reason: &'static str,
}

type Sink = SplitSink<WebSocketStream<SharedSocket<Frames>>, Message>;

/// `permit` holds the client's share of the connection cap for as long as the session lasts.
async fn session(
    socket: Box<dyn Socket>,
    lanes: Lanes,
    peer: Peer,
    wire: Wire,
    after: Option<u64>,
    permit: AddressPermit,
) {
    let counters = lanes.counters().of(Transport::WebSocket).clone();
    let _open = counters.open();
    let hub = lanes.hub();
    let (exchange, instance) = (wire.exchange(), lanes.instance());
    let hello = |head_seq| StreamHello { epoch: hub.epoch().clone(), head_seq, exchange, instance };
    let mut fault_watch = lanes.faults().watch(peer.clone());
    let ping_interval = lanes.timing().ws_ping_interval;
    let (faults, upkeep) = (lanes.faults().clone(), Upkeep::Heartbeat(ping_interval));
    let setup = Setup { hub: hub.clone(), counters, faults, peer, wire: wire.clone(), upkeep };
    let stream = DirectStream::<Frames>::open(setup, after, hello);
    stream.attach(socket);
    let socket = WebSocketStream::from_raw_socket(stream.shared_socket(), Role::Server, Some(config())).await;
    let (mut sink, mut incoming) = socket.split();
    let mut hold = Hold::default();
    // Made once, not at every turn of the loop: each would register with the fault's watch and leave it again,
    // and the loop turns at every pong.
    let dropped = fault_watch.until_dropped();
    tokio::pin!(dropped);

    let closing = loop {
        tokio::select! {
            // First, so that the hello goes before any reply.
            biased;
            end = std::future::poll_fn(|cx| stream.poll_work(cx, &mut hold, Reads::Elsewhere)) => break match end {
                End::Closed => Some(Closing { code: close_code::GOING_AWAY, reason: "server shutting down" }),
                End::Unresponsive => {
                    Some(Closing { code: close_code::POLICY_VIOLATION, reason: "no pong within the heartbeat interval" })
                }
                End::Lost => None,
            },
            received = incoming.next() => {
                match received {
                    Some(Ok(Message::Text(text))) => {
                        // The ack goes before the event it acknowledges (the two-way lesson times the round trip
                        // from it): the fan-out holds this socket's events from before the append until then.
                        stream.foreign_sending(true);
                        // Boxed: appending to the log (on NATS or Redis too) is a large future, and every idle
                        // socket's task would otherwise hold room for it (measured: docs/src/scale.md).
                        let reply = Box::pin(handle_text(&lanes, permit.address(), &text)).await;
                        if !send_reply(&stream, &mut sink, &wire, &reply, ping_interval).await {
                            break None;
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        break Some(Closing { code: close_code::UNSUPPORTED_DATA, reason: "binary frames are not part of this protocol; send JSON text" });
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                    // The closing handshake (RFC 6455 §5.5.1): the library has queued the reply, which echoes the
                    // client's code; flushing sends it, so the client sees its own code rather than 1006.
                    Some(Ok(Message::Close(_))) => {
                        let _ = tokio::time::timeout(Duration::from_secs(1), stream.stop()).await;
                        let _ = tokio::time::timeout(Duration::from_secs(1), sink.flush()).await;
                        break None;
                    }
                    None => break None,
                    Some(Err(error)) => break closing_for(error, "frame or message over the 8 KiB limit"),
                }
            }
            // No close frame: the TCP connection just ends, as in a crash or a cut cable (the browser sees 1006).
            () = &mut dropped => break None,
        }
    };
    // Nothing more from the fan-out; the frame on its way out is completed first.
    if stream.stop().await {
        if let Some(Closing { code, reason }) = closing {
            let close = Message::Close(Some(CloseFrame { code: code.into(), reason: Utf8Bytes::from_static(reason) }));
            // Best effort: the peer may already be gone.
            let _ = tokio::time::timeout(Duration::from_secs(1), sink.send(close)).await;
        }
    }
}

/// Sends one of the lab's own text frames (an `ack`, an `error`) through tungstenite, labelled for the wire tap; the
/// fan-out holds back meanwhile (from before the append, for an ack), so that the label and the frame stay together.
async fn send_reply(
    stream: &StreamTask<Frames>,
    sink: &mut Sink,
    wire: &Wire,
    message: &WsServerMessage,
    patience: Duration,
) -> bool {
    stream.foreign_sending(true);
    let (event, seq) = message.label();
    wire.annotate(Annotation { event, seq, payload_len: None });
    let sent = send_within(sink, Message::Text(message.encode().into()), patience).await;
    stream.foreign_sending(false);
    sent
}

/// Sends one frame, giving up if the client has not taken it within `patience`. A client that stops reading
/// fills the TCP buffers and would otherwise block this session forever (its heartbeat included); the events it
/// misses stay in the history for when it reconnects with `after`.
async fn send_within(sink: &mut Sink, message: Message, patience: Duration) -> bool {
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

/// Maps a read error to the close code RFC 6455 defines for it (`too_big` says the socket's size limit); `None`
/// for a connection that simply ended. The MQTT lane's socket answers with the same codes.
pub(crate) fn closing_for(error: tungstenite::Error, too_big: &'static str) -> Option<Closing> {
    match error {
        tungstenite::Error::Capacity(_) => Some(Closing { code: close_code::MESSAGE_TOO_BIG, reason: too_big }),
        tungstenite::Error::Utf8(_) => {
            Some(Closing { code: close_code::INVALID_PAYLOAD, reason: "text frame is not valid UTF-8" })
        }
        tungstenite::Error::Protocol(_) => {
            Some(Closing { code: close_code::PROTOCOL_ERROR, reason: "WebSocket protocol error" })
        }
        _ => None,
    }
}

/// The WebSocket's units as whole frames: each event's frame made once, for every socket.
struct Frames;

impl Frames {
    /// One of the lab's own messages as a text frame, labelled as [`WsServerMessage::label`] says.
    fn own(message: &WsServerMessage) -> Outbound {
        let (label, seq) = message.label();
        let bytes = frame(WebSocketFrame::Text(Bytes::from(message.encode())));
        Outbound { bytes, label: Some(label), seq, payload_len: None, delivered: None }
    }
}

impl Framing for Frames {
    fn hello(hello: &StreamHello) -> Outbound {
        Self::own(&WsServerMessage::Hello(hello.clone()))
    }

    fn event(event: &HubEvent) -> Outbound {
        let WireFrame { bytes, payload_len } = event.web_socket_wire_frame(frame);
        let label = WireLabel::of_event(&event.body);
        Outbound { bytes, label: Some(label), seq: Some(event.seq), payload_len: None, delivered: Some(payload_len) }
    }

    fn gap(gap: Gap) -> Outbound {
        Self::own(&WsServerMessage::Gap(gap))
    }

    /// The heartbeat's ping, empty: the client's pong (any frame, in fact) is what the session waits for.
    fn keep_alive() -> Outbound {
        let mut bytes = Vec::with_capacity(2);
        // Writing into a `Vec` cannot fail.
        let _ = Frame::ping(Vec::new()).format(&mut bytes);
        Outbound { bytes: Bytes::from(bytes), label: None, seq: None, payload_len: None, delivered: None }
    }
}

/// A server's frame (unmasked, final) as tungstenite writes it.
fn frame(frame: WebSocketFrame) -> Bytes {
    let (payload, opcode) = match frame {
        WebSocketFrame::Text(payload) => (payload, OpCode::Data(Data::Text)),
        WebSocketFrame::Binary(payload) => (payload, OpCode::Data(Data::Binary)),
    };
    let mut bytes = Vec::with_capacity(payload.len() + 10);
    // Writing into a `Vec` cannot fail.
    let _ = Frame::message(payload, opcode, true).format(&mut bytes);
    Bytes::from(bytes)
}
