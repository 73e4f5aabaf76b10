//! The server's configuration: command-line flags, each also settable by an environment variable.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use protocol::{GeneratorSettings, MAX_PAYLOAD_BYTES, MAX_RATE_PER_SECOND, MIN_RATE_PER_SECOND};

#[derive(Clone, Debug, Parser)]
#[command(name = "transport-lab", about = "Transport Lab: one event stream, delivered over every real-time transport")]
pub struct Config {
    /// Address to listen on. Use 0.0.0.0:3000 so students on the same network can join.
    #[arg(long, env = "LAB_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// The URL students open, shown with a QR code on the presenter view (/present), e.g.
    /// `http://192.168.1.20:3000/`. Default: derived from --addr; when that is 0.0.0.0 or [::], this machine's
    /// first non-loopback IPv4 address and the port.
    #[arg(long, env = "LAB_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,

    /// How many past events the hub keeps for clients that resume or poll late.
    #[arg(long, env = "LAB_HISTORY", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub history: u64,

    /// Generator rate at start, in events per second (0.1 to 50).
    #[arg(long, env = "LAB_RATE", default_value_t = 1.0, value_parser = parse_rate)]
    pub rate: f64,

    /// Generator filler size at start, in bytes (0 to 65536).
    #[arg(long, env = "LAB_PAYLOAD_BYTES", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=MAX_PAYLOAD_BYTES as u64))]
    pub payload_bytes: u64,

    /// Start with the generator paused.
    #[arg(long, env = "LAB_PAUSED")]
    pub paused: bool,

    /// How often the server pings each WebSocket, in seconds; a client silent for two intervals is closed.
    #[arg(long, env = "LAB_WS_PING_SECONDS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub ws_ping_seconds: u64,

    /// Most held long polls, SSE streams or WebSockets (each transport counted on its own) across all clients.
    #[arg(long, env = "LAB_MAX_CONNECTIONS_PER_TRANSPORT", default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections_per_transport: u64,

    /// Most held long polls, SSE streams and WebSockets together from one client address (a lab tab holds three).
    #[arg(long, env = "LAB_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections_per_address: u64,

    /// Origins, besides the page's own, whose pages may open a WebSocket (comma-separated, e.g.
    /// `http://lab.school.example`). A browser page from any other origin gets 403 before the upgrade.
    #[arg(long, env = "LAB_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// API requests a second one client address may make on average (0: no limit). One lab page at the top event
    /// rate makes about 60; a short-polling script in a loop makes thousands.
    #[arg(long, env = "LAB_MAX_REQUESTS_PER_SECOND", default_value_t = 100)]
    pub max_requests_per_second: u32,

    /// API requests one client address may make at once before the per-second limit applies.
    #[arg(long, env = "LAB_REQUEST_BURST", default_value_t = 200)]
    pub request_burst: u32,

    /// Seconds a client has to send a request's head (the WebSocket handshake included) once it connects or after
    /// its previous request, before the server closes the connection.
    #[arg(long, env = "LAB_HANDSHAKE_TIMEOUT_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub handshake_timeout_seconds: u64,

    /// Seconds a connection's writes may make no progress (the client stopped reading) before it is closed.
    #[arg(long, env = "LAB_WRITE_STALL_TIMEOUT_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub write_stall_timeout_seconds: u64,

    /// How often an idle SSE stream gets a keep-alive comment (and an idle HTTP stream a keep-alive line), in seconds.
    #[arg(long, env = "LAB_SSE_KEEP_ALIVE_SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub sse_keep_alive_seconds: u64,

    /// The scale suite's latest results (written by `./lab bench`), shown on the Scale page and at `/api/scale`.
    #[arg(long, env = "LAB_SCALE_RESULTS", default_value = "docs/scale/results.json")]
    pub scale_results: std::path::PathBuf,

    /// The teacher's key, the secret in the teacher link (default: a random one each start, printed in the
    /// link). Give several instances on one log the same key, so the teacher's cookie works on each.
    #[arg(long, env = "LAB_TEACHER_KEY", value_parser = parse_teacher_key)]
    pub teacher_key: Option<String>,

