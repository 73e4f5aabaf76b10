//! The server under hostile or careless clients: foreign origins, too many connections or requests, clients that
//! never finish a request, and shutdown.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::TestServer;
use eventsource_stream::Eventsource;
use futures::{SinkExt, StreamExt};
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

/// The checks and stamps every request passes are one middleware (`api::envelope`): an answer and a refusal from it
/// alike name their exchange and the server run and carry the security headers.
#[tokio::test]
async fn answers_and_refusals_alike_carry_their_exchange_the_run_and_the_security_headers() {
    let server = TestServer::start_with(&["--max-requests-per-second", "1", "--request-burst", "1"]).await;
    // Asking for compression: the API must still be sent as it is (compression is layered on pages and files only).
    let poll = || server.http.get(server.url("/api/poll?after=0")).header("accept-encoding", "gzip, br").send();
    let (answered, refused) = (poll().await.unwrap(), poll().await.unwrap());
    assert_eq!((answered.status().as_u16(), refused.status().as_u16()), (200, 429));
    let exchange = |response: &reqwest::Response| -> u64 {
        response.headers()[protocol::headers::EXCHANGE].to_str().unwrap().parse().unwrap()
    };
    assert!(exchange(&refused) > exchange(&answered), "each request is its own exchange");
    for response in [&answered, &refused] {
        let headers = response.headers();
        assert!(!headers[protocol::headers::EPOCH].is_empty());
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers.get("content-encoding"), None, "the API is never compressed");
    }
    assert_eq!(refused.json::<ApiErrorBody>().await.unwrap().error, "rate_limited");
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
    // The nonce is in the policy and in `nonce` attributes, and nowhere else (leptos also put it in `crossorigin`).
    let attributes = html.matches(&format!("nonce=\"{nonce}\"")).count();
    assert_eq!(html.matches(nonce).count(), attributes + 1, "{html}");
    assert!(html.contains("rel=\"modulepreload\""), "the preload links are still there");
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

/// Sends `request` as raw bytes and returns the status line and body of the answer.
async fn raw_exchange(server: &TestServer, request: &[u8]) -> (String, String) {
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await.expect("an answer in time");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (head.lines().next().unwrap_or_default().to_owned(), body.to_owned())
}

/// A request target that is not a path (a proxy's `CONNECT`, the authority form, `*`) used to reach the page
/// renderer, which panicked on it: the client got an empty reply.
#[tokio::test]
async fn a_request_for_something_other_than_a_path_is_400_in_json_with_no_panic() {
    let server = TestServer::start().await;
    for request in [
        &b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nConnection: close\r\n\r\n"[..],
        b"GET example.com:80 HTTP/1.1\r\nHost: example.com:80\r\nConnection: close\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n",
    ] {
        let (status, body) = raw_exchange(&server, request).await;
        let shown = String::from_utf8_lossy(request);
        assert!(status.starts_with("HTTP/1.1 400"), "{shown}: {status}");
        // hyper may refuse a target it cannot parse before any route sees it, with an empty body; what reaches the
        // lab is answered in JSON.
        if !body.is_empty() {
            let body: ApiErrorBody = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{shown}: {body}"));
            assert_eq!(body.error, "malformed_request", "{shown}");
        }
    }
    assert_eq!(server.http.get(server.url("/api/poll")).send().await.unwrap().status(), 200);
}

