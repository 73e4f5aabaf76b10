//! `GET /api/stream` over real sockets: NDJSON lines read with reqwest and the protocol's `LineSplitter`, the same
//! sequence numbers as `/api/poll`, resuming with `after=` after a drop, a new run's hello after a restart, and every
//! byte attributed to the lane, line by line.

use crate::common;

use std::time::Duration;

use common::TestServer;
use futures::StreamExt;
use protocol::ndjson::{LineSplitter, StreamLine};
use protocol::{ApiErrorBody, Epoch, FaultReport, PollResponse, StreamHello, Transport, WireLabel, WirePage, WireUnit};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// An open `/api/stream` response, read line by line.
struct Lines {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    splitter: LineSplitter,
    ready: std::collections::VecDeque<StreamLine>,
}

impl Lines {
    async fn open(server: &TestServer, query: &str) -> Self {
        let response = server.http.get(server.url(&format!("/api/stream{query}"))).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/x-ndjson");
        Self { body: response.bytes_stream().boxed(), splitter: LineSplitter::default(), ready: Default::default() }
    }

    /// The next line, or `None` when the response ended.
    async fn next(&mut self) -> Option<StreamLine> {
        loop {
            if let Some(line) = self.ready.pop_front() {
                return Some(line);
            }
            let chunk = timeout(Duration::from_secs(5), self.body.next()).await.expect("a line in time")?.ok()?;
            for line in self.splitter.push(&chunk) {
                self.ready.push_back(StreamLine::decode(&line.unwrap()).unwrap());
            }
        }
    }

    async fn hello(&mut self) -> StreamHello {
        match self.next().await {
            Some(StreamLine::Hello(hello)) => hello,
            other => panic!("expected a hello, got {other:?}"),
        }
    }

    /// The sequence numbers of the next `count` events (keep-alives skipped).
    async fn seqs(&mut self, count: usize) -> Vec<u64> {
        let mut seqs = Vec::new();
        while seqs.len() < count {
            match self.next().await {
                Some(StreamLine::Event(event)) => seqs.push(event.seq),
                Some(StreamLine::KeepAlive) => {}
                other => panic!("expected an event, got {other:?}"),
            }
        }
        seqs
    }

    /// Reads until the server ends the response.
    async fn until_end(&mut self) {
        timeout(Duration::from_secs(5), async { while self.next().await.is_some() {} }).await.expect("the end");
    }
}

