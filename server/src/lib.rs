#![recursion_limit = "512"]

//! The Transport Lab server: one event hub, delivered over short polling, long polling, SSE and WebSocket.
//!
//! Where things live: events are born in [`hub`] (from [`generator`] and [`publish`]); each transport is one
//! module under [`transports`]; [`app`] puts the routers together with the Leptos page.

pub mod admission;
pub mod audio;
pub mod class;
pub mod config;
pub mod control;
pub mod error;
pub mod extract;
pub mod faults;
pub mod feed;
pub mod generator;
pub mod hub;
pub mod hub_event;
pub mod join_link;
pub mod lessons;
pub mod presence;
pub mod publish;
pub mod rate_limit;
pub mod scale;
mod serve;
pub mod stall_guard;
pub mod state;
pub mod stats;
pub mod transports;
pub mod wire;

use ::app::{shell, Page};
use axum::extract::State;
use axum::http::{header, Extensions, HeaderMap, HeaderName, HeaderValue, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;

pub use config::Config;
pub use serve::serve;
pub use state::AppState;

/// Response header naming the server run on every response, streams included.
pub const EPOCH_HEADER: &str = "x-lab-epoch";

/// The whole application as a router, so tests can serve it on port 0.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(transports::router())
        .merge(publish::router())
        .merge(audio::router())
        .merge(control::router())
        .merge(faults::router())
        .merge(wire::router())
        .merge(scale::router())
        .merge(class::router())
        .merge(lessons::router())
        .route("/api/{*unknown}", axum::routing::any(unknown_api_route))
        .merge(pages(&state))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(CompressionLayer::new().compress_when(is_page_or_asset))
        .layer(axum::middleware::from_fn_with_state(state.clone(), rate_limit::limit_api_requests))
        .layer(axum::middleware::from_fn(wire::stamp_exchange))
        .layer(axum::middleware::map_response_with_state(state.clone(), stamp_epoch))
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
        .with_state(state)
}

/// The pages, rendered on the server with the lab's snapshot and the name of the page (the app has no client-side
/// router; see `app::Page`).
fn pages(state: &AppState) -> Router<AppState> {
    // Leptos spawns its rendering tasks through a global executor; `generate_route_list` used to set it up as a
    // side effect. Already set (a second app in one test process) is fine.
    let _ = any_spawner::Executor::init_tokio();
    let mut router = Router::new();
    for (path, page) in Page::PATHS {
        let state = state.clone();
        let options = state.leptos_options.clone();
        let render = leptos_axum::render_app_to_stream_with_context(
            move || {
                provide_context(state.snapshot());
                provide_context(page);
                // The reader's theme, so the page is painted in it from the first byte (see `protocol::Theme`).
                if let Some(theme) = chosen_theme() {
                    provide_context(theme);
                }
            },
            move || shell(options.clone()),
        );
        router = router.route(path, axum::routing::get(move |request: axum::extract::Request| render(request)));
    }
    router
}

/// The theme in the request's cookie; leptos_axum has put the request's head in context by now.
fn chosen_theme() -> Option<::protocol::Theme> {
    let parts = leptos::prelude::use_context::<axum::http::request::Parts>()?;
    let cookies = parts.headers.get(header::COOKIE)?.to_str().ok()?;
    ::protocol::Theme::from_cookie_header(cookies)
}

/// Names the server run on every response. Read per response, since a restart fault changes it.
async fn stamp_epoch(State(state): State<AppState>, mut response: Response) -> Response {
    if let Ok(epoch) = HeaderValue::from_str(&state.hub().epoch().0) {
        response.headers_mut().insert(HeaderName::from_static(EPOCH_HEADER), epoch);
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

async fn unknown_api_route(uri: axum::http::Uri) -> impl IntoResponse {
    let body = ::protocol::ApiErrorBody {
        error: "not_found".into(),
        field: None,
        message: format!("no API route at {}; see the README for the list", uri.path()),
    };
    (StatusCode::NOT_FOUND, axum::Json(body))
}

/// Leptos settings from cargo-leptos's environment, with a usable default when the binary runs on its own.
pub fn leptos_options() -> LeptosOptions {
    let mut options = leptos::config::get_configuration(None)
        .map(|conf| conf.leptos_options)
        .unwrap_or_else(|_| LeptosOptions::builder().output_name("transport-lab").build());
    if options.output_name.is_empty() {
        options.output_name = "transport-lab".into();
    }
    options
}
