//! The server under hostile or careless clients: foreign origins, too many connections or requests, clients that
//! never finish a request, and shutdown.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::TestServer;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use protocol::{close_code, ApiErrorBody, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

async fn ws_with_origin(server: &TestServer, origin: &str) -> Result<u16, (u16, ApiErrorBody)> {
    let mut request = server.ws_url("/api/ws").into_client_request().unwrap();
    request.headers_mut().insert("origin", origin.parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => Ok(response.status().as_u16()),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = serde_json::from_slice(response.body().as_deref().unwrap_or_default()).unwrap();
            Err((response.status().as_u16(), body))
        }
        Err(other) => panic!("unexpected handshake failure {other}"),
    }
}

#[tokio::test]
async fn websocket_from_a_foreign_origin_is_refused_before_the_upgrade() {
    let server = TestServer::start_with(&["--allowed-origins", "http://lab.school.example"]).await;
    let own = format!("http://{}", server.addr);
    assert_eq!(ws_with_origin(&server, &own).await.unwrap(), 101);
    assert_eq!(ws_with_origin(&server, "http://lab.school.example").await.unwrap(), 101);
    let (status, body) = ws_with_origin(&server, "http://evil.example").await.unwrap_err();
    assert_eq!((status, body.error.as_str(), body.field.as_deref()), (403, "forbidden_origin", Some("Origin")));
    // The refused handshake never became a connection.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.stats().await.transports[&Transport::WebSocket].requests, 2);
}

#[tokio::test]
async fn one_address_cannot_hold_more_than_its_share() {
    let server = TestServer::start_with(&["--max-connections-per-address", "2"]).await;
    let open = |path: &'static str| server.http.get(server.url(path)).send();
    let first = open("/api/sse").await.unwrap();
    let second = open("/api/long-poll?timeout=30");
    let second = tokio::spawn(second);
    server.wait_for_open(Transport::LongPoll, 1, "the long poll is held").await;
    let refused = open("/api/sse").await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "5");
    let body: ApiErrorBody = refused.json().await.unwrap();
    assert_eq!(body.error, "too_many_connections");
    // Short polls are not long-lived and are never refused by this cap.
    assert_eq!(open("/api/poll").await.unwrap().status(), 200);

    drop(first);
    second.abort();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let retry = open("/api/sse").await.unwrap();
        if retry.status() == 200 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "cap not released after the connections closed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_full_transport_answers_503_with_retry_after() {
    let server = TestServer::start_with(&["--max-connections-per-transport", "1"]).await;
    let _held = server.http.get(server.url("/api/sse")).send().await.unwrap();
    let refused = server.http.get(server.url("/api/sse")).send().await.unwrap();
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "5");
    assert_eq!(refused.json::<ApiErrorBody>().await.unwrap().error, "server_busy");
    // Other transports have their own caps.
    let (_socket, response) = tokio_tungstenite::connect_async(server.ws_url("/api/ws")).await.unwrap();
    assert_eq!(response.status(), 101);
}

