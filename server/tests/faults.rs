//! Injected faults over real sockets: each transport's connections drop as they would in a real failure.

use crate::common;

use std::time::Duration;

use common::TestServer;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use protocol::{ApiErrorBody, DelayRule, FaultReport, Transport};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

async fn drop_now(server: &TestServer, body: serde_json::Value) -> reqwest::Response {
    server.http.post(server.url("/api/faults/drop")).json(&body).send().await.unwrap()
}

#[tokio::test]
async fn dropped_sse_stream_ends_and_resumes_with_last_event_id() {
    let server = TestServer::start().await;
    let response = server.http.get(server.url("/api/sse?after=0")).send().await.unwrap();
    let mut stream = response.bytes_stream().eventsource();
    server.publish("one").await;
    let mut last_id = String::new();
    while last_id != "1" {
        last_id = timeout(Duration::from_secs(5), stream.next()).await.unwrap().unwrap().unwrap().id;
    }

    let report: FaultReport = drop_now(&server, serde_json::json!({"transport": "sse"})).await.json().await.unwrap();
    assert_eq!(report.dropped_connections, 1);
    let ended = timeout(Duration::from_secs(5), async { while stream.next().await.is_some() {} }).await;
    assert!(ended.is_ok(), "the stream should end when dropped");
    server.wait_for_open(Transport::Sse, 0, "the dropped connection is still counted as open").await;

    server.publish("while away").await;
    let resumed = server.http.get(server.url("/api/sse")).header("last-event-id", "1").send().await.unwrap();
    let mut resumed = resumed.bytes_stream().eventsource();
    let mut ids = Vec::new();
    while ids.len() < 2 {
        let event = timeout(Duration::from_secs(5), resumed.next()).await.unwrap().unwrap().unwrap();
        if !event.id.is_empty() {
            ids.push(event.id);
        }
        if ids.len() == 1 {
            server.publish("live").await;
        }
    }
    assert_eq!(ids, ["2", "3"]);
}

#[tokio::test]
async fn dropped_websocket_ends_without_a_close_frame() {
    let server = TestServer::start().await;
    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url("/api/ws")).await.unwrap();
    server.wait_for_open(Transport::WebSocket, 1, "the connection is not held yet").await;
    drop_now(&server, serde_json::json!({"transport": "web_socket"})).await;
    let ending = timeout(Duration::from_secs(5), async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(frame))) => return Some(frame),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    })
    .await
    .expect("the socket should end");
    assert_eq!(ending, None, "a drop sends no close frame (the browser reports 1006)");
}

#[tokio::test]
async fn dropped_long_poll_is_answered_503_and_others_are_untouched() {
    let server = TestServer::start().await;
    let held = tokio::spawn(server.http.get(server.url("/api/long-poll?timeout=30")).send());
    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url("/api/ws")).await.unwrap();
    server.wait_for_open(Transport::LongPoll, 1, "the connection is not held yet").await;

    drop_now(&server, serde_json::json!({"transport": "long_poll"})).await;
    let answer = held.await.unwrap().unwrap();
    assert_eq!(answer.status(), 503);
    assert_eq!(answer.json::<ApiErrorBody>().await.unwrap().error, "dropped_by_fault");

    // The WebSocket was not part of the drop.
    server.publish("still here").await;
    let event = loop {
        match timeout(Duration::from_secs(5), socket.next()).await.unwrap().unwrap().unwrap() {
            Message::Text(text) if text.contains(r#""type":"event""#) => break text,
            _ => continue,
        }
    };
    assert!(event.contains("still here"));
}

#[tokio::test]
async fn drop_without_a_transport_drops_all_and_bad_names_are_refused() {
    let server = TestServer::start().await;
    let _sse = server.http.get(server.url("/api/sse")).send().await.unwrap();
    let (_socket, _) = tokio_tungstenite::connect_async(server.ws_url("/api/ws")).await.unwrap();
    server.wait_for_open(Transport::WebSocket, 1, "the connection is not held yet").await;
    let report: FaultReport = drop_now(&server, serde_json::json!({})).await.json().await.unwrap();
    assert_eq!(report.dropped_connections, 2);
    server.wait_for_open(Transport::Sse, 0, "the dropped connection is still counted as open").await;
    server.wait_for_open(Transport::WebSocket, 0, "the dropped connection is still counted as open").await;

    let refused = drop_now(&server, serde_json::json!({"transport": "carrier_pigeon"})).await;
    assert_eq!(refused.status(), 400);
    assert_eq!(refused.json::<ApiErrorBody>().await.unwrap().field.as_deref(), Some("transport"));
}