async fn drop_streams(server: &TestServer) -> FaultReport {
    let drop = server.http.post(server.url("/api/faults/drop")).json(&serde_json::json!({"transport": "http_stream"}));
    drop.send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn hello_first_then_a_line_per_event_with_the_same_seqs_as_a_poll() {
    let server = TestServer::start().await;
    server.publish("before").await;
    let mut lines = Lines::open(&server, "?after=0").await;
    let hello = lines.hello().await;
    assert_eq!((hello.epoch, hello.head_seq), (server.state.hub().epoch().clone(), 1));
    for text in ["a", "b", "c"] {
        server.publish(text).await;
    }
    let streamed = lines.seqs(4).await;
    let polled: PollResponse =
        server.http.get(server.url("/api/poll?after=0")).send().await.unwrap().json().await.unwrap();
    assert_eq!(streamed, polled.events.iter().map(|event| event.seq).collect::<Vec<_>>());
    assert_eq!(streamed, [1, 2, 3, 4]);
}

#[tokio::test]
async fn a_stream_without_after_starts_live() {
    let server = TestServer::start().await;
    server.publish("old").await;
    let mut lines = Lines::open(&server, "").await;
    assert_eq!(lines.hello().await.head_seq, 1);
    server.publish("new").await;
    assert_eq!(lines.seqs(1).await, [2]);
}

#[tokio::test]
async fn never_compressed_even_when_the_client_accepts_gzip() {
    let server = TestServer::start().await;
    let response = server.http.get(server.url("/api/stream")).header("accept-encoding", "gzip, br").send();
    let response = response.await.unwrap();
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    assert!(response.headers().get("content-encoding").is_none(), "{:?}", response.headers());
    assert_eq!(response.headers()["transfer-encoding"], "chunked");
}

#[tokio::test]
async fn a_keep_alive_line_arrives_on_an_idle_stream() {
    let server = TestServer::start_with(&["--sse-keep-alive-seconds", "1"]).await;
    let mut lines = Lines::open(&server, "").await;
    lines.hello().await;
    assert_eq!(lines.next().await, Some(StreamLine::KeepAlive));
}

#[tokio::test]
async fn a_gap_line_says_what_the_history_no_longer_holds() {
    let server = TestServer::start_with(&["--history", "2"]).await;
    for text in ["1", "2", "3", "4", "5"] {
        server.publish(text).await;
    }
    let mut lines = Lines::open(&server, "?after=0").await;
    lines.hello().await;
    assert_eq!(lines.next().await, Some(StreamLine::Gap(protocol::Gap { from: 1, to: 3 })));
    assert_eq!(lines.seqs(2).await, [4, 5]);
}

#[tokio::test]
async fn a_dropped_stream_resumes_with_after_missing_nothing_and_repeating_nothing() {
    let server = TestServer::start().await;
    let mut lines = Lines::open(&server, "?client=me").await;
    lines.hello().await;
    server.wait_for_open(Transport::HttpStream, 1, "the stream is not held yet").await;
    let mut received = Vec::new();
    for text in ["a", "b"] {
        server.publish(text).await;
    }
    received.extend(lines.seqs(2).await);

    assert_eq!(drop_streams(&server).await.dropped_connections, 1);
    lines.until_end().await;
    server.wait_for_open(Transport::HttpStream, 0, "the dropped stream is still counted as open").await;
    for text in ["while away 1", "while away 2"] {
        server.publish(text).await;
    }

    let last = *received.last().unwrap();
    let mut resumed = Lines::open(&server, &format!("?after={last}&client=me")).await;
    assert_eq!(resumed.hello().await.head_seq, 4);
    server.publish("live").await;
    received.extend(resumed.seqs(3).await);
    assert_eq!(received, [1, 2, 3, 4, 5], "no event missed, none twice");
    let stats = server.stats().await.transports[&Transport::HttpStream];
    assert_eq!((stats.requests, stats.open_connections), (2, 1));
}

#[tokio::test]
async fn a_restart_ends_the_stream_and_the_reconnect_hears_the_new_run() {
    let server = TestServer::start().await;
    server.publish("old run").await;
    let mut lines = Lines::open(&server, "?after=0").await;
    let old = lines.hello().await.epoch;
    assert_eq!(lines.seqs(1).await, [1]);
    let report: protocol::RestartReport =
        server.http.post(server.url("/api/faults/restart")).send().await.unwrap().json().await.unwrap();
    lines.until_end().await;

    let mut reconnected = Lines::open(&server, "?after=1").await;
    let hello = reconnected.hello().await;
    assert_ne!(hello.epoch, old);
    assert_eq!(hello.epoch, report.epoch);
    assert_eq!(hello.epoch, Epoch(server.state.hub().epoch().0.clone()));
}

#[tokio::test]
async fn bad_input_gets_400_naming_the_parameter() {
    let server = TestServer::start().await;
    for (query, field) in [("after=abc", "after"), ("after=-1", "after"), ("aftr=1", "aftr"), ("client=", "client")] {
        let response = server.http.get(server.url(&format!("/api/stream?{query}"))).send().await.unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let body: ApiErrorBody = response.json().await.unwrap();
        assert_eq!(body.field.as_deref(), Some(field), "{query}: {}", body.message);
    }
}

#[tokio::test]
async fn the_stream_is_presence_and_is_admitted_like_the_other_held_connections() {
    let server = TestServer::start_with(&["--max-connections-per-address", "1"]).await;
    let mut lines = Lines::open(&server, "?client=student").await;
    lines.hello().await;
    let class: protocol::ClassPresence =
        server.http.get(server.url("/api/class")).send().await.unwrap().json().await.unwrap();
    let presence = &class.transports[&Transport::HttpStream];
    assert_eq!((presence.pages, presence.open_connections), (1, 1));
    let refused = server.http.get(server.url("/api/stream?client=student")).send().await.unwrap();
    assert_eq!(refused.status(), 429);
}

/// A raw socket, so every byte the client received can be compared with what the server counted.
async fn stream_bytes(server: &TestServer, path: &str, transport: Transport, client: &str) -> (usize, Vec<u8>) {
    let request = format!("GET {path}?client={client} HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n");
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    server.wait_for_open(transport, 1, "the stream is not held yet").await;
    for text in ["a", "bb", "ccc"] {
        server.publish(text).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let drop = server.http.post(server.url("/api/faults/drop")).json(&serde_json::json!({"transport": transport}));
    drop.send().await.unwrap();
    let mut received = Vec::new();
    timeout(Duration::from_secs(10), stream.read_to_end(&mut received)).await.unwrap().unwrap();
    (request.len(), received)
}

async fn records(server: &TestServer, client: &str) -> Vec<protocol::WireRecord> {
    let page: WirePage =
        server.http.get(server.url(&format!("/api/wire?client={client}"))).send().await.unwrap().json().await.unwrap();
    page.records
}

#[tokio::test]
async fn every_byte_is_the_lanes_and_each_line_is_a_labelled_chunk() {
    let server = TestServer::start().await;
    let (request_len, received) = stream_bytes(&server, "/api/stream", Transport::HttpStream, "reader").await;
    let totals = server.stats().await.transports[&Transport::HttpStream].wire;
    assert_eq!(totals.to_server.total(), request_len as u64);
    assert_eq!(totals.to_client.total(), received.len() as u64, "every byte the client received, no more");

    let records = records(&server, "reader").await;
    assert!(records.iter().all(|record| record.transport == Some(Transport::HttpStream)));
    let chunks: Vec<_> = records
        .iter()
        .filter_map(|record| match &record.unit {
            WireUnit::Chunk { event, seq } => Some((*event, *seq, record)),
            _ => None,
        })
        .collect();
    let labels: Vec<_> = chunks.iter().map(|(event, seq, _)| (*event, *seq)).collect();
    let message = Some(WireLabel::Message);
    assert_eq!(labels, [(Some(WireLabel::Hello), None), (message, Some(1)), (message, Some(2)), (message, Some(3))]);
    for (_, seq, record) in &chunks {
        // One line per chunk: the JSON is the payload; its newline and the chunk's size line and CRLF are framing.
        let line = record.raw.strip_suffix('\n').expect("a whole line");
        let decoded = StreamLine::decode(line).unwrap();
        assert_eq!(decoded.label().1, *seq);
        assert_eq!(record.bytes.payload, line.len() as u64);
        let chunk_line = format!("{:x}\r\n", record.raw.len()).len() as u64;
        assert_eq!(record.bytes.framing, 1 + chunk_line + 2);
    }
}

/// What one event costs on the wire, framing included, on the HTTP stream and on SSE: the same event JSON, so the
/// difference is the framing (SSE's `id:`/`event:`/`data:` fields against a `"type"` and a newline).
#[tokio::test]
async fn an_event_costs_fewer_bytes_on_the_stream_than_on_sse() {
    let mut per_event = Vec::new();
    for (transport, path) in [(Transport::HttpStream, "/api/stream"), (Transport::Sse, "/api/sse")] {
        let server = TestServer::start().await;
        stream_bytes(&server, path, transport, "meter").await;
        let events: Vec<_> = records(&server, "meter")
            .await
            .into_iter()
            .filter(|record| matches!(record.unit, WireUnit::Chunk { seq: Some(_), .. }))
            .map(|record| (record.bytes.framing, record.bytes.payload))
            .collect();
        assert_eq!(events.len(), 3, "{transport:?}");
        let framing = events.iter().map(|(framing, _)| framing).sum::<u64>() as f64 / 3.0;
        let payload = events.iter().map(|(_, payload)| payload).sum::<u64>() as f64 / 3.0;
        println!("{transport:?}: {:.1} B per event ({framing:.1} framing + {payload:.1} payload)", framing + payload);
        per_event.push(framing + payload);
    }
    assert!(per_event[0] < per_event[1], "{per_event:?}");
}
