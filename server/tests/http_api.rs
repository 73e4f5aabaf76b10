//! Short and long polling, publishing, generator control and error bodies, over real HTTP.

use crate::common;

use std::time::{Duration, Instant};

use common::TestServer;
use protocol::{ApiErrorBody, EventBody, GeneratorSettings, PollResponse, Transport, MAX_MESSAGE_BYTES};
use reqwest::StatusCode;

async fn poll(server: &TestServer, query: &str) -> PollResponse {
    let response = server.http.get(server.url(&format!("/api/poll?{query}"))).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn expect_error(response: reqwest::Response, status: u16, field: Option<&str>) -> ApiErrorBody {
    assert_eq!(response.status().as_u16(), status);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let body: ApiErrorBody = response.json().await.unwrap();
    assert_eq!(body.field.as_deref(), field, "{body:?}");
    assert!(!body.message.is_empty());
    body
}

fn seqs(response: &PollResponse) -> Vec<u64> {
    response.events.iter().map(|event| event.seq).collect()
}

#[tokio::test]
async fn poll_returns_events_after_the_cursor_and_a_next_cursor() {
    let server = TestServer::start().await;
    let empty = poll(&server, "after=0").await;
    assert!(empty.events.is_empty());
    assert_eq!(empty.next, 0);
    assert_eq!(&empty.epoch, server.state.hub().epoch());

    for text in ["a", "b", "c"] {
        server.publish(text).await;
    }
    let all = poll(&server, "after=0").await;
    assert_eq!(seqs(&all), [1, 2, 3]);
    assert_eq!(all.next, 3);
    assert_eq!(all.events[1].body, EventBody::Message { text: "b".into() });
    assert_eq!(seqs(&poll(&server, "after=1").await), [2, 3]);
    let limited = poll(&server, "after=0&limit=2").await;
    assert_eq!((seqs(&limited), limited.next), (vec![1, 2], 2));
    let caught_up = poll(&server, "after=3").await;
    assert_eq!((caught_up.events.len(), caught_up.next), (0, 3));
}

#[tokio::test]
async fn poll_reports_a_gap_when_history_no_longer_holds_the_range() {
    let server = TestServer::start_with(&["--history", "2"]).await;
    for text in ["a", "b", "c", "d"] {
        server.publish(text).await;
    }
    let response = poll(&server, "after=0").await;
    let gap = response.gap.expect("a gap marker");
    assert_eq!((gap.from, gap.to), (1, 2));
    assert_eq!(seqs(&response), [3, 4]);
}

#[tokio::test]
async fn every_response_names_the_epoch() {
    let server = TestServer::start().await;
    let response = server.http.get(server.url("/api/stats")).send().await.unwrap();
    assert_eq!(response.headers()[server::EPOCH_HEADER].to_str().unwrap(), server.state.hub().epoch().0);
    let other = TestServer::start().await;
    assert_ne!(other.state.hub().epoch(), server.state.hub().epoch());
}

#[tokio::test]
async fn long_poll_answers_204_after_the_timeout_with_no_event() {
    let server = TestServer::start().await;
    let started = Instant::now();
    let response = server.http.get(server.url("/api/long-poll?after=0&timeout=1")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(started.elapsed() >= Duration::from_millis(950), "held for {:?}", started.elapsed());
    assert_eq!(server.stats().await.transports[&Transport::LongPoll].open_connections, 0);
}

#[tokio::test]
async fn long_poll_is_held_then_answered_by_the_next_event() {
    let server = TestServer::start().await;
    let request = server.http.get(server.url("/api/long-poll?after=0&timeout=30")).send();
    let held = tokio::spawn(request);
    // Wait until the server really holds the request, then publish.
    server.wait_for_open(Transport::LongPoll, 1, "the long poll is held").await;
    let seq = server.publish("wake up").await;
    let response = held.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    let body: PollResponse = response.json().await.unwrap();
    assert_eq!((seqs(&body), body.next), (vec![seq], seq));
}

#[tokio::test]
async fn long_poll_answers_at_once_when_events_already_exist() {
    let server = TestServer::start().await;
    server.publish("early").await;
    let started = Instant::now();
    let response = server.http.get(server.url("/api/long-poll?after=0&timeout=30")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_client_that_gives_up_on_a_held_poll_is_no_longer_counted() {
    let server = TestServer::start().await;
    let request = server.http.get(server.url("/api/long-poll?after=0&timeout=30")).send();
    let held = tokio::spawn(request);
    server.wait_for_open(Transport::LongPoll, 1, "the long poll is held").await;
    held.abort();
    server.wait_for_open(Transport::LongPoll, 0, "abandoned long poll still counted as open").await;
}

#[tokio::test]
async fn bad_query_parameters_get_400_naming_the_parameter() {
    let server = TestServer::start().await;
    let get = |path: &str| server.http.get(server.url(path)).send();
    expect_error(get("/api/poll?after=abc").await.unwrap(), 400, Some("after")).await;
    expect_error(get("/api/poll?after=-1").await.unwrap(), 400, Some("after")).await;
    expect_error(get("/api/poll?limit=0").await.unwrap(), 400, Some("limit")).await;
    expect_error(get("/api/poll?aftr=1").await.unwrap(), 400, Some("aftr")).await;
    expect_error(get("/api/long-poll?after=0&timeout=9999").await.unwrap(), 400, Some("timeout")).await;
    expect_error(get("/api/long-poll?timeout=0").await.unwrap(), 400, Some("timeout")).await;
    expect_error(get("/api/sse?after=x").await.unwrap(), 400, Some("after")).await;
    let bad_header = server.http.get(server.url("/api/sse")).header("last-event-id", "banana").send().await.unwrap();
    let header = expect_error(bad_header, 400, Some("Last-Event-ID")).await;
    assert_eq!(header.error, "invalid_header", "a header, not a query parameter: {}", header.message);
    // Bytes that are no text at all are refused the same way, not read as no header (with `after` then winning).
    let not_text = reqwest::header::HeaderValue::from_bytes(b"5\xff").unwrap();
    let not_text =
        server.http.get(server.url("/api/sse?after=3")).header("last-event-id", not_text).send().await.unwrap();
    expect_error(not_text, 400, Some("Last-Event-ID")).await;
    // A path segment that percent-decodes to no UTF-8 is named too, with the same JSON body.
    for path in ["/api/lessons/%ff", "/api/webhooks/receiver/%ff"] {
        expect_error(get(path).await.unwrap(), 400, Some("id")).await;
    }
    let repeated = expect_error(get("/api/poll?after=1&after=2").await.unwrap(), 400, Some("after")).await;
    assert!(repeated.message.contains("duplicate"), "{}", repeated.message);
    let negative = expect_error(get("/api/long-poll?timeout=-1").await.unwrap(), 400, Some("timeout")).await;
    assert!(negative.message.contains("whole number"), "{}", negative.message);
    let not_ws = expect_error(get("/api/ws").await.unwrap(), 400, None).await;
    assert_eq!(not_ws.error, "not_a_websocket_handshake");
    // A key that is not 16 bytes in base64 is refused before any upgrade, on both WebSocket routes.
    for (path, protocol) in [("/api/ws", None), ("/api/mqtt", Some("mqtt"))] {
        let mut handshake = server
            .http
            .get(server.url(path))
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "short");
        if let Some(protocol) = protocol {
            handshake = handshake.header("sec-websocket-protocol", protocol);
        }
        let refused = expect_error(handshake.send().await.unwrap(), 400, None).await;
        assert!(refused.message.contains("Sec-WebSocket-Key"), "{path}: {}", refused.message);
    }
    let unknown = expect_error(get("/api/nope").await.unwrap(), 404, None).await;
    assert_eq!(unknown.error, "not_found");
}

#[tokio::test]
async fn bad_publish_bodies_get_a_clear_4xx_and_publish_nothing() {
    let server = TestServer::start().await;
    let post = |body: String, content_type: &'static str| {
        server.http.post(server.url("/api/publish")).header("content-type", content_type).body(body).send()
    };
    let too_long = "x".repeat(MAX_MESSAGE_BYTES + 1);
    expect_error(post(format!(r#"{{"text":"{too_long}"}}"#), "application/json").await.unwrap(), 400, Some("text"))
        .await;
    expect_error(post(r#"{"text":"   "}"#.into(), "application/json").await.unwrap(), 400, Some("text")).await;
    expect_error(post(r#"{"text":5}"#.into(), "application/json").await.unwrap(), 400, Some("text")).await;
    expect_error(post(r#"{}"#.into(), "application/json").await.unwrap(), 400, Some("text")).await;
    expect_error(
        post(r#"{"text":"hi","colour":"red"}"#.into(), "application/json").await.unwrap(),
        400,
        Some("colour"),
    )
    .await;
    let malformed = expect_error(post(r#"{"text": "#.into(), "application/json").await.unwrap(), 400, None).await;
    assert_eq!(malformed.error, "malformed_json");
    expect_error(post(r#"{"text":"hi"}"#.into(), "text/plain").await.unwrap(), 415, None).await;
    // Exactly at the limit is fine, and only valid messages were published.
    let at_limit = "é".repeat(MAX_MESSAGE_BYTES / 2);
    assert_eq!(server.publish(&at_limit).await, 1);
    assert_eq!(server.state.hub().head_seq(), 1);
}

#[tokio::test]
async fn generator_settings_change_and_bad_ones_are_refused() {
    let server = TestServer::start().await;
    let url = server.url("/api/generator");
    let initial: GeneratorSettings = server.http.get(&url).send().await.unwrap().json().await.unwrap();
    assert!(initial.paused);

    let changed: GeneratorSettings = server
        .http
        .post(&url)
        .json(&serde_json::json!({"rate_per_second": 50.0, "payload_bytes": 100, "paused": false}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(changed, GeneratorSettings { rate_per_second: 50.0, payload_bytes: 100, paused: false });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let events = poll(&server, "after=0").await;
    assert!(events.events.len() >= 5, "only {} ticks in 300 ms at 50/s", events.events.len());
    match &events.events[0].body {
        EventBody::Tick { filler, .. } => assert_eq!(filler.len(), 100),
        other => panic!("expected a tick, got {other:?}"),
    }

    let refuse = |body: serde_json::Value| server.http.post(&url).json(&body).send();
    expect_error(refuse(serde_json::json!({"rate_per_second": 51})).await.unwrap(), 400, Some("rate_per_second")).await;
    expect_error(refuse(serde_json::json!({"payload_bytes": 70000})).await.unwrap(), 400, Some("payload_bytes")).await;
    expect_error(refuse(serde_json::json!({"paused": "yes"})).await.unwrap(), 400, Some("paused")).await;
    let after: GeneratorSettings = server.http.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(after, changed);
}

#[tokio::test]
async fn stats_count_requests_events_and_bytes_per_transport() {
    let server = TestServer::start().await;
    server.publish("one").await;
    server.publish("two").await;
    let response = server.http.get(server.url("/api/poll?after=0")).send().await.unwrap();
    let body_len = response.bytes().await.unwrap().len() as u64;
    let stats = server.stats().await;
    let short_poll = stats.transports[&Transport::ShortPoll];
    assert_eq!((short_poll.requests, short_poll.events_delivered, short_poll.open_connections), (1, 2, 0));
    assert_eq!(short_poll.body_bytes_sent, body_len);
    assert_eq!(stats.head_seq, 2);
    assert_eq!(stats.history_capacity, 10_000);
}

#[tokio::test]
async fn the_page_is_server_rendered_and_explains_itself() {
    let server = TestServer::start().await;
    let response = server.http.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    for expected in
        ["Transport Lab", "data-testid=\"explainer\"", "JavaScript is off", "lane-short_poll", "lane-web_socket"]
    {
        assert!(html.contains(expected), "page lacks {expected}");
    }
}

#[tokio::test]
async fn the_page_is_compressed_but_api_bytes_are_sent_as_they_are() {
    let server = TestServer::start().await;
    server.publish("hello").await;
    let get = |path: &str| server.http.get(server.url(path)).header("accept-encoding", "gzip, br").send();
    let page = get("/").await.unwrap();
    assert!(page.headers().get("content-encoding").is_some(), "the page should be compressed");
    // The fallback (files, and the page's own 404) is compressed too: it is layered apart from the pages.
    let missing = get("/no/such/page").await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.headers().get("content-encoding").is_some(), "the 404 page should be compressed");
    for path in ["/api/poll?after=0", "/api/stats"] {
        let response = get(path).await.unwrap();
        assert_eq!(response.headers().get("content-encoding"), None, "{path} must not be compressed");
    }
    let sse = get("/api/sse?after=0").await.unwrap();
    assert_eq!(sse.headers().get("content-encoding"), None);
}

#[tokio::test]
async fn the_server_tells_its_time_for_the_clock_offset_estimate() {
    let server = TestServer::start().await;
    let before = server::core::clock::unix_micros_now();
    let time: protocol::ServerTime =
        server.http.get(server.url("/api/time")).send().await.unwrap().json().await.unwrap();
    let after = server::core::clock::unix_micros_now();
    assert!((before..=after).contains(&time.server_time));
}
