//! The pages, rendered on the server with the lab's snapshot and the name of the page (the app has no client-side
//! router; see `app::Page`).

use ::app::{shell, Page};
use axum::http::header;
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;

use crate::api::readings::Readings;
use crate::api::state::AppState;

pub fn pages(state: &AppState) -> Router<AppState> {
    // Leptos spawns its rendering tasks through a global executor; `generate_route_list` used to set it up as a
    // side effect. Already set (a second app in one test process) is fine.
    let _ = any_spawner::Executor::init_tokio();
    let readings: Readings = axum::extract::FromRef::from_ref(state);
    let mut router = Router::new();
    for (path, page) in Page::PATHS {
        let readings = readings.clone();
        let options = state.leptos_options.clone();
        let render = leptos_axum::render_app_to_stream_with_context(
            move || {
                provide_context(readings.snapshot());
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
fn chosen_theme() -> Option<protocol::Theme> {
    let parts = leptos::prelude::use_context::<axum::http::request::Parts>()?;
    let cookies = parts.headers.get(header::COOKIE)?.to_str().ok()?;
    protocol::Theme::from_cookie_header(cookies)
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
