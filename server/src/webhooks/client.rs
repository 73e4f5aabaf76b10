//! One delivery attempt: a fresh TCP connection to the vetted address, one `POST` over hyper's client connection
//! API, and the answer read within limits. No redirects (a 3xx fails the attempt), no connection pool, and every
//! step inside one deadline, so a receiver that trickles bytes cannot hold a delivery slot.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, HOST, USER_AGENT};
use hyper_util::rt::TokioIo;
use protocol::webhook::{self, AttemptOutcome};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use super::counting::{ByteCounts, WireTap};
use super::guard::Target;

/// A receiver's answer body is read (an acknowledgement needs none) up to this; more fails the attempt.
pub const MAX_RESPONSE_BODY_BYTES: usize = 64 * 1024;
/// The most a response head may take (hyper's smallest allowed read buffer is 8 KiB).
pub const MAX_RESPONSE_HEAD_BYTES: usize = 16 * 1024;

/// One request, signed.
pub struct Signed {
    pub webhook_id: String,
    pub timestamp: u64,
    pub signature: String,
    pub body: Bytes,
}

pub struct Exchange {
    pub outcome: AttemptOutcome,
    pub request_bytes: u64,
    pub response_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("connection refused")]
    Refused,
    #[error("connect failed: {0}")]
    Connect(std::io::Error),
    #[error("redirect not followed")]
    Redirect,
    #[error("response too large")]
    TooLarge,
    #[error("response head too large")]
    HeadTooLarge,
    #[error("connection closed before a complete response")]
    Closed,
    #[error("invalid request: {0}")]
    Request(String),
    #[error("{0}")]
    Http(String),
}

impl From<hyper::Error> for Failure {
    fn from(error: hyper::Error) -> Self {
        if error.is_parse_too_large() {
            Self::HeadTooLarge
        } else if error.is_incomplete_message() || error.is_canceled() || error.is_closed() {
            Self::Closed
        } else {
            Self::Http(error.to_string())
        }
    }
}

/// Aborts the connection's task when the attempt ends, however it ends (a timeout drops the attempt mid-read).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sends `signed` to `target`, all within `timeout`.
pub async fn post(target: &Target, signed: &Signed, timeout: Duration) -> Exchange {
    let counts = Arc::new(ByteCounts::default());
    let outcome = match tokio::time::timeout(timeout, attempt(target, signed, counts.clone())).await {
        Ok(Ok(status)) => AttemptOutcome::Status { status },
        Ok(Err(failure)) => AttemptOutcome::Error { error: failure.to_string() },
        Err(_) => AttemptOutcome::Error { error: "timeout".into() },
    };
    Exchange { outcome, request_bytes: counts.bytes_written(), response_bytes: counts.bytes_read() }
}

async fn attempt(target: &Target, signed: &Signed, counts: Arc<ByteCounts>) -> Result<u16, Failure> {
    let stream = TcpStream::connect(target.addr).await.map_err(|error| match error.kind() {
        std::io::ErrorKind::ConnectionRefused => Failure::Refused,
        _ => Failure::Connect(error),
    })?;
    // Small requests: Nagle would hold the body back behind the head.
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(WireTap::new(stream, counts));
    let (mut sender, connection) =
        hyper::client::conn::http1::Builder::new().max_buf_size(MAX_RESPONSE_HEAD_BYTES).handshake(io).await?;
    let _connection = AbortOnDrop(tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "webhook connection ended with an error");
        }
    }));
    let request = hyper::Request::post(&target.path)
        .header(HOST, &target.host)
        .header(USER_AGENT, "transport-lab-webhooks")
        .header(CONTENT_TYPE, webhook::CONTENT_TYPE)
        .header(CONTENT_LENGTH, HeaderValue::from(signed.body.len()))
        .header(webhook::HEADER_ID, &signed.webhook_id)
        .header(webhook::HEADER_TIMESTAMP, HeaderValue::from(signed.timestamp))
        .header(webhook::HEADER_SIGNATURE, &signed.signature)
        .body(Full::new(signed.body.clone()))
        .map_err(|error| Failure::Request(error.to_string()))?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    if status.is_redirection() {
        return Err(Failure::Redirect);
    }
    Limited::new(response.into_body(), MAX_RESPONSE_BODY_BYTES).collect().await.map_err(|error| {
        if error.downcast_ref::<LengthLimitError>().is_some() {
            Failure::TooLarge
        } else {
            match error.downcast::<hyper::Error>() {
                Ok(error) => Failure::from(*error),
                Err(error) => Failure::Http(error.to_string()),
            }
        }
    })?;
    Ok(status.as_u16())
}