#[tokio::test]
async fn restart_starts_a_new_run_and_ends_every_connection_to_the_old_one() {
    let server = TestServer::start().await;
    for text in ["a", "b", "c"] {
        server.publish(text).await;
    }
    let old_epoch = server.state.hub().epoch().clone();
    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url("/api/ws")).await.unwrap();
    let sse = server.http.get(server.url("/api/sse")).send().await.unwrap();
    let held = tokio::spawn(server.http.get(server.url("/api/long-poll?after=3&timeout=30")).send());
    server.wait_for_open(Transport::LongPoll, 1, "the connection is not held yet").await;

    // Anything sent with it is refused, and restarts nothing: a parameter, a field, a body that is not JSON.
    let restart = || server.http.post(server.url("/api/faults/restart"));
    let refusals = [
        (restart().query(&[("x", "1")]), "x"),
        (restart().json(&serde_json::json!({"seq": 1})), "seq"),
        (restart().header("content-type", "application/json").body("not json"), "(body)"),
    ];
    for (request, field) in refusals {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 400);
        assert_eq!(response.json::<protocol::ApiErrorBody>().await.unwrap().field.as_deref(), Some(field));
    }
    assert_eq!(server.state.hub().epoch(), &old_epoch);
    // An empty JSON object is nothing too (the page sends one).
    let report: protocol::RestartReport =
        restart().json(&serde_json::json!({})).send().await.unwrap().json().await.unwrap();
    assert_eq!(report.previous_epoch, old_epoch);
    assert_ne!(report.epoch, old_epoch);

    // Every connection to the old run ends as in a real restart.
    let close = loop {
        match timeout(Duration::from_secs(5), socket.next()).await.unwrap() {
            Some(Ok(Message::Close(Some(frame)))) => break u16::from(frame.code),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(close, protocol::close_code::GOING_AWAY);
    assert!(timeout(Duration::from_secs(5), sse.text()).await.is_ok(), "the SSE stream should end");
    assert_eq!(held.await.unwrap().unwrap().status(), 204);

    // The new run numbers from 1 and says so everywhere.
    assert_eq!(server.publish("first of the new run").await, 1);
    let stats = server.stats().await;
    assert_eq!((stats.epoch, stats.head_seq), (report.epoch.clone(), 1));
    let response = server.http.get(server.url("/api/poll?after=0")).send().await.unwrap();
    assert_eq!(response.headers()[server::EPOCH_HEADER].to_str().unwrap(), report.epoch.0);
}

#[tokio::test]
async fn a_cursor_from_an_earlier_run_is_answered_at_once_with_this_runs_head() {
    let server = TestServer::start().await;
    server.publish("only one").await;
    // A client of an earlier run that had reached #500 asks for more: it must learn about the new run now, not
    // be held until this run reaches #501.
    let started = tokio::time::Instant::now();
    let response = server.http.get(server.url("/api/long-poll?after=500&timeout=30")).send().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    let body: protocol::PollResponse = response.json().await.unwrap();
    assert_eq!((body.events.len(), body.next), (0, 1));
    assert_eq!(&body.epoch, server.state.hub().epoch());
    let polled: protocol::PollResponse =
        server.http.get(server.url("/api/poll?after=500")).send().await.unwrap().json().await.unwrap();
    assert_eq!(polled.next, 1);
}

#[tokio::test]
async fn injected_delay_holds_every_transport_and_bad_values_are_refused() {
    let server = TestServer::start().await;
    let set = |body: serde_json::Value| server.http.post(server.url("/api/faults/delay")).json(&body).send();
    let applied: DelayRule = set(serde_json::json!({"delay_ms": 300})).await.unwrap().json().await.unwrap();
    assert_eq!(applied, DelayRule { delay_ms: 300, ..DelayRule::default() });

    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url("/api/ws")).await.unwrap();
    let sse = server.http.get(server.url("/api/sse")).send().await.unwrap();
    let mut sse = sse.bytes_stream().eventsource();
    timeout(Duration::from_secs(5), sse.next()).await.unwrap(); // hello
    server.publish("late").await;

    // Each event reaches the client no sooner than 300 ms after it was emitted (one clock: same machine).
    let ws_event = loop {
        match timeout(Duration::from_secs(5), socket.next()).await.unwrap().unwrap().unwrap() {
            Message::Text(text) if text.contains(r#""type":"event""#) => break text,
            _ => continue,
        }
    };
    let ws_received = server::core::clock::unix_micros_now();
    let emitted =
        serde_json::from_str::<protocol::Event>(&ws_event.replace(r#""type":"event","#, "")).unwrap().emitted_at;
    assert!(ws_received - emitted >= 300_000, "WebSocket event after {} µs", ws_received - emitted);
    let sse_event = timeout(Duration::from_secs(5), sse.next()).await.unwrap().unwrap().unwrap();
    let sse_received = server::core::clock::unix_micros_now();
    let emitted = serde_json::from_str::<protocol::Event>(&sse_event.data).unwrap().emitted_at;
    assert!(sse_received - emitted >= 300_000, "SSE event after {} µs", sse_received - emitted);

    let started = tokio::time::Instant::now();
    server.http.get(server.url("/api/poll?after=0")).send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));

    for body in [serde_json::json!({"delay_ms": 10_001}), serde_json::json!({"jitter_ms": 99_999})] {
        let refused = set(body).await.unwrap();
        assert_eq!(refused.status(), 400);
        assert!(refused.json::<ApiErrorBody>().await.unwrap().field.unwrap().ends_with("_ms"));
    }
    set(serde_json::json!({})).await.unwrap();
    let current: Vec<DelayRule> =
        server.http.get(server.url("/api/faults/delay")).send().await.unwrap().json().await.unwrap();
    assert_eq!(current, [], "zero delay and jitter remove the rule");

    let client_rule = serde_json::json!({"delay_ms": 100, "client": "me"});
    set(client_rule).await.unwrap();
    let cleared = server.http.delete(server.url("/api/faults")).send().await.unwrap();
    assert_eq!(cleared.status(), 204);
    let current: Vec<DelayRule> =
        server.http.get(server.url("/api/faults/delay")).send().await.unwrap().json().await.unwrap();
    assert_eq!(current, [], "clearing removes every rule");
}

#[tokio::test]
async fn an_event_waiting_out_its_delay_does_not_hold_up_a_drop() {
    let server = TestServer::start().await;
    server
        .http
        .post(server.url("/api/faults/delay"))
        .json(&serde_json::json!({"delay_ms": 5000}))
        .send()
        .await
        .unwrap();
    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url("/api/ws")).await.unwrap();
    server.wait_for_open(Transport::WebSocket, 1, "the connection is not held yet").await;
    server.publish("held for five seconds").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop_now(&server, serde_json::json!({"transport": "web_socket"})).await;
    let ended = timeout(Duration::from_secs(2), async {
        while let Some(Ok(message)) = socket.next().await {
            assert!(!matches!(message, Message::Text(ref text) if text.contains(r#""type":"event""#)));
        }
    })
    .await;
    assert!(ended.is_ok(), "the drop waited for the held event");
}

/// Reads an SSE stream until an event with an id arrives; `None` if the stream ends first.
async fn next_event_id(
    stream: &mut (impl futures::Stream<Item = Result<eventsource_stream::Event, impl std::fmt::Debug>> + Unpin),
) -> Option<String> {
    loop {
        match timeout(Duration::from_secs(5), stream.next()).await.expect("no SSE event within 5 s") {
            Some(Ok(event)) if !event.id.is_empty() => return Some(event.id),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return None,
        }
    }
}

#[tokio::test]
async fn a_drop_aimed_at_one_client_leaves_the_others_connected() {
    let server = TestServer::start().await;
    let open = |client: &str| server.http.get(server.url(&format!("/api/sse?after=0&client={client}"))).send();
    let mut mine = open("mine").await.unwrap().bytes_stream().eventsource();
    let mut theirs = open("theirs").await.unwrap().bytes_stream().eventsource();
    server.wait_for_open(Transport::Sse, 2, "the streams are not held yet").await;

    let report: FaultReport = drop_now(&server, serde_json::json!({"client": "mine"})).await.json().await.unwrap();
    assert_eq!(report.dropped_connections, 1);
    server.publish("after the drop").await;
    assert_eq!(next_event_id(&mut theirs).await.as_deref(), Some("1"));
    assert_eq!(next_event_id(&mut mine).await, None, "the targeted stream should have ended");
    server.wait_for_open(Transport::Sse, 1, "only the targeted stream should have closed").await;
}

#[tokio::test]
async fn offline_refuses_the_clients_requests_with_retry_after_until_it_ends() {
    let server = TestServer::start().await;
    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url("/api/ws?client=me")).await.unwrap();
    server.wait_for_open(Transport::WebSocket, 1, "the connection is not held yet").await;
    let offline =
        server.http.post(server.url("/api/faults/offline")).json(&serde_json::json!({"seconds": 2, "client": "me"}));
    let report: FaultReport = offline.send().await.unwrap().json().await.unwrap();
    assert_eq!(report.dropped_connections, 1);
    let ended = timeout(Duration::from_secs(5), async { while let Some(Ok(_)) = socket.next().await {} }).await;
    assert!(ended.is_ok(), "the held socket should be dropped");

    for path in ["/api/poll?client=me", "/api/long-poll?timeout=1&client=me", "/api/sse?client=me"] {
        let refused = server.http.get(server.url(path)).send().await.unwrap();
        assert_eq!(refused.status(), 503, "{path}");
        let retry_after: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=2).contains(&retry_after), "{path}: Retry-After {retry_after}");
        assert_eq!(refused.json::<ApiErrorBody>().await.unwrap().error, "offline");
    }
    let handshake = tokio_tungstenite::connect_async(server.ws_url("/api/ws?client=me")).await;
    assert!(
        matches!(handshake, Err(tokio_tungstenite::tungstenite::Error::Http(ref response)) if response.status() == 503)
    );
    let others = server.http.get(server.url("/api/poll?client=someone-else")).send().await.unwrap();
    assert_eq!(others.status(), 200, "other clients stay online");

    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(server.http.get(server.url("/api/poll?client=me")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn bad_client_ids_and_offline_durations_are_refused_by_name() {
    let server = TestServer::start().await;
    let refused = server.http.get(server.url("/api/poll?client=no%20spaces")).send().await.unwrap();
    assert_eq!(refused.status(), 400);
    assert_eq!(refused.json::<ApiErrorBody>().await.unwrap().field.as_deref(), Some("client"));
    for seconds in [0, 121] {
        let body = serde_json::json!({ "seconds": seconds });
        let refused = server.http.post(server.url("/api/faults/offline")).json(&body).send().await.unwrap();
        assert_eq!(refused.status(), 400);
        assert_eq!(refused.json::<ApiErrorBody>().await.unwrap().field.as_deref(), Some("seconds"));
    }
}

#[tokio::test]
async fn a_delayed_poll_answer_holds_what_existed_when_it_was_made() {
    let server = TestServer::start().await;
    let rule = serde_json::json!({"delay_ms": 600, "client": "slow"});
    server.http.post(server.url("/api/faults/delay")).json(&rule).send().await.unwrap();
    server.publish("before").await;
    let answer = tokio::spawn(server.http.get(server.url("/api/poll?after=0&client=slow")).send());
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.publish("during the hold").await;
    let body: protocol::PollResponse = answer.await.unwrap().unwrap().json().await.unwrap();
    // A slow network delivers the answer as it was sent; it cannot pick up an event born while in flight.
    assert_eq!(body.events.iter().map(|event| event.seq).collect::<Vec<_>>(), [1]);
    assert_eq!(body.next, 1);
}
