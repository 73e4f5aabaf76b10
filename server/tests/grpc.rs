//! gRPC against a client no one here wrote: PyPI's `grpcio` (`tests/peers/grpc_client.py`), over HTTP/2
//! cleartext on the lab's one port. It has no generated code: it learns the service from the server's reflection,
//! so reflection is tested by every call. Each test runs the real server on port 0.

use crate::common;

use std::time::Duration;

use common::grpcio::grpcio;
use common::TestServer;
use protocol::PollResponse;

const PATIENCE: Duration = Duration::from_secs(30);

async fn poll_after(server: &TestServer, after: u64) -> PollResponse {
    server.http.get(server.url(&format!("/api/poll?after={after}"))).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn reflection_names_the_service_and_its_methods() {
    let server = TestServer::start().await;
    let lines = grpcio(server.addr, &["services"]).await;
    let services: Vec<&str> = lines[0]["services"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert!(services.contains(&"lab.v1.Events"), "{services:?}");
    assert!(services.contains(&"grpc.reflection.v1.ServerReflection"), "{services:?}");
    let methods = &lines[1]["methods"];
    assert_eq!(methods[0]["name"], "Subscribe");
    assert_eq!(methods[0]["output"], "lab.v1.Event");
    assert_eq!(methods[0]["server_streaming"], true);
    assert_eq!(methods[1]["name"], "Publish");
    assert_eq!(methods[1]["server_streaming"], false);
}

/// grpcio's Subscribe from 0 gets exactly the numbers and events `/api/poll` gives, in the same run.
#[tokio::test]
async fn grpcio_subscribes_over_http2_and_gets_the_same_events_as_a_poll() {
    let server = TestServer::start().await;
    let mut published = Vec::new();
    for n in 0..5 {
        published.push(server.publish(&format!("message {n}")).await);
    }
    let lines = grpcio(server.addr, &["subscribe", "--after", "0", "--count", "5"]).await;
    let polled = poll_after(&server, 0).await;
    assert_eq!(lines[0]["metadata"]["x-lab-epoch"], polled.epoch.0, "the run, in the initial metadata");
    let streamed: Vec<(u64, String)> = lines[1..6]
        .iter()
        .map(|line| (line["seq"].as_u64().unwrap(), line["text"].as_str().unwrap().to_owned()))
        .collect();
    let expected: Vec<(u64, String)> = polled
        .events
        .iter()
        .map(|event| match &event.body {
            protocol::EventBody::Message { text } => (event.seq, text.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(streamed, expected);
    assert_eq!(streamed.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), published);
    assert_eq!(lines[6]["cancelled"], true);
}

/// Two grpcio processes each open their own connection and make the same calls on it, so each Subscribe has the
/// same stream number: the server's HTTP/2 records tell the two apart by the connections' numbers, which the
/// page's frame table shows.
#[tokio::test]
async fn two_programs_calls_on_one_stream_number_are_told_apart_by_their_connections() {
    let server = TestServer::start().await;
    server.publish("one event").await;
    for _ in 0..2 {
        grpcio(server.addr, &["subscribe", "--after", "0", "--count", "1"]).await;
    }
    let page: protocol::WirePage =
        server.http.get(server.url("/api/wire/http2")).send().await.unwrap().json().await.unwrap();
    let mut calls: Vec<(u64, u32)> = page
        .records
        .iter()
        .filter(|record| record.raw.contains(protocol::grpc::SUBSCRIBE_PATH))
        .map(|record| match record.unit {
            protocol::WireUnit::Http2Frame { connection, stream, .. } => (connection, stream),
            ref other => panic!("a request's headers are a frame: {other:?}"),
        })
        .collect();
    calls.dedup();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls.iter().all(|&(connection, _)| connection > 0), "{calls:?}");
    assert_eq!(calls[0].1, calls[1].1, "the same calls in the same order: the same stream number");
    assert_ne!(calls[0].0, calls[1].0, "each program on its own connection");
}

#[tokio::test]
async fn grpcio_publishes_and_bad_input_gets_the_status_the_spec_names() {
    let server = TestServer::start().await;
    let lines = grpcio(server.addr, &["publish", "hello from grpcio"]).await;
    let seq = lines[0]["seq"].as_u64().expect("a sequence number");
    let polled = poll_after(&server, seq - 1).await;
    assert_eq!(polled.events[0].body, protocol::EventBody::Message { text: "hello from grpcio".into() });

    let empty = grpcio(server.addr, &["publish", ""]).await;
    assert_eq!(empty[0]["status"], "INVALID_ARGUMENT", "{empty:?}");
    let details = empty[0]["details"].as_str().unwrap();
    assert!(details.contains("field `text`") && !details.contains("JSON"), "names the protobuf field: {details}");
    // Field 1 (text) as a length-delimited field that claims 255 bytes and has none: not a protobuf message.
    let broken = grpcio(server.addr, &["raw", "/lab.v1.Events/Publish", "0aff"]).await;
    assert_eq!(broken[0]["status"], "INTERNAL", "the spec's code for a request that cannot be parsed: {broken:?}");
    let unknown = grpcio(server.addr, &["raw", "/lab.v1.Events/Unsubscribe", "00"]).await;
    assert_eq!(unknown[0]["status"], "UNIMPLEMENTED", "{unknown:?}");
    assert_eq!(poll_after(&server, seq).await.events, Vec::new(), "nothing refused was published");
}

/// A restart ends every subscription with ABORTED: its numbers belonged to the old run.
#[tokio::test]
async fn a_restart_ends_a_subscription_with_aborted() {
    let server = TestServer::start().await;
    server.publish("before").await;
    let address = server.addr;
    let subscribed =
        tokio::spawn(async move { grpcio(address, &["subscribe", "--after", "0", "--count", "100"]).await });
    server.wait_for_open(protocol::Transport::Grpc, 1, "the gRPC call is held").await;
    server.http.post(server.url("/api/faults/restart")).send().await.unwrap();
    let lines = subscribed.await.unwrap();
    let last = lines.last().unwrap();
    assert_eq!(last["status"], "ABORTED", "{lines:?}");
    assert!(last["details"].as_str().unwrap().contains("restarted"), "{last}");
}

/// Past the limits: a request message over 16 KiB, and an `after` beyond any number (it means "from now").
#[tokio::test]
async fn an_oversize_message_is_resource_exhausted_and_a_huge_after_means_from_now() {
    let server = TestServer::start().await;
    // Publish { text: 20,000 × "a" }: tag 0x0a, varint length 20000 (0xa0 0x9c 0x01).
    let big = format!("0aa09c01{}", "61".repeat(20_000));
    let refused = grpcio(server.addr, &["raw", "/lab.v1.Events/Publish", &big]).await;
    assert_eq!(refused[0]["status"], "RESOURCE_EXHAUSTED", "{refused:?}");

    let address = server.addr;
    let subscribed =
        tokio::spawn(
            async move { grpcio(address, &["subscribe", "--after", &u64::MAX.to_string(), "--count", "1"]).await },
        );
    server.wait_for_open(protocol::Transport::Grpc, 1, "the gRPC call is held").await;
    let seq = server.publish("after the huge after").await;
    let lines = subscribed.await.unwrap();
    assert_eq!(lines[1]["seq"], seq, "{lines:?}");
}

/// What is not a gRPC call gets HTTP's answer with the lab's JSON body, not a status its client cannot read.
#[tokio::test]
async fn a_request_that_is_not_grpc_gets_415_and_native_grpc_over_http1_gets_400() {
    let server = TestServer::start().await;
    let post = |content_type: &'static str| {
        server.http.post(server.url("/lab.v1.Events/Publish")).header("content-type", content_type).body("x").send()
    };
    // Another codec is another media type: the lab's messages are protobuf (tonic-web alone gave `+json` an empty
    // 400).
    for content_type in ["text/plain", "application/grpc-web+json", "application/grpc+json"] {
        let wrong = post(content_type).await.unwrap();
        assert_eq!(wrong.status(), 415, "{content_type}");
        let body: protocol::ApiErrorBody = wrong.json().await.unwrap();
        assert_eq!((body.error.as_str(), body.field.as_deref()), ("unsupported_media_type", Some("Content-Type")));
        assert!(body.message.contains(content_type), "{}", body.message);
    }
    let over_http1 = post("application/grpc").await.unwrap();
    assert_eq!(over_http1.status(), 400);
    let body: protocol::ApiErrorBody = over_http1.json().await.unwrap();
    assert_eq!(body.error, "http2_required");
}

/// A gRPC-web call to a service the lab does not serve is UNIMPLEMENTED (12), not the page's HTML 404; a plain
/// request to an unknown path still gets the page.
#[tokio::test]
async fn an_unknown_grpc_service_is_unimplemented() {
    let server = TestServer::start().await;
    let call =
        server.http.post(server.url("/lab.v1.Nope/Publish")).header("content-type", "application/grpc-web+proto");
    let response = call.body(vec![0u8; 5]).send().await.unwrap();
    assert_eq!(response.headers()["grpc-status"], "12");
    assert_eq!(response.headers()["content-type"], "application/grpc-web+proto");
    let page = server.http.get(server.url("/no/such/page")).send().await.unwrap();
    assert_eq!(page.status(), 404);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
}

/// HTTP/2's own limits hold for a real client: a header list over 16 KiB is refused with 431 and publishes nothing,
/// and the next call is served as usual.
#[tokio::test]
async fn a_header_list_over_the_limit_is_refused_with_431() {
    let server = TestServer::start().await;
    let head = poll_after(&server, 0).await.next;
    let refused = grpcio(server.addr, &["publish", "too big a header", "--header-bytes", "20000"]).await;
    assert!(refused[0]["details"].as_str().unwrap().contains("431"), "{refused:?}");
    assert_eq!(poll_after(&server, head).await.events, Vec::new(), "nothing was published");
    let fine = grpcio(server.addr, &["publish", "a normal one", "--header-bytes", "8000"]).await;
    assert!(fine[0]["seq"].as_u64().is_some(), "{fine:?}");
}

/// A raw HTTP/2 client: the frames a hostile peer would send, written by hand because a real client library would
/// never send them.
mod raw_http2 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    pub const HEADERS: u8 = 0x1;
    pub const RST_STREAM: u8 = 0x3;
    pub const SETTINGS: u8 = 0x4;
    pub const GOAWAY: u8 = 0x7;
    pub const END_HEADERS: u8 = 0x4;
    pub const REFUSED_STREAM: u32 = 0x7;

    pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let mut bytes = (payload.len() as u32).to_be_bytes()[1..].to_vec();
        bytes.extend([kind, flags]);
        bytes.extend(stream.to_be_bytes());
        bytes.extend(payload);
        bytes
    }

    /// A Subscribe call's request headers, its body never sent: the stream stays open, waiting.
    pub fn open_subscribe(encoder: &mut loona_hpack::Encoder, stream: u32) -> Vec<u8> {
        let headers: [(&[u8], &[u8]); 6] = [
            (b":method", b"POST"),
            (b":scheme", b"http"),
            (b":authority", b"lab"),
            (b":path", protocol::grpc::SUBSCRIBE_PATH.as_bytes()),
            (b"content-type", b"application/grpc"),
            (b"te", b"trailers"),
        ];
        frame(HEADERS, END_HEADERS, stream, &encoder.encode(headers))
    }

    /// Reads frames until `wanted` says stop (or the connection ends): (type, stream, payload).
    pub async fn read_until(
        socket: &mut TcpStream,
        mut wanted: impl FnMut(u8, u32, &[u8]) -> bool,
    ) -> Option<(u8, u32, Vec<u8>)> {
        loop {
            let mut header = [0u8; 9];
            socket.read_exact(&mut header).await.ok()?;
            let length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
            let stream = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) & 0x7fff_ffff;
            let mut payload = vec![0; length];
            socket.read_exact(&mut payload).await.ok()?;
            if wanted(header[3], stream, &payload) {
                return Some((header[3], stream, payload));
            }
        }
    }

    pub async fn connect(server: std::net::SocketAddr) -> TcpStream {
        let mut socket = TcpStream::connect(server).await.unwrap();
        socket.write_all(PREFACE).await.unwrap();
        socket.write_all(&frame(SETTINGS, 0, 0, &[])).await.unwrap();
        socket
    }
}

