//! Webhooks over real sockets: the lab's sender delivering to the lab's own receiver, to raw TCP receivers that
//! misbehave, and to a Python receiver that checks signatures with PyPI's `standardwebhooks`. Every wait polls with
//! a generous deadline; the class clock is turned up so retries come in milliseconds.

use crate::common;

use std::process::Stdio;
use std::time::Duration;

use common::TestServer;
use protocol::webhook::{
    AttemptOutcome, DeliveryAttempt, DeliveryPage, EndpointCreated, ReceiverState, WebhookSecret, MAX_ATTEMPTS,
};
use protocol::{routes, ApiErrorBody, EventBody};
use server::webhooks::sign;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{sleep, Instant};

const FAST: &[&str] = &["--webhook-class-clock", "1000"];
const DEADLINE: Duration = Duration::from_secs(60);

async fn register(server: &TestServer, url: &str) -> EndpointCreated {
    let response = server.http.post(server.url(routes::WEBHOOK_ENDPOINTS)).json(&serde_json::json!({ "url": url }));
    let response = response.send().await.unwrap();
    assert_eq!(response.status(), 201, "{url}");
    response.json().await.unwrap()
}

async fn deliveries(server: &TestServer, id: &str) -> DeliveryPage {
    let response = server.http.get(server.url(&routes::webhook_deliveries(id, 0))).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Polls the endpoint's log until `done` holds of its attempts; panics with `why` after [`DEADLINE`].
async fn wait_for(server: &TestServer, id: &str, why: &str, done: impl Fn(&[DeliveryAttempt]) -> bool) -> DeliveryPage {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let page = deliveries(server, id).await;
        if done(&page.attempts) {
            return page;
        }
        assert!(Instant::now() < deadline, "{why}: {:#?}", page.attempts);
        sleep(Duration::from_millis(50)).await;
    }
}

