//! The whole application as one router: the transports, the rest of the API and the pages, under the layers every
//! response passes through.

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, Extensions, HeaderMap, HeaderName, HeaderValue, StatusCode, Version};
use axum::response::Response;
use axum::Router;
use std::sync::Arc;

use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::api::cross_site::refuse_cross_site_writes;
use crate::api::extract::MAX_BODY_BYTES;
use crate::api::rate_limit::limit_api_requests;
use crate::api::request_shape::{method_not_allowed_as_json, refuse_unservable_targets};
use crate::api::state::AppState;
use crate::api::wire::stamp_exchange;
use crate::core::hub::HubSlot;
use crate::core::replica::LogHealth;
use crate::pages::pages;

pub use protocol::headers::{EPOCH as EPOCH_HEADER, INSTANCE as INSTANCE_HEADER};

/// The whole application as a router, so tests can serve it on port 0.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(crate::transports::router())
        .merge(crate::transports::grpc::router(&state))
        .merge(crate::api::router())
        .merge(pages(&state))
        // Assets, and the page's own 404.
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(::app::shell))
        .layer(axum::middleware::from_fn(method_not_allowed_as_json))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(state.admission.clone(), refuse_cross_site_writes))
        .layer(CompressionLayer::new().compress_when(is_page_or_asset))
        .layer(axum::middleware::from_fn_with_state(state.rate_limit.clone(), limit_api_requests))
        .layer(axum::middleware::from_fn(stamp_exchange))
        .layer(axum::middleware::map_response_with_state(Stamps::of(&state), stamp_run_and_instance))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        // Scripts are governed by the page's own <meta> policy, which carries the per-request nonce; what a <meta>
        // policy cannot say (who may frame the page) is said here.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors 'none'; base-uri 'none'; object-src 'none'"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        // Outermost: a request that is not for a path never reaches a route, and the page renderer cannot take one.
        .layer(axum::middleware::from_fn(refuse_unservable_targets))
        .with_state(state)
}

/// What every response is stamped with.
#[derive(Clone)]
struct Stamps {
    hub_slot: Arc<HubSlot>,
    /// With several instances: this one's name, and the health of its copy of the shared log.
    instance: Option<(HeaderValue, LogHealth)>,
}

impl Stamps {
    fn of(state: &AppState) -> Self {
        let instance = state
            .cluster
            .as_ref()
            .and_then(|cluster| Some((HeaderValue::from_str(&cluster.instance).ok()?, cluster.health.clone())));
        Self { hub_slot: state.hub_slot.clone(), instance }
    }
}

/// Names the server run on every response (read per response, since a restart changes it) and, with several
/// instances, the one that answered and why it cannot reach the shared log, if it cannot.
async fn stamp_run_and_instance(State(stamps): State<Stamps>, mut response: Response) -> Response {
    let headers = response.headers_mut();
    if let Ok(epoch) = HeaderValue::from_str(&stamps.hub_slot.current().epoch().0) {
        headers.insert(HeaderName::from_static(EPOCH_HEADER), epoch);
    }
    if let Some((instance, health)) = &stamps.instance {
        headers.insert(HeaderName::from_static(INSTANCE_HEADER), instance.clone());
        if let Some(problem) = health.problem() {
            // A reason that is not a valid header value (it names a URL; it should be) still says there is one.
            let value = HeaderValue::from_str(&problem).unwrap_or(HeaderValue::from_static("unavailable"));
            headers.insert(HeaderName::from_static(protocol::headers::LOG_PROBLEM), value);
        }
    }
    response
}

/// Compresses the page, its script, wasm and stylesheet (the wasm shrinks from about 600 KB to 250 KB, which a
/// classroom on one Wi-Fi notices), never the API: the lab shows the bytes each transport really costs, and an
/// encoder would also hold back SSE events until its buffer filled.
fn is_page_or_asset(_: StatusCode, _: Version, headers: &HeaderMap, _: &Extensions) -> bool {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or_default();
    ["text/html", "text/css", "text/javascript", "application/javascript", "application/wasm"]
        .iter()
        .any(|compressible| content_type.starts_with(compressible))
}
