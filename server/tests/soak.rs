//! Soak: the generator runs at its top rate while the server drops connections at random, hundreds of times per
//! transport, and a resuming client of each long-lived transport must end up with every event exactly once, in
//! order. `SOAK_SECONDS` sets the length (20 s in the test command; e.g. `SOAK_SECONDS=600` for a long run, see
//! docs/src/testing.md).

use crate::common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::TestServer;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use protocol::{Event, FaultReport, PollResponse, Transport, WsServerMessage};
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::Message;

const CLIENT: &str = "soak";

/// What one client received, in arrival order, and any gap markers (there must be none: history covers it all).
#[derive(Default)]
struct Received {
    seqs: Vec<u64>,
    gaps: usize,
    connections: usize,
}

type Log = Arc<Mutex<Received>>;

fn cursor(log: &Log) -> u64 {
    log.lock().unwrap().seqs.last().copied().unwrap_or(0)
}

fn record(log: &Log, event: &Event) {
    log.lock().unwrap().seqs.push(event.seq);
}

async fn long_poll_client(server: Arc<TestServer>, log: Log) {
    loop {
        let url = server.url(&format!("/api/long-poll?after={}&timeout=1&client={CLIENT}", cursor(&log)));
        log.lock().unwrap().connections += 1;
        let Ok(response) = server.http.get(url).send().await else { continue };
        if response.status() != 200 {
            continue; // 204 timeout, or 503 dropped by the fault: ask again from the same cursor
        }
        let Ok(body) = response.json::<PollResponse>().await else { continue };
        log.lock().unwrap().gaps += usize::from(body.gap.is_some());
        body.events.iter().for_each(|event| record(&log, event));
    }
}

async fn sse_client(server: Arc<TestServer>, log: Log) {
    loop {
        let mut request = server.http.get(server.url(&format!("/api/sse?after=0&client={CLIENT}")));
        if cursor(&log) > 0 {
            request = request.header("last-event-id", cursor(&log).to_string());
        }
        log.lock().unwrap().connections += 1;
        let Ok(response) = request.send().await else { continue };
        let mut events = response.bytes_stream().eventsource();
        while let Some(Ok(message)) = events.next().await {
            match message.event.as_str() {
                "hello" => {}
                "gap" => log.lock().unwrap().gaps += 1,
                _ => record(&log, &serde_json::from_str::<Event>(&message.data).expect("event JSON")),
            }
        }
    }
}

async fn websocket_client(server: Arc<TestServer>, log: Log) {
    loop {
        let url = server.ws_url(&format!("/api/ws?after={}&client={CLIENT}", cursor(&log)));
        log.lock().unwrap().connections += 1;
        let Ok((mut socket, _)) = tokio_tungstenite::connect_async(url).await else { continue };
        while let Some(Ok(message)) = socket.next().await {
            let Message::Text(text) = message else { continue };
            match serde_json::from_str::<WsServerMessage>(&text).expect("server message JSON") {
                WsServerMessage::Event(event) => record(&log, &event),
                WsServerMessage::Gap(_) => log.lock().unwrap().gaps += 1,
                _ => {}
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_random_drops_lose_duplicate_and_reorder_nothing() {
    let _alone = crate::alone().await;
    let seconds: u64 = std::env::var("SOAK_SECONDS").ok().and_then(|text| text.parse().ok()).unwrap_or(20);
    let server = Arc::new(TestServer::start_with(&["--history", "100000"]).await);
    let generator = serde_json::json!({"paused": false, "rate_per_second": 50.0});
    server.http.post(server.url("/api/generator")).json(&generator).send().await.unwrap();

    let logs: BTreeMap<Transport, Log> =
        [Transport::LongPoll, Transport::Sse, Transport::WebSocket].into_iter().map(|t| (t, Log::default())).collect();
    let clients = [
        tokio::spawn(long_poll_client(server.clone(), logs[&Transport::LongPoll].clone())),
        tokio::spawn(sse_client(server.clone(), logs[&Transport::Sse].clone())),
        tokio::spawn(websocket_client(server.clone(), logs[&Transport::WebSocket].clone())),
    ];

    // Drops at random moments (every 5–40 ms) on a random transport; only those that hit a connection count.
    let mut hits: BTreeMap<Transport, u64> = BTreeMap::new();
    let end = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(rand::random_range(5..=40))).await;
        let transport = [Transport::LongPoll, Transport::Sse, Transport::WebSocket][rand::random_range(0..3)];
        let body = serde_json::json!({"transport": transport, "client": CLIENT});
        let response = server.http.post(server.url("/api/faults/drop")).json(&body).send().await.unwrap();
        *hits.entry(transport).or_default() += response.json::<FaultReport>().await.unwrap().dropped_connections;
    }

    // Stop the source, then give every client time to catch up with the last event.
    let paused = serde_json::json!({"paused": true});
    server.http.post(server.url("/api/generator")).json(&paused).send().await.unwrap();
    let head = server.stats().await.head_seq;
    let caught_up = timeout(Duration::from_secs(15), async {
        while logs.values().any(|log| cursor(log) < head) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    clients.iter().for_each(|client| client.abort());

    for (transport, log) in &logs {
        let log = log.lock().unwrap();
        let hit = hits.get(transport).copied().unwrap_or(0);
        println!(
            "{transport:?}: {} events, {} connections, {hit} dropped by the fault, head {head}",
            log.seqs.len(),
            log.connections
        );
        assert!(caught_up.is_ok(), "{transport:?} stopped at #{} of {head}", log.seqs.last().unwrap_or(&0));
        assert_eq!(log.gaps, 0, "{transport:?}: the history covers the whole run, so no gap is allowed");
        let expected: Vec<u64> = (1..=head).collect();
        if log.seqs != expected {
            let wrong = log.seqs.iter().zip(&expected).position(|(got, want)| got != want).unwrap_or(log.seqs.len());
            panic!(
                "{transport:?}: events not exactly 1..={head} in order; first difference at index {wrong}: {:?}",
                &log.seqs[wrong.saturating_sub(3)..(wrong + 3).min(log.seqs.len())]
            );
        }
        assert!(hit >= 5 * seconds, "{transport:?}: only {hit} drops hit a connection in {seconds} s");
    }
}