    /// Ask for the teacher's key even on loopback. By default a lab that listens on loopback alone, on one
    /// instance, has one user, who is the teacher.
    #[arg(long, env = "LAB_REQUIRE_TEACHER")]
    pub require_teacher: bool,

    /// The folder of guided lessons, one TOML file each (`/learn`, `/api/lessons`). Read on every request, so a
    /// teacher can add or edit a lesson and reload the page.
    #[arg(long, env = "LAB_LESSONS", default_value = "lessons")]
    pub lessons: std::path::PathBuf,

    /// Webhooks: how many times faster than real providers the retry schedule runs (at once, 5 s, 5 min, 30 min,
    /// 2 h, 5 h, 10 h, 10 h, each ±20 %). At 20, a failing delivery's first three attempts fall within ~15 s.
    #[arg(long, env = "LAB_WEBHOOK_CLASS_CLOCK", default_value_t = protocol::webhook::DEFAULT_CLASS_CLOCK, value_parser = parse_class_clock)]
    pub webhook_class_clock: f64,

    /// Webhooks: a host name, IP address or network (CIDR, e.g. 192.168.1.0/24) that endpoint URLs may point at,
    /// besides loopback. Repeat the flag for several. Everything else is refused (SSRF guard).
    #[arg(long = "webhook-allow", env = "LAB_WEBHOOK_ALLOW", value_delimiter = ',', value_parser = parse_webhook_allow)]
    pub webhook_allow: Vec<WebhookAllow>,

    /// Webhooks: seconds each delivery attempt may take (connect, request, whole response) before it fails as
    /// `timeout`.
    #[arg(long, env = "LAB_WEBHOOK_TIMEOUT_SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=60))]
    pub webhook_timeout_seconds: u64,

    /// Webhooks: seconds an endpoint may go unwatched (nobody reads its deliveries or its receiver's knobs) before
    /// it is removed, its sender stopped and its place under the caps freed. A page polls about once a second.
    #[arg(long, env = "LAB_WEBHOOK_IDLE_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub webhook_idle_seconds: u64,

    /// MQTT: also listen for plain MQTT over TCP here (e.g. 127.0.0.1:1883, or 0.0.0.0:1883 for a class), so
    /// `mosquitto_sub`, MQTT Explorer or a microcontroller can join. Pages always use `GET /api/mqtt` (WebSocket).
    #[arg(long, env = "LAB_MQTT_ADDR")]
    pub mqtt_addr: Option<std::net::SocketAddr>,

    /// MQTT: longest session expiry (seconds) the broker grants a client that asks to keep its session.
    #[arg(long, env = "LAB_MQTT_MAX_SESSION_EXPIRY_SECONDS", default_value_t = 3600)]
    pub mqtt_max_session_expiry_seconds: u32,

    /// Run as one of several instances sharing one event log on an engine: `nats://HOST:PORT` (NATS JetStream)
    /// or `redis://HOST:PORT` (Redis Streams). The engine numbers the events, one instance runs the generator, and
    /// a client may resume on any instance. Default: the log is this process's memory.
    #[arg(long, env = "LAB_BACKPLANE", value_parser = parse_backplane)]
    pub backplane: Option<backplane::BackplaneUrl>,

    /// This instance's name among several (`--backplane`), in every response's `x-lab-instance` header. Default:
    /// this host's name and the port it listens on.
    #[arg(long, env = "LAB_INSTANCE", value_parser = parse_instance)]
    pub instance: Option<String>,
}

fn parse_backplane(text: &str) -> Result<backplane::BackplaneUrl, String> {
    text.parse().map_err(|error: backplane::BackplaneError| error.to_string())
}

/// Longest `--instance`: it is shown on every lane and sent on every response.
const MAX_INSTANCE_BYTES: usize = 64;

fn parse_instance(text: &str) -> Result<String, String> {
    let valid = !text.is_empty()
        && text.len() <= MAX_INSTANCE_BYTES
        && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    if valid {
        Ok(text.to_owned())
    } else {
        Err(format!("must be 1 to {MAX_INSTANCE_BYTES} letters, digits, `-`, `_`, `.` or `:`"))
    }
}

