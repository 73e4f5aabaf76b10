//! Native gRPC: `lab.v1.Events/Subscribe` over HTTP/2 cleartext with prior knowledge, one connection and one call
//! per client, as a service holding a subscription would. hyper speaks HTTP/2; the messages are read with the
//! protocol's framing and messages, the same code the page's gRPC-web lane and the server use.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2;
use hyper::header::CONTENT_TYPE;
use hyper::{Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use prost::Message as _;
use protocol::grpc::framing::{encode_message, Frame, FrameReader};
use protocol::grpc::{v1, Delivered, SUBSCRIBE_PATH};
use protocol::session::RunCheck;
use protocol::{Epoch, StreamHello};

use super::{Client, SessionEnd};
use crate::error::LoadError;

/// The largest message accepted: an event with the generator's largest payload, with room to spare.
const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// Ends the connection's task with the session: a dropped call must not leave its connection running.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub async fn session(client: &mut Client) -> Result<SessionEnd, LoadError> {
    let stream = client.target().connect(client.recorder.clone()).await?;
    let (mut sender, connection) = http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await?;
    // The connection's own errors reach the call as its body's error, so nothing is lost here.
    let _connection = AbortOnDrop(tokio::spawn(async move {
        let _ = connection.await;
    }));
    // Nothing reconnects for this client but [`super::drive`]: the first call starts live, a later one resumes
    // after the last event received.
    let request = v1::SubscribeRequest { after: client.stream_after(), client: String::new() };
    let uri = format!("http://{}{SUBSCRIBE_PATH}", client.target().authority);
    let request = Request::post(uri)
        .header(CONTENT_TYPE, protocol::grpc::CONTENT_TYPE)
        .header("te", "trailers")
        .body(Full::new(Bytes::from(encode_message(&request.encode_to_vec()))))?;
    sender.ready().await?;
    client.recorder.request();
    let response = sender.send_request(request).await?;
    if response.status() != StatusCode::OK {
        return Err(LoadError::Status { path: SUBSCRIBE_PATH.into(), status: response.status() });
    }
    // A call refused before any message is "trailers only": its status is in the response's headers.
    if let Some(status) = response.headers().get("grpc-status") {
        let message = response.headers().get("grpc-message").and_then(|value| value.to_str().ok()).unwrap_or("");
        return Err(LoadError::Protocol(format!("refused: grpc-status {status:?} {message}")));
    }
    // The lab's initial metadata is what a stream's `hello` says on the other transports.
    let header = |name: &str| response.headers().get(name).and_then(|value| value.to_str().ok()).map(str::to_owned);
    let epoch = header(protocol::headers::EPOCH).ok_or_else(|| missing(protocol::headers::EPOCH))?;
    let head_seq =
        header("x-lab-head-seq").and_then(|value| value.parse().ok()).ok_or_else(|| missing("x-lab-head-seq"))?;
    let hello =
        StreamHello { epoch: Epoch(epoch), head_seq, exchange: 0, instance: header(protocol::headers::INSTANCE) };
    if client.hello(&hello) == RunCheck::Restarted {
        return Ok(SessionEnd::Restarted);
    }
    let mut body = response.into_body();
    let mut reader = FrameReader::new(MAX_MESSAGE_BYTES);
    while let Some(frame) = body.frame().await {
        let frame = match frame?.into_data() {
            Ok(data) => data,
            Err(frame) => {
                let status = frame.trailers_ref().and_then(|trailers| trailers.get("grpc-status")).cloned();
                return Err(LoadError::Protocol(format!("the call ended with grpc-status {status:?}")));
            }
        };
        let frames = reader.push(&frame).map_err(|error| LoadError::Protocol(format!("gRPC framing: {error}")))?;
        for frame in frames {
            let Frame::Message { payload, .. } = frame else { continue };
            let message = v1::Event::decode(payload.as_slice())
                .map_err(|error| LoadError::Protocol(format!("an Event that is not one: {error}")))?;
            match Delivered::try_from(message).map_err(|error| LoadError::Protocol(error.to_string()))? {
                Delivered::Event(event) => client.event(&event),
                Delivered::Gap(gap) => client.gap(gap),
            }
        }
    }
    Err(LoadError::Closed)
}

fn missing(name: &str) -> LoadError {
    LoadError::Protocol(format!("the call's initial metadata has no {name}"))
}