#[tokio::test]
async fn the_page_carries_security_headers_and_a_nonce_policy() {
    let server = TestServer::start().await;
    let response = server.http.get(server.url("/")).send().await.unwrap();
    let headers = response.headers().clone();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    let html = response.text().await.unwrap();
    let nonce =
        html.split("nonce=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("a nonce on the hydration script");
    assert!(html.contains(&format!("'nonce-{nonce}'")), "the page's policy must allow its own script");
    assert!(html.contains("'wasm-unsafe-eval'"));
}

#[tokio::test]
async fn sigterm_closes_websockets_with_1001_ends_streams_answers_held_polls_and_exits() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["--addr", "127.0.0.1:0", "--paused"])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let address = loop {
        let line = lines.next().expect("the server logs where it listens").unwrap();
        if let Some(address) = line.split("http://").nth(1) {
            break address.trim().to_owned();
        }
    };
    let http = reqwest::Client::new();
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{address}/api/ws")).await.unwrap();
    let sse = http.get(format!("http://{address}/api/sse")).send().await.unwrap();
    let held = tokio::spawn(http.get(format!("http://{address}/api/long-poll?timeout=60")).send());
    tokio::time::sleep(Duration::from_millis(200)).await;

    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());

    let close = loop {
        match timeout(Duration::from_secs(5), socket.next()).await.expect("close in time") {
            Some(Ok(Message::Close(Some(frame)))) => break u16::from(frame.code),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(close, close_code::GOING_AWAY);
    let body = timeout(Duration::from_secs(5), sse.text()).await.expect("SSE stream ends").unwrap();
    assert!(body.starts_with("retry: 2000\nevent: hello"));
    let answered = timeout(Duration::from_secs(5), held).await.expect("held poll answered").unwrap().unwrap();
    assert_eq!(answered.status(), 204);
    let exited = tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();
    assert!(exited.success(), "exit status {exited:?}");
}

#[tokio::test]
async fn a_websocket_client_that_stops_reading_is_dropped_and_the_rest_carry_on() {
    let server = TestServer::start_with(&["--ws-ping-seconds", "1"]).await;
    let (_stalled, _) = tokio_tungstenite::connect_async(server.ws_url("/api/ws")).await.unwrap();
    let (mut reader, _) = tokio_tungstenite::connect_async(server.ws_url("/api/ws")).await.unwrap();
    let events_read = tokio::spawn(async move {
        let mut events = 0;
        while events < 200 {
            match timeout(Duration::from_secs(10), reader.next()).await.expect("reader keeps receiving") {
                Some(Ok(Message::Text(text))) if text.starts_with(r#"{"type":"event""#) => events += 1,
                Some(Ok(_)) => {}
                other => panic!("reader's socket ended: {other:?}"),
            }
        }
        (events, reader) // kept open, so only the stalled socket may leave the count
    });
    // 64 KiB events fill the stalled client's socket buffers within a few dozen events.
    for _ in 0..200 {
        server.state.hub().publish(protocol::EventBody::Tick { n: 0, filler: "x".repeat(65_536) });
    }
    let (events, _reader) = events_read.await.unwrap();
    assert_eq!(events, 200);
    server.wait_for_open(Transport::WebSocket, 1, "the stalled socket was never dropped").await;
}

#[tokio::test]
async fn a_client_over_the_request_rate_gets_429_with_retry_after_and_others_are_served() {
    let server = TestServer::start_with(&["--max-requests-per-second", "1", "--request-burst", "3"]).await;
    for _ in 0..3 {
        assert_eq!(server.http.get(server.url("/api/poll")).send().await.unwrap().status(), 200);
    }
    let refused = server.http.get(server.url("/api/poll")).send().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: ApiErrorBody = refused.json().await.unwrap();
    assert_eq!(body.error, "rate_limited");
    assert!(body.message.contains("127.0.0.1"), "{}", body.message);
    // The page itself is not limited: a page load fetches several files at once.
    assert_eq!(server.http.get(server.url("/")).send().await.unwrap().status(), 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(server.http.get(server.url("/api/poll")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_client_that_never_finishes_its_request_head_is_disconnected() {
    let server = TestServer::start_with(&["--handshake-timeout-seconds", "1"]).await;
    let mut silent = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut slow = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET /api/ws HTTP/1.1\r\nHost: lab\r\nUpgrade: websocket\r\n").await.unwrap();
    let started = tokio::time::Instant::now();
    for stream in [&mut silent, &mut slow] {
        let mut buffer = [0u8; 256];
        let read = timeout(Duration::from_secs(5), stream.read(&mut buffer)).await.expect("closed within 5 s");
        // Closed (0 bytes or reset), with at most an error response first; never a served request.
        if let Ok(count) = read {
            assert!(count == 0 || !buffer.starts_with(b"HTTP/1.1 101"), "unexpected: {:?}", &buffer[..count]);
        }
    }
    assert!(started.elapsed() >= Duration::from_millis(900), "closed before the timeout");
    // A client that does send its request in time is served as usual.
    assert_eq!(server.http.get(server.url("/api/poll")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn an_sse_client_that_stops_reading_is_disconnected_while_a_reading_one_keeps_up() {
    let server = TestServer::start_with(&["--write-stall-timeout-seconds", "1"]).await;
    // A client with a small receive window that sends its request and never reads a byte.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(server.addr).await.unwrap();
    stalled.write_all(b"GET /api/sse HTTP/1.1\r\nHost: lab\r\n\r\n").await.unwrap();
    let reading = server.http.get(server.url("/api/sse")).send().await.unwrap();
    server.wait_for_open(Transport::Sse, 2, "both streams should be open").await;
    let reader = tokio::spawn(async move {
        let mut seqs = Vec::new();
        let mut events = reading.bytes_stream().eventsource();
        while let Some(Ok(event)) = events.next().await {
            if event.event == "tick" {
                seqs.push(serde_json::from_str::<protocol::Event>(&event.data).unwrap().seq);
            }
        }
        seqs
    });

    // 64 KiB events at the top rate fill the stalled client's buffers within seconds.
    let flood = serde_json::json!({"paused": false, "rate_per_second": 50.0, "payload_bytes": 65536});
    server.http.post(server.url("/api/generator")).json(&flood).send().await.unwrap();
    server.wait_for_open(Transport::Sse, 1, "the stalled stream should have been closed").await;
    server.http.post(server.url("/api/generator")).json(&serde_json::json!({"paused": true})).send().await.unwrap();
    let head = server.stats().await.head_seq;
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.state.hub_slot.restart(server::core::hub::random_epoch()); // ends the reading stream
    let seqs = timeout(Duration::from_secs(10), reader).await.unwrap().unwrap();
    assert_eq!(seqs, (1..=head).collect::<Vec<_>>(), "the reading client missed nothing while the other stalled");
    drop(stalled);
}
