//! gRPC: the service `lab.v1.Events` (`proto/lab/v1/events.proto`) on the lab's one port, beside everything else.
//! `Subscribe` is one more stream of the hub's events, with the same numbers and the same guarantees as SSE's;
//! `Publish` appends a message like `POST /api/publish`. Browsers speak gRPC-web (HTTP/1.1, the trailers as a last
//! frame), which tonic-web turns into gRPC; every other client speaks gRPC itself over HTTP/2 cleartext. Server
//! reflection lets tools such as grpcurl find the service without the `.proto`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;

use axum::extract::ConnectInfo;
use axum::http::header::CONTENT_TYPE;
use axum::http::Version;
use axum::response::IntoResponse;
use axum::Router;
use futures::Stream;
use prost::Message as _;
use protocol::grpc::{v1, FILE_DESCRIPTOR_SET};
use protocol::{ClientId, Transport};
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status};
use tonic_web::GrpcWebLayer;
use tower::Layer;

use crate::api::admission::AddressPermit;
use crate::api::error::ApiError;
use crate::api::lanes::Lanes;
use crate::api::rate_limit::RequestRateLimit;
use crate::api::state::AppState;
use crate::core::faults::FaultWatch;
use crate::core::feed::{Feed, FeedItem};
use crate::core::log::EventLog;
use crate::core::message::validated_message;
use crate::core::refusal::Refusal;
use crate::core::stats::OpenConnection;

mod generated {
    include!(concat!(env!("OUT_DIR"), "/lab.v1.rs"));
}

use generated::events_server::{Events, EventsServer};

/// The gRPC services, each under its own path prefix (`/lab.v1.Events/…`, `/grpc.reflection.v1.…/…`).
pub fn router(state: &AppState) -> Router<AppState> {
    let events = EventsService {
        lanes: axum::extract::FromRef::from_ref(state),
        log: state.log.clone(),
        rate_limit: state.rate_limit.clone(),
    };
    // A publish is at most 1 KiB of text and a subscription request two small fields: anything near this is abuse,
    // answered RESOURCE_EXHAUSTED before it is buffered.
    let events = tower::ServiceBuilder::new()
        .layer(GrpcWebLayer::new())
        .map_response(oversize_is_resource_exhausted)
        .service(EventsServer::new(events).max_decoding_message_size(MAX_REQUEST_BYTES));
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .build_v1()
        .expect("the lab's descriptor set, compiled at build time, is valid");
    Router::new()
        .route_service(&format!("/{}/{{*method}}", protocol::grpc::SERVICE), events)
        .route_service("/grpc.reflection.v1.ServerReflection/{*method}", GrpcWebLayer::new().layer(reflection))
        .route_layer(axum::middleware::from_fn(only_grpc))
}

/// tonic refuses a message over its size limit with OUT_OF_RANGE; gRPC's status code table names
/// RESOURCE_EXHAUSTED for that, which clients retry differently. The service itself never answers OUT_OF_RANGE, so
/// one in a trailers-only response (the only way a refused request ends) is the limit's.
fn oversize_is_resource_exhausted<B>(mut response: axum::http::Response<B>) -> axum::http::Response<B> {
    let out_of_range = (tonic::Code::OutOfRange as i32).to_string();
    if response.headers().get("grpc-status").is_some_and(|code| code.as_bytes() == out_of_range.as_bytes()) {
        let exhausted = (tonic::Code::ResourceExhausted as i32).to_string();
        response.headers_mut().insert("grpc-status", exhausted.parse().expect("digits are a header value"));
    }
    response
}

/// What is not a gRPC call gets the HTTP answer the gRPC spec asks for (415 for another content type) with the
/// lab's JSON body, instead of a gRPC status its client could not read.
async fn only_grpc(request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let content_type = request.headers().get(CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or("");
    // tonic-web takes its four content types exactly and answers any other `application/grpc-web…` (`+json`, say)
    // with an empty 400; the lab's messages are protobuf only, so another codec is a media type it does not serve.
    let is_web = GRPC_WEB_CONTENT_TYPES.contains(&content_type);
    let mime = content_type.split(';').next().unwrap_or_default().trim();
    let is_native = mime == protocol::grpc::CONTENT_TYPE || mime == GRPC_PROTO_CONTENT_TYPE;
    if !is_web && !is_native {
        let found = if content_type.is_empty() { "none".to_owned() } else { format!("`{content_type}`") };
        return ApiError::NotGrpc { found }.into_response();
    }
    if !is_web && request.version() < Version::HTTP_2 {
        return ApiError::GrpcNeedsHttp2.into_response();
    }
    next.run(request).await
}

/// Native gRPC's content type naming its codec, which a client may send instead of the bare one.
const GRPC_PROTO_CONTENT_TYPE: &str = "application/grpc+proto";

/// The gRPC-web content types tonic-web serves: binary and base64 text, protobuf either way.
const GRPC_WEB_CONTENT_TYPES: [&str; 4] = [
    "application/grpc-web",
    "application/grpc-web+proto",
    "application/grpc-web-text",
    "application/grpc-web-text+proto",
];

/// A gRPC call to a service the lab does not serve (`/lab.v1.Nope/X`): gRPC's UNIMPLEMENTED, in the call's own
/// content type, where any other request to an unknown path gets the page's 404. Layered on the router's
/// fallback, since a route for every `/{service}/{method}` would take the pages' paths too.
pub async fn unknown_service(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let content_type = request.headers().get(CONTENT_TYPE).cloned();
    let is_grpc = content_type
        .as_ref()
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with(protocol::grpc::CONTENT_TYPE));
    if !is_grpc {
        return next.run(request).await;
    }
    let status = Status::unimplemented(format!("this lab serves no gRPC method {}", request.uri().path()));
    let mut response = status.into_http::<axum::body::Body>();
    if let Some(content_type) = content_type {
        response.headers_mut().insert(CONTENT_TYPE, content_type);
    }
    response
}

