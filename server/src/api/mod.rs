//! The HTTP API around the lab's core: one small router per concern (the transports have their own, in
//! `transports`), the [`state::AppState`] they share and the sub-states each handler takes from it, the one
//! [`error::ApiError`], the extractors that name a bad field, and the admission and rate-limit checks.

pub mod admission;
pub mod audio;
pub mod class;
pub mod control;
pub mod cross_site;
pub mod envelope;
pub mod error;
pub mod extract;
pub mod faults;
pub mod handoff;
pub mod lanes;
pub mod lessons;
pub mod publish;
pub mod rate_limit;
pub mod readings;
pub mod request_shape;
pub mod scale;
pub mod state;
pub mod teacher;
pub mod wire;

use axum::Router;

use crate::api::error::ApiError;
use crate::api::state::AppState;

/// Every `/api/` route but the transports', and a JSON 404 for the rest of `/api/`.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(publish::router())
        .merge(audio::router())
        .merge(control::router())
        .merge(faults::router())
        .merge(wire::router())
        .merge(scale::router())
        .merge(class::router())
        .merge(lessons::router())
        // `/api/{*unknown}` needs at least one character after the slash: `/api` and `/api/` are routes of their own.
        .route("/api", axum::routing::any(unknown_api_route))
        .route("/api/", axum::routing::any(unknown_api_route))
        .route("/api/{*unknown}", axum::routing::any(unknown_api_route))
}

async fn unknown_api_route(uri: axum::http::Uri) -> ApiError {
    ApiError::NoSuchRoute { path: uri.path().to_owned() }
}
