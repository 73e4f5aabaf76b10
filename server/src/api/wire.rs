//! The HTTP side of wire truth: handlers reach their connection's [`ConnectionWire`] through the [`Wire`]
//! extractor, every response names its exchange, and `GET /api/wire` serves a page its measured records. That side
//! channel is not lane traffic: it is counted with the rest of the control API, never in a transport's figures.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use protocol::routes::{self, Http2WireQuery, WireQuery};
use protocol::WirePage;

use crate::api::extract::ValidQuery;
use crate::api::state::AppState;
use crate::core::presence::Presence;
use crate::wire::connection::{Annotation, ConnectionWire};
use crate::wire::ledger::WireLedger;

use protocol::headers::EXCHANGE as EXCHANGE_HEADER;
const MAX_RECORDS_PER_PAGE: usize = 1000;

/// The connection's wire accounting, when the app is served by [`crate::serve()`] (absent under a bare router).
#[derive(Clone)]
pub struct Wire(pub Option<Arc<ConnectionWire>>);

impl Wire {
    pub fn exchange(&self) -> u64 {
        self.0.as_ref().map_or(0, |wire| wire.current_exchange())
    }

    pub fn annotate(&self, annotation: Annotation) {
        if let Some(wire) = &self.0 {
            wire.annotate(annotation);
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Wire {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Wire(parts.extensions.get::<Arc<ConnectionWire>>().cloned()))
    }
}

/// Middleware: tells every response which exchange it is.
pub async fn stamp_exchange(wire: Wire, request: Request, next: Next) -> Response {
    let exchange = wire.exchange();
    let mut response = next.run(request).await;
    if exchange != 0 {
        response.headers_mut().insert(HeaderName::from_static(EXCHANGE_HEADER), HeaderValue::from(exchange));
    }
    response
}

pub fn router() -> Router<AppState> {
    Router::new().route(routes::WIRE, get(get_wire)).route(routes::WIRE_HTTP2, get(get_http2_wire))
}

/// What the lab's HTTP/2 connections sent and received lately, frame by frame: native gRPC clients are no page,
/// so their records are kept together, for anyone to read.
async fn get_http2_wire(
    State(ledger): State<Arc<WireLedger>>,
    ValidQuery(query): ValidQuery<Http2WireQuery>,
) -> Json<WirePage> {
    Json(ledger.http2_page(query.after, MAX_RECORDS_PER_PAGE))
}

/// A page's measured records after `after`: what its lanes' requests, responses, chunks and frames cost.
async fn get_wire(
    State(ledger): State<Arc<WireLedger>>,
    State(presence): State<Presence>,
    ValidQuery(query): ValidQuery<WireQuery>,
) -> Json<WirePage> {
    // The page's side channel runs once a second whatever its lanes do: it keeps the page counted as present.
    presence.seen(Some(&query.client), None);
    Json(ledger.page(&query.client, query.after, MAX_RECORDS_PER_PAGE))
}
