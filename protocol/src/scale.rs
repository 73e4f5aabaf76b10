//! The results of the scale suite (`./lab bench`): written by the load tool, shown by the Scale page, kept in
//! `docs/scale/results.json`. Every figure here was measured; nothing is modelled.

use serde::{Deserialize, Serialize};

/// One run of the whole suite.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScaleReport {
    /// When the suite finished, Unix seconds.
    pub finished_at: u64,
    /// The exact command that produced this report.
    pub command: String,
    pub machine: MachineInfo,
    /// Loopback round trip without any server in the way, from `sockperf ping-pong`: the floor under every
    /// latency below.
    #[serde(default)]
    pub loopback_floor: Option<LoopbackFloor>,
    pub runs: Vec<ScaleRun>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MachineInfo {
    pub cpu_model: String,
    pub cores: u32,
    pub memory_bytes: u64,
    pub kernel: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LoopbackFloor {
    pub tool: String,
    /// Half round trip (one way), as sockperf reports it, in microseconds.
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

/// Which server answered: this lab, or one of the peers people would pick instead.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScaleServer {
    /// This project's server (release build).
    #[default]
    Lab,
    /// Node.js: Express for the HTTP transports, the `ws` package for WebSocket.
    NodeExpressWs,
    /// Node.js: socket.io (its WebSocket transport).
    SocketIo,
    /// Debian's Mosquitto 2, the MQTT broker people run. It has no event generator: the load tool publishes the
    /// events to it (one extra client), and every subscriber checks them as it checks the lab's.
    Mosquitto,
    /// One lab instance whose event log is NATS JetStream (`--backplane nats://…`): beside [`ScaleServer::Lab`],
    /// what the engine adds. CPU and memory are the instance's and nats-server's together.
    LabNats,
    /// The same on Redis Streams (`--backplane redis://…`), with redis-server's CPU and memory counted.
    LabRedis,
    /// Three lab instances on one NATS JetStream, the load tool's clients spread over them (HAProxy in front would
    /// need more open files than the bench machine allows at 10,000); CPU and memory are all four processes'.
    LabClusterNats,
    /// Node.js: `@grpc/grpc-js`, the gRPC server Node services use, serving the same `lab.v1.Events`.
    NodeGrpcJs,
    /// The floor (`bench/floor`): one epoll loop writing each event's pre-encoded bytes once per socket and doing
    /// nothing else. The least this machine can do for the job; the column every other figure is read against.
    Floor,
}

impl ScaleServer {
    pub fn title(self) -> &'static str {
        match self {
            ScaleServer::Lab => "Transport Lab (Rust, axum)",
            ScaleServer::NodeExpressWs => "Node.js (Express + ws)",
            ScaleServer::SocketIo => "Node.js (socket.io)",
            ScaleServer::Mosquitto => "Mosquitto (C)",
            ScaleServer::LabNats => "Transport Lab on NATS JetStream",
            ScaleServer::LabRedis => "Transport Lab on Redis Streams",
            ScaleServer::LabClusterNats => "Transport Lab ×3 on NATS JetStream",
            ScaleServer::NodeGrpcJs => "Node.js (@grpc/grpc-js)",
            ScaleServer::Floor => "Floor (one epoll loop, one write per socket)",
        }
    }
}

/// What the load tool's clients speak.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadTransport {
    #[default]
    ShortPoll,
    LongPoll,
    Sse,
    WebSocket,
    /// One `GET /api/stream` read line by line.
    HttpStream,
    /// Engine.IO v4 over a WebSocket, as a socket.io client uses it once upgraded.
    SocketIo,
    /// MQTT 5 over a WebSocket (subprotocol `mqtt`), as the lab's page speaks it: `lab/events/#` subscribed.
    Mqtt,
    /// MQTT 5 over plain TCP, as devices and desktop tools speak it (the lab's `--mqtt-addr`, Mosquitto's
    /// `listener`).
    MqttTcp,
    /// Native gRPC over HTTP/2 cleartext: `lab.v1.Events/Subscribe`, one call on one connection per client.
    Grpc,
}

impl LoadTransport {
    /// The ones the lab itself serves (socket.io is a peer's).
    pub const LAB: [LoadTransport; 6] = [
        LoadTransport::ShortPoll,
        LoadTransport::LongPoll,
        LoadTransport::Sse,
        LoadTransport::WebSocket,
        LoadTransport::HttpStream,
        LoadTransport::Grpc,
    ];