/// Every refusal under `/api` is JSON naming the problem, with the status the spec gives it.
#[tokio::test]
async fn every_api_refusal_is_json_with_its_own_status() {
    let server = TestServer::start().await;
    let publish = server.url("/api/publish");
    let json_body =
        |body: &'static str| server.http.post(&publish).header("content-type", "application/json").body(body).send();
    let cases = [
        ("GET /api/publish", server.http.get(&publish).send().await.unwrap(), 405, "method_not_allowed"),
        ("GET /api", server.http.get(server.url("/api")).send().await.unwrap(), 404, "not_found"),
        ("DELETE /api/", server.http.delete(server.url("/api/")).send().await.unwrap(), 404, "not_found"),
        (
            "a body over the limit",
            json_body(Box::leak("x".repeat(300 * 1024).into_boxed_str())).await.unwrap(),
            413,
            "body_too_large",
        ),
        ("trailing data", json_body(r#"{"text":"x"} garbage"#).await.unwrap(), 400, "malformed_json"),
        ("an array", json_body(r#"["hello"]"#).await.unwrap(), 400, "malformed_json"),
    ];
    for (case, response, status, error) in cases {
        assert_eq!(response.status().as_u16(), status, "{case}");
        let allow = response.headers().get("allow").cloned();
        let body: ApiErrorBody = response.json().await.unwrap_or_else(|_| panic!("{case}: not JSON"));
        assert_eq!(body.error, error, "{case}: {}", body.message);
        if status == 405 {
            assert_eq!(allow.unwrap(), "POST", "{case}");
            assert_eq!(body.field.as_deref(), Some("method"), "{case}");
        }
    }
    // Nothing refused was published.
    assert_eq!(server.state.hub_slot.current().events_after(0, 10).events.len(), 0);
    // The same rule on the WebSocket: an error frame, and nothing published.
    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url("/api/ws")).await.unwrap();
    socket.next().await.unwrap().unwrap(); // hello
    for frame in [r#"{"type":"publish","text":"x"} garbage"#, r#"["publish","x"]"#] {
        socket.send(Message::text(frame)).await.unwrap();
        let reply = timeout(Duration::from_secs(10), socket.next()).await.unwrap().unwrap().unwrap();
        let reply: protocol::WsServerMessage = serde_json::from_str(reply.to_text().unwrap()).unwrap();
        assert!(
            matches!(&reply, protocol::WsServerMessage::Error { error, .. } if error == "malformed_json"),
            "{reply:?}"
        );
    }
    assert_eq!(server.state.hub_slot.current().events_after(0, 10).events.len(), 0);
}

#[tokio::test]
async fn an_unknown_lesson_s_address_is_404_and_a_known_one_200() {
    let lessons = concat!(env!("CARGO_MANIFEST_DIR"), "/../lessons");
    let server = TestServer::start_with(&["--lessons", lessons]).await;
    let status = |path: &'static str| {
        let request = server.http.get(server.url(path)).send();
        async move { request.await.unwrap().status().as_u16() }
    };
    assert_eq!(status("/learn/short-polling").await, 200);
    assert_eq!(status("/learn/no-such-lesson").await, 404);
    assert_eq!(status("/learn/NOT_AN_ID").await, 404);
}

/// The closing handshake: a client that closes with a code hears the same code back, not 1006.
#[tokio::test]
async fn a_websocket_client_s_close_is_answered_with_its_code() {
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;

    let server = TestServer::start().await;
    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url("/api/ws")).await.unwrap();
    socket.next().await.unwrap().unwrap(); // hello
    socket.send(Message::Close(Some(CloseFrame { code: CloseCode::Normal, reason: "bye".into() }))).await.unwrap();
    let reply = loop {
        match timeout(Duration::from_secs(10), socket.next()).await.expect("an answer in time") {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("the server ended without answering the close: {other:?}"),
        }
    };
    assert_eq!(reply.map(|frame| frame.code), Some(CloseCode::Normal));
}

/// Cross-site request forgery: a page on another site (or a form it submits) cannot change anything, on any route
/// that changes something; the lab's own page and programs that are not browsers can.
#[tokio::test]
async fn requests_that_change_something_from_another_site_are_refused_on_every_route() {
    let server = TestServer::start().await;
    let epoch = server.state.hub_slot.current().epoch().clone();
    let writes = [
        ("POST", "/api/publish"),
        ("POST", "/api/audio"),
        ("POST", "/api/generator"),
        ("DELETE", "/api/faults"),
        ("POST", "/api/faults/drop"),
        ("POST", "/api/faults/offline"),
        ("POST", "/api/faults/restart"),
        ("POST", "/api/faults/delay"),
        ("POST", "/api/class/broadcast"),
        ("POST", "/api/webhooks/endpoints"),
        ("DELETE", "/api/webhooks/endpoints/any"),
        ("PUT", "/api/webhooks/receiver/any"),
        ("POST", "/lab.v1.Events/Publish"),
    ];
    for (method, path) in writes {
        let request = |headers: &[(&str, &str)], body: &'static str| {
            let mut request = server.http.request(method.parse().unwrap(), server.url(path)).body(body);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            request.send()
        };
        let json = ("content-type", "application/json");
        for (case, headers) in [
            ("a foreign origin", vec![("origin", "http://evil.example"), json]),
            (
                "an https page on the same host",
                vec![("origin", Box::leak(format!("https://{}", server.addr).into_boxed_str()) as &str), json],
            ),
            ("a cross-site fetch without Origin", vec![("sec-fetch-site", "cross-site"), json]),
        ] {
            let response = request(&headers, r#"{"text":"x"}"#).await.unwrap();
            assert_eq!(response.status().as_u16(), 403, "{method} {path} from {case}");
            let body: ApiErrorBody = response.json().await.unwrap();
            assert_eq!(body.error, "forbidden_origin", "{method} {path} from {case}");
        }
        if path.starts_with("/api/") {
            let own = format!("http://{}", server.addr);
            let form = [("origin", own.as_str()), ("content-type", "application/x-www-form-urlencoded")];
            let response = request(&form, "x=1").await.unwrap();
            assert_eq!(response.status().as_u16(), 415, "{method} {path} as a form");
        }
    }
    assert_eq!(server.state.hub_slot.current().epoch(), &epoch, "no restart got through");
    assert_eq!(server.state.hub_slot.current().events_after(0, 10).events.len(), 0, "nothing was published");
    // The lab's own page, and a program that is no browser, still can.
    let own = format!("http://{}", server.addr);
    let from_page =
        server.http.post(server.url("/api/publish")).header("origin", own).json(&serde_json::json!({"text": "hi"}));
    assert!(from_page.send().await.unwrap().status().is_success());
    let from_curl = server.http.post(server.url("/api/faults/restart")).send().await.unwrap();
    assert_eq!(from_curl.status(), 200);
    assert_ne!(server.state.hub_slot.current().epoch(), &epoch, "the restart went through");
}

const KEY: &str = "hardening-teacher-key-42";

/// A lab that asks for the teacher's key (as one on the network does): the class-wide actions are the teacher's,
/// a page may still break its own connections, and no page sees another's id.
#[tokio::test]
async fn the_class_wide_actions_are_the_teacher_s_and_a_page_keeps_its_own() {
    let server = TestServer::start_with(&["--require-teacher", "--teacher-key", KEY]).await;
    let epoch = server.state.hub_slot.current().epoch().clone();
    let student = |method: &str, path: &str, body: serde_json::Value| {
        server.http.request(method.parse().unwrap(), server.url(path)).json(&body).send()
    };
    let teacher_only = [
        ("POST", "/api/faults/restart", serde_json::json!({})),
        ("POST", "/api/generator", serde_json::json!({ "rate_per_second": 5 })),
        ("POST", "/api/class/broadcast", serde_json::json!({ "text": "from the teacher" })),
        ("POST", "/api/faults/drop", serde_json::json!({})),
        ("POST", "/api/faults/drop", serde_json::json!({ "transport": "sse" })),
        ("POST", "/api/faults/offline", serde_json::json!({ "seconds": 60 })),
        ("POST", "/api/faults/delay", serde_json::json!({ "delay_ms": 500 })),
        ("DELETE", "/api/faults", serde_json::json!({})),
    ];
    for (method, path, body) in &teacher_only {
        let response = student(method, path, body.clone()).await.unwrap();
        assert_eq!(response.status().as_u16(), 403, "{method} {path} {body}");
        let refusal: ApiErrorBody = response.json().await.unwrap();
        assert_eq!(refusal.error, "teacher_only", "{method} {path}");
        assert!(refusal.message.contains("teacher link"), "{}", refusal.message);
    }
    assert_eq!(server.state.hub_slot.current().epoch(), &epoch, "no restart");
    assert_eq!(server.state.hub_slot.current().events_after(0, 10).events.len(), 0, "no broadcast");
    assert!(server.state.generator.settings().paused, "the generator as it was");

    // A page's own connections and rules are its own.
    let delay = serde_json::json!({ "delay_ms": 300, "client": "pageAAAAAAAAAAAA" });
    assert_eq!(student("POST", "/api/faults/delay", delay).await.unwrap().status(), 200);
    let other = serde_json::json!({ "delay_ms": 100, "client": "pageBBBBBBBBBBBB" });
    assert_eq!(student("POST", "/api/faults/delay", other).await.unwrap().status(), 200);
    let drop_own = serde_json::json!({ "client": "pageAAAAAAAAAAAA" });
    assert_eq!(student("POST", "/api/faults/drop", drop_own).await.unwrap().status(), 200);
    let rules_for = |client: &str| {
        let url = server.url(&format!("/api/faults/delay{client}"));
        let request = server.http.get(url).send();
        async move { request.await.unwrap().json::<Vec<protocol::DelayRule>>().await.unwrap() }
    };
    let seen: Vec<_> = rules_for("?client=pageAAAAAAAAAAAA").await.into_iter().map(|rule| rule.delay_ms).collect();
    assert_eq!(seen, vec![300], "a page sees its own rule, not another page's (nor its id)");
    assert!(rules_for("").await.is_empty(), "nobody is listed to a page that names none");
    let clear_own = server.http.delete(server.url("/api/faults?client=pageAAAAAAAAAAAA")).send().await.unwrap();
    assert_eq!(clear_own.status(), 204);
    assert!(rules_for("?client=pageAAAAAAAAAAAA").await.is_empty());

    // The teacher, by header: sees every page's rules and may act on the class.
    let teacher = |method: &str, path: &str| {
        server.http.request(method.parse().unwrap(), server.url(path)).header("x-lab-teacher", KEY)
    };
    let all: Vec<protocol::DelayRule> = teacher("GET", "/api/faults/delay").send().await.unwrap().json().await.unwrap();
    assert_eq!(all.len(), 1, "the other page's rule, which only the teacher sees: {all:?}");
    let restart = teacher("POST", "/api/faults/restart").json(&serde_json::json!({})).send().await.unwrap();
    assert_eq!(restart.status(), 200);
    assert_ne!(server.state.hub_slot.current().epoch(), &epoch);
    let wrong = server.http.post(server.url("/api/faults/restart")).header("x-lab-teacher", "not-the-key-at-all");
    assert_eq!(wrong.json(&serde_json::json!({})).send().await.unwrap().status(), 403);
}

/// The teacher link: the right key sets an HttpOnly, SameSite=Strict cookie and leads to the presenter view, whose
/// page then knows it is the teacher's; a wrong one is refused. The page of anyone else says it is not.
#[tokio::test]
async fn the_teacher_link_makes_the_browser_the_teacher_s() {
    let server = TestServer::start_with(&["--require-teacher", "--teacher-key", KEY]).await;
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let wrong = no_redirects.get(server.url("/teacher?key=guess-guess-guess-guess")).send().await.unwrap();
    assert_eq!(wrong.status(), 403);
    assert_eq!(wrong.json::<ApiErrorBody>().await.unwrap().error, "teacher_key_wrong");
    assert_eq!(no_redirects.get(server.url("/teacher")).send().await.unwrap().status(), 403);

    let link = no_redirects.get(server.url(&format!("/teacher?key={KEY}"))).send().await.unwrap();
    assert_eq!(link.status(), 303);
    assert_eq!(link.headers()["location"], "/present");
    let cookie = link.headers()["set-cookie"].to_str().unwrap().to_owned();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    let pair = cookie.split(';').next().unwrap().to_owned();

    let page_says_teacher = |cookie: Option<String>| {
        let mut request = server.http.get(server.url("/present"));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        async move { request.send().await.unwrap().text().await.unwrap().contains("\"teacher\":true") }
    };
    assert!(page_says_teacher(Some(pair.clone())).await);
    assert!(!page_says_teacher(None).await);
    let broadcast = server.http.post(server.url("/api/class/broadcast")).header("cookie", pair);
    let broadcast = broadcast.json(&serde_json::json!({ "text": "hello class" })).send().await.unwrap();
    assert_eq!(broadcast.status(), 202);
}

/// A lab on loopback alone is one person's: nobody is asked for a key.
#[tokio::test]
async fn on_loopback_alone_the_one_user_is_the_teacher() {
    let server = TestServer::start().await;
    let restart = server.http.post(server.url("/api/faults/restart")).json(&serde_json::json!({}));
    assert_eq!(restart.send().await.unwrap().status(), 200);
    let html = server.http.get(server.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("\"teacher\":true"));
}

/// A page's wire record is served to whoever holds its id, so the credentials in it (the teacher's cookie among
/// them) are hidden there, with their length kept so the byte counts stay exact.
#[tokio::test]
async fn credentials_are_hidden_in_the_wire_record_with_their_length_kept() {
    let server = TestServer::start().await;
    let cookie = format!("lab_teacher={KEY}; theme=dark");
    let poll = server.http.get(server.url("/api/poll?client=pageCCCCCCCCCCCC")).header("cookie", &cookie);
    assert_eq!(poll.send().await.unwrap().status(), 200);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let head = loop {
        let page: protocol::WirePage = server.get_json("/api/wire?client=pageCCCCCCCCCCCC").await;
        if let Some(record) = page.records.iter().find(|record| record.direction == protocol::WireDirection::ToServer) {
            break record.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "the request was never recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!head.raw.contains(KEY), "{}", head.raw);
    assert!(head.raw.contains(&format!("cookie: {}\r\n", "*".repeat(cookie.len()))), "{}", head.raw);
    assert_eq!(head.raw.len() as u64, head.bytes.head, "the head's bytes as measured");
}

/// A body trickled a byte at a time is cut off once its time is up, with 408 and the reason, instead of holding
/// its connection and its handler for as long as the client likes.
#[tokio::test]
async fn a_body_that_never_finishes_arriving_gets_408() {
    let server = TestServer::start().await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head =
        "POST /api/publish HTTP/1.1\r\nHost: lab\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(b"{\"te").await.unwrap();
    let mut answer = vec![0u8; 1024];
    // The server's limit is 10 s; the read waits longer, and the client never sends the rest.
    let read = timeout(Duration::from_secs(30), stream.read(&mut answer)).await.expect("an answer before 30 s");
    let answer = String::from_utf8_lossy(&answer[..read.unwrap()]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"error\":\"body_timeout\""), "{answer}");
}

/// A body announced larger than the limit is refused on its head, at once: waiting for bytes that would be refused
/// anyway used to end in the read timeout's 408.
#[tokio::test]
async fn a_body_announced_over_the_limit_gets_413_without_being_sent() {
    let server = TestServer::start().await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = "POST /api/publish HTTP/1.1\r\nHost: lab\r\nContent-Type: application/json\r\n\
                Content-Length: 10000000\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 1024];
    let read = timeout(Duration::from_secs(30), stream.read(&mut answer)).await.expect("an answer before 30 s");
    let answer = String::from_utf8_lossy(&answer[..read.unwrap()]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"error\":\"body_too_large\""), "{answer}");
    assert_eq!(server.state.hub_slot.current().events_after(0, 10).events.len(), 0);
}

/// One request rate for every way of publishing: a WebSocket's publish frames count against its address's
/// allowance as POSTs do, so a socket is not a way to flood the history.
#[tokio::test]
async fn websocket_publishes_count_against_the_same_rate_limit() {
    let server = TestServer::start_with(&["--max-requests-per-second", "1", "--request-burst", "5"]).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url("/api/ws")).await.unwrap();
    socket.next().await.unwrap().unwrap(); // hello
    let (mut acked, mut limited) = (0, 0);
    for n in 0..30 {
        socket.send(Message::text(format!(r#"{{"type":"publish","text":"flood {n}"}}"#))).await.unwrap();
        loop {
            let frame = timeout(Duration::from_secs(10), socket.next()).await.unwrap().unwrap().unwrap();
            match serde_json::from_str(frame.to_text().unwrap()).unwrap() {
                protocol::WsServerMessage::Ack { .. } => acked += 1,
                protocol::WsServerMessage::Error { error, .. } if error == "rate_limited" => limited += 1,
                protocol::WsServerMessage::Event(_) => continue,
                other => panic!("{other:?}"),
            }
            break;
        }
    }
    // The WebSocket handshake took one of the burst of 5; a second may refill one more.
    assert!((4..=6).contains(&acked), "{acked} acked, {limited} limited");
    assert_eq!(acked + limited, 30);
    assert_eq!(server.state.hub_slot.current().events_after(0, 100).events.len(), acked);
}

/// Hundreds of drops aimed at nobody used to fill a 64-order queue every connection read, and a connection that
/// fell behind dropped itself: bystanders were cut. A fault aimed at nobody must touch nobody.
#[tokio::test]
async fn a_storm_of_drops_aimed_at_nobody_leaves_bystanders_connected() {
    let server = TestServer::start().await;
    let (mut bystander, _) = tokio_tungstenite::connect_async(server.ws_url("/api/ws?client=bystander")).await.unwrap();
    bystander.next().await.unwrap().unwrap(); // hello
    let drops = (0..300).map(|_| {
        let request = server.http.post(server.url("/api/faults/drop")).json(&serde_json::json!({ "client": "nobody" }));
        async move { request.send().await.unwrap().json::<protocol::FaultReport>().await.unwrap() }
    });
    for report in futures::future::join_all(drops).await {
        assert_eq!(report.dropped_connections, 0);
    }
    let seq = server.publish("still here").await;
    let frame = timeout(Duration::from_secs(10), bystander.next()).await.expect("the bystander is still served");
    let event: protocol::WsServerMessage = serde_json::from_str(frame.unwrap().unwrap().to_text().unwrap()).unwrap();
    assert!(matches!(event, protocol::WsServerMessage::Event(event) if event.seq == seq));
}

/// Tones share the history's audio budget with the whole class: one address gets a share of them, apart from its
/// request allowance, so a burst of long tones cannot push everyone's events out of the history.
#[tokio::test]
async fn one_address_gets_a_share_of_tones_not_the_whole_history() {
    let server = TestServer::start_with(&["--max-requests-per-second", "100"]).await;
    let tone = || {
        let request = server.http.post(server.url("/api/audio")).json(&serde_json::json!({ "duration_ms": 2000 }));
        async move { request.send().await.unwrap() }
    };
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(tone().await.status().as_u16());
    }
    assert_eq!(statuses, [202, 202, 202, 202, 202, 429, 429, 429]);
    let refused: ApiErrorBody = tone().await.json().await.unwrap();
    assert_eq!(refused.error, "rate_limited");
    assert!(refused.message.contains("tones"), "{}", refused.message);
    // Other requests from the same address go on.
    assert_eq!(server.publish("after the tones").await, 6);
}

/// A request head the size of no real client's (the wire record would keep it) is refused with 431, and the
/// server goes on.
#[tokio::test]
async fn a_request_head_over_32_kib_is_refused_with_431() {
    let server = TestServer::start().await;
    let head =
        format!("GET /api/time HTTP/1.1\r\nHost: lab\r\nX-Big: {}\r\nConnection: close\r\n\r\n", "a".repeat(64 * 1024));
    let (status, _) = raw_exchange(&server, head.as_bytes()).await;
    assert!(status.starts_with("HTTP/1.1 431"), "{status}");
    let usual = "GET /api/time HTTP/1.1\r\nHost: lab\r\nCookie: theme=dark\r\nConnection: close\r\n\r\n";
    assert!(raw_exchange(&server, usual.as_bytes()).await.0.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn a_route_without_parameters_names_one_sent_anyway() {
    let server = TestServer::start().await;
    for path in ["/api/stats?x=1", "/api/time?after=abc", "/api/generator?limit=0", "/api/scale?client=me"] {
        let response = server.http.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 400, "{path}");
        let body: ApiErrorBody = response.json().await.unwrap();
        assert_eq!(body.error, "invalid_parameter", "{path}");
    }
}
