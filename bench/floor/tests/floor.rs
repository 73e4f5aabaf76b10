//! The floor is only a fair yardstick if it does the same job as the lab: every event, exactly once, in order,
//! on every transport, with the lab's bytes. These tests run the real binary on port 0 and read it with clients
//! nobody here wrote (tokio-tungstenite for WebSocket) or with plain sockets and the protocol's own parsers.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use protocol::{PollResponse, WsServerMessage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;

/// The floor, started paused on a free port; killed when dropped.
struct Floor {
    child: Child,
    addr: String,
}

impl Floor {
    fn start() -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_transport-floor"))
            .args(["--addr", "127.0.0.1:0", "--paused"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("the floor starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("a ready line");
        let addr = line.split("url=http://").nth(1).expect("the ready line names its address").trim().to_owned();
        Self { child, addr }
    }

    /// One request on a fresh connection; the whole answer as text.
    async fn request(&self, head: &str, body: &str) -> String {
        let mut stream = TcpStream::connect(&self.addr).await.unwrap();
        let text =
            format!("{head}\r\nHost: floor\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        stream.write_all(text.as_bytes()).await.unwrap();
        let mut answer = String::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer)).await.unwrap().unwrap();
        answer
    }

    async fn set_generator(&self, json: &str) -> String {
        self.request("POST /api/generator HTTP/1.1", json).await
    }
}

impl Drop for Floor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn body(answer: &str) -> &str {
    answer.split("\r\n\r\n").nth(1).unwrap_or_default()
}

#[tokio::test]
async fn a_web_socket_client_gets_hello_then_every_event_in_order() {
    let floor = Floor::start();
    let (mut socket, response) =
        tokio_tungstenite::connect_async(format!("ws://{}/api/ws", floor.addr)).await.expect("the upgrade succeeds");
    assert_eq!(response.status(), 101);
    let first = socket.next().await.unwrap().unwrap();
    let Ok(WsServerMessage::Hello(hello)) = serde_json::from_str::<WsServerMessage>(first.to_text().unwrap()) else {
        panic!("not a hello: {first:?}")
    };
    assert_eq!(hello.head_seq, 0);
    assert!(floor
        .set_generator(r#"{"rate_per_second":50,"payload_bytes":10,"paused":false}"#)
        .await
        .starts_with("HTTP/1.1 200"));
    for expected in 1..=20 {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next()).await.unwrap().unwrap().unwrap();
        let Ok(WsServerMessage::Event(event)) = serde_json::from_str::<WsServerMessage>(message.to_text().unwrap())
        else {
            panic!("not an event: {message:?}")
        };
        assert_eq!(event.seq, expected);
    }
    // The closing handshake: the client's close is answered with a close, whatever events were on their way.
    socket.send(Message::Close(None)).await.unwrap();
    let close = loop {
        match tokio::time::timeout(Duration::from_secs(5), socket.next()).await.unwrap() {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(Message::Text(_))) => continue,
            other => panic!("no close frame: {other:?}"),
        }
    };
    assert_eq!(close.map(|frame| u16::from(frame.code)), Some(1000));
}

#[tokio::test]
async fn bad_input_gets_a_status_and_a_json_body_naming_the_problem() {
    let floor = Floor::start();
    let answer = floor.set_generator(r#"{"rate_per_second":5000}"#).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(body(&answer).contains(r#""field":"rate_per_second""#), "{answer}");
    let answer = floor.request("GET /api/poll?after=x HTTP/1.1", "").await;
    assert!(answer.starts_with("HTTP/1.1 400") && body(&answer).contains(r#""field":"after""#), "{answer}");
    let answer = floor.request("GET /api/nothing HTTP/1.1", "").await;
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    let answer = floor.request("GET /api/ws HTTP/1.1", "").await;
    assert!(answer.starts_with("HTTP/1.1 426"), "{answer}");
    // Nothing changed: still paused at the default rate.
    let answer = floor.request("GET /api/generator HTTP/1.1", "").await;
    assert!(
        body(&answer).contains(r#""paused":true"#) && body(&answer).contains(r#""rate_per_second":1.0"#),
        "{answer}"
    );
}

/// Reads one HTTP/1.1 response with a `Content-Length` (or none, for a 204) from a kept-alive connection.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut text = Vec::new();
    let mut byte = [0u8; 1];
    while !text.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).await.unwrap(), 1, "the connection closed mid-head");
        text.push(byte[0]);
    }
    let head = String::from_utf8(text).unwrap();
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .map_or(0, |length| length.trim().parse().unwrap());
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.unwrap();
    head + &String::from_utf8(body).unwrap()
}

