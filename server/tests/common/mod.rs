//! A real server on port 0 for each test, with the generator paused so the test decides what is published.
#![allow(dead_code)]

use std::net::SocketAddr;

use app::model::{LabStats, PublishAck};
use clap::Parser;
use server::{leptos_options, serve, AppState, Config};

pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    pub http: reqwest::Client,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    pub async fn start_with(flags: &[&str]) -> Self {
        let args = ["transport-lab", "--paused"].iter().chain(flags);
        let config = Config::parse_from(args);
        let state = AppState::new(&config, leptos_options());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(serve(listener, state.clone(), std::future::pending()));
        Self { addr, state, http: reqwest::Client::new() }
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

    pub async fn stats(&self) -> LabStats {
        self.http.get(self.url("/api/stats")).send().await.unwrap().json().await.unwrap()
    }
}
