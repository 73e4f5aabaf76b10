//! The HTTP side of wire truth: handlers reach their connection's [`ConnectionWire`] through the [`Wire`]
//! extractor, every response names its exchange, and `GET /api/wire` serves a page its measured records. That side
//! channel is not lane traffic: it is counted with the rest of the control API, never in a transport's figures.

use std::sync::Arc;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use protocol::routes::{self, Http2WireQuery, PcapngQuery, WireQuery};
use protocol::WirePage;

use crate::api::error::ApiError;
use crate::api::extract::ValidQuery;
use crate::api::state::AppState;
use crate::core::presence::Presence;
use crate::wire::capture::CapturedConnection;
use crate::wire::connection::{Annotation, ConnectionWire};
use crate::wire::ledger::WireLedger;
use crate::wire::pcapng;

const MAX_RECORDS_PER_PAGE: usize = 1000;

/// The connection's wire accounting, when the app is served by [`crate::serve()`] (absent under a bare router).
#[derive(Clone)]
pub struct Wire(pub Option<Arc<ConnectionWire>>);

impl Wire {
    pub fn exchange(&self) -> u64 {
        self.0.as_ref().map_or(0, |wire| wire.current_exchange())
    }

    /// See [`ConnectionWire::answering_the_last_request`]; false with no tap.
    pub fn answering_the_last_request(&self) -> bool {
        self.0.as_ref().is_some_and(|wire| wire.answering_the_last_request())
    }

    /// See [`ConnectionWire::prefetch`].
    pub fn prefetch(&self) {
        if let Some(wire) = &self.0 {
            wire.prefetch();
        }
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

pub fn router() -> Router<AppState> {
    Router::new()
        .route(routes::WIRE, get(get_wire))
        .route(routes::WIRE_HTTP2, get(get_http2_wire))
        .route(routes::WIRE_PCAPNG, get(get_pcapng))
}

/// A page's connections, byte for byte, as a pcapng file for Wireshark: the bytes and their times are the tap's,
/// the Ethernet, IP and TCP headers around them are made up (see [`pcapng`]).
async fn get_pcapng(
    State(ledger): State<Arc<WireLedger>>,
    ValidQuery(query): ValidQuery<PcapngQuery>,
) -> Result<Response, ApiError> {
    let mut connections = ledger.captures(&query.client);
    if connections.is_empty() {
        return Err(ApiError::NothingCaptured { client: query.client.as_str().to_owned() });
    }
    connections.iter_mut().for_each(CapturedConnection::redact_credentials);
    let not_kept: u64 = connections.iter().map(|connection| connection.not_kept).sum();
    let comment = format!(
        "Transport Lab: page {}'s {} connection(s) as the server's socket saw them. Payload bytes and times are \
         measured; Ethernet, IP and TCP headers are made up around them. Credential header values are masked at \
         their length. Bytes that crossed but were not kept (before the page's first request on a connection, or \
         beyond the lab's limits): {not_kept}.",
        query.client.as_str(),
        connections.len(),
    );
    let file = pcapng::write(&connections, &comment)
        .map_err(|error| ApiError::CaptureUnwritable { reason: error.to_string() })?;
    let disposition = format!("attachment; filename=\"transport-lab-{}.pcapng\"", query.client.as_str());
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/x-pcapng")),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("attachment")),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        file,
    )
        .into_response())
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
