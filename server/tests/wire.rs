//! The server's byte counts against the bytes a real client sent and received on its own socket.

use crate::common;

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use common::TestServer;
use futures::{SinkExt, StreamExt};
use protocol::{Transport, WireBytes, WireDirection, WireLabel, WirePage, WireRecord, WireTotals, WireUnit};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

async fn wire_totals(server: &TestServer, transport: Transport) -> WireTotals {
    server.stats().await.transports[&transport].wire
}

async fn records(server: &TestServer, client: &str) -> Vec<WireRecord> {
    let url = server.url(&format!("/api/wire?client={client}"));
    server.http.get(url).send().await.unwrap().json::<WirePage>().await.unwrap().records
}

/// Reads until the server closes the connection.
async fn read_to_end(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    timeout(Duration::from_secs(10), stream.read_to_end(&mut received)).await.unwrap().unwrap();
    received
}

#[tokio::test]
async fn a_short_poll_is_counted_to_the_byte_and_split_into_head_and_body() {
    let server = TestServer::start().await;
    server.publish("one").await;
    let request = b"GET /api/poll?after=0&client=poller HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n";
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let received = read_to_end(&mut stream).await;

    let head = received.windows(4).position(|window| window == b"\r\n\r\n").unwrap() + 4;
    let totals = wire_totals(&server, Transport::ShortPoll).await;
    assert_eq!(totals.to_server, WireBytes { head: request.len() as u64, framing: 0, payload: 0 });
    assert_eq!(totals.to_client, WireBytes { head: head as u64, framing: 0, payload: (received.len() - head) as u64 });

    // The page's records say the same, with the head exactly as it was sent.
    let records = records(&server, "poller").await;
    assert_eq!(records[0].raw.as_bytes(), request);
    assert!(matches!(&records[0].unit, WireUnit::Request { method, new_connection: true, .. } if method == "GET"));
    assert_eq!(records[1].raw.as_bytes(), &received[..head]);
    let exchange = String::from_utf8_lossy(&received[..head])
        .lines()
        .find_map(|line| line.strip_prefix("x-lab-exchange: ").map(|id| id.parse::<u64>().unwrap()))
        .expect("the response names its exchange");
    assert!(records.iter().all(|record| record.exchange == exchange), "exchange {exchange}: {records:#?}");
}

#[tokio::test]
async fn an_sse_stream_is_counted_to_the_byte_with_each_event_in_its_own_chunk() {
    let server = TestServer::start().await;
    let request = b"GET /api/sse?client=reader HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n";
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    server.wait_for_open(Transport::Sse, 1, "the stream is not held yet").await;
    for text in ["a", "bb", "ccc"] {
        server.publish(text).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    server
        .http
        .post(server.url("/api/faults/drop"))
        .json(&serde_json::json!({"transport": "sse"}))
        .send()
        .await
        .unwrap();
    let received = read_to_end(&mut stream).await;

    let totals = wire_totals(&server, Transport::Sse).await;
    assert_eq!(totals.to_server.total(), request.len() as u64);
    assert_eq!(totals.to_client.total(), received.len() as u64, "every byte the client received, no more");

    let records = records(&server, "reader").await;
    let chunks: Vec<_> = records
        .iter()
        .filter_map(|record| match &record.unit {
            WireUnit::Chunk { event, seq } => Some((*event, *seq, record)),
            _ => None,
        })
        .collect();
    let names: Vec<_> = chunks.iter().map(|(event, seq, _)| (event.map(WireLabel::as_str), *seq)).collect();
    let message = Some("message");
    assert_eq!(names, [(Some("hello"), None), (message, Some(1)), (message, Some(2)), (message, Some(3))]);
    for (_, seq, record) in &chunks[1..] {
        // The payload is exactly the JSON of the event's `data:` line; the rest of the chunk is framing.
        let data = record.raw.lines().find_map(|line| line.strip_prefix("data: ")).unwrap();
        let event: protocol::Event = serde_json::from_str(data).unwrap();
        assert_eq!(Some(event.seq), *seq);
        assert_eq!(record.bytes.payload, data.len() as u64);
        let chunk_line = format!("{:x}\r\n", record.raw.len()).len() as u64;
        assert_eq!(record.bytes.framing, record.raw.len() as u64 - data.len() as u64 + chunk_line + 2);
    }
    assert!(records.iter().any(|record| record.unit == WireUnit::LastChunk && record.bytes.framing == 5));
}

/// A socket that counts what crosses it, as the client saw it.
struct Counted {
    inner: TcpStream,
    read: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
}

impl AsyncRead for Counted {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        self.read.fetch_add((buf.filled().len() - before) as u64, Relaxed);
        result
    }
}

