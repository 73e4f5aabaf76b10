//! What the lab refuses to do, and why, in the lab's own terms. `api::error` gives each a status code and the JSON
//! body every client reads; the WebSocket gives the same reasons in an `error` frame.

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    /// A field of a request body is out of range or malformed.
    #[error("invalid JSON field `{field}`: {message}")]
    InvalidField { field: &'static str, message: String },
    /// A parameter of the address (a path segment) is malformed.
    #[error("invalid parameter `{parameter}`: {message}")]
    InvalidParameter { parameter: &'static str, message: String },
    #[error("offline (fault injection): requests are refused for {retry_after_seconds} more s")]
    Offline { retry_after_seconds: u64 },
    #[error("no scale results at {path} yet; `./lab bench` measures them")]
    NoScaleResults { path: String },
    #[error("the scale results at {path} cannot be read: {reason}")]
    ScaleResultsUnreadable { path: String, reason: String },
    #[error("the tone could not be written as a WAV file: {reason}")]
    AudioUnavailable { reason: String },
    #[error("no lesson `{id}`; GET /api/lessons lists them")]
    NoSuchLesson { id: String },
    #[error("the lesson file {path} cannot be used: {reason}")]
    LessonUnusable { path: String, reason: String },
    #[error(
        "no webhook endpoint `{id}`: deleted, removed after {idle_seconds} s unwatched (nobody read its deliveries \
         or its receiver), or never registered on this server run"
    )]
    NoSuchWebhookEndpoint { id: String, idle_seconds: u64 },
    /// The SSRF guard refused a webhook URL.
    #[error("webhook URL refused: {reason}")]
    WebhookUrlRefused { reason: String },
    #[error("{message}")]
    TooManyWebhookEndpoints { message: String },
    #[error("the lab already holds {limit} delay and offline rules; clear some (DELETE /api/faults) first")]
    TooManyFaultRules { limit: usize },
    /// The lab's receiver refused a delivery's signature (or was told to refuse them all).
    #[error("webhook signature rejected: {reason}")]
    WebhookSignatureRejected { reason: String },
    /// The shared event log's engine (`--backplane`) cannot take the event: nothing was published.
    #[error("the shared event log is unavailable: {reason}")]
    LogUnavailable { reason: String },
    /// The engine took the request but did not answer in time: it may still be done when the engine answers (a
    /// NATS client sends what it was given once it reconnects). The lab cannot say "refused", so it says this.
    #[error("the shared event log did not confirm in time: {reason}")]
    LogUnconfirmed { reason: String },
}

impl Refusal {
    pub fn invalid_field(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidField { field, message: message.into() }
    }

    /// The field or parameter at fault, if the refusal is about one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::InvalidField { field, .. } => Some(field),
            Self::InvalidParameter { parameter, .. } => Some(parameter),
            Self::WebhookUrlRefused { .. } => Some("url"),
            Self::WebhookSignatureRejected { .. } => Some(protocol::webhook::HEADER_SIGNATURE),
            _ => None,
        }
    }
}
