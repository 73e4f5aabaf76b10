//! gRPC: the service `lab.v1.Events` (`proto/lab/v1/events.proto`) on the lab's one port, beside everything else.
//! `Subscribe` is one more stream of the hub's events, with the same numbers and the same guarantees as SSE's;
//! `Publish` appends a message like `POST /api/publish`. Browsers speak gRPC-web (HTTP/1.1, the trailers as a last
//! frame), which tonic-web turns into gRPC; every other client speaks gRPC itself over HTTP/2 cleartext. Server
//! reflection lets tools such as grpcurl find the service without the `.proto`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::Router;
use futures::Stream;
use prost::Message as _;
use protocol::grpc::{v1, FILE_DESCRIPTOR_SET};
use protocol::{ClientId, Transport, WireLabel};
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status};
use tonic_web::GrpcWebLayer;
use tower::Layer;

use crate::api::admission::AddressPermit;
use crate::api::error::ApiError;
use crate::api::lanes::Lanes;
use crate::api::state::AppState;
use crate::api::wire::Wire;
use crate::core::faults::FaultWatch;
use crate::core::feed::{Feed, FeedItem};
use crate::core::log::EventLog;
use crate::core::message::validated_message;
use crate::core::stats::OpenConnection;
use crate::wire::connection::{Annotation, ConnectionWire};

mod generated {
    include!(concat!(env!("OUT_DIR"), "/lab.v1.rs"));
}

use generated::events_server::{Events, EventsServer};

/// The gRPC services, each under its own path prefix (`/lab.v1.Events/…`, `/grpc.reflection.v1.…/…`).
pub fn router(state: &AppState) -> Router<AppState> {
    let events = EventsService { lanes: axum::extract::FromRef::from_ref(state), log: state.log.clone() };
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .build_v1()
        .expect("the lab's descriptor set, compiled at build time, is valid");
    Router::new()
        .route_service(
            &format!("/{}/{{*method}}", protocol::grpc::SERVICE),
            GrpcWebLayer::new().layer(EventsServer::new(events)),
        )
        .route_service("/grpc.reflection.v1.ServerReflection/{*method}", GrpcWebLayer::new().layer(reflection))
}

#[derive(Clone)]
struct EventsService {
    lanes: Lanes,
    log: EventLog,
}

type EventStream = Pin<Box<dyn Stream<Item = Result<v1::Event, Status>> + Send>>;

#[tonic::async_trait]
impl Events for EventsService {
    type SubscribeStream = EventStream;

    async fn subscribe(&self, request: Request<v1::SubscribeRequest>) -> Result<Response<EventStream>, Status> {
        let address = client_address(&request);
        let wire = Wire(request.extensions().get::<Arc<ConnectionWire>>().cloned());
        let v1::SubscribeRequest { after, client } = request.into_inner();
        let client = match client.as_str() {
            "" => None,
            _ => {
                Some(ClientId::try_from(client).map_err(|error| Status::invalid_argument(format!("client: {error}")))?)
            }
        };
        let lanes = &self.lanes;
        let (peer, permit) = lanes.admit_long_lived(Transport::Grpc, client, address).map_err(|e| e.grpc_status())?;
        let counters = lanes.counters.of(Transport::Grpc).clone();
        let open = counters.open();
        let hub = lanes.hub();
        let subscription = hub.subscribe(after, usize::MAX);
        let (epoch, head_seq) = (hub.epoch().clone(), subscription.head_seq);
        let dropped = lanes.faults.watch(peer.clone());
        let feed = Feed::new(hub, counters, lanes.faults.clone(), peer, subscription, after);
        let subscriber = Subscriber { feed, dropped, wire, ended: false, _open: open, _permit: permit };
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
        let body =
            validated_message(request.into_inner().text).map_err(|refusal| ApiError::Refused(refusal).grpc_status())?;
        let seq = self.log.append(body).await.map_err(|refusal| ApiError::Refused(refusal).grpc_status())?;
        Ok(Response::new(v1::PublishReply { seq }))
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
    wire: Wire,
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
                Some(FeedItem::Event(event)) => {
                    let message = v1::Event::from(&**event);
                    let length = message.encoded_len();
                    self.feed.counters().delivered(1, length);
                    self.wire.annotate(Annotation {
                        event: WireLabel::of_event(&event.body),
                        seq: Some(event.seq),
                        payload_len: Some(length),
                    });
                    Some(Ok(message))
                }
                Some(FeedItem::Gap(gap)) => {
                    let message = v1::Event::from(gap);
                    let length = message.encoded_len();
                    self.wire.annotate(Annotation { event: WireLabel::Gap, seq: None, payload_len: Some(length) });
                    Some(Ok(message))
                }
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