/// The largest request message the service decodes.
const MAX_REQUEST_BYTES: usize = 16 * 1024;

#[derive(Clone)]
struct EventsService {
    lanes: Lanes,
    log: EventLog,
    /// The same per-address budget as `/api/…` requests: a gRPC publish is a publish.
    rate_limit: RequestRateLimit,
}

type EventStream = Pin<Box<dyn Stream<Item = Result<v1::Event, Status>> + Send>>;

#[tonic::async_trait]
impl Events for EventsService {
    type SubscribeStream = EventStream;

    async fn subscribe(&self, request: Request<v1::SubscribeRequest>) -> Result<Response<EventStream>, Status> {
        let address = client_address(&request);
        let v1::SubscribeRequest { after, client } = request.into_inner();
        let client = match client.as_str() {
            "" => None,
            _ => {
                Some(ClientId::try_from(client).map_err(|error| Status::invalid_argument(format!("client: {error}")))?)
            }
        };
        let lanes = &self.lanes;
        let (peer, permit) = lanes.admit_long_lived(Transport::Grpc, client, address).map_err(|e| e.grpc_status())?;
        let counters = lanes.counters().of(Transport::Grpc).clone();
        let open = counters.open();
        let hub = lanes.hub();
        let subscription = hub.subscribe(after, usize::MAX);
        let (epoch, head_seq) = (hub.epoch().clone(), subscription.head_seq);
        let dropped = lanes.faults().watch(peer.clone());
        let feed = Feed::new(hub, counters, lanes.faults().clone(), peer, subscription, after);
        let subscriber = Subscriber { feed, dropped, ended: false, _open: open, _permit: permit };
        let stream = futures::stream::unfold(subscriber, |mut subscriber| async move {
            let item = subscriber.next_message().await?;
            Some((item, subscriber))
        });
        let mut response = Response::new(Box::pin(stream) as EventStream);
        let metadata = response.metadata_mut();
        // What a stream's `hello` says on the other lanes, as gRPC's initial metadata.
        if let Ok(epoch) = MetadataValue::try_from(epoch.0.as_str()) {
            metadata.insert(protocol::headers::EPOCH, epoch);
        }
        metadata.insert("x-lab-head-seq", MetadataValue::from(head_seq));
        if let Some(instance) = lanes.instance().and_then(|name| MetadataValue::try_from(name).ok()) {
            metadata.insert(protocol::headers::INSTANCE, instance);
        }
        Ok(response)
    }

    async fn publish(&self, request: Request<v1::PublishRequest>) -> Result<Response<v1::PublishReply>, Status> {
        self.rate_limit.check(client_address(&request)).map_err(|error| error.grpc_status())?;
        let body = validated_message(request.into_inner().text).map_err(status_of)?;
        let seq = self.log.append(body).await.map_err(status_of)?;
        Ok(Response::new(v1::PublishReply { seq }))
    }
}

/// The lab's refusal as a gRPC status; a field is a protobuf field here, not a JSON one.
fn status_of(refusal: Refusal) -> Status {
    match refusal {
        Refusal::InvalidField { field, message } => Status::invalid_argument(format!("field `{field}` {message}")),
        other => ApiError::Refused(other).grpc_status(),
    }
}

fn client_address<T>(request: &Request<T>) -> IpAddr {
    let connected = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(address)| address.ip());
    connected.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// One `Subscribe` call's state: the feed it reads, and what ends it.
struct Subscriber {
    feed: Feed,
    /// Tells when a fault drops this stream.
    dropped: FaultWatch,
    /// Set once the call has been ended with a status: the stream then ends.
    ended: bool,
    _open: OpenConnection,
    _permit: AddressPermit,
}

impl Subscriber {
    async fn next_message(&mut self) -> Option<Result<v1::Event, Status>> {
        if self.ended {
            return None;
        }
        tokio::select! {
            item = self.feed.next() => match item {
                // The wire tap reads each message's seq and kind from its prefix and first bytes, wherever the
                // messages land in the chunks or DATA frames: nothing to annotate here.
                Some(FeedItem::Event(event)) => {
                    let message = v1::Event::from(&**event);
                    self.feed.counters().delivered(1, message.encoded_len());
                    Some(Ok(message))
                }
                Some(FeedItem::Gap(gap)) => Some(Ok(v1::Event::from(gap))),
                // The hub was replaced: a restart. The numbers start again under a new epoch.
                None => self.end(Status::aborted("the lab restarted: a new run, numbered from 1; subscribe again")),
            },
            _ = self.dropped.until_dropped() => self.end(Status::unavailable("dropped by a fault; subscribe again with after")),
        }
    }

    fn end(&mut self, status: Status) -> Option<Result<v1::Event, Status>> {
        self.ended = true;
        Some(Err(status))
    }
}