#[tokio::test]
async fn long_polls_on_one_connection_are_held_until_the_next_event_then_time_out_with_204() {
    let floor = Floor::start();
    let mut stream = TcpStream::connect(&floor.addr).await.unwrap();
    stream.write_all(b"GET /api/long-poll?after=0&timeout=10 HTTP/1.1\r\nHost: floor\r\n\r\n").await.unwrap();
    let early = tokio::time::timeout(Duration::from_millis(300), read_response(&mut stream)).await;
    assert!(early.is_err(), "answered before there was an event: {early:?}");
    floor.set_generator(r#"{"rate_per_second":0.1,"paused":false}"#).await;
    let answer = tokio::time::timeout(Duration::from_secs(5), read_response(&mut stream)).await.unwrap();
    let poll: PollResponse = serde_json::from_str(body(&answer)).unwrap();
    assert_eq!((poll.events[0].seq, poll.next), (1, 1));
    assert!(answer.contains("\r\ndate: ") && answer.contains(&format!("x-lab-epoch: {}", poll.epoch)), "{answer}");
    // The same connection, at the head again: nothing comes for ten seconds, so the one-second hold ends in 204.
    stream.write_all(b"GET /api/long-poll?after=1&timeout=1 HTTP/1.1\r\nHost: floor\r\n\r\n").await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), read_response(&mut stream)).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
    // A cursor behind the head is answered at once with what follows it.
    stream.write_all(b"GET /api/long-poll?after=0 HTTP/1.1\r\nHost: floor\r\n\r\n").await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), read_response(&mut stream)).await.unwrap();
    assert_eq!(serde_json::from_str::<PollResponse>(body(&answer)).unwrap().next, 1);
}

/// The chunks of a chunked body read so far, decoded; `None` until `until` has arrived.
async fn read_chunks_until(stream: &mut TcpStream, until: &str) -> String {
    let mut raw = Vec::new();
    let mut buffer = vec![0u8; 65536];
    loop {
        let text = String::from_utf8_lossy(&raw).into_owned();
        if let Some((_, mut rest)) = text.split_once("\r\n\r\n") {
            let mut decoded = String::new();
            while let Some((size, after)) = rest.split_once("\r\n") {
                let size = usize::from_str_radix(size, 16).expect("a chunk size in hex");
                if after.len() < size + 2 {
                    break;
                }
                assert_eq!(&after[size..size + 2], "\r\n", "a chunk ends with CRLF");
                decoded.push_str(&after[..size]);
                rest = &after[size + 2..];
            }
            if decoded.contains(until) {
                return decoded;
            }
        }
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer)).await.unwrap().unwrap();
        assert!(read > 0, "the floor closed the stream");
        raw.extend_from_slice(&buffer[..read]);
    }
}

#[tokio::test]
async fn streams_resume_after_a_last_event_id_or_a_cursor_in_chunks() {
    let floor = Floor::start();
    floor.set_generator(r#"{"rate_per_second":50,"paused":false}"#).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    floor.set_generator(r#"{"paused":true}"#).await;
    let mut sse = TcpStream::connect(&floor.addr).await.unwrap();
    sse.write_all(b"GET /api/sse HTTP/1.1\r\nHost: floor\r\nLast-Event-ID: 3\r\n\r\n").await.unwrap();
    let text = read_chunks_until(&mut sse, "id: 6\n").await;
    let ids: Vec<&str> = text.lines().filter_map(|line| line.strip_prefix("id: ")).collect();
    assert_eq!(ids[..3], ["4", "5", "6"]);
    assert!(text.starts_with("retry: "), "{text}");
    let mut ndjson = TcpStream::connect(&floor.addr).await.unwrap();
    ndjson.write_all(b"GET /api/stream?after=4 HTTP/1.1\r\nHost: floor\r\n\r\n").await.unwrap();
    let text = read_chunks_until(&mut ndjson, "\"seq\":6,").await;
    let lines: Vec<protocol::ndjson::StreamLine> =
        text.lines().map(|line| protocol::ndjson::StreamLine::decode(line).unwrap()).collect();
    assert!(matches!(lines[0], protocol::ndjson::StreamLine::Hello(_)), "{text}");
    assert!(matches!(&lines[1], protocol::ndjson::StreamLine::Event(event) if event.seq == 5), "{text}");
}

/// A client that stops reading fills its socket; what the kernel cannot take waits in the floor, in order, and
/// reaches the client once it reads again: every event exactly once, none skipped, none doubled.
#[tokio::test]
async fn a_full_socket_drains_every_event_once_and_in_order() {
    let floor = Floor::start();
    let socket = TcpSocket::new_v4().unwrap();
    // A small receive window, so the stall below fills the kernel's buffers quickly and the rest waits in the floor.
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(floor.addr.parse().unwrap()).await.unwrap();
    stream.write_all(b"GET /api/sse HTTP/1.1\r\nHost: floor\r\n\r\n").await.unwrap();
    floor.set_generator(r#"{"rate_per_second":50,"payload_bytes":8000,"paused":false}"#).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    floor.set_generator(r#"{"paused":true}"#).await;
    let everything = floor.request("GET /api/poll?after=0 HTTP/1.1", "").await;
    let last = serde_json::from_str::<PollResponse>(body(&everything)).unwrap().next;
    assert!(last >= 50, "only {last} events in 1.5 s");
    let text = read_chunks_until(&mut stream, &format!("id: {last}\n")).await;
    let ids: Vec<u64> =
        text.lines().filter_map(|line| line.strip_prefix("id: ")).map(|id| id.parse().unwrap()).collect();
    assert_eq!(ids, (1..=last).collect::<Vec<_>>());
}