impl AsyncWrite for Counted {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(written)) = result {
            self.written.fetch_add(written as u64, Relaxed);
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[tokio::test]
async fn a_websocket_is_counted_to_the_byte_both_ways_with_frame_headers_as_framing() {
    let server = TestServer::start().await;
    let (read, written) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let stream =
        Counted { inner: TcpStream::connect(server.addr).await.unwrap(), read: read.clone(), written: written.clone() };
    let url = server.ws_url("/api/ws?client=socket");
    let (mut socket, _) = tokio_tungstenite::client_async(url, stream).await.unwrap();
    server.publish("x".repeat(200).as_str()).await; // a payload over 125 bytes: a 4-byte header
    socket.send(Message::text(r#"{"type":"publish","text":"from the socket"}"#)).await.unwrap();
    let mut acked = false;
    while !acked {
        let message = timeout(Duration::from_secs(5), socket.next()).await.unwrap().unwrap().unwrap();
        acked = matches!(message, Message::Text(ref text) if text.contains(r#""type":"ack""#));
    }
    socket.close(None).await.unwrap();
    while let Some(Ok(_)) = timeout(Duration::from_secs(5), socket.next()).await.unwrap() {}
    server.wait_for_open(Transport::WebSocket, 0, "the socket is still open").await;

    let totals = wire_totals(&server, Transport::WebSocket).await;
    assert_eq!(totals.to_server.total(), written.load(Relaxed), "bytes the client wrote");
    assert_eq!(totals.to_client.total(), read.load(Relaxed), "bytes the client read");

    let records = records(&server, "socket").await;
    let frames: Vec<_> = records.iter().filter(|record| matches!(record.unit, WireUnit::Frame { .. })).collect();
    for record in &frames {
        let WireUnit::Frame { masked, length_bits, .. } = &record.unit else { unreachable!() };
        let from_client = record.direction == WireDirection::ToServer;
        assert_eq!(*masked, from_client, "only client frames are masked");
        let length_bytes = match length_bits {
            7 => 0,
            16 => 2,
            _ => 8,
        };
        assert_eq!(record.bytes.framing, 2 + length_bytes + if from_client { 4 } else { 0 });
    }
    let event = frames
        .iter()
        .find(|record| matches!(&record.unit, WireUnit::Frame { seq: Some(1), event: Some(WireLabel::Message), .. }))
        .expect("the event frame, named");
    assert_eq!((event.bytes.framing, event.bytes.payload > 200), (4, true));
    assert!(frames.iter().any(|record| matches!(&record.unit, WireUnit::Frame { opcode, .. } if opcode == "close")));

    // Each frame keeps its header as it crossed: the client's mask key is its last 4 bytes, and unmasks the payload.
    let hex = |text: &str| -> Vec<u8> { text.split(' ').map(|byte| u8::from_str_radix(byte, 16).unwrap()).collect() };
    for record in &frames {
        let WireUnit::Frame { header, .. } = &record.unit else { unreachable!() };
        assert_eq!(hex(header).len() as u64, record.bytes.framing, "{header}");
    }
    let publish = frames
        .iter()
        .find(|record| {
            record.direction == WireDirection::ToServer
                && matches!(&record.unit, WireUnit::Frame { opcode, .. } if opcode == "text")
        })
        .expect("the client's publish");
    let WireUnit::Frame { header, .. } = &publish.unit else { unreachable!() };
    let key = hex(header)[2..6].to_vec();
    let unmasked: Vec<u8> = hex(&publish.raw).iter().enumerate().map(|(index, byte)| byte ^ key[index % 4]).collect();
    assert_eq!(unmasked, br#"{"type":"publish","text":"from the socket"}"#);

    // The server let go of the connection: the page is told, with how many exchanges it carried.
    let mut closed = None;
    for _ in 0..50 {
        closed = self::records(&server, "socket")
            .await
            .into_iter()
            .find(|record| matches!(record.unit, WireUnit::ConnectionClosed { .. }));
        if closed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let closed = closed.expect("a connection_closed record");
    assert!(matches!(closed.unit, WireUnit::ConnectionClosed { exchanges: 1, .. }), "{closed:?}");
    assert_eq!((closed.transport, closed.bytes.total()), (Some(Transport::WebSocket), 0));
}

#[tokio::test]
async fn the_wire_side_channel_refuses_bad_queries_by_name() {
    let server = TestServer::start().await;
    for (query, field) in
        [("", "client"), ("?client=a%20b", "client"), ("?client=me&after=abc", "after"), ("?client=me&x=1", "x")]
    {
        let response = server.http.get(server.url(&format!("/api/wire{query}"))).send().await.unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let body: protocol::ApiErrorBody = response.json().await.unwrap();
        assert_eq!(body.field.as_deref(), Some(field), "{query}: {}", body.message);
    }
    // A page the server has never seen simply has no records yet.
    let page: WirePage =
        server.http.get(server.url("/api/wire?client=nobody")).send().await.unwrap().json().await.unwrap();
    assert_eq!((page.records.len(), page.next), (0, 0));
    // The HTTP/2 records: no client to name, the same paging.
    for (query, field) in [("?after=-1", "after"), ("?client=me", "client")] {
        let response = server.http.get(server.url(&format!("/api/wire/http2{query}"))).send().await.unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let body: protocol::ApiErrorBody = response.json().await.unwrap();
        assert_eq!(body.field.as_deref(), Some(field), "{query}: {}", body.message);
    }
    let page: WirePage = server.http.get(server.url("/api/wire/http2")).send().await.unwrap().json().await.unwrap();
    assert_eq!((page.records.len(), page.next), (0, 0), "no HTTP/2 connection yet");
}
