//! One error type for everything a run can hit: the tool's own I/O, the peer's HTTP and WebSocket answers, and
//! protocol surprises. Client errors are counted and sampled, never fatal; controller errors end the run.

use hyper::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("bad --url `{url}`: {reason}")]
    Url { url: String, reason: String },
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("http: {0}")]
    Http(#[from] hyper::Error),
    #[error("building a request: {0}")]
    Request(#[from] hyper::http::Error),
    #[error("websocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("{path} answered {status}")]
    Status { path: String, status: StatusCode },
    #[error("unexpected JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("mqtt: {0}")]
    Mqtt(#[from] protocol::mqtt::ClientError),
    #[error("mqtt delivery: {0}")]
    MqttDelivery(#[from] protocol::mqtt::DeliveryError),
    /// A CONNACK, SUBACK or PUBACK with a reason code of 0x80 or more, or the broker's DISCONNECT.
    #[error("mqtt: the broker refused ({packet}, reason code 0x{reason_code:02x})")]
    MqttRefused { packet: &'static str, reason_code: u8 },
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("the server closed the stream")]
    Closed,
    #[error("reading {path}: {source}")]
    File { path: String, source: std::io::Error },
}

impl LoadError {
    pub fn file(path: &std::path::Path, source: std::io::Error) -> Self {
        LoadError::File { path: path.display().to_string(), source }
    }
}
