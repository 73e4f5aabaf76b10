//! A gRPC-web call as a browser makes it, for tests: one `POST` over HTTP/1.1 with a framed protobuf body, read
//! back frame by frame with the protocol crate's framing (the page's gRPC-web lane reads with the same).

use futures::{Stream, StreamExt};
use prost::Message;
use protocol::grpc::framing::{self, Frame, FrameReader};
use protocol::grpc::{v1, Delivered, SUBSCRIBE_PATH, WEB_CONTENT_TYPE};

use super::TestServer;

/// What a gRPC-web response body carries, in order.
#[derive(Debug, PartialEq)]
pub enum WebItem {
    Delivered(Delivered),
    /// The trailer frame: `grpc-status` and `grpc-message`.
    Status {
        code: String,
        message: String,
    },
}

/// Starts `Subscribe` with `after`; answers the HTTP response's status, headers and its items as they arrive.
pub async fn subscribe(
    server: &TestServer,
    after: Option<u64>,
) -> (reqwest::StatusCode, reqwest::header::HeaderMap, impl Stream<Item = WebItem>) {
    subscribe_as(&server.http, &server.url(SUBSCRIBE_PATH), after, "").await
}

/// [`subscribe`] with an HTTP client of the caller's (a connection of its own) to `url`, as page `client` (empty:
/// none). The page's lane also names itself in the URL (`?client=`) for the byte tap; a caller may do the same.
pub async fn subscribe_as(
    http: &reqwest::Client,
    url: &str,
    after: Option<u64>,
    client: &str,
) -> (reqwest::StatusCode, reqwest::header::HeaderMap, impl Stream<Item = WebItem>) {
    let request = v1::SubscribeRequest { after, client: client.to_owned() };
    let response = http
        .post(url)
        .header("content-type", WEB_CONTENT_TYPE)
        .header("x-grpc-web", "1")
        .body(framing::encode_message(&request.encode_to_vec()))
        .send()
        .await
        .unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let mut reader = FrameReader::new(4 << 20);
    let items = response.bytes_stream().flat_map(move |chunk| {
        let frames = reader.push(&chunk.expect("the body reads")).expect("well-framed");
        futures::stream::iter(frames.into_iter().map(|frame| match frame {
            Frame::Message { payload, .. } => {
                WebItem::Delivered(Delivered::try_from(v1::Event::decode(&payload[..]).unwrap()).unwrap())
            }
            Frame::Trailers(_) => WebItem::Status {
                code: frame.trailer("grpc-status").unwrap_or_default().to_owned(),
                message: frame.trailer("grpc-message").unwrap_or_default().to_owned(),
            },
        }))
    });
    (status, headers, items)
}
