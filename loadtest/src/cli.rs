//! The command line. `./lab bench` and the docs call these exact flags.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use protocol::mqtt::Qos;
use protocol::{LoadTransport, ScaleServer};

use crate::run::{MqttOptions, RunOptions};

#[derive(Debug, Parser)]
#[command(name = "transport-load", about = "N clients of one transport against a server, measured")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Connect the clients, run the generator, measure a window, write one run's JSON.
    Run(RunArgs),
    /// Merge run JSON files into the scale report (JSON and Markdown).
    Report(ReportArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The server's base URL (http only). For Mosquitto, its WebSocket listener (read only by `--transport mqtt`).
    #[arg(long)]
    pub url: String,
    /// More instances of the same server, sharing its log: the clients are spread over `--url` and these, one
    /// each in turn. The generator is set through `--url`.
    #[arg(long)]
    pub spread_url: Vec<String>,
    /// Which server answers: lab, node_express_ws, socket_io or mosquitto.
    #[arg(long, value_parser = snake_case::<ScaleServer>)]
    pub server: ScaleServer,
    /// What the clients speak: short_poll, long_poll, sse, http_stream, web_socket, socket_io, mqtt (MQTT 5 over
    /// WebSocket), mqtt_tcp (MQTT 5 over TCP, at --mqtt-addr) or grpc (native gRPC over HTTP/2).
    #[arg(long, value_parser = snake_case::<LoadTransport>)]
    pub transport: LoadTransport,
    /// MQTT: the QoS each client subscribes with, 0 or 1.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=1))]
    pub qos: u8,
    /// MQTT over TCP: the broker's listener, HOST:PORT (the lab's own `--mqtt-addr`, Mosquitto's `listener`).
    #[arg(long)]
    pub mqtt_addr: Option<String>,
    /// Native gRPC: a gRPC listener apart from --url, HOST:PORT (the grpc-js peer's); the lab serves it on --url.
    #[arg(long)]
    pub grpc_addr: Option<String>,
    /// The lab's teacher key (the `key` of its teacher link): the generator is the teacher's to set, unless the lab
    /// listens on loopback alone.
    #[arg(long, env = "LAB_TEACHER_KEY")]
    pub teacher_key: Option<String>,
    #[arg(long)]
    pub clients: u32,
    /// Generator events per second.
    #[arg(long)]
    pub rate: f64,
    /// Generator filler bytes per event.
    #[arg(long)]
    pub payload_bytes: u32,
    /// Short polling: how often each client asks.
    #[arg(long, default_value_t = 5000)]
    pub poll_interval_ms: u64,
    /// New clients per second while connecting.
    #[arg(long, default_value_t = 2000.0)]
    pub connect_rate: f64,
    #[arg(long, default_value_t = 5.0)]
    pub warmup_seconds: f64,
    /// Length of the measured window.
    #[arg(long, default_value_t = 20.0)]
    pub seconds: f64,
    /// The server's process id, for its CPU time and memory from /proc (all 0 without it). Repeat it for a server
    /// made of several processes (instances, their engine, a balancer): their figures are summed.
    #[arg(long)]
    pub server_pid: Vec<u32>,
    /// Where to write the run's JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

impl RunArgs {
    pub fn options(&self) -> Result<RunOptions, String> {
        let positive = |name: &str, value: f64| {
            if value.is_finite() && value > 0.0 {
                Ok(value)
            } else {
                Err(format!("--{name} must be a positive number"))
            }
        };
        let seconds = |name: &str, value: f64| {
            if value.is_finite() && value >= 0.0 {
                Ok(Duration::from_secs_f64(value))
            } else {
                Err(format!("--{name} must be zero or more seconds"))
            }
        };
        if self.clients == 0 {
            return Err("--clients must be at least 1".into());
        }
        let qos = Qos::from_level(self.qos).ok_or("--qos must be 0 or 1")?;
        let options = RunOptions {
            url: self.url.trim_end_matches('/').to_string(),
            spread_urls: self.spread_url.iter().map(|url| url.trim_end_matches('/').to_string()).collect(),
            server: self.server,
            transport: self.transport,
            clients: self.clients,
            rate: positive("rate", self.rate)?,
            payload_bytes: self.payload_bytes,
            poll_interval: Duration::from_millis(self.poll_interval_ms.max(1)),
            connect_rate: positive("connect-rate", self.connect_rate)?,
            warmup: seconds("warmup-seconds", self.warmup_seconds)?,
            measure: seconds("seconds", positive("seconds", self.seconds)?)?,
            server_pids: self.server_pid.clone(),
            mqtt: MqttOptions { qos, tcp_addr: self.mqtt_addr.clone() },
            grpc_addr: self.grpc_addr.clone(),
            teacher_key: self.teacher_key.clone(),
        };
        options.check()?;
        Ok(options)
    }
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The command that produced the runs, recorded in the report.
    #[arg(long)]
    pub command: String,
    /// `sockperf ping-pong` output, for the loopback floor.
    #[arg(long)]
    pub sockperf: Option<PathBuf>,
    #[arg(long)]
    pub out_json: PathBuf,
    #[arg(long)]
    pub out_markdown: PathBuf,
    /// Run JSON files written by `run --json`.
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
}

/// Parses a flag value by the type's own serde name, so the CLI spells servers and transports exactly as the
/// JSON does, without a second list of names.
fn snake_case<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(text.to_string())).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_flags_parse_with_defaults() {
        let cli = Cli::try_parse_from([
            "transport-load",
            "run",
            "--url",
            "http://127.0.0.1:3100/",
            "--server",
            "node_express_ws",
            "--transport",
            "web_socket",
            "--clients",
            "10",
            "--rate",
            "2",
            "--payload-bytes",
            "0",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else { panic!("not run") };
        let options = args.options().unwrap();
        assert_eq!(options.server, ScaleServer::NodeExpressWs);
        assert_eq!(options.transport, LoadTransport::WebSocket);
        assert_eq!(options.url, "http://127.0.0.1:3100");
        assert_eq!(options.poll_interval, Duration::from_secs(5));
        assert_eq!(options.measure, Duration::from_secs(20));
        assert!(Cli::try_parse_from(["transport-load", "run", "--transport", "carrier_pigeon"]).is_err());
    }

    /// Every transport name `bench/suite.sh` writes in its scenario lines.
    #[test]
    fn the_suites_transport_names_parse() {
        for (name, transport) in [
            ("short_poll", LoadTransport::ShortPoll),
            ("long_poll", LoadTransport::LongPoll),
            ("sse", LoadTransport::Sse),
            ("http_stream", LoadTransport::HttpStream),
            ("web_socket", LoadTransport::WebSocket),
            ("socket_io", LoadTransport::SocketIo),
            ("mqtt", LoadTransport::Mqtt),
            ("mqtt_tcp", LoadTransport::MqttTcp),
            ("grpc", LoadTransport::Grpc),
        ] {
            assert_eq!(snake_case::<LoadTransport>(name), Ok(transport), "{name}");
        }
        assert_eq!(snake_case::<ScaleServer>("mosquitto"), Ok(ScaleServer::Mosquitto));
        assert_eq!(snake_case::<ScaleServer>("node_grpc_js"), Ok(ScaleServer::NodeGrpcJs));
    }

    fn run_args(extra: &[&str]) -> Result<RunOptions, String> {
        let base = ["transport-load", "run", "--url", "http://127.0.0.1:3241", "--clients", "10", "--rate", "1"];
        let cli = Cli::try_parse_from(base.iter().chain(["--payload-bytes", "0"].iter()).chain(extra))
            .map_err(|error| error.to_string())?;
        let Command::Run(args) = cli.command else { panic!("not run") };
        args.options()
    }

    #[test]
    fn mqtt_flags_parse_and_impossible_combinations_are_refused() {
        let tcp = ["--server", "mosquitto", "--transport", "mqtt_tcp", "--mqtt-addr", "127.0.0.1:3242", "--qos", "1"];
        let options = run_args(&tcp).unwrap();
        assert_eq!((options.server, options.transport), (ScaleServer::Mosquitto, LoadTransport::MqttTcp));
        assert_eq!(options.mqtt.qos, Qos::AtLeastOnce);
        assert_eq!(options.mqtt.tcp_addr.as_deref(), Some("127.0.0.1:3242"));
        let web_socket = run_args(&["--server", "lab", "--transport", "mqtt"]).unwrap();
        assert_eq!(web_socket.mqtt.qos, Qos::AtMostOnce, "QoS 0 unless asked");
        for (refused, why) in [
            (&["--server", "lab", "--transport", "mqtt", "--qos", "2"][..], "QoS 2"),
            (&["--server", "lab", "--transport", "mqtt_tcp"], "TCP without --mqtt-addr"),
            (&["--server", "mosquitto", "--transport", "web_socket"], "Mosquitto speaks only MQTT"),
            (&["--server", "node_express_ws", "--transport", "mqtt"], "the Node peer has no MQTT"),
            (&["--server", "socket_io", "--transport", "sse"], "socket.io speaks only socket.io"),
        ] {
            assert!(run_args(refused).is_err(), "{why}");
        }
    }

    #[test]
    fn grpc_runs_need_a_server_that_speaks_it_and_the_peer_its_grpc_address() {
        let peer = run_args(&["--server", "node_grpc_js", "--transport", "grpc", "--grpc-addr", "127.0.0.1:3243"]);
        assert_eq!(peer.unwrap().grpc_addr.as_deref(), Some("127.0.0.1:3243"));
        assert_eq!(
            run_args(&["--server", "lab", "--transport", "grpc"]).unwrap().grpc_addr,
            None,
            "the lab's one port"
        );
        for (refused, why) in [
            (&["--server", "node_grpc_js", "--transport", "grpc"][..], "the peer without --grpc-addr"),
            (
                &["--server", "node_grpc_js", "--transport", "sse", "--grpc-addr", "127.0.0.1:3243"],
                "grpc-js speaks gRPC",
            ),
            (&["--server", "node_express_ws", "--transport", "grpc"], "Express has no gRPC"),
        ] {
            assert!(run_args(refused).is_err(), "{why}");
        }
    }

    #[test]
    fn report_takes_run_files() {
        let cli = Cli::try_parse_from([
            "transport-load",
            "report",
            "--command",
            "./lab bench",
            "--out-json",
            "r.json",
            "--out-markdown",
            "r.md",
            "runs/a.json",
            "runs/b.json",
        ])
        .unwrap();
        let Command::Report(args) = cli.command else { panic!("not report") };
        assert_eq!(args.runs.len(), 2);
        assert!(args.sockperf.is_none());
    }
}