/// A flood of streams on one connection: past the 100 the lab allows open at once, each new one is refused with
/// RST_STREAM(REFUSED_STREAM) and the first hundred stay; the lab goes on serving everyone else.
#[tokio::test]
async fn a_flood_of_streams_is_refused_past_one_hundred_open_at_once() {
    use tokio::io::AsyncWriteExt;
    let server = TestServer::start().await;
    let mut socket = raw_http2::connect(server.addr).await;
    let mut encoder = loona_hpack::Encoder::new();
    let mut flood = Vec::new();
    for n in 0..110u32 {
        flood.extend(raw_http2::open_subscribe(&mut encoder, 2 * n + 1));
    }
    socket.write_all(&flood).await.unwrap();
    let mut refused = Vec::new();
    let read = raw_http2::read_until(&mut socket, |kind, stream, payload| {
        if kind == raw_http2::RST_STREAM {
            assert_eq!(u32::from_be_bytes(payload[..4].try_into().unwrap()), raw_http2::REFUSED_STREAM);
            refused.push(stream);
        }
        refused.len() == 10 || kind == raw_http2::GOAWAY
    });
    let ended = tokio::time::timeout(PATIENCE, read).await.expect("refusals in time");
    assert_ne!(ended.map(|(kind, ..)| kind), Some(raw_http2::GOAWAY), "only the excess is refused");
    assert_eq!(refused, (100..110).map(|n| 2 * n + 1).collect::<Vec<_>>());
    // Everyone else is still served.
    assert!(grpcio(server.addr, &["publish", "still here"]).await[0]["seq"].as_u64().is_some());
}

