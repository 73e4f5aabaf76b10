//! A real server on port 0 for each test, with the generator paused so the test decides what is published.
#![allow(dead_code)]

pub mod daemon;
pub mod engines;
pub mod grpc_web;
pub mod grpcio;
pub mod mosquitto;
pub mod mqtt_socket;

use std::net::SocketAddr;

use std::time::Duration;

use clap::Parser;
use protocol::{LabStats, LoadTransport, PublishAck, ScaleServer, Transport};
use server::{leptos_options, serve, AppState, Config};
use transport_load::RunOptions;

/// The load tool's event rate and poll interval in [`TestServer::load_options`], for tests that reason about them.
pub const LOAD_RATE: f64 = 20.0;
pub const LOAD_POLL_INTERVAL: Duration = Duration::from_millis(200);

pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    pub http: reqwest::Client,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Tests poll `/api/stats` in tight loops, so the request rate limit is off unless a test sets it.
    pub async fn start_with(flags: &[&str]) -> Self {
        let unlimited: &[&str] =
            if flags.contains(&"--max-requests-per-second") { &[] } else { &["--max-requests-per-second", "0"] };
        let args = ["transport-lab", "--paused"].iter().chain(unlimited).chain(flags);
        let config = Config::parse_from(args);
        let state = AppState::new(&config, leptos_options());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(serve(listener, state.clone(), std::future::pending()));
        Self { addr, state, http: reqwest::Client::new() }
    }

    /// The load tool's run of `clients` clients of `transport` against this lab: 20 events/s of 64-byte payloads,
    /// polls every 200 ms, half a second of warm-up, then `measure`. The lab runs in this process, so that is whose
    /// CPU and memory the run reads.
    pub fn load_options(&self, transport: LoadTransport, clients: u32, measure: Duration) -> RunOptions {
        RunOptions {
            url: format!("http://{}", self.addr),
            spread_urls: Vec::new(),
            server: ScaleServer::Lab,
            transport,
            clients,
            rate: LOAD_RATE,
            payload_bytes: 64,
            poll_interval: LOAD_POLL_INTERVAL,
            connect_rate: 2000.0,
            warmup: Duration::from_millis(500),
            measure,
            server_pids: vec![std::process::id()],
            mqtt: Default::default(),
            grpc_addr: None,
            teacher_key: None,
        }
    }

    /// Opens the lab's MQTT over TCP on a port of its own (as `--mqtt-addr` does) and returns where.
    pub async fn start_mqtt_tcp(&self) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(self.state.serve_mqtt_tcp(listener));
        addr
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// Publishes through the real HTTP endpoint.
    pub async fn publish(&self, text: &str) -> u64 {
        let response =
            self.http.post(self.url("/api/publish")).json(&serde_json::json!({ "text": text })).send().await.unwrap();
        assert_eq!(response.status(), 202);
        response.json::<PublishAck>().await.unwrap().seq
    }

    /// Waits (up to 10 s) until the server counts exactly `count` open connections of `transport`; panics with
    /// `why` otherwise. Servers count a connection only once they hold it, so this is how a test knows.
    pub async fn wait_for_open(&self, transport: Transport, count: u64, why: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.stats().await.transports[&transport].open_connections != count {
            assert!(tokio::time::Instant::now() < deadline, "{why} ({transport:?}: expected {count} open)");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn stats(&self) -> LabStats {
        self.get_json("/api/stats").await
    }

    /// `GET path`, read as JSON.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        self.http.get(self.url(path)).send().await.unwrap().json().await.unwrap()
    }
}

/// The code and reason of the next close frame a WebSocket client reads (other frames skipped), within 10 s.
pub async fn close_frame_of(
    socket: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
) -> (u16, String) {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.next()).await.expect("a close in time") {
            Some(Ok(Message::Close(Some(frame)))) => return (frame.code.into(), frame.reason.to_string()),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}