async fn set_receiver(server: &TestServer, id: &str, knobs: serde_json::Value) -> ReceiverState {
    let response = server.http.put(server.url(&routes::webhook_receiver(id))).json(&knobs).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn receiver(server: &TestServer, id: &str) -> ReceiverState {
    server.http.get(server.url(&routes::webhook_receiver(id))).send().await.unwrap().json().await.unwrap()
}

fn status(attempt: &DeliveryAttempt) -> Option<u16> {
    match attempt.outcome {
        AttemptOutcome::Status { status } => Some(status),
        AttemptOutcome::Error { .. } => None,
    }
}

fn error(attempt: &DeliveryAttempt) -> &str {
    match &attempt.outcome {
        AttemptOutcome::Error { error } => error,
        AttemptOutcome::Status { .. } => "",
    }
}

fn of_seq(attempts: &[DeliveryAttempt], seq: u64) -> Vec<&DeliveryAttempt> {
    attempts.iter().filter(|attempt| attempt.seq == seq).collect()
}

/// Re-sends a logged attempt (same id, timestamp, signature), with `body` instead of the one signed if given.
async fn replay(server: &TestServer, url: &str, attempt: &DeliveryAttempt, body: Option<&str>) -> u16 {
    let request = server
        .http
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &attempt.webhook_id)
        .header("webhook-timestamp", attempt.timestamp.to_string())
        .header("webhook-signature", &attempt.signature)
        .body(body.unwrap_or(&attempt.body).to_owned());
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn the_lab_receiver_gets_every_new_event_signed_once() {
    let server = TestServer::start_with(FAST).await;
    server.publish("before registering").await;
    let endpoint = register(&server, "lab").await;
    assert!(endpoint.secret.starts_with("whsec_"));
    assert!(endpoint.url.ends_with(&routes::webhook_receiver(&endpoint.id)), "{}", endpoint.url);
    let mut seqs = Vec::new();
    for text in ["a", "bb", "ccc"] {
        seqs.push(server.publish(text).await);
    }
    let page = wait_for(&server, &endpoint.id, "three deliveries", |attempts| attempts.len() >= 3).await;
    let secret = WebhookSecret::parse(&endpoint.secret).unwrap();
    let epoch = server.state.hub().epoch().0.clone();
    let mut delivered: Vec<_> = page.attempts.iter().map(|attempt| attempt.seq).collect();
    delivered.sort();
    assert_eq!(delivered, seqs, "only events after registering, each once");
    for attempt in &page.attempts {
        assert_eq!((status(attempt), attempt.attempt, attempt.gave_up), (Some(200), 1, false), "{attempt:?}");
        assert_eq!(attempt.webhook_id, format!("msg_{epoch}_{}", attempt.seq));
        assert_eq!(attempt.next_attempt_at_ms, None);
        assert!(attempt.finished_at_ms >= attempt.sent_at_ms);
        let event: protocol::Event = serde_json::from_str(&attempt.body).unwrap();
        assert_eq!(event.seq, attempt.seq);
        assert!(matches!(event.body, EventBody::Message { .. }));
        assert!(sign::verify(
            &secret,
            &attempt.webhook_id,
            attempt.timestamp,
            attempt.body.as_bytes(),
            &attempt.signature
        ));
        // The head carries at least the request line, Host, the three webhook headers and the content headers.
        let head_floor = "POST  HTTP/1.1\r\n\r\n".len() + endpoint.url.len() + attempt.signature.len() + 100;
        assert!(attempt.request_bytes as usize > attempt.body.len() + head_floor, "{attempt:?}");
        assert!(attempt.response_bytes >= "HTTP/1.1 200 OK\r\n\r\n".len() as u64, "{attempt:?}");
    }
    let counts = receiver(&server, &endpoint.id).await.counts;
    assert_eq!((counts.processed, counts.rejected_signatures, counts.out_of_order), (3, 0, 0));
    assert_eq!((page.next, page.dropped, page.disabled), (3, 0, None));
    let later = server.http.get(server.url(&routes::webhook_deliveries(&endpoint.id, 2))).send().await.unwrap();
    assert_eq!(later.json::<DeliveryPage>().await.unwrap().attempts.len(), 1, "after= pages on");
}

/// A receiver on a raw socket that counts every byte it reads, so the sender's counts can be held to them exactly.
#[tokio::test]
async fn byte_counts_are_exactly_what_crossed_the_socket() {
    let server = TestServer::start_with(FAST).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    const RESPONSE: &[u8] = b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
    let counted = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let request = read_request(&mut socket).await;
        socket.write_all(RESPONSE).await.unwrap();
        request.len()
    });
    let endpoint = register(&server, &format!("http://127.0.0.1:{port}/hook")).await;
    server.publish("measured").await;
    let page = wait_for(&server, &endpoint.id, "one attempt", |attempts| !attempts.is_empty()).await;
    let attempt = &page.attempts[0];
    assert_eq!(status(attempt), Some(202));
    assert_eq!(attempt.request_bytes, counted.await.unwrap() as u64);
    assert_eq!(attempt.response_bytes, RESPONSE.len() as u64);
}

/// Reads one request (head and `content-length` body) and returns its bytes.
async fn read_request(socket: &mut TcpStream) -> Vec<u8> {
    let mut request = Vec::new();
    let mut buffer = [0; 4096];
    loop {
        let read = socket.read(&mut buffer).await.unwrap();
        assert!(read > 0, "the request ended early");
        request.extend_from_slice(&buffer[..read]);
        let text = String::from_utf8_lossy(&request);
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length = text[..head_end]
                .lines()
                .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
                .and_then(|value| value.parse::<usize>().ok())
                .unwrap_or(0);
            if request.len() >= head_end + 4 + length {
                return request;
            }
        }
    }
}

