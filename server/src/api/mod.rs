//! The HTTP API around the lab's core: one small router per concern (the transports have their own, in
//! `transports`), the [`state::AppState`] they share and the sub-states each handler takes from it, the one
//! [`error::ApiError`], the extractors that name a bad field, and the admission and rate-limit checks.

pub mod admission;
pub mod audio;
pub mod class;
pub mod control;
pub mod error;
pub mod extract;
pub mod faults;
pub mod lanes;
pub mod lessons;
pub mod publish;
pub mod rate_limit;
pub mod readings;
pub mod scale;
pub mod state;
pub mod wire;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Router;

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
        .route("/api/{*unknown}", axum::routing::any(unknown_api_route))
}

async fn unknown_api_route(uri: axum::http::Uri) -> impl IntoResponse {
    let body = protocol::ApiErrorBody {
        error: "not_found".into(),
        field: None,
        message: format!("no API route at {}; the API reference (docs/src/api/index.md) lists them", uri.path()),
    };
    (StatusCode::NOT_FOUND, axum::Json(body))
}