/// One `--webhook-allow` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebhookAllow {
    /// Any address this host name resolves to (lower case, as the URL parser writes it).
    Host(String),
    Network(ipnet::IpNet),
}

/// The largest class clock: the whole eight-attempt schedule (about 42 h) then takes about 1.5 s, for tests.
const MAX_CLASS_CLOCK: f64 = 100_000.0;

fn parse_class_clock(text: &str) -> Result<f64, String> {
    let factor: f64 = text.parse().map_err(|_| format!("`{text}` is not a number"))?;
    if (1.0..=MAX_CLASS_CLOCK).contains(&factor) {
        Ok(factor)
    } else {
        Err(format!("must be between 1 (real time) and {MAX_CLASS_CLOCK}"))
    }
}

fn parse_webhook_allow(text: &str) -> Result<WebhookAllow, String> {
    let text = text.trim();
    if let Ok(network) = text.parse::<ipnet::IpNet>() {
        return Ok(WebhookAllow::Network(network));
    }
    if let Ok(ip) = text.parse::<std::net::IpAddr>() {
        return Ok(WebhookAllow::Network(ip.into()));
    }
    let valid = !text.is_empty()
        && text.len() <= 253
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if valid {
        Ok(WebhookAllow::Host(text.to_ascii_lowercase()))
    } else {
        Err(format!("`{text}` is neither a host name, an IP address nor a network such as 10.0.0.0/8"))
    }
}

/// Heartbeat intervals and timeouts, taken from [`Config`] once.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub ws_ping_interval: Duration,
    pub sse_keep_alive: Duration,
    pub handshake_timeout: Duration,
    pub write_stall_timeout: Duration,
}

/// A key that survives a URL and a cookie unescaped, and is long enough not to be guessed.
fn parse_teacher_key(text: &str) -> Result<String, String> {
    let fits = text.len() >= 16 && text.len() <= 128;
    let plain = text.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    if fits && plain {
        Ok(text.to_owned())
    } else {
        Err("16 to 128 letters, digits, '-' or '_'".into())
    }
}

impl Config {
    /// Whether every request comes from the teacher: one instance, reachable from this machine only.
    pub fn everyone_is_teacher(&self) -> bool {
        self.addr.ip().is_loopback() && !self.require_teacher && self.backplane.is_none()
    }

    pub fn generator(&self) -> GeneratorSettings {
        GeneratorSettings {
            rate_per_second: self.rate,
            payload_bytes: self.payload_bytes as usize,
            paused: self.paused,
        }
    }

    /// The broker's limits: the library's defaults, with what the command line sets.
    pub fn broker(&self) -> broker::BrokerConfig {
        broker::BrokerConfig {
            max_session_expiry: Duration::from_secs(self.mqtt_max_session_expiry_seconds.into()),
            max_sessions: self.max_connections_per_transport as usize * 2,
            lab_payload_check: crate::core::message::chat_payload,
            ..broker::BrokerConfig::default()
        }
    }

    /// This instance's name: `--instance`, or this host's name and the port it listens on (`listening_port`, which
    /// differs from `--addr`'s when that asks for port 0).
    pub fn instance_name(&self, listening_port: u16) -> String {
        self.instance.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|name| name.trim().to_owned())
                .filter(|name| parse_instance(name).is_ok())
                .unwrap_or_else(|| "lab".to_owned());
            format!("{host}:{listening_port}")
        })
    }

    pub fn timing(&self) -> Timing {
        Timing {
            ws_ping_interval: Duration::from_secs(self.ws_ping_seconds),
            sse_keep_alive: Duration::from_secs(self.sse_keep_alive_seconds),
            handshake_timeout: Duration::from_secs(self.handshake_timeout_seconds),
            write_stall_timeout: Duration::from_secs(self.write_stall_timeout_seconds),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::parse_from(["transport-lab"])
    }
}

fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text.parse().map_err(|_| format!("`{text}` is not a number"))?;
    if (MIN_RATE_PER_SECOND..=MAX_RATE_PER_SECOND).contains(&rate) {
        Ok(rate)
    } else {
        Err(format!("must be between {MIN_RATE_PER_SECOND} and {MAX_RATE_PER_SECOND}"))
    }
}

/// Longest `--public-url`: a QR code of this many bytes still scans easily from the back of a room.
const MAX_PUBLIC_URL_BYTES: usize = 256;

fn parse_public_url(text: &str) -> Result<String, String> {
    let uri: axum::http::Uri = text.parse().map_err(|error| format!("`{text}` is not a URL: {error}"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none() {
        return Err(format!("`{text}` must be an http:// or https:// URL with a host, e.g. http://192.168.1.20:3000/"));
    }
    if text.len() > MAX_PUBLIC_URL_BYTES {
        return Err(format!("must be at most {MAX_PUBLIC_URL_BYTES} bytes"));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_start_the_lab_with_no_arguments() {
        let config = Config::default();
        assert_eq!(config.addr.to_string(), "127.0.0.1:3000");
        assert_eq!(config.history, 10_000);
        assert_eq!(config.generator(), GeneratorSettings::default());
    }

    #[test]
    fn out_of_range_flags_are_refused() {
        assert!(Config::try_parse_from(["lab", "--rate", "51"]).is_err());
        assert!(Config::try_parse_from(["lab", "--payload-bytes", "70000"]).is_err());
        assert!(Config::try_parse_from(["lab", "--history", "0"]).is_err());
    }

    #[test]
    fn webhook_flags_take_hosts_addresses_and_networks() {
        let config = Config::try_parse_from([
            "lab",
            "--webhook-allow",
            "Hooks.Example",
            "--webhook-allow",
            "10.0.0.0/8,192.168.1.7",
            "--webhook-class-clock",
            "1000",
        ])
        .unwrap();
        assert_eq!(config.webhook_allow.len(), 3);
        assert_eq!(config.webhook_allow[0], WebhookAllow::Host("hooks.example".into()));
        assert_eq!(config.webhook_allow[2], WebhookAllow::Network("192.168.1.7/32".parse().unwrap()));
        assert_eq!(config.webhook_class_clock, 1000.0);
        assert_eq!(Config::default().webhook_class_clock, 20.0);
        assert_eq!(Config::default().webhook_idle_seconds, 30);
        for bad in [
            ["--webhook-allow", "http://x/"],
            ["--webhook-class-clock", "0.5"],
            ["--webhook-allow", ""],
            ["--webhook-idle-seconds", "0"],
        ] {
            assert!(Config::try_parse_from(["lab", bad[0], bad[1]]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_shared_log_is_named_by_its_engine_and_an_instance_by_a_short_plain_name() {
        let config =
            Config::try_parse_from(["lab", "--backplane", "redis://127.0.0.1:6379", "--instance", "lab-2"]).unwrap();
        assert_eq!(config.backplane, Some(backplane::BackplaneUrl::Redis("redis://127.0.0.1:6379".into())));
        assert_eq!(config.instance_name(3000), "lab-2");
        assert!(Config::default().instance_name(3101).ends_with(":3101"));
        for bad in [["--backplane", "kafka://x"], ["--instance", "lab 2"], ["--instance", ""]] {
            assert!(Config::try_parse_from(["lab", bad[0], bad[1]]).is_err(), "{bad:?}");
        }
        assert!(Config::try_parse_from(["lab", "--instance", &"x".repeat(65)]).is_err());
    }

    #[test]
    fn the_public_url_must_be_an_http_url() {
        let config = Config::try_parse_from(["lab", "--public-url", "http://192.168.1.20:3000/"]).unwrap();
        assert_eq!(config.public_url.as_deref(), Some("http://192.168.1.20:3000/"));
        assert!(Config::default().public_url.is_none());
        for bad in ["192.168.1.20:3000", "ftp://host/", "http://", "not a url"] {
            assert!(Config::try_parse_from(["lab", "--public-url", bad]).is_err(), "{bad}");
        }
    }
}