#[tokio::test]
async fn failures_are_retried_under_one_id_with_fresh_signatures_until_the_receiver_recovers() {
    let server = TestServer::start_with(FAST).await;
    let endpoint = register(&server, "lab").await;
    set_receiver(&server, &endpoint.id, serde_json::json!({"mode": "error500"})).await;
    let seq = server.publish("fails at first").await;
    // At class clock 1000 the fourth attempt comes about 2 s after the first: a later second on the clock.
    wait_for(&server, &endpoint.id, "four failed attempts", |attempts| attempts.len() >= 4).await;
    set_receiver(&server, &endpoint.id, serde_json::json!({"mode": "healthy"})).await;
    let page =
        wait_for(&server, &endpoint.id, "a success", |attempts| attempts.iter().any(|a| status(a) == Some(200))).await;
    let attempts = of_seq(&page.attempts, seq);
    assert_eq!(attempts.len(), page.attempts.len());
    let numbers: Vec<_> = attempts.iter().map(|attempt| attempt.attempt).collect();
    assert_eq!(numbers, (1..=attempts.len() as u32).collect::<Vec<_>>());
    assert!(attempts.iter().all(|attempt| attempt.webhook_id == attempts[0].webhook_id));
    let (first, last) = (attempts[0], attempts[attempts.len() - 1]);
    assert_eq!(status(last), Some(200));
    assert!(attempts[..attempts.len() - 1].iter().all(|a| status(a) == Some(500) && a.next_attempt_at_ms.is_some()));
    assert!(attempts.windows(2).all(|pair| pair[0].timestamp <= pair[1].timestamp));
    assert!(last.timestamp > first.timestamp, "each attempt is stamped afresh");
    assert_ne!(last.signature, first.signature, "and so signed afresh");
    let counts = receiver(&server, &endpoint.id).await.counts;
    assert_eq!((counts.processed, counts.duplicates_processed), (1, 0), "a 500 processes nothing");
}

#[tokio::test]
async fn a_webhook_aimed_at_the_lab_s_own_restart_is_refused_there_and_restarts_nothing() {
    // Loopback is allowed (a student's own receiver runs there), so the lab's own routes are reachable: each of
    // them must refuse an event delivered as a body. On a lab that listens on loopback only, the sender counts as
    // the teacher, so the route's input check is the only thing in the way.
    let server = TestServer::start_with(FAST).await;
    let epoch = server.state.hub_slot.current().epoch().clone();
    let endpoint = register(&server, &server.url(routes::FAULTS_RESTART)).await;
    server.publish("aimed at the restart").await;
    let page = wait_for(&server, &endpoint.id, "a refused delivery", |attempts| !attempts.is_empty()).await;
    assert_eq!(status(&page.attempts[0]), Some(400), "{:#?}", page.attempts[0]);
    assert_eq!(server.state.hub_slot.current().epoch(), &epoch, "nothing restarted");
}

#[tokio::test]
async fn gone_disables_the_endpoint() {
    let server = TestServer::start_with(FAST).await;
    let endpoint = register(&server, "lab").await;
    set_receiver(&server, &endpoint.id, serde_json::json!({"mode": "gone"})).await;
    server.publish("to a receiver that left").await;
    let page = wait_for(&server, &endpoint.id, "a 410", |attempts| !attempts.is_empty()).await;
    assert_eq!(page.disabled.as_deref(), Some("410 Gone from receiver"));
    assert_eq!((status(&page.attempts[0]), page.attempts[0].gave_up), (Some(410), true));
    for text in ["after", "the end"] {
        server.publish(text).await;
    }
    sleep(Duration::from_millis(500)).await;
    assert_eq!(deliveries(&server, &endpoint.id).await.attempts.len(), 1, "no attempt after the 410");
}

