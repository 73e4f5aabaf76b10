//! MQTT over WebSocket (`GET /api/mqtt`, subprotocol `mqtt`), the page's door to the lab's broker
//! ([`crate::mqtt`]): each MQTT packet the broker writes goes as one binary
//! frame, and whatever binary frames the client sends are the broker's input, however the client split its packets
//! (MQTT 5.0 section 6 allows any split). This is how a browser speaks MQTT: it has no raw TCP.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::{SinkExt, StreamExt};
use protocol::routes::MqttQuery;
use protocol::{close_code, mqtt, Transport, WireLabel};

use crate::api::admission::AddressPermit;
use crate::api::error::ApiError;
use crate::api::extract::{ClientAddress, Upgrade, ValidQuery};
use crate::api::lanes::Lanes;
use crate::api::state::AppState;
use crate::api::wire::Wire;
use crate::core::peer::Peer;
use crate::mqtt::{MqttHost, ToSocket};
use crate::wire::connection::Annotation;

pub fn router() -> Router<AppState> {
    Router::new().route(protocol::routes::MQTT, get(get_mqtt))
}

/// How long a write may wait for a client that has stopped reading before the connection is given up.
const WRITE_PATIENCE: Duration = Duration::from_secs(10);

async fn get_mqtt(
    State(lanes): State<Lanes>,
    State(host): State<MqttHost>,
    ClientAddress(address): ClientAddress,
    wire: Wire,
    headers: HeaderMap,
    ValidQuery(params): ValidQuery<MqttQuery>,
    Upgrade(upgrade): Upgrade,
) -> Result<Response, ApiError> {
    let upgrade = upgrade.protocols([mqtt::SUBPROTOCOL]);
    if upgrade.selected_protocol().is_none() {
        return Err(ApiError::NotAWebSocketHandshake {
            status: StatusCode::BAD_REQUEST,
            message: "MQTT over WebSocket must offer the subprotocol `mqtt` (Sec-WebSocket-Protocol: mqtt)".into(),
        });
    }
    lanes.admission().check_origin(&headers)?;
    let (peer, permit) = lanes.admit_long_lived(Transport::Mqtt, params.client, address)?;
    // A packet may arrive split over frames or several to a frame; a message as big as the broker's largest packet
    // plus a little is all any client needs.
    let max_message = host.max_packet_size() + 16;
    Ok(upgrade
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .read_buffer_size(512)
        .write_buffer_size(0)
        .max_write_buffer_size(256 * 1024)
        .on_upgrade(move |socket| session(socket, lanes, host, peer, wire, permit))
        .into_response())
}

/// `permit` holds the client's share of the connection cap for as long as the session lasts.
async fn session(socket: WebSocket, lanes: Lanes, host: MqttHost, peer: Peer, wire: Wire, permit: AddressPermit) {
    let counters = host.counters().clone();
    let _open = counters.open();
    let mut fault_watch = lanes.faults().watch(peer);
    // The page cannot read the upgrade response's headers, so the CONNACK tells it which exchange's measured
    // bytes are its own (as the WebSocket lane's `hello` does).
    let mut link =
        host.connect(permit.address(), vec![(mqtt::EXCHANGE_PROPERTY.to_owned(), wire.exchange().to_string())]);
    let (mut sink, mut incoming) = socket.split();
    // Made once, not at every turn of the loop (see the WebSocket lane's session).
    let dropped = fault_watch.until_dropped();
    tokio::pin!(dropped);
    let closing = loop {
        tokio::select! {
            out = link.outgoing.recv() => match out {
                Some(ToSocket::Packet { bytes, packet }) => {
                    let event = match packet.seq {
                        Some(_) => packet.topic.as_deref().map_or(WireLabel::Mqtt, mqtt::label_of_topic),
                        None => WireLabel::Mqtt,
                    };
                    wire.annotate(Annotation { event, seq: packet.seq, payload_len: Some(packet.payload_len) });
                    let sent = tokio::time::timeout(WRITE_PATIENCE, sink.send(Message::Binary(bytes))).await;
                    if !matches!(sent, Ok(Ok(()))) {
                        break None;
                    }
                    if packet.seq.is_some() {
                        counters.delivered(1, packet.payload_len);
                    }
                }
                // The broker said DISCONNECT (or had nothing to say) and is done with this connection.
                Some(ToSocket::Close { reason }) => break Some((close_code::NORMAL, reason)),
                // Cut for falling behind.
                None => break Some((close_code::POLICY_VIOLATION, "client fell too far behind".to_owned())),
            },
            received = incoming.next() => match received {
                Some(Ok(Message::Binary(bytes))) => host.receive(link.id, &bytes),
                Some(Ok(Message::Text(_))) => {
                    break Some((close_code::UNSUPPORTED_DATA, "MQTT over WebSocket is binary frames only".to_owned()));
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                // A frame that breaks RFC 6455 gets its close code, as on the lab's own WebSocket.
                Some(Err(error)) => {
                    let closing = error
                        .into_inner()
                        .downcast::<tungstenite::Error>()
                        .ok()
                        .and_then(|error| super::ws::closing_for(*error, "frame or message over the largest MQTT packet"));
                    break closing.map(|closing| (closing.code, closing.reason.to_owned()));
                }
                Some(Ok(Message::Close(_))) | None => break None,
            },
            // No close frame: the TCP connection just ends, as in a crash or a cut cable.
            () = &mut dropped => break None,
        }
    };
    if let Some((code, reason)) = closing {
        // A close frame's reason is at most 123 bytes.
        let reason: String = reason.chars().take(100).collect();
        let close = Message::Close(Some(CloseFrame { code, reason: Utf8Bytes::from(reason) }));
        let _ = tokio::time::timeout(Duration::from_secs(1), sink.send(close)).await;
        // RFC 6455 7.1.1: the side that closes waits for the other's Close before ending the TCP connection, so
        // the peer's answer is read (and measured) rather than lost to a reset.
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while let Some(Ok(message)) = incoming.next().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
}
