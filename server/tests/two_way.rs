//! The two-way lesson's upstream paths over real sockets: a WebSocket publish answered on the same socket, and a
//! lane's own `POST /api/publish` filed with that lane's bytes.

use crate::common;

use std::time::{Duration, Instant};

use common::TestServer;
use futures::{SinkExt, StreamExt};
use protocol::{PublishAck, Transport, WireDirection, WireLabel, WirePage, WireRecord, WireUnit, WsServerMessage};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

const PATIENCE: Duration = Duration::from_secs(10);

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_message(socket: &mut Socket) -> WsServerMessage {
    loop {
        match timeout(PATIENCE, socket.next()).await.expect("a frame in time").expect("socket open").unwrap() {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

async fn wire_records(server: &TestServer, client: &str) -> Vec<WireRecord> {
    let url = server.url(&format!("/api/wire?client={client}"));
    server.http.get(url).send().await.unwrap().json::<WirePage>().await.unwrap().records
}

/// The page's round trip on its WebSocket lane relies on this order: one answer per publish, before the event.
#[tokio::test]
async fn a_socket_publish_is_answered_on_the_same_socket_ack_first_then_the_event() {
    let server = TestServer::start().await;
    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url("/api/ws?client=two-way")).await.unwrap();
    assert!(matches!(next_message(&mut socket).await, WsServerMessage::Hello(_)));
    for round in 1..=3u64 {
        let sent = Instant::now();
        let publish = format!(r#"{{"type":"publish","text":"round trip · WebSocket #{round}"}}"#);
        socket.send(Message::text(publish)).await.unwrap();
        assert_eq!(next_message(&mut socket).await, WsServerMessage::Ack { seq: round });
        match next_message(&mut socket).await {
            WsServerMessage::Event(event) => assert_eq!(event.seq, round),
            other => panic!("expected event #{round}, got {other:?}"),
        }
        assert!(sent.elapsed() < PATIENCE);
    }
}

/// A refused publish gets exactly one answer too (an error frame), so the page can pair answers with sends in order.
#[tokio::test]
async fn a_refused_socket_publish_gets_one_error_frame_and_the_next_is_acknowledged() {
    let server = TestServer::start().await;
    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url("/api/ws")).await.unwrap();
    next_message(&mut socket).await;
    socket.send(Message::text(r#"{"type":"publish","text":"   "}"#)).await.unwrap();
    socket.send(Message::text(r#"{"type":"publish","text":"ok"}"#)).await.unwrap();
    assert!(matches!(next_message(&mut socket).await, WsServerMessage::Error { .. }));
    assert_eq!(next_message(&mut socket).await, WsServerMessage::Ack { seq: 1 });
}

#[tokio::test]
async fn a_lanes_own_publish_is_filed_with_that_lanes_bytes() {
    let server = TestServer::start().await;
    let before = server.stats().await.transports[&Transport::Sse].wire.to_server.total();
    let body = serde_json::json!({ "text": "round trip · Server-Sent Events #1" });
    let response =
        server.http.post(server.url("/api/publish?client=page-1&lane=sse")).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 202);
    let exchange: u64 = response.headers()["x-lab-exchange"].to_str().unwrap().parse().unwrap();
    assert_eq!(response.json::<PublishAck>().await.unwrap(), PublishAck { seq: 1 });

    let records = wire_records(&server, "page-1").await;
    let request = records.iter().find(|record| matches!(&record.unit, WireUnit::Request { .. })).expect("the POST");
    assert_eq!((request.exchange, request.transport), (exchange, Some(Transport::Sse)));
    assert!(matches!(&request.unit, WireUnit::Request { method, .. } if method == "POST"));
    let body_bytes: u64 = records
        .iter()
        .filter(|record| record.exchange == exchange && record.direction == WireDirection::ToServer)
        .filter(|record| matches!(record.unit, WireUnit::Body))
        .map(|record| record.bytes.payload)
        .sum();
    assert_eq!(body_bytes, serde_json::to_vec(&body).unwrap().len() as u64, "the JSON body, to the byte");
    let after = server.stats().await.transports[&Transport::Sse].wire.to_server.total();
    assert_eq!(
        after - before,
        records.iter().filter(|r| r.direction == WireDirection::ToServer).map(|r| r.bytes.total()).sum::<u64>()
    );

    // The message box's publish names no lane: it is nobody's lane traffic.
    server.publish("from the message box").await;
    assert_eq!(wire_records(&server, "page-1").await.len(), records.len());
}

/// The `ack` frame is named as such on the wire, so its bytes go to the ack's arrow, not the event's.
#[tokio::test]
async fn the_ack_frame_is_told_apart_from_the_event_frame_on_the_wire() {
    let server = TestServer::start().await;
    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url("/api/ws?client=acker")).await.unwrap();
    next_message(&mut socket).await;
    socket.send(Message::text(r#"{"type":"publish","text":"hi"}"#)).await.unwrap();
    next_message(&mut socket).await;
    next_message(&mut socket).await;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let records = wire_records(&server, "acker").await;
        let named = |wanted: WireLabel| {
            records.iter().any(|record| {
                matches!(&record.unit, WireUnit::Frame { seq: Some(1), event: Some(kind), .. } if *kind == wanted)
            })
        };
        if named(WireLabel::Ack) && named(WireLabel::Message) {
            break;
        }
        assert!(Instant::now() < deadline, "ack and event frames not both recorded: {records:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_publish_naming_an_unknown_lane_is_refused_and_publishes_nothing() {
    let server = TestServer::start().await;
    let before = server.stats().await.head_seq;
    let body = serde_json::json!({ "text": "round trip · pigeon #1" });
    for (query, field) in [("lane=carrier_pigeon", "lane"), ("client=%3Cb%3E", "client"), ("lnae=sse", "lnae")] {
        let response = server.http.post(server.url(&format!("/api/publish?{query}"))).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let error: protocol::ApiErrorBody = response.json().await.unwrap();
        assert_eq!(error.error, "invalid_parameter", "{query}");
        assert!(error.field.as_deref() == Some(field) || error.message.contains(field), "{query}: {}", error.message);
    }
    assert_eq!(server.stats().await.head_seq, before, "a refused publish must not reach the hub");
    // The lane's own round trip and the message box are still accepted.
    assert_eq!(
        server.http.post(server.url("/api/publish?client=page-1&lane=sse")).json(&body).send().await.unwrap().status(),
        202
    );
    assert_eq!(server.http.post(server.url("/api/publish")).json(&body).send().await.unwrap().status(), 202);
}