#[tokio::test]
async fn dedupe_decides_what_a_redelivery_costs() {
    let server = TestServer::start_with(FAST).await;
    let endpoint = register(&server, "lab").await;
    let receiver_url = endpoint.url.clone();
    for text in ["first", "second"] {
        server.publish(text).await;
    }
    let page = wait_for(&server, &endpoint.id, "two deliveries", |attempts| attempts.len() >= 2).await;
    let first = of_seq(&page.attempts, 1)[0].clone();

    // Redelivered (the same id, timestamp and signature), with dedupe off: processed again, and late.
    assert_eq!(replay(&server, &receiver_url, &first, None).await, 200);
    let counts = receiver(&server, &endpoint.id).await.counts;
    assert_eq!((counts.processed, counts.duplicates_processed, counts.duplicates_skipped), (3, 1, 0));
    assert_eq!(counts.out_of_order, 1, "event 1 processed after event 2");

    let state = set_receiver(&server, &endpoint.id, serde_json::json!({"mode": "healthy", "dedupe": true})).await;
    assert!(state.knobs.dedupe);
    assert_eq!(replay(&server, &receiver_url, &first, None).await, 200, "acknowledged");
    let counts = receiver(&server, &endpoint.id).await.counts;
    assert_eq!((counts.processed, counts.duplicates_processed, counts.duplicates_skipped), (3, 1, 1));

    // A body changed in flight, and a receiver told to refuse every signature: 401, counted.
    assert_eq!(replay(&server, &receiver_url, &first, Some(r#"{"seq":1,"forged":true}"#)).await, 401);
    set_receiver(&server, &endpoint.id, serde_json::json!({"mode": "reject_signatures"})).await;
    assert_eq!(replay(&server, &receiver_url, &first, None).await, 401);
    assert_eq!(receiver(&server, &endpoint.id).await.counts.rejected_signatures, 2);
    let unsigned = server.http.post(&receiver_url).body("{}").send().await.unwrap();
    assert_eq!(unsigned.status(), 401);
    let body: ApiErrorBody = unsigned.json().await.unwrap();
    assert_eq!(body.field.as_deref(), Some("webhook-signature"), "{}", body.message);
}

#[tokio::test]
async fn a_late_acknowledgement_is_redelivered_and_a_silent_receiver_times_out() {
    let server = TestServer::start_with(&["--webhook-class-clock", "1000", "--webhook-timeout-seconds", "1"]).await;
    let endpoint = register(&server, "lab").await;
    set_receiver(&server, &endpoint.id, serde_json::json!({"mode": "slow", "slow_secs": 1.5})).await;
    server.publish("processed, acknowledged too late").await;
    wait_for(&server, &endpoint.id, "two timed-out attempts", |attempts| attempts.len() >= 2).await;
    let deadline = Instant::now() + DEADLINE;
    while receiver(&server, &endpoint.id).await.counts.duplicates_processed == 0 {
        assert!(Instant::now() < deadline, "no redelivery was processed again");
        sleep(Duration::from_millis(50)).await;
    }
    set_receiver(&server, &endpoint.id, serde_json::json!({"mode": "slow", "slow_secs": 0.1, "dedupe": true})).await;
    let page =
        wait_for(&server, &endpoint.id, "a success", |attempts| attempts.iter().any(|a| status(a) == Some(200))).await;
    assert!(page
        .attempts
        .iter()
        .filter(|attempt| status(attempt).is_none())
        .all(|attempt| error(attempt) == "timeout"));
    let counts = receiver(&server, &endpoint.id).await.counts;
    assert!(counts.duplicates_skipped >= 1, "the last delivery was a duplicate, acknowledged: {counts:?}");

    set_receiver(&server, &endpoint.id, serde_json::json!({"mode": "timeout"})).await;
    let seq = server.publish("never answered").await;
    let page = wait_for(&server, &endpoint.id, "a timeout", |attempts| !of_seq(attempts, seq).is_empty()).await;
    assert_eq!(error(of_seq(&page.attempts, seq)[0]), "timeout");
}

#[tokio::test]
async fn deliveries_follow_a_restart_into_the_new_run() {
    let server = TestServer::start_with(FAST).await;
    let endpoint = register(&server, "lab").await;
    server.publish("old run").await;
    wait_for(&server, &endpoint.id, "the old run's event", |attempts| attempts.len() == 1).await;
    let restart = server.http.post(server.url("/api/faults/restart")).send().await.unwrap();
    assert!(restart.status().is_success());
    server.publish("new run").await;
    let page = wait_for(&server, &endpoint.id, "the new run's event", |attempts| attempts.len() == 2).await;
    let ids: Vec<_> = page.attempts.iter().map(|attempt| attempt.webhook_id.as_str()).collect();
    let epoch = server.state.hub().epoch().0.clone();
    assert_eq!(ids[1], format!("msg_{epoch}_1"), "{ids:?}");
    assert_ne!(ids[0], ids[1], "the same seq in a new run is a new webhook");
    assert!(page.attempts.iter().all(|attempt| status(attempt) == Some(200)));
}

async fn refused(server: &TestServer, body: serde_json::Value) -> (u16, ApiErrorBody) {
    let response = server.http.post(server.url(routes::WEBHOOK_ENDPOINTS)).json(&body).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn the_ssrf_guard_refuses_what_is_not_loopback_or_allowed() {
    let server = TestServer::start_with(&["--webhook-allow", "10.0.0.0/8"]).await;
    for (url, why) in [
        ("https://127.0.0.1/hook", "https:// is not offered"),
        ("ftp://127.0.0.1/hook", "only http://"),
        ("file:///etc/passwd", "only http://"),
        ("http://192.168.1.1/hook", "not a loopback address"),
        ("http://169.254.169.254/latest/meta-data", "not a loopback address"),
        ("http://0.0.0.0:3000/", "not a loopback address"),
        ("http://[::ffff:192.168.1.1]/", "not a loopback address"),
        ("http://user:secret@127.0.0.1/hook", "credentials"),
        ("http://no-such-host.invalid/hook", "cannot be resolved"),
        ("127.0.0.1:3000/hook", "not a URL"),
    ] {
        let (status, body) = refused(&server, serde_json::json!({ "url": url })).await;
        assert_eq!(
            (status, body.error.as_str(), body.field.as_deref()),
            (422, "webhook_url_refused", Some("url")),
            "{url}"
        );
        assert!(body.message.contains(why), "{url}: {}", body.message);
    }
    // A network named with --webhook-allow is allowed; so are loopback names.
    register(&server, "http://10.9.8.7:9/hook").await;
    register(&server, "http://localhost:9/hook").await;
}

#[tokio::test]
async fn bad_input_names_the_field_and_caps_answer_429() {
    let server = TestServer::start().await;
    let json = |body: &str| {
        let request =
            server.http.post(server.url(routes::WEBHOOK_ENDPOINTS)).header("content-type", "application/json");
        request.body(body.to_owned()).send()
    };
    for (body, code, field) in [
        (r#"{"url": "lab""#, "malformed_json", None),
        (r#"{"url": "lab", "secret": "mine"}"#, "invalid_field", Some("secret")),
        (r#"{}"#, "invalid_field", Some("url")),
        (r#"{"url": 5}"#, "invalid_field", Some("url")),
        (r#"{"url": "lab", "client": "no spaces"}"#, "invalid_field", Some("client")),
    ] {
        let response = json(body).await.unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let error: ApiErrorBody = response.json().await.unwrap();
        assert_eq!((error.error.as_str(), error.field.as_deref()), (code, field), "{body}: {}", error.message);
    }
    let not_json = server.http.post(server.url(routes::WEBHOOK_ENDPOINTS)).body(r#"{"url":"lab"}"#).send();
    assert_eq!(not_json.await.unwrap().status(), 415);

    let endpoint = register(&server, "lab").await;
    let knobs =
        |body: serde_json::Value| server.http.put(server.url(&routes::webhook_receiver(&endpoint.id))).json(&body);
    for (body, field) in [
        (serde_json::json!({"mode": "sleepy"}), "mode"),
        (serde_json::json!({"mode": "slow", "slow_secs": 600}), "slow_secs"),
        (serde_json::json!({"mode": "slow", "loud": true}), "loud"),
    ] {
        let response = knobs(body.clone()).send().await.unwrap();
        assert_eq!(response.status(), 400, "{body}");
        assert_eq!(response.json::<ApiErrorBody>().await.unwrap().field.as_deref(), Some(field), "{body}");
    }
    let bad_after =
        server.url(&format!("{}?after=soon", routes::webhook_deliveries(&endpoint.id, 0).split('?').next().unwrap()));
    let response = server.http.get(bad_after).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<ApiErrorBody>().await.unwrap().field.as_deref(), Some("after"));

    let missing = server.http.get(server.url(&routes::webhook_deliveries("ep_nothing", 0))).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.json::<ApiErrorBody>().await.unwrap().error, "no_such_webhook_endpoint");
    let deleted = server.http.delete(server.url(&routes::webhook_endpoint(&endpoint.id))).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    let gone = server.http.get(server.url(&routes::webhook_deliveries(&endpoint.id, 0))).send().await.unwrap();
    assert_eq!(gone.status(), 404, "deleted");
    let again = server.http.delete(server.url(&routes::webhook_endpoint(&endpoint.id))).send().await.unwrap();
    assert_eq!(again.status(), 404);

    // Four per page, then 429; other pages still register, up to the lab's 64.
    let register_as = |client: String| {
        server
            .http
            .post(server.url(routes::WEBHOOK_ENDPOINTS))
            .json(&serde_json::json!({"url": "lab", "client": client}))
            .send()
    };
    for _ in 0..4 {
        assert_eq!(register_as("greedy".into()).await.unwrap().status(), 201);
    }
    let fifth = register_as("greedy".into()).await.unwrap();
    assert_eq!(fifth.status(), 429);
    assert_eq!(fifth.json::<ApiErrorBody>().await.unwrap().error, "too_many_webhook_endpoints");
    for page in 0..60 {
        assert_eq!(register_as(format!("page-{page}")).await.unwrap().status(), 201);
    }
    assert_eq!(register_as("one-too-many".into()).await.unwrap().status(), 429, "64 in all");
}

/// Receivers on raw sockets that misbehave: each answers every request it gets the same bad way.
async fn misbehaving(answer: &'static [u8], body_bytes: usize, answer_at_all: bool) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            if !answer_at_all {
                held.push(socket);
                continue;
            }
            tokio::spawn(async move {
                read_request(&mut socket).await;
                let _ = socket.write_all(answer).await;
                let chunk = vec![b'x'; 64 * 1024];
                let mut sent = 0;
                while sent < body_bytes {
                    if socket.write_all(&chunk).await.is_err() {
                        return;
                    }
                    sent += chunk.len();
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn huge_redirecting_and_silent_receivers_fail_bounded_and_others_still_get_theirs() {
    let server = TestServer::start_with(&["--webhook-class-clock", "100000", "--webhook-timeout-seconds", "1"]).await;
    let huge = misbehaving(b"HTTP/1.1 200 OK\r\ncontent-length: 10485760\r\n\r\n", 10 * 1024 * 1024, true).await;
    let redirect =
        misbehaving(b"HTTP/1.1 302 Found\r\nlocation: http://169.254.169.254/\r\ncontent-length: 0\r\n\r\n", 0, true)
            .await;
    let silent = misbehaving(b"", 0, false).await;
    let mut endpoints = Vec::new();
    for (port, expected) in [(huge, "response too large"), (redirect, "redirect not followed"), (silent, "timeout")] {
        endpoints.push((register(&server, &format!("http://127.0.0.1:{port}/hook")).await, expected));
    }
    let healthy = register(&server, "lab").await;
    let seqs = [server.publish("one").await, server.publish("two").await];
    wait_for(&server, &healthy.id, "the healthy endpoint's deliveries", |attempts| {
        attempts.len() == 2 && attempts.iter().all(|attempt| status(attempt) == Some(200))
    })
    .await;
    for (endpoint, expected) in &endpoints {
        let every_attempt = (seqs.len() as u32 * MAX_ATTEMPTS) as usize;
        let page = wait_for(&server, &endpoint.id, expected, |attempts| attempts.len() == every_attempt).await;
        for attempt in &page.attempts {
            assert_eq!(error(attempt), *expected, "{attempt:?}");
            assert!(attempt.response_bytes < 1024 * 1024, "the body is not read past its cap: {attempt:?}");
            assert_eq!(attempt.gave_up, attempt.attempt == MAX_ATTEMPTS, "{attempt:?}");
        }
        assert_eq!(page.disabled, None, "failures do not disable; only 410 does");
    }
}

#[tokio::test]
async fn a_full_queue_is_logged_never_silent() {
    let server = TestServer::start_with(&["--webhook-class-clock", "1"]).await;
    let silent = misbehaving(b"", 0, false).await;
    let endpoint = register(&server, &format!("http://127.0.0.1:{silent}/hook")).await;
    // 256 may be pending at once (in flight or waiting to retry, which takes seconds at real speed).
    for _ in 0..300 {
        server.state.hub().publish(EventBody::Message { text: "flood".into() });
    }
    let page = wait_for(&server, &endpoint.id, "44 queue-full records", |attempts| {
        attempts.iter().filter(|attempt| error(attempt) == "queue full").count() == 44
    })
    .await;
    let full: Vec<_> = page.attempts.iter().filter(|attempt| error(attempt) == "queue full").collect();
    assert!(full.iter().all(|attempt| attempt.gave_up && attempt.request_bytes == 0 && attempt.seq > 256));
    assert!(
        server.http.delete(server.url(&routes::webhook_endpoint(&endpoint.id))).send().await.unwrap().status() == 204
    );
}

/// Python's `standardwebhooks` in a stdlib HTTP server (`tests/peers/webhook_receiver.py`).
struct PythonReceiver {
    child: tokio::process::Child,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    port: u16,
}

impl PythonReceiver {
    async fn start(fail_seq: u64) -> Self {
        let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let python = manifest.join("../.venv/bin/python");
        assert!(python.exists(), "{} is missing: run ./lab setup", python.display());
        let mut child = tokio::process::Command::new(python)
            .arg(manifest.join("tests/peers/webhook_receiver.py"))
            .arg(fail_seq.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut receiver = Self { child, lines, port: 0 };
        receiver.port = receiver.next().await["port"].as_u64().unwrap() as u16;
        receiver
    }

    async fn next(&mut self) -> serde_json::Value {
        let line = tokio::time::timeout(DEADLINE, self.lines.next_line()).await.expect("a line from Python in time");
        serde_json::from_str(&line.unwrap().expect("Python ended early")).unwrap()
    }

    async fn tell(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(format!("{line}\n").as_bytes()).await.unwrap();
        stdin.flush().await.unwrap();
    }
}

#[tokio::test]
async fn a_python_standardwebhooks_receiver_verifies_every_delivery_and_its_410_stops_them() {
    let server = TestServer::start_with(FAST).await;
    let mut python = PythonReceiver::start(2).await;
    let url = format!("http://127.0.0.1:{}/webhooks", python.port);
    let endpoint = register(&server, &url).await;
    python.tell(&endpoint.secret).await;
    assert_eq!(python.next().await["ready"], true);

    let seqs = [server.publish("one").await, server.publish("two").await, server.publish("three").await];
    assert_eq!(seqs, [1, 2, 3]);
    let mut seen = Vec::new();
    while !(seen.iter().any(|line: &serde_json::Value| line["seq"] == 2 && line["status"] == 200)
        && [1, 3].iter().all(|seq| seen.iter().any(|line| line["seq"] == *seq)))
    {
        seen.push(python.next().await);
    }
    assert!(seen.iter().all(|line| line["verified"] == true), "{seen:#?}");
    let event_two: Vec<_> = seen.iter().filter(|line| line["seq"] == 2).collect();
    assert_eq!(event_two.len(), 3, "twice 500, then 200: {seen:#?}");
    assert!(event_two.iter().all(|line| line["id"] == event_two[0]["id"]), "one webhook-id: {seen:#?}");
    let arrivals: Vec<_> = event_two.iter().map(|line| line["attempt"].as_u64().unwrap()).collect();
    assert_eq!(arrivals, [1, 2, 3]);
    let page = wait_for(&server, &endpoint.id, "the lab's log of event 2", |attempts| {
        of_seq(attempts, 2).iter().any(|attempt| status(attempt) == Some(200))
    })
    .await;
    let logged: Vec<_> = of_seq(&page.attempts, 2).iter().map(|attempt| (attempt.attempt, status(attempt))).collect();
    assert_eq!(logged, [(1, Some(500)), (2, Some(500)), (3, Some(200))]);

    // The same headers with a body changed in flight: Python's library refuses it; the untouched one passes.
    let first = of_seq(&page.attempts, 1)[0].clone();
    let tampered = first.body.replace("\"one\"", "\"0ne\"");
    assert_ne!(tampered, first.body);
    assert_eq!(replay(&server, &url, &first, Some(&tampered)).await, 400);
    assert_eq!(python.next().await["verified"], false);
    assert_eq!(replay(&server, &url, &first, None).await, 200);
    assert_eq!(python.next().await["verified"], true);

    // Gone: the next delivery gets 410, the endpoint is disabled, and nothing more is sent.
    python.tell("gone").await;
    // Only once Python says so: its main thread reads the command while other threads answer requests.
    assert_eq!(python.next().await["gone"], true);
    let four = server.publish("four").await;
    let gone = python.next().await;
    assert_eq!((gone["seq"].as_u64(), gone["status"].as_u64()), (Some(four), Some(410)));
    let page = wait_for(&server, &endpoint.id, "the 410", |attempts| !of_seq(attempts, four).is_empty()).await;
    assert_eq!(page.disabled.as_deref(), Some("410 Gone from receiver"));
    server.publish("five").await;
    let more = tokio::time::timeout(Duration::from_secs(1), python.lines.next_line()).await;
    assert!(more.is_err(), "a request after the 410: {more:?}");
    assert!(of_seq(&deliveries(&server, &endpoint.id).await.attempts, four + 1).is_empty());
}

/// A page that was closed or reloaded never deletes its endpoint: one nobody watches goes by itself, sender and all,
/// and frees its place under the caps. Reading deliveries or the receiver's knobs is what watching means.
#[tokio::test]
async fn an_unwatched_endpoint_is_removed_and_its_place_freed() {
    let server = TestServer::start_with(&["--webhook-class-clock", "1000", "--webhook-idle-seconds", "1"]).await;
    let read = register(&server, "lab").await;
    let knobs = register(&server, "lab").await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let external = register(&server, &format!("http://127.0.0.1:{}/hook", listener.local_addr().unwrap().port())).await;
    // Watched for twice the idle period: deliveries read on one, the receiver's knobs on the other.
    for round in 0..8 {
        deliveries(&server, &read.id).await;
        if round % 2 == 0 {
            receiver(&server, &knobs.id).await;
        } else {
            set_receiver(&server, &knobs.id, serde_json::json!({"mode": "healthy"})).await;
        }
        sleep(Duration::from_millis(250)).await;
    }
    sleep(Duration::from_millis(1500)).await;
    for (id, path) in [
        (&read.id, routes::webhook_deliveries(&read.id, 0)),
        (&knobs.id, routes::webhook_receiver(&knobs.id)),
        (&external.id, routes::webhook_deliveries(&external.id, 0)),
    ] {
        let response = server.http.get(server.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let body: ApiErrorBody = response.json().await.unwrap();
        assert_eq!(body.error, "no_such_webhook_endpoint");
        assert!(body.message.contains(id.as_str()) && body.message.contains("removed after 1 s unwatched"), "{body:?}");
    }
    let delete = server.http.delete(server.url(&routes::webhook_endpoint(&read.id))).send().await.unwrap();
    assert_eq!(delete.status(), 404, "already gone");
    // Its sender stopped with it: a new event reaches nobody.
    server.publish("after removal").await;
    let connected = tokio::time::timeout(Duration::from_millis(500), listener.accept()).await;
    assert!(connected.is_err(), "an idle endpoint's sender still delivered");

    // Reload a page four times over without deleting: its four places come back once they go unwatched.
    let register_as = || {
        let body = serde_json::json!({"url": "lab", "client": "reloading"});
        server.http.post(server.url(routes::WEBHOOK_ENDPOINTS)).json(&body).send()
    };
    for _ in 0..4 {
        assert_eq!(register_as().await.unwrap().status(), 201);
    }
    assert_eq!(register_as().await.unwrap().status(), 429);
    sleep(Duration::from_millis(1500)).await;
    assert_eq!(register_as().await.unwrap().status(), 201, "the unwatched four were removed");
}
