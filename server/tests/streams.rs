//! SSE and WebSocket over real sockets, read by client libraries this project did not write
//! (`eventsource-stream`, `tokio-tungstenite`).

use crate::common;

use std::time::Duration;

use common::TestServer;
use eventsource_stream::Eventsource;
use futures::{SinkExt, Stream, StreamExt};
use protocol::{close_code, Event, StreamHello, Transport, WsServerMessage};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

const PATIENCE: Duration = Duration::from_secs(10);

type SseStream = std::pin::Pin<Box<dyn Stream<Item = eventsource_stream::Event> + Send>>;

async fn open_sse(server: &TestServer, query: &str, last_event_id: Option<u64>) -> SseStream {
    let mut request = server.http.get(server.url(&format!("/api/sse{query}")));
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id.to_string());
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    Box::pin(response.bytes_stream().eventsource().map(|event| event.expect("well-formed SSE")))
}

async fn next_sse(stream: &mut SseStream) -> eventsource_stream::Event {
    timeout(PATIENCE, stream.next()).await.expect("an SSE event in time").expect("stream still open")
}

/// Reads `count` hub events from the stream, checking each `id:` and `event:` line against the JSON.
async fn sse_seqs(stream: &mut SseStream, count: usize) -> Vec<u64> {
    let mut seqs = Vec::new();
    while seqs.len() < count {
        let message = next_sse(stream).await;
        let event: Event = serde_json::from_str(&message.data).unwrap();
        assert_eq!(message.id, event.seq.to_string());
        assert_eq!(message.event, event.body.kind_name());
        seqs.push(event.seq);
    }
    seqs
}

#[tokio::test]
async fn sse_starts_with_hello_then_streams_live_events() {
    let server = TestServer::start().await;
    let mut stream = open_sse(&server, "", None).await;
    let hello = next_sse(&mut stream).await;
    assert_eq!(hello.event, "hello");
    assert_eq!(hello.retry, Some(Duration::from_millis(2000)));
    let hello: StreamHello = serde_json::from_str(&hello.data).unwrap();
    assert_eq!(&hello.epoch, server.state.hub().epoch());
    for text in ["a", "b"] {
        server.publish(text).await;
    }
    assert_eq!(sse_seqs(&mut stream, 2).await, [1, 2]);
}

#[tokio::test]
async fn sse_last_event_id_replays_what_was_missed_with_no_gap_and_no_duplicate() {
    let server = TestServer::start().await;
    let mut first = open_sse(&server, "?after=0", None).await;
    next_sse(&mut first).await; // hello
    for i in 0..3 {
        server.publish(&format!("before {i}")).await;
    }
    assert_eq!(sse_seqs(&mut first, 3).await, [1, 2, 3]);
    drop(first);
    for i in 0..4 {
        server.publish(&format!("while away {i}")).await;
    }
    // As a browser reconnects: the original URL (after=0) plus Last-Event-ID, which must win.
    let mut resumed = open_sse(&server, "?after=0", Some(3)).await;
    next_sse(&mut resumed).await;
    server.publish("live again").await;
    assert_eq!(sse_seqs(&mut resumed, 5).await, [4, 5, 6, 7, 8]);
}

