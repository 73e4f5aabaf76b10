//! The pcapng export read by `tshark` and `capinfos` (Debian's Wireshark tools; `./lab setup` installs them): a
//! page's short polls on one kept-alive connection, its SSE stream and its WebSocket, decoded as HTTP, SSE lines and
//! WebSocket frames, with TCP payload bytes equal to what the client's own socket sent and received, no malformed
//! packet, no TCP analysis warning, and the teacher's cookie masked at its length; and a page's MQTT over its
//! WebSocket, its frames unmasked by tshark and its packets read by an MQTT codec nobody here wrote.

use crate::common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::mqtt_socket::{seq_of, MqttSocket};
use common::TestServer;
use futures::StreamExt;
use mqtt5_protocol::{ConnectOptions, FixedHeader, Packet, QoS};
use protocol::{mqtt, Transport, WirePage, WireUnit};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

const PAGE: &str = "pcappagepcappage";

/// Runs a Wireshark tool; it must exist (the test command installs it) and succeed.
fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("{program} is needed (./lab setup installs it): {error}"));
    assert!(output.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// tshark's fields, one line per packet matching `filter`, with the lab's port decoded as HTTP.
fn fields(file: &Path, port: u16, filter: &str, fields: &[&str]) -> Vec<String> {
    let decode = format!("tcp.port=={port},http");
    let mut args = vec!["-r", file.to_str().unwrap(), "-d", &decode, "-Y", filter, "-T", "fields"];
    for field in fields {
        args.extend(["-e", field]);
    }
    run("tshark", &args).lines().map(str::to_owned).collect()
}

/// Reads one whole response with a `content-length` from a kept-alive connection.
async fn read_response(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buffer = [0; 4096];
    loop {
        let read = timeout(Duration::from_secs(10), stream.read(&mut buffer)).await.unwrap().unwrap();
        assert!(read > 0, "the server closed a kept-alive connection");
        received.extend_from_slice(&buffer[..read]);
        let Some(head_end) = received.windows(4).position(|window| window == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&received[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))
            .map_or(0, |length| length.trim().parse().unwrap());
        if received.len() >= head_end + 4 + length {
            return received;
        }
    }
}

#[tokio::test]
async fn tshark_reads_a_page_s_polls_stream_and_frames_with_the_client_s_own_byte_counts() {
    let server = TestServer::start().await;
    let port = server.addr.port();
    // Two short polls on one kept-alive connection, counted on the client's own socket, carrying a credential.
    let mut poll = TcpStream::connect(server.addr).await.unwrap();
    let (mut sent, mut received) = (0, 0);
    for after in [0, 1] {
        let request = format!(
            "GET /api/poll?after={after}&client={PAGE} HTTP/1.1\r\nHost: lab\r\nCookie: lab_teacher=s3cret-s3cret\r\n\r\n"
        );
        poll.write_all(request.as_bytes()).await.unwrap();
        sent += request.len();
        received += read_response(&mut poll).await.len();
    }
    let mut sse = server.http.get(server.url(&format!("/api/sse?client={PAGE}"))).send().await.unwrap().bytes_stream();
    let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url(&format!("/api/ws?client={PAGE}"))).await.unwrap();
    server.wait_for_open(Transport::Sse, 1, "the stream is not held yet").await;
    server.wait_for_open(Transport::WebSocket, 1, "the socket is not open yet").await;
    let seqs: Vec<u64> = [server.publish("one").await, server.publish("two").await].into();
    let mut sse_text = String::new();
    while !sse_text.contains(&format!("id: {}", seqs[1])) {
        let chunk = timeout(Duration::from_secs(10), sse.next()).await.unwrap().unwrap().unwrap();
        sse_text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let mut frames = 0;
    while frames < 3 {
        // The hello, then the two events.
        if let Message::Text(_) = timeout(Duration::from_secs(10), ws.next()).await.unwrap().unwrap().unwrap() {
            frames += 1;
        }
    }
    ws.close(None).await.unwrap();
    drop((poll, sse));
    tokio::time::sleep(Duration::from_millis(300)).await;

    let response = server.http.get(server.url(&format!("/api/wire/pcapng?client={PAGE}"))).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-pcapng");
    let file_bytes = response.bytes().await.unwrap();
    assert!(!file_bytes.windows(6).any(|window| window == b"s3cret"), "the teacher's cookie is masked");
    let file = std::env::temp_dir().join(format!("transport-lab-{}-{PAGE}.pcapng", std::process::id()));
    std::fs::write(&file, &file_bytes).unwrap();

    let info = run("capinfos", &["-M", file.to_str().unwrap()]);
    assert!(info.contains("pcapng"), "{info}");
    assert_eq!(
        fields(&file, port, "_ws.malformed || _ws.expert.severity >= warning", &["frame.number"]),
        [] as [String; 0]
    );
    assert_eq!(fields(&file, port, "tcp.analysis.flags", &["frame.number"]), [] as [String; 0]);

    let uris = fields(&file, port, "http.request", &["http.request.uri"]);
    assert_eq!(uris.iter().filter(|uri| uri.starts_with("/api/poll?")).count(), 2, "{uris:?}");
    assert!(uris.iter().any(|uri| uri.starts_with("/api/sse?client=")), "{uris:?}");
    assert!(uris.iter().any(|uri| uri.starts_with("/api/ws?client=")), "{uris:?}");
    let cookies = fields(&file, port, "http.cookie", &["http.cookie"]);
    assert_eq!(cookies, vec!["*".repeat("lab_teacher=s3cret-s3cret".len()); 2], "masked at its length");

    // The short polls' connection: one handshake for both requests, and the client socket's own counts.
    let streams = fields(&file, port, "http.request.uri contains \"/api/poll?\"", &["tcp.stream"]);
    assert_eq!(streams[0], streams[1], "both polls went over one kept-alive connection");
    let lengths =
        fields(&file, port, &format!("tcp.stream == {} && tcp.len > 0", streams[0]), &["tcp.dstport", "tcp.len"]);
    let (mut to_server, mut to_client) = (0, 0);
    for line in &lengths {
        let (destination, length) = line.split_once('\t').unwrap();
        let length: usize = length.parse().unwrap();
        if destination.parse::<u16>().unwrap() == port {
            to_server += length;
        } else {
            to_client += length;
        }
    }
    assert_eq!((to_server, to_client), (sent, received), "the TCP payload is what the client's socket wrote and read");
    let syns = fields(
        &file,
        port,
        &format!("tcp.stream == {} && tcp.flags.syn == 1 && tcp.flags.ack == 0", streams[0]),
        &["frame.number"],
    );
    assert_eq!(syns.len(), 1, "one connection opened for both polls");

    // SSE: tshark's own reassembly of the stream's connection holds each event's lines.
    let sse_stream = fields(&file, port, "http.request.uri contains \"/api/sse?\"", &["tcp.stream"]);
    let follow = format!("follow,tcp,ascii,{}", sse_stream[0]);
    let sse_text = run("tshark", &["-r", file.to_str().unwrap(), "-q", "-z", &follow]);
    for seq in &seqs {
        assert!(sse_text.contains(&format!("id: {seq}\nevent: message\ndata: {{\"seq\":{seq},")), "#{seq}: {sse_text}");
    }
    // WebSocket: the frames as tshark's WebSocket dissector reads them (after the 101 it saw), hello and events.
    let texts = fields(&file, port, "websocket.opcode == 1", &["text"]);
    assert_eq!(texts.len(), 3, "{texts:?}");
    for seq in &seqs {
        assert!(texts.iter().any(|text| text.contains(&format!("\"seq\":{seq},"))), "#{seq}: {texts:?}");
    }
    let closes = fields(&file, port, "websocket.opcode == 8", &["frame.number"]);
    assert_eq!(closes.len(), 2, "the client's close and the server's answer");
    std::fs::remove_file(&file).ok();
}

#[tokio::test]
async fn a_page_with_nothing_kept_is_a_named_404_and_a_missing_page_a_400() {
    let server = TestServer::start().await;
    let response = server.http.get(server.url("/api/wire/pcapng?client=nobodynobodynobo")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!((body["error"].as_str(), body["field"].as_str()), (Some("nothing_captured"), Some("client")));
    let response = server.http.get(server.url("/api/wire/pcapng")).send().await.unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn tshark_decodes_a_page_s_mqtt_packets_with_the_sizes_the_lab_measured() {
    const MQTT_PAGE: &str = "pcapmqttpcapmqtt";
    let server = TestServer::start().await;
    let port = server.addr.port();
    let mut client = MqttSocket::open_as(&server, MQTT_PAGE).await;
    client.connect(ConnectOptions::new("pcap").with_keep_alive(Duration::from_secs(60))).await;
    client.subscribe(mqtt::EVENTS_FILTER, QoS::AtMostOnce).await;
    let seq = server.publish("over MQTT, in a capture").await;
    assert_eq!(seq_of(&client.publish().await), seq);
    client.socket.close(None).await.unwrap();
    server.wait_for_open(Transport::Mqtt, 0, "the socket is still open").await;

    let response = server.http.get(server.url(&format!("/api/wire/pcapng?client={MQTT_PAGE}"))).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let file = std::env::temp_dir().join(format!("transport-lab-{}-{MQTT_PAGE}.pcapng", std::process::id()));
    std::fs::write(&file, response.bytes().await.unwrap()).unwrap();
    assert_eq!(fields(&file, port, "_ws.malformed", &["frame.number"]), [] as [String; 0]);

    // Wireshark takes the WebSocket apart (frames, the browser's masks) and gives each binary frame's payload,
    // unmasked; mqtt5-protocol, an MQTT codec nobody here wrote, reads each as one whole packet. (Debian's Wireshark
    // 4.0 registers its own MQTT dissector on TCP port 1883 only, not on the `mqtt` WebSocket subprotocol.)
    let payloads = fields(&file, port, "websocket.opcode == 2", &["data.data"]);
    let packets: Vec<Packet> = payloads
        .iter()
        .map(|line| {
            let bytes: Vec<u8> =
                (0..line.len()).step_by(2).map(|at| u8::from_str_radix(&line[at..at + 2], 16).unwrap()).collect();
            let mut peek = &bytes[..];
            let header = FixedHeader::decode(&mut peek).unwrap();
            assert_eq!(peek.len(), header.remaining_length as usize, "one whole packet per frame: {line}");
            Packet::decode_from_body_with_version(header.packet_type, &header, &mut peek, 5).unwrap()
        })
        .collect();
    let kinds: Vec<&str> = packets
        .iter()
        .map(|packet| match packet {
            Packet::Connect(_) => "CONNECT",
            Packet::ConnAck(_) => "CONNACK",
            Packet::Subscribe(_) => "SUBSCRIBE",
            Packet::SubAck(_) => "SUBACK",
            Packet::Publish(_) => "PUBLISH",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["CONNECT", "CONNACK", "SUBSCRIBE", "SUBACK", "PUBLISH"], "{payloads:?}");
    let Packet::Publish(publish) = &packets[4] else { unreachable!() };
    assert_eq!((publish.topic_name.as_str(), seq_of(publish)), ("lab/events/message", seq));

    // The same frames in the lab's own record of the page, each payload the size of the packet tshark gave.
    let page: WirePage = server.get_json(&format!("/api/wire?client={MQTT_PAGE}&after=0")).await;
    let measured: Vec<u64> = page
        .records
        .iter()
        .filter(|record| matches!(&record.unit, WireUnit::Frame { opcode, .. } if opcode == "binary"))
        .map(|record| record.bytes.payload)
        .collect();
    let captured: Vec<u64> = payloads.iter().map(|line| line.len() as u64 / 2).collect();
    assert_eq!(measured, captured, "the lab's frame payloads against the capture's, as tshark reads them");
    std::fs::remove_file(&file).ok();
}