    /// The two ways to speak MQTT. Not in [`LoadTransport::LAB`]: they are served by the lab's broker (and by
    /// Mosquitto), need an MQTT client rather than the lab's HTTP API, and have no `hello` to resume from.
    pub const MQTT: [LoadTransport; 2] = [LoadTransport::Mqtt, LoadTransport::MqttTcp];

    pub fn is_mqtt(self) -> bool {
        Self::MQTT.contains(&self)
    }

    pub fn title(self) -> &'static str {
        match self {
            LoadTransport::ShortPoll => "Short polling",
            LoadTransport::LongPoll => "Long polling",
            LoadTransport::Sse => "Server-Sent Events",
            LoadTransport::WebSocket => "WebSocket",
            LoadTransport::HttpStream => "HTTP streaming",
            LoadTransport::SocketIo => "socket.io",
            LoadTransport::Mqtt => "MQTT over WebSocket",
            LoadTransport::MqttTcp => "MQTT over TCP",
            LoadTransport::Grpc => "gRPC (HTTP/2)",
        }
    }
}

/// One scenario: N clients of one transport against one server, at one event rate.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScaleRun {
    pub server: ScaleServer,
    pub transport: LoadTransport,
    /// Clients asked for, and how many were connected (or polling) when the measurement began.
    pub clients: u32,
    pub connected: u32,
    /// Events the server emitted per second during the run; every client should receive each one.
    pub rate_per_second: f64,
    pub payload_bytes: u32,
    /// Short polling only: how often each client asks.
    #[serde(default)]
    pub poll_interval_ms: Option<u32>,
    /// MQTT only: the QoS each client subscribed with (0 or 1). QoS 1 adds a PUBACK per delivery, so runs at
    /// different QoS are different loads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mqtt_qos: Option<u8>,
    /// Length of the measured window (after connecting and warming up), in seconds.
    pub measured_seconds: f64,
    /// Events received by all clients over the window, and per second.
    pub deliveries: u64,
    pub deliveries_per_second: f64,
    /// `clients × rate`: what full delivery would be.
    pub expected_deliveries_per_second: f64,
    /// Emit → receive, from the event's `emitted_at` to the client's clock (same machine, same clock).
    pub latency: LatencySummary,
    pub requests_per_second: f64,
    /// Bytes the clients wrote (requests, frames) and read (responses, streams), per second, at the socket.
    pub bytes_per_second_up: f64,
    pub bytes_per_second_down: f64,
    /// Server process CPU time (user + system, from /proc) over the window.
    pub server_cpu_seconds: f64,
    /// Server CPU time per delivered event, in microseconds.
    pub server_cpu_us_per_delivery: f64,
    /// Server resident memory before any client connected, with every client connected and idle, and at the end.
    pub server_rss_baseline_bytes: u64,
    pub server_rss_connected_bytes: u64,
    pub server_rss_end_bytes: u64,
    /// `(RSS connected − RSS baseline) / connected clients`: what one idle connection costs the server.
    pub rss_per_connection_bytes: f64,
    /// Sequence numbers a client should have received but did not (holes, gaps).
    pub missed: u64,
    pub errors: u64,
    /// A few error messages, to say what went wrong.
    #[serde(default)]
    pub error_samples: Vec<String>,
}

/// Latency percentiles in microseconds, from an HDR histogram.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub samples: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_round_trips_through_json() {
        let report = ScaleReport {
            runs: vec![ScaleRun {
                server: ScaleServer::SocketIo,
                transport: LoadTransport::SocketIo,
                clients: 1000,
                ..Default::default()
            }],
            ..Default::default()
        };
        let json = serde_json::to_string(&report).unwrap();
        assert!(json.contains(r#""server":"socket_io""#));
        assert!(!json.contains("mqtt_qos"), "absent for the transports without QoS, as in older reports");
        assert_eq!(serde_json::from_str::<ScaleReport>(&json).unwrap(), report);
    }

    #[test]
    fn mqtt_runs_name_their_transport_server_and_qos() {
        let run = ScaleRun {
            server: ScaleServer::Mosquitto,
            transport: LoadTransport::MqttTcp,
            mqtt_qos: Some(1),
            ..Default::default()
        };
        let json = serde_json::to_string(&run).unwrap();
        assert!(json.contains(r#""server":"mosquitto","transport":"mqtt_tcp""#), "{json}");
        assert!(json.contains(r#""mqtt_qos":1"#), "{json}");
        assert_eq!(serde_json::from_str::<ScaleRun>(&json).unwrap(), run);
        assert!(LoadTransport::MQTT.iter().all(|transport| !LoadTransport::LAB.contains(transport)));
        assert!(LoadTransport::Mqtt.is_mqtt() && !LoadTransport::WebSocket.is_mqtt());
    }
}
