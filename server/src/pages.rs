//! The pages, rendered on the server with the lab's snapshot and the name of the page (the app has no client-side
//! router; see `app::Page`).

use ::app::{shell, Page};
use axum::http::{header, StatusCode};
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;

use crate::api::readings::Readings;
use crate::api::state::AppState;
use crate::core::lessons::LessonFolder;
use crate::core::refusal::Refusal;

pub fn pages(state: &AppState) -> Router<AppState> {
    // Leptos spawns its rendering tasks through a global executor; `generate_route_list` used to set it up as a
    // side effect. Already set (a second app in one test process) is fine.
    let _ = any_spawner::Executor::init_tokio();
    let readings: Readings = axum::extract::FromRef::from_ref(state);
    let teacher = state.teacher.clone();
    let mut router = Router::new();
    for (path, page) in Page::PATHS {
        let (readings, teacher) = (readings.clone(), teacher.clone());
        let options = state.leptos_options.clone();
        let render = leptos_axum::render_app_to_stream_with_context(
            move || {
                let mut snapshot = readings.snapshot();
                snapshot.teacher = request_head().is_some_and(|head| teacher.role(&head.headers).teacher);
                provide_context(snapshot);
                provide_context(page);
                // The reader's theme, so the page is painted in it from the first byte (see `protocol::Theme`).
                if let Some(theme) = chosen_theme() {
                    provide_context(theme);
                }
            },
            move || shell(options.clone()),
        );
        let lessons = (page == Page::Lesson).then(|| state.lessons.clone());
        router = router.route(
            path,
            axum::routing::get(move |request: axum::extract::Request| {
                let (render, lessons) = (render.clone(), lessons.clone());
                async move {
                    let unknown_lesson = match &lessons {
                        Some(lessons) => is_unknown_lesson(lessons, request.uri().path()).await,
                        None => false,
                    };
                    let mut response = render(request).await;
                    // The page still renders (it says there is no such lesson and links to the list), but a link
                    // checker or a test must be told the address leads nowhere.
                    if unknown_lesson {
                        *response.status_mut() = StatusCode::NOT_FOUND;
                    }
                    response
                }
            }),
        );
    }
    router
}

async fn is_unknown_lesson(lessons: &LessonFolder, path: &str) -> bool {
    let id = path.strip_prefix("/learn/").unwrap_or_default().trim_end_matches('/');
    matches!(lessons.one(id.to_owned()).await, Err(Refusal::NoSuchLesson { .. } | Refusal::InvalidParameter { .. }))
}

/// The request's head, which leptos_axum has put in context by the time the page's context is made.
fn request_head() -> Option<axum::http::request::Parts> {
    leptos::prelude::use_context::<axum::http::request::Parts>()
}

/// The theme in the request's cookie.
fn chosen_theme() -> Option<protocol::Theme> {
    let parts = request_head()?;
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