#[tokio::test]
async fn sse_keep_alive_comment_arrives_on_an_idle_stream() {
    let server = TestServer::start_with(&["--sse-keep-alive-seconds", "1"]).await;
    let response = server.http.get(server.url("/api/sse")).send().await.unwrap();
    let mut bytes = response.bytes_stream();
    let mut text = String::new();
    while !text.contains(": keep-alive\n\n") {
        let chunk = timeout(Duration::from_secs(5), bytes.next()).await.expect("keep-alive in time").unwrap().unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}

#[tokio::test]
async fn sse_gap_is_explicit_when_history_is_gone() {
    let server = TestServer::start_with(&["--history", "2"]).await;
    for text in ["a", "b", "c", "d", "e"] {
        server.publish(text).await;
    }
    let mut stream = open_sse(&server, "?after=1", None).await;
    next_sse(&mut stream).await;
    let gap = next_sse(&mut stream).await;
    assert_eq!((gap.event.as_str(), gap.id.as_str()), ("gap", "3"));
    assert_eq!(gap.data, r#"{"from":2,"to":3}"#);
    assert_eq!(sse_seqs(&mut stream, 2).await, [4, 5]);
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open_ws(server: &TestServer, query: &str) -> Socket {
    let (socket, response) = tokio_tungstenite::connect_async(server.ws_url(&format!("/api/ws{query}"))).await.unwrap();
    assert_eq!(response.status(), 101);
    socket
}

async fn next_ws(socket: &mut Socket) -> WsServerMessage {
    loop {
        match timeout(PATIENCE, socket.next()).await.expect("a frame in time").expect("socket open").unwrap() {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

async fn ws_seqs(socket: &mut Socket, count: usize) -> Vec<u64> {
    let mut seqs = Vec::new();
    while seqs.len() < count {
        match next_ws(socket).await {
            WsServerMessage::Event(event) => seqs.push(event.seq),
            other => panic!("expected an event, got {other:?}"),
        }
    }
    seqs
}

#[tokio::test]
async fn ws_hello_then_one_text_frame_per_event() {
    let server = TestServer::start().await;
    let mut socket = open_ws(&server, "").await;
    match next_ws(&mut socket).await {
        WsServerMessage::Hello(hello) => assert_eq!(&hello.epoch, server.state.hub().epoch()),
        other => panic!("expected hello, got {other:?}"),
    }
    server.publish("over the socket").await;
    assert_eq!(ws_seqs(&mut socket, 1).await, [1]);
}

#[tokio::test]
async fn ws_resumes_after_a_sequence_number() {
    let server = TestServer::start().await;
    for i in 0..5 {
        server.publish(&format!("m{i}")).await;
    }
    let mut socket = open_ws(&server, "?after=2").await;
    next_ws(&mut socket).await;
    server.publish("live").await;
    assert_eq!(ws_seqs(&mut socket, 4).await, [3, 4, 5, 6]);
}

#[tokio::test]
async fn ws_publish_is_acknowledged_with_its_seq_and_delivered() {
    let server = TestServer::start().await;
    let mut socket = open_ws(&server, "").await;
    next_ws(&mut socket).await;
    socket.send(Message::text(r#"{"type":"publish","text":"from the socket"}"#)).await.unwrap();
    let mut seen_ack = false;
    let mut seen_event = false;
    while !(seen_ack && seen_event) {
        match next_ws(&mut socket).await {
            WsServerMessage::Ack { seq } => seen_ack = seq == 1,
            WsServerMessage::Event(event) => seen_event = event.seq == 1,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn ws_bad_messages_get_an_error_frame_and_the_socket_stays_open() {
    let server = TestServer::start().await;
    let mut socket = open_ws(&server, "").await;
    next_ws(&mut socket).await;
    let too_long = format!(r#"{{"type":"publish","text":"{}"}}"#, "x".repeat(2000));
    for (frame, expected) in [
        ("not json", "malformed_json"),
        (r#"{"type":"shout","text":"hi"}"#, "invalid_field"),
        (r#"{"type":"publish"}"#, "invalid_field"),
        (too_long.as_str(), "invalid_field"),
    ] {
        socket.send(Message::text(frame)).await.unwrap();
        match next_ws(&mut socket).await {
            WsServerMessage::Error { error, message } => assert_eq!(error, expected, "{frame}: {message}"),
            other => panic!("expected an error frame for {frame}, got {other:?}"),
        }
    }
    assert_eq!(server.state.hub().head_seq(), 0, "nothing invalid was published");
    server.publish("still here").await;
    assert_eq!(ws_seqs(&mut socket, 1).await, [1]);
}

#[tokio::test]
async fn ws_binary_frame_is_closed_with_1003() {
    let server = TestServer::start().await;
    let mut socket = open_ws(&server, "").await;
    socket.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(common::close_frame_of(&mut socket).await.0, close_code::UNSUPPORTED_DATA);
}

#[tokio::test]
async fn ws_oversize_message_is_closed_with_1009() {
    let server = TestServer::start().await;
    let mut socket = open_ws(&server, "").await;
    socket.send(Message::text("x".repeat(64 * 1024))).await.unwrap();
    let (code, reason) = common::close_frame_of(&mut socket).await;
    assert_eq!(code, close_code::MESSAGE_TOO_BIG, "{reason}");
}

#[tokio::test]
async fn ws_invalid_utf8_is_closed_with_1007() {
    let server = TestServer::start().await;
    let mut socket = open_ws(&server, "").await;
    let frame = Frame::message(vec![0xff, 0xfe, 0xfd], OpCode::Data(Data::Text), true);
    socket.send(Message::Frame(frame)).await.unwrap();
    assert_eq!(common::close_frame_of(&mut socket).await.0, close_code::INVALID_PAYLOAD);
}

#[tokio::test]
async fn ws_client_that_never_answers_pings_is_closed_with_1008() {
    let server = TestServer::start_with(&["--ws-ping-seconds", "1"]).await;
    let (stream, _) = tokio_tungstenite::connect_async(server.ws_url("/api/ws")).await.unwrap();
    // Never reading means never answering the server's pings.
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let mut stream = stream;
    assert_eq!(common::close_frame_of(&mut stream).await.0, close_code::POLICY_VIOLATION);
}

#[tokio::test]
async fn ws_client_that_answers_pings_is_pinged_each_interval_and_stays_open() {
    let server = TestServer::start_with(&["--ws-ping-seconds", "1"]).await;
    let mut socket = open_ws(&server, "").await;
    assert!(matches!(next_ws(&mut socket).await, WsServerMessage::Hello(_)));
    // tungstenite answers each ping with a pong as it reads; the fan-out pings every stream from one timer.
    let mut pings = 0;
    let listening = tokio::time::Instant::now() + Duration::from_millis(3_600);
    while let Ok(frame) = tokio::time::timeout_at(listening, socket.next()).await {
        match frame.expect("socket open").unwrap() {
            Message::Ping(payload) => {
                assert!(payload.is_empty());
                pings += 1;
            }
            other => panic!("unexpected frame {other:?}"),
        }
    }
    assert!((3..=4).contains(&pings), "one ping a second for 3.6 s, got {pings}");
    let seq = server.publish("still here").await;
    assert_eq!(ws_seqs(&mut socket, 1).await, [seq]);
}

/// A heartbeat's ping rides behind an event in the same write (one system call, one TCP segment) when events are
/// flowing. Read on the bare socket, below any WebSocket library: a ping written on its own would start a read of
/// its own; behind an event it comes in the same read, after the event's frame.
#[tokio::test]
async fn ws_pings_ride_behind_events_in_the_same_write() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let server = TestServer::start_with(&["--ws-ping-seconds", "1"]).await;
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let handshake = format!(
        "GET /api/ws HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        server.addr
    );
    tcp.write_all(handshake.as_bytes()).await.unwrap();
    let mut pending = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    while !pending.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = tcp.read(&mut chunk).await.unwrap();
        assert!(read > 0, "the server closed during the handshake");
        pending.extend_from_slice(&chunk[..read]);
    }
    let head_end = pending.windows(4).position(|window| window == b"\r\n\r\n").unwrap() + 4;
    assert!(pending.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&pending[..head_end]));
    pending.drain(..head_end);

    let publishing = async {
        for index in 0..70 {
            server.publish(&format!("tick {index}")).await;
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    };
    // Each frame the server sent (unmasked, under 64 KiB here), and whether it began a read of its own.
    let reading = async {
        let (mut riding, mut alone, mut events) = (0, 0, 0);
        let mut frame_starts_read = pending.is_empty();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(2_600);
        while let Ok(read) = tokio::time::timeout_at(deadline, tcp.read(&mut chunk)).await {
            let read = read.unwrap();
            assert!(read > 0, "the server closed the socket");
            let starts_read_at = pending.len();
            pending.extend_from_slice(&chunk[..read]);
            while let Some((opcode, frame_len)) = server_frame(&pending) {
                let began_this_read = starts_read_at == 0 && frame_starts_read;
                match opcode {
                    0x1 => events += 1,
                    0x9 if began_this_read => alone += 1,
                    0x9 => riding += 1,
                    other => panic!("unexpected opcode {other:#x}"),
                }
                if opcode == 0x9 {
                    // The pong, masked as a client's frames must be (the mask key is all zeros, so the payload,
                    // empty here, is unchanged).
                    tcp.write_all(&[0x8A, 0x80, 0, 0, 0, 0]).await.unwrap();
                }
                pending.drain(..frame_len);
                frame_starts_read = false;
            }
            frame_starts_read = pending.is_empty();
        }
        (riding, alone, events)
    };
    let ((riding, alone, events), ()) = tokio::join!(reading, publishing);
    assert!(events > 20, "events flowed: {events}");
    assert!(riding >= 2 && riding > alone, "pings behind an event: {riding}, on their own: {alone}");
}

/// The opcode and whole length of the server frame at the start of `bytes`, once all of it is there.
fn server_frame(bytes: &[u8]) -> Option<(u8, usize)> {
    let (first, second) = (*bytes.first()?, *bytes.get(1)?);
    assert_eq!(second & 0x80, 0, "a server's frames are not masked");
    let (header, payload) = match second & 0x7F {
        126 => (4, u16::from_be_bytes([*bytes.get(2)?, *bytes.get(3)?]) as usize),
        127 => panic!("no frame here is that long"),
        short => (2, short as usize),
    };
    (bytes.len() >= header + payload).then_some((first & 0x0F, header + payload))
}

type Lines = futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>;

async fn open_lines(server: &TestServer) -> Lines {
    server.http.get(server.url("/api/stream")).send().await.unwrap().bytes_stream().boxed()
}

/// The next event's seq on an HTTP stream (its hello and keep-alives skipped), or `None` once it ends.
async fn next_line_seq(lines: &mut Lines) -> Option<u64> {
    let mut splitter = protocol::ndjson::LineSplitter::default();
    loop {
        let chunk = timeout(PATIENCE, lines.next()).await.expect("a line in time")?.ok()?;
        for line in splitter.push(&chunk) {
            if let protocol::ndjson::StreamLine::Event(event) =
                protocol::ndjson::StreamLine::decode(&line.unwrap()).unwrap()
            {
                return Some(event.seq);
            }
        }
    }
}

#[tokio::test]
async fn a_published_message_reaches_every_transport() {
    let server = TestServer::start().await;
    let mut sse = open_sse(&server, "", None).await;
    next_sse(&mut sse).await;
    let mut socket = open_ws(&server, "").await;
    next_ws(&mut socket).await;
    let long_poll = tokio::spawn({
        let http = server.http.clone();
        let url = server.url("/api/long-poll?after=0&timeout=30");
        async move { http.get(url).send().await.unwrap().json::<protocol::PollResponse>().await.unwrap() }
    });
    server.wait_for_open(Transport::LongPoll, 1, "the long poll is held").await;
    let mut lines = open_lines(&server).await;
    server.wait_for_open(Transport::HttpStream, 1, "the HTTP stream is held").await;
    // And the lab's own webhook receiver, registered as an endpoint.
    let endpoint = server
        .http
        .post(server.url("/api/webhooks/endpoints"))
        .json(&serde_json::json!({"url": "lab"}))
        .send()
        .await
        .unwrap();
    assert_eq!(endpoint.status(), 201);
    // And a subscriber of the broker's event topics.
    let mut mqtt = common::mqtt_socket::MqttSocket::open(&server).await;
    mqtt.connect(mqtt5_protocol::ConnectOptions::new("every-lane").with_keep_alive(Duration::from_secs(60))).await;
    mqtt.subscribe(protocol::mqtt::EVENTS_FILTER, mqtt5_protocol::QoS::AtMostOnce).await;

    // And a gRPC-web subscriber, as the page's lane.
    let (status, _, grpc) = common::grpc_web::subscribe(&server, None).await;
    assert_eq!(status, 200);
    let mut grpc = Box::pin(grpc);
    server.wait_for_open(Transport::Grpc, 1, "the gRPC call is held").await;

    let seq = server.publish("hello, every lane").await;

    assert_eq!(sse_seqs(&mut sse, 1).await, [seq]);
    assert_eq!(ws_seqs(&mut socket, 1).await, [seq]);
    assert_eq!(next_line_seq(&mut lines).await, Some(seq));
    assert_eq!(long_poll.await.unwrap().events[0].seq, seq);
    let polled: protocol::PollResponse =
        server.http.get(server.url("/api/poll?after=0")).send().await.unwrap().json().await.unwrap();
    assert_eq!(polled.events[0].seq, seq);
    assert_eq!(common::mqtt_socket::seq_of(&mqtt.publish().await), seq);
    match timeout(PATIENCE, grpc.next()).await.expect("a gRPC message in time") {
        Some(common::grpc_web::WebItem::Delivered(protocol::grpc::Delivered::Event(event))) => {
            assert_eq!(event.seq, seq)
        }
        other => panic!("expected the event, got {other:?}"),
    }

    // The webhook is acknowledged by the receiver a moment after the POST; the other lanes have theirs already.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let stats = loop {
        let stats = server.stats().await;
        if stats.transports[&Transport::Webhook].events_delivered > 0 || tokio::time::Instant::now() > deadline {
            break stats;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for transport in Transport::ALL {
        assert_eq!(stats.transports[&transport].events_delivered, 1, "{transport:?}");
    }
    assert_eq!(stats.transports[&Transport::Webhook].requests, 1, "one POST, acknowledged at once");
    assert_eq!(stats.transports[&Transport::Sse].open_connections, 1);
    assert_eq!(stats.transports[&Transport::WebSocket].open_connections, 1);
}

#[tokio::test]
async fn closing_the_hub_ends_streams_and_closes_sockets_with_1001() {
    let server = TestServer::start().await;
    let mut socket = open_ws(&server, "").await;
    next_ws(&mut socket).await;
    let mut sse = open_sse(&server, "", None).await;
    next_sse(&mut sse).await;
    let mut lines = open_lines(&server).await;
    server.wait_for_open(Transport::HttpStream, 1, "the HTTP stream is held").await;
    server.state.hub().close();
    assert_eq!(common::close_frame_of(&mut socket).await.0, close_code::GOING_AWAY);
    assert!(timeout(PATIENCE, sse.next()).await.expect("stream ends in time").is_none());
    assert_eq!(next_line_seq(&mut lines).await, None, "the HTTP stream ends too");
}

/// Reads one HTTP/1.1 chunk: its data, or `None` for the last chunk (`0\r\n\r\n`).
async fn read_chunk(reader: &mut (impl tokio::io::AsyncBufRead + Unpin)) -> Option<Vec<u8>> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};
    let mut size_line = String::new();
    reader.read_line(&mut size_line).await.unwrap();
    let size = usize::from_str_radix(size_line.trim_end_matches("\r\n"), 16).expect("a chunk-size line");
    let mut data = vec![0; size + 2];
    reader.read_exact(&mut data).await.unwrap();
    assert_eq!(&data[size..], b"\r\n", "each chunk ends with CRLF");
    data.truncate(size);
    (size > 0).then_some(data)
}

/// Reads a response head, up to its blank line.
async fn read_head(reader: &mut (impl tokio::io::AsyncBufRead + Unpin)) -> String {
    use tokio::io::AsyncBufReadExt;
    let mut head = String::new();
    while !head.ends_with("\r\n\r\n") {
        assert!(reader.read_line(&mut head).await.unwrap() > 0, "the head ends before the connection: {head}");
    }
    head.to_ascii_lowercase()
}

/// An endless stream leaves hyper once its head is written and the lab writes the chunks itself (what an idle
/// stream costs: docs/src/scale.md). The byte stream must be what hyper would have sent, on a kept-alive connection
/// that carried another request first, and a drop must end the body with its last chunk and close the connection.
#[tokio::test]
async fn an_sse_stream_taken_from_hyper_is_chunked_as_hyper_would_and_ends_with_the_last_chunk() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
    let server = TestServer::start().await;
    let socket = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut reader = BufReader::new(socket);
    let request = |path: &str| format!("GET {path} HTTP/1.1\r\nhost: lab\r\n\r\n");

    reader.get_mut().write_all(request(protocol::routes::GENERATOR).as_bytes()).await.unwrap();
    let head = timeout(PATIENCE, read_head(&mut reader)).await.unwrap();
    let length: usize =
        head.split("content-length: ").nth(1).and_then(|rest| rest.split("\r\n").next()).unwrap().parse().unwrap();
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.unwrap();

    reader.get_mut().write_all(request("/api/sse?client=handoff-page").as_bytes()).await.unwrap();
    let head = timeout(PATIENCE, read_head(&mut reader)).await.unwrap();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    let hello = timeout(PATIENCE, read_chunk(&mut reader)).await.unwrap().unwrap();
    let hello = String::from_utf8(hello).unwrap();
    assert!(hello.contains("event: hello\n"), "{hello}");

    let seq = server.publish("through the handed-off stream").await;
    let event = timeout(PATIENCE, read_chunk(&mut reader)).await.unwrap().unwrap();
    let event = String::from_utf8(event).unwrap();
    assert!(event.starts_with(&format!("id: {seq}\n")), "{event}");
    assert!(event.contains("through the handed-off stream"), "{event}");

    let drop = serde_json::json!({ "client": "handoff-page" });
    let report = server.http.post(server.url(protocol::routes::FAULTS_DROP)).json(&drop).send().await.unwrap();
    assert!(report.status().is_success());
    // Keep-alive comments may come first; then the last chunk, and the server closes.
    while let Some(chunk) = timeout(PATIENCE, read_chunk(&mut reader)).await.unwrap() {
        assert!(chunk.starts_with(b":"), "only keep-alives before the end: {chunk:?}");
    }
    let mut rest = Vec::new();
    assert_eq!(
        timeout(PATIENCE, reader.read_to_end(&mut rest)).await.unwrap().unwrap(),
        0,
        "closed after the last chunk"
    );
}

/// A request pipelined behind the stream's `GET` must still be answered after it, so that stream stays hyper's:
/// the events arrive, and once a drop ends the body, the `HEAD` behind it gets its answer on the same connection.
#[tokio::test]
async fn an_sse_stream_with_a_request_pipelined_behind_it_stays_with_hyper_and_the_request_is_answered() {
    use tokio::io::{AsyncWriteExt, BufReader};
    let server = TestServer::start().await;
    let socket = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut reader = BufReader::new(socket);
    let pipelined = format!(
        "GET /api/sse?client=pipelining-page HTTP/1.1\r\nhost: lab\r\n\r\nHEAD {} HTTP/1.1\r\nhost: lab\r\n\r\n",
        protocol::routes::GENERATOR
    );
    reader.get_mut().write_all(pipelined.as_bytes()).await.unwrap();
    let head = timeout(PATIENCE, read_head(&mut reader)).await.unwrap();
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    timeout(PATIENCE, read_chunk(&mut reader)).await.unwrap().expect("the hello");
    let seq = server.publish("behind a pipelined request").await;
    let event = String::from_utf8(timeout(PATIENCE, read_chunk(&mut reader)).await.unwrap().unwrap()).unwrap();
    assert!(event.starts_with(&format!("id: {seq}\n")), "{event}");

    let drop = serde_json::json!({ "client": "pipelining-page" });
    let report = server.http.post(server.url(protocol::routes::FAULTS_DROP)).json(&drop).send().await.unwrap();
    assert!(report.status().is_success());
    while let Some(chunk) = timeout(PATIENCE, read_chunk(&mut reader)).await.unwrap() {
        assert!(chunk.starts_with(b":"), "only keep-alives before the end: {chunk:?}");
    }
    let head = timeout(PATIENCE, read_head(&mut reader)).await.unwrap();
    assert!(head.starts_with("http/1.1 200"), "the pipelined HEAD is answered: {head}");
}

/// Opens `GET /api/sse` on a raw socket whose receive buffer is small, so that a client that stops reading fills
/// the server's socket soon; answers the reader past the hello and the log's head the hello named.
async fn open_small_window_sse(server: &TestServer, page: &str) -> (tokio::io::BufReader<tokio::net::TcpStream>, u64) {
    use tokio::io::{AsyncWriteExt, BufReader};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(server.addr).await.unwrap();
    stream.write_all(format!("GET /api/sse?client={page} HTTP/1.1\r\nhost: lab\r\n\r\n").as_bytes()).await.unwrap();
    let mut reader = BufReader::new(stream);
    let head = timeout(PATIENCE, read_head(&mut reader)).await.unwrap();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let hello = String::from_utf8(timeout(PATIENCE, read_chunk(&mut reader)).await.unwrap().unwrap()).unwrap();
    let data = hello.lines().find_map(|line| line.strip_prefix("data: ")).expect("the hello's data");
    let hello: StreamHello = serde_json::from_str(data).unwrap();
    (reader, hello.head_seq)
}

/// Reads event chunks until the one numbered `last`; answers every number read, in the order read.
async fn read_seqs_through(reader: &mut (impl tokio::io::AsyncBufRead + Unpin), last: u64) -> Vec<u64> {
    let mut seqs = Vec::new();
    while seqs.last() != Some(&last) {
        let chunk = read_chunk(reader).await.expect("the stream goes on");
        let chunk = String::from_utf8(chunk).unwrap();
        assert!(!chunk.contains("event: gap"), "the history holds every event: no gap");
        if let Some(seq) = chunk.lines().find_map(|line| line.strip_prefix("id: ")) {
            seqs.push(seq.parse().unwrap());
        }
    }
    seqs
}

/// The fan-out writes an event into every socket with room and queues it for the others (`direct_stream`): clients
/// that keep reading get every event while others' sockets are full, and those, once they read again, get the
/// rest from their queue and then from the history, still each event once and in order.
#[tokio::test]
async fn streams_whose_sockets_fill_up_and_drain_get_every_event_once_in_order_without_holding_up_the_rest() {
    const EVENTS: u64 = 3000;
    let server = TestServer::start().await;
    let mut reading = Vec::new();
    let mut stalled = Vec::new();
    let mut head = 0;
    for index in 0..4 {
        let (reader, head_seq) = open_small_window_sse(&server, &format!("reading-{index}")).await;
        reading.push(reader);
        let (reader, head_seq_stalled) = open_small_window_sse(&server, &format!("stalled-{index}")).await;
        stalled.push(reader);
        head = head_seq.max(head_seq_stalled);
    }
    assert_eq!(head, 0, "nothing was published before");
    let readers: Vec<_> = reading
        .into_iter()
        .map(|mut reader| tokio::spawn(async move { read_seqs_through(&mut reader, EVENTS).await }))
        .collect();
    // 2 KB each: 6 MB for each stream, far beyond what a stalled socket's buffers take.
    let text = "x".repeat(2000);
    for _ in 0..EVENTS {
        server.state.hub().publish(protocol::EventBody::Message { text: text.clone() });
        tokio::task::yield_now().await;
    }
    for reader in readers {
        let seqs =
            timeout(Duration::from_secs(60), reader).await.expect("the reading clients are not held up").unwrap();
        assert_eq!(seqs, (1..=EVENTS).collect::<Vec<_>>());
    }
    let counters = server.state.counters.of(Transport::Sse).clone();
    let at_once = counters.written_at_once_count();
    let delivered_so_far = counters.snapshot().events_delivered;
    assert!(at_once > 0, "some events were written by the fan-out itself");
    assert!(delivered_so_far < 8 * EVENTS, "the stalled streams are behind: {delivered_so_far} delivered");

    for mut reader in stalled {
        let seqs = timeout(Duration::from_secs(60), read_seqs_through(&mut reader, EVENTS)).await.unwrap();
        assert_eq!(seqs, (1..=EVENTS).collect::<Vec<_>>(), "each event once, in order, after the stall");
    }
    let counters = counters.snapshot();
    assert_eq!(counters.events_delivered, 8 * EVENTS);
    assert!(counters.lag_recoveries > 0, "the stalled streams' queues overflowed and were caught up from the history");
    assert!(at_once < 8 * EVENTS, "the events behind a full socket were written by its stream's task");
}

/// A WebSocket on a socket whose receive buffer is small, past its hello; answers the hello's head.
async fn open_small_window_ws(server: &TestServer, page: &str) -> (Socket, u64) {
    let tcp = tokio::net::TcpSocket::new_v4().unwrap();
    tcp.set_recv_buffer_size(4096).unwrap();
    let stream = tcp.connect(server.addr).await.unwrap();
    let url = server.ws_url(&format!("/api/ws?client={page}"));
    let (mut socket, _) =
        tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream)).await.unwrap();
    let WsServerMessage::Hello(hello) = next_ws(&mut socket).await else { panic!("the hello comes first") };
    (socket, hello.head_seq)
}

/// Reads event frames until the one numbered `last`; answers every number read, in the order read.
async fn ws_seqs_through(socket: &mut Socket, last: u64) -> Vec<u64> {
    let mut seqs = Vec::new();
    while seqs.last() != Some(&last) {
        match next_ws(socket).await {
            WsServerMessage::Event(event) => seqs.push(event.seq),
            WsServerMessage::Gap(gap) => panic!("the history holds every event: {gap:?}"),
            _ => {}
        }
    }
    seqs
}

/// The same for WebSockets, whose socket the fan-out shares with tungstenite (which writes the replies and pings):
/// a publish from a stalled client's socket is still acknowledged, in its place among the events.
#[tokio::test]
async fn web_sockets_whose_sockets_fill_up_and_drain_get_every_event_once_in_order() {
    const EVENTS: u64 = 3000;
    let server = TestServer::start().await;
    let mut reading = Vec::new();
    let mut stalled = Vec::new();
    for index in 0..3 {
        let (socket, head) = open_small_window_ws(&server, &format!("ws-reading-{index}")).await;
        assert_eq!(head, 0);
        reading.push(socket);
        let (socket, head) = open_small_window_ws(&server, &format!("ws-stalled-{index}")).await;
        assert_eq!(head, 0);
        stalled.push(socket);
    }
    let readers: Vec<_> = reading
        .into_iter()
        .map(|mut socket| tokio::spawn(async move { ws_seqs_through(&mut socket, EVENTS).await }))
        .collect();
    let text = "x".repeat(2000);
    for seq in 1..=EVENTS {
        server.state.hub().publish(protocol::EventBody::Message { text: text.clone() });
        if seq == EVENTS / 2 {
            // Its ack is written by tungstenite between two events the fan-out writes, behind a full socket.
            stalled[0].send(Message::text(r#"{"type":"publish","text":"from a full socket"}"#)).await.unwrap();
        }
        tokio::task::yield_now().await;
    }
    let published_by_the_client = EVENTS + 1;
    for reader in readers {
        let seqs =
            timeout(Duration::from_secs(60), reader).await.expect("the reading clients are not held up").unwrap();
        assert_eq!(seqs, (1..=EVENTS).collect::<Vec<_>>());
    }
    let at_once = server.state.counters.of(Transport::WebSocket).written_at_once_count();
    assert!(at_once > 0, "some events were written by the fan-out itself");
    for (index, mut socket) in stalled.into_iter().enumerate() {
        let mut seqs = Vec::new();
        let mut acked = None;
        while seqs.last() != Some(&published_by_the_client) {
            match timeout(Duration::from_secs(60), next_ws(&mut socket)).await.unwrap() {
                WsServerMessage::Event(event) => seqs.push(event.seq),
                WsServerMessage::Ack { seq } => acked = Some(seq),
                WsServerMessage::Gap(gap) => panic!("the history holds every event: {gap:?}"),
                _ => {}
            }
        }
        assert_eq!(seqs, (1..=published_by_the_client).collect::<Vec<_>>(), "each event once, in order");
        if index == 0 {
            let acked = acked.expect("the stalled client's publish is acknowledged");
            assert!((EVENTS / 2..=published_by_the_client).contains(&acked), "{acked}");
        }
    }
}
