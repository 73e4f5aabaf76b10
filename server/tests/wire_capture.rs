//! The lab's byte counts against an independent measurement: a packet capture of the same traffic on loopback,
//! taken by `tshark` (Debian's package; `./lab setup` installs it). Per transport, the TCP payload bytes in the
//! capture (less TCP retransmissions) and the server's counts must agree within 1 %. Without tshark the test says so and checks nothing.
//!
//! By hand, against a running lab: `tshark -i lo -f 'tcp port 3000' -w /tmp/lab.pcap`, use the page, stop the
//! capture, then compare `tshark -r /tmp/lab.pcap -q -z conv,tcp` with `curl localhost:3000/api/stats`.

use crate::common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::grpcio::grpcio;
use common::mqtt_socket::MqttSocket;
use common::TestServer;
use eventsource_stream::Eventsource;
use futures::{SinkExt, StreamExt};
use protocol::Transport;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

fn tshark_installed() -> bool {
    Command::new("tshark").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

/// Drives every transport on connections of its own, so each TCP stream in the capture belongs to one transport.
async fn traffic(server: &TestServer) {
    let control = reqwest::Client::new();
    let publish =
        |text: &'static str| control.post(server.url("/api/publish")).json(&serde_json::json!({ "text": text })).send();

    let sse = reqwest::Client::new().get(server.url("/api/sse?after=0&client=cap")).send().await.unwrap();
    let mut sse = sse.bytes_stream().eventsource();
    let lines = reqwest::Client::new().get(server.url("/api/stream?after=0&client=cap")).send().await.unwrap();
    let mut lines = lines.bytes_stream();
    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url("/api/ws?after=0&client=cap")).await.unwrap();
    // MQTT at QoS 2: each event is four packets, so framing dominates and any miscount shows.
    let mut mqtt_page = MqttSocket::open_as(server, "cap").await;
    let options = mqtt5_protocol::ConnectOptions::new("cap").with_keep_alive(Duration::from_secs(60));
    mqtt_page.connect(options).await;
    mqtt_page.subscribe(protocol::mqtt::EVENTS_FILTER, mqtt5_protocol::QoS::ExactlyOnce).await;
    let long_poller = reqwest::Client::new();
    let poller = reqwest::Client::new();
    // gRPC-web, as the page's lane calls it.
    let grpc_client = reqwest::Client::new();
    let url = server.url(&format!("{}?client=cap", protocol::grpc::SUBSCRIBE_PATH));
    let (status, _, grpc) = common::grpc_web::subscribe_as(&grpc_client, &url, Some(0), "cap").await;
    assert_eq!(status, 200);
    let mut grpc = Box::pin(grpc);

    for round in 0..5u64 {
        publish("captured").await.unwrap();
        let answer = long_poller.get(server.url(&format!("/api/long-poll?after={round}&client=cap"))).send();
        assert_eq!(answer.await.unwrap().status(), 200);
        let polled = poller.get(server.url(&format!("/api/poll?after={round}&client=cap"))).send();
        assert_eq!(polled.await.unwrap().status(), 200);
    }
    let timed_out = long_poller.get(server.url("/api/long-poll?after=5&timeout=1&client=cap")).send();
    assert_eq!(timed_out.await.unwrap().status(), 204);
    socket.send(Message::text(r#"{"type":"publish","text":"up the socket"}"#)).await.unwrap();

    let mut seen = 0;
    while seen < 6 {
        let event = timeout(Duration::from_secs(5), sse.next()).await.unwrap().unwrap().unwrap();
        seen += usize::from(!event.id.is_empty());
    }
    let mut events = 0;
    while events < 6 {
        if let Message::Text(text) = timeout(Duration::from_secs(5), socket.next()).await.unwrap().unwrap().unwrap() {
            events += usize::from(text.contains(r#""type":"event""#));
        }
    }
    let mut splitter = protocol::ndjson::LineSplitter::default();
    let mut lines_seen = 0;
    while lines_seen < 6 {
        let chunk = timeout(Duration::from_secs(5), lines.next()).await.unwrap().unwrap().unwrap();
        let events =
            splitter.push(&chunk).into_iter().filter(|line| line.as_ref().unwrap().contains(r#""type":"event""#));
        lines_seen += events.count();
    }
    let mut messages = 0;
    while messages < 6 {
        let item = timeout(Duration::from_secs(5), grpc.next()).await.unwrap().expect("the gRPC call stays open");
        messages += usize::from(matches!(item, common::grpc_web::WebItem::Delivered(_)));
    }
    // Events arrived in a burst, so a PUBLISH may come before the previous one's PUBREL: answer each as it comes.
    let mut completed = 0;
    while completed < 6 {
        match mqtt_page.next().await.expect("the MQTT socket closed early") {
            mqtt5_protocol::Packet::Publish(publish) => {
                let id = publish.packet_id.unwrap();
                mqtt_page.send(&mqtt5_protocol::packet::pubrec::PubRecPacket::new(id)).await;
            }
            mqtt5_protocol::Packet::PubRel(release) => {
                mqtt_page.send(&mqtt5_protocol::packet::pubcomp::PubCompPacket::new(release.packet_id)).await;
                completed += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    mqtt_page
        .send(&mqtt5_protocol::packet::disconnect::DisconnectPacket::new(mqtt5_protocol::ReasonCode::Success))
        .await;
    assert!(mqtt_page.next().await.is_none(), "the broker closes after DISCONNECT");
    socket.close(None).await.unwrap();
    while let Ok(Some(Ok(_))) = timeout(Duration::from_secs(5), socket.next()).await {}
    drop((sse, lines, grpc, grpc_client));
    drop((poller, long_poller));
    server.wait_for_open(Transport::Sse, 0, "the SSE stream is still open").await;
    server.wait_for_open(Transport::WebSocket, 0, "the socket is still open").await;
    server.wait_for_open(Transport::HttpStream, 0, "the HTTP stream is still open").await;
    server.wait_for_open(Transport::Mqtt, 0, "the MQTT socket is still open").await;
    server.wait_for_open(Transport::Grpc, 0, "the gRPC call is still open").await;

    // Native gRPC over HTTP/2 last, from grpcio: reflection, then Subscribe from 0, whose backlog of six comes at
    // once (several messages to a DATA frame), then a cancel. The process has closed its connection on return.
    let lines = grpcio(server.addr, &["subscribe", "--after", "0", "--count", "6"]).await;
    assert_eq!(lines.iter().filter(|line| line["seq"].is_u64()).count(), 6, "{lines:?}");
    server.wait_for_open(Transport::Grpc, 0, "grpcio's call is still open").await;
}

#[tokio::test]
async fn byte_counts_agree_with_a_packet_capture_within_one_percent() {
    if !tshark_installed() {
        eprintln!("SKIPPED: tshark is not installed, so the byte counts were not checked against a capture");
        return;
    }
    let server = TestServer::start().await;
    let port = server.addr.port();
    // Live field output rather than a file: the test can see when the capture has really begun.
    let mut capture = Command::new("tshark")
        .args(["-i", "lo", "-l", "-f", &format!("tcp port {port}")])
        // The server's port is random, so tell tshark it carries HTTP.
        .args(["-d", &format!("tcp.port=={port},http")])
        .args([
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "tcp.stream",
            "-e",
            "tcp.len",
            "-e",
            "http.request.uri",
            "-e",
            "http2.type",
            "-e",
            "tcp.analysis.retransmission",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tshark");
    let (lines_in, lines) = std::sync::mpsc::channel::<String>();
    let stdout = BufReader::new(capture.stdout.take().unwrap());
    std::thread::spawn(move || stdout.lines().map_while(Result::ok).try_for_each(|line| lines_in.send(line)));

    // Probe until tshark shows a probe request: only then is the capture running.
    let mut captured_lines = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    'probing: loop {
        assert!(std::time::Instant::now() < deadline, "tshark never saw the probe");
        reqwest::Client::new().get(server.url("/api/stats?probe")).send().await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        while let Ok(line) = lines.try_recv() {
            let probe_seen = line.contains("/api/stats?probe");
            captured_lines.push(line);
            if probe_seen {
                break 'probing;
            }
        }
    }

    traffic(&server).await;
    let stats = server.stats().await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    Command::new("kill").args(["-INT", &capture.id().to_string()]).status().unwrap();
    capture.wait().unwrap();
    captured_lines.extend(lines.try_iter());

    let mut stream_bytes: BTreeMap<u64, u64> = BTreeMap::new();
    let mut retransmitted = 0;
    let mut stream_transport: BTreeMap<u64, Option<Transport>> = BTreeMap::new();
    let mut native_streams = std::collections::BTreeSet::new();
    for line in &captured_lines {
        let mut columns = line.split('|');
        let (Some(stream), Some(len)) = (columns.next(), columns.next()) else { continue };
        let (Ok(stream), Ok(len)) = (stream.parse::<u64>(), len.parse::<u64>()) else { continue };
        let uri = columns.next().filter(|uri| !uri.is_empty());
        // tshark recognises HTTP/2 with prior knowledge by its preface and names each frame's type.
        if columns.next().is_some_and(|types| !types.is_empty()) {
            native_streams.insert(stream);
        }
        // TCP sent these bytes again (on loopback, a tail-loss probe while the reader was busy): the application
        // wrote them once, and the lab counts what the application wrote.
        if columns.next().is_some_and(|retransmission| !retransmission.is_empty()) {
            retransmitted += len;
            continue;
        }
        *stream_bytes.entry(stream).or_default() += len;
        if let Some(uri) = uri {
            let path = uri.split('?').next().unwrap_or_default();
            let transport = Transport::ALL.into_iter().find(|transport| match transport {
                Transport::ShortPoll => path == "/api/poll",
                Transport::LongPoll => path == "/api/long-poll",
                Transport::Sse => path == "/api/sse",
                Transport::WebSocket => path == "/api/ws",
                Transport::HttpStream => path == "/api/stream",
                Transport::Mqtt => path == "/api/mqtt",
                Transport::Grpc => path == protocol::grpc::SUBSCRIBE_PATH,
                // Its bytes are the sender's, on a socket of its own.
                Transport::Webhook => false,
            });
            stream_transport.entry(stream).or_insert(transport);
        }
    }
    println!("TCP retransmissions left out of the capture's counts: {retransmitted} B");
    // Native gRPC: every byte of its HTTP/2 connection is a record of `/api/wire/http2`, frame by frame. Those
    // filed under gRPC (the Subscribe stream, the connection's own frames) are in the lane's total too, beside
    // gRPC-web's, which is what the capture's HTTP/1.1 streams of the lane hold.
    let http2 = server.http.get(server.url(protocol::routes::WIRE_HTTP2)).send().await.unwrap();
    let http2: protocol::WirePage = http2.json().await.unwrap();
    assert_eq!(http2.dropped, 0);
    let native_counted: u64 = http2.records.iter().map(|record| record.bytes.total()).sum();
    let native_as_grpc: u64 = http2
        .records
        .iter()
        .filter(|record| record.transport == Some(Transport::Grpc))
        .map(|record| record.bytes.total())
        .sum();
    let native_captured: u64 =
        stream_bytes.iter().filter(|(stream, _)| native_streams.contains(stream)).map(|(_, bytes)| bytes).sum();
    println!("native gRPC (HTTP/2): capture {native_captured} B, lab {native_counted} B");
    assert!(native_captured > 0 && native_streams.len() == 1, "one HTTP/2 connection: {native_streams:?}");
    assert!(
        native_counted.abs_diff(native_captured) as f64 <= native_captured as f64 * 0.01,
        "native gRPC: capture {native_captured} B vs lab {native_counted} B"
    );
    let kinds: std::collections::BTreeSet<String> = http2
        .records
        .iter()
        .map(|record| match &record.unit {
            protocol::WireUnit::Http2Frame { frame_type, .. } => frame_type.to_string(),
            protocol::WireUnit::GrpcMessage { .. } => "message".to_owned(),
            other => panic!("an HTTP/2 record of {other:?}"),
        })
        .collect();
    for kind in ["PREFACE", "SETTINGS", "HEADERS", "WINDOW_UPDATE", "message"] {
        assert!(kinds.contains(kind), "no {kind} among {kinds:?}");
    }
    // The backlog came several to a DATA frame; each message is still its own record, named by its own number.
    let seqs: Vec<u64> = http2
        .records
        .iter()
        .filter_map(|record| match record.unit {
            protocol::WireUnit::GrpcMessage { seq: Some(seq), .. } => Some(seq),
            _ => None,
        })
        .collect();
    assert_eq!(seqs, (1..=6).collect::<Vec<_>>());
    // The webhook lane's bytes are checked against its receiver's own socket in `webhooks.rs`.
    for transport in Transport::ALL.into_iter().filter(|transport| transport.browser_takes_part()) {
        let captured: u64 = stream_bytes
            .iter()
            .filter(|(stream, _)| stream_transport.get(stream).copied().flatten() == Some(transport))
            .map(|(_, bytes)| bytes)
            .sum();
        let mut counted = stats.transports[&transport].wire.total();
        if transport == Transport::Grpc {
            counted -= native_as_grpc;
        }
        let difference = counted.abs_diff(captured) as f64 / captured.max(1) as f64;
        println!("{transport:?}: capture {captured} B, lab {counted} B, difference {:.3} %", difference * 100.0);
        assert!(captured > 0, "{transport:?}: nothing captured");
        assert!(difference <= 0.01, "{transport:?}: capture {captured} B vs lab {counted} B");
    }
}