/// A SETTINGS flood from a client that never reads: hyper answers each SETTINGS with an ACK before it reads the
/// next frame, so a client that does not read its ACKs stops being read, holds no more than one pending answer,
/// and is cut once its writes have stalled for the write-stall timeout.
#[tokio::test]
async fn a_settings_flood_from_a_client_that_never_reads_is_bounded_and_cut() {
    use tokio::io::AsyncWriteExt;
    let server = TestServer::start_with(&["--write-stall-timeout-seconds", "1"]).await;
    let mut socket = raw_http2::connect(server.addr).await;
    let settings = raw_http2::frame(raw_http2::SETTINGS, 0, 0, &[0, 0x3, 0, 0, 0, 100]);
    let flood: Vec<u8> = settings.iter().copied().cycle().take(settings.len() * 10_000).collect();
    // 64 MB of SETTINGS offered, far more than loopback's socket buffers can hold unread.
    let mut sent = 0;
    let closed = tokio::time::timeout(Duration::from_secs(20), async {
        for piece in flood.chunks(64 * 1024).cycle().take(1000) {
            if socket.write_all(piece).await.is_err() {
                return;
            }
            sent += piece.len();
        }
    })
    .await;
    println!("SETTINGS flood: {sent} B taken before the lab cut the connection");
    assert!(closed.is_ok(), "the lab neither stopped reading nor cut the connection: {sent} B taken");
    assert!(sent < 1000 * 64 * 1024, "the lab read the whole flood without answering it");
    assert!(grpcio(server.addr, &["publish", "still here"]).await[0]["seq"].as_u64().is_some());
}
