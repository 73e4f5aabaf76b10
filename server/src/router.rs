//! The whole application as one router: the transports, the rest of the API and the pages, under the layers every
//! response passes through.

use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::{header, Extensions, HeaderMap, StatusCode, Version};
use axum::Router;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;

use crate::api::envelope::{envelope, Envelope};
use crate::api::extract::MAX_BODY_BYTES;
use crate::api::state::AppState;
use crate::pages::pages;

pub use protocol::headers::{EPOCH as EPOCH_HEADER, INSTANCE as INSTANCE_HEADER};

/// The whole application as a router, so tests can serve it on port 0.
pub fn app(state: AppState) -> Router {
    let compressed = || CompressionLayer::new().compress_when(is_page_or_asset);
    // Assets, and the page's own 404.
    let files = leptos_axum::file_and_error_handler::<AppState, _>(::app::shell).with_state(state.clone());
    Router::new()
        .merge(crate::transports::router())
        .merge(crate::transports::grpc::router(&state))
        .merge(crate::api::router())
        .merge(pages(&state).layer(compressed()))
        .fallback_service(
            ServiceBuilder::new()
                .layer(axum::middleware::from_fn(crate::transports::grpc::unknown_service))
                .layer(compressed())
                .service(files),
        )
        // One `layer` call: each call re-boxes every route (see `api::envelope`).
        .layer(
            ServiceBuilder::new()
                .layer(axum::middleware::from_fn_with_state(Envelope::of(&state), envelope))
                .layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        .with_state(state)
}

/// Compresses the page, its script, wasm and stylesheet (the main wasm shrinks to about a third, which a
/// classroom on one Wi-Fi notices), never the API: the lab shows the bytes each transport really costs, and an
/// encoder would also hold back SSE events until its buffer filled.
fn is_page_or_asset(_: StatusCode, _: Version, headers: &HeaderMap, _: &Extensions) -> bool {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or_default();
    ["text/html", "text/css", "text/javascript", "application/javascript", "application/wasm"]
        .iter()
        .any(|compressible| content_type.starts_with(compressible))
}
