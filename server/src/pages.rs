//! The pages, rendered on the server with the lab's snapshot and the name of the page (the app has no client-side
//! router; see `app::Page`).

use ::app::components::lab::knobs_drawer::{left_open_in, DrawerLeftOpen};
use ::app::{shell, Page};
use axum::body::Bytes;
use axum::http::{header, StatusCode};
use axum::Router;
use futures::StreamExt;
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
                // The reader's theme, so the page is painted in it from the first byte (see `protocol::Theme`), and
                // the knobs drawer as the reader left it, so the lanes do not narrow after the page loads.
                let cookies = request_cookies().unwrap_or_default();
                if let Some(theme) = protocol::Theme::from_cookie_header(&cookies) {
                    provide_context(theme);
                }
                provide_context(DrawerLeftOpen(left_open_in(&cookies)));
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
                    let mut response = nonce_only_where_it_belongs(render(request).await).await;
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

/// leptos's `<HydrationScripts>` copies the page's CSP nonce into its preload links' `crossorigin` attribute, where
/// a nonce must not be: an attribute selector in injected CSS could read it there, whereas browsers hide `nonce`
/// attributes. `crossorigin=""` means the same (anonymous), so the head is rewritten before it leaves; the body
/// after `</head>` streams on untouched.
async fn nonce_only_where_it_belongs(response: axum::response::Response) -> axum::response::Response {
    let (mut parts, body) = response.into_parts();
    let mut stream = body.into_data_stream();
    let mut head = Vec::new();
    while !contains(&head, b"</head>") {
        match stream.next().await {
            Some(Ok(chunk)) => head.extend_from_slice(&chunk),
            Some(Err(error)) => {
                tracing::warn!("the page could not be rendered: {error}");
                break;
            }
            None => break,
        }
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    let head =
        futures::stream::once(async move { Ok::<_, axum::Error>(Bytes::from(without_nonce_in_crossorigin(&head))) });
    axum::response::Response::from_parts(parts, axum::body::Body::from_stream(head.chain(stream)))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

/// Every `crossorigin="…"` whose value is not one the attribute has (`anonymous`, `use-credentials`) made empty.
fn without_nonce_in_crossorigin(html: &[u8]) -> Vec<u8> {
    const ATTRIBUTE: &[u8] = b"crossorigin=\"";
    let mut out = Vec::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.windows(ATTRIBUTE.len()).position(|window| window == ATTRIBUTE) {
        let value_start = at + ATTRIBUTE.len();
        let Some(length) = rest[value_start..].iter().position(|&byte| byte == b'"') else { break };
        let value = &rest[value_start..value_start + length];
        out.extend_from_slice(&rest[..value_start]);
        if value == b"anonymous" || value == b"use-credentials" {
            out.extend_from_slice(value);
        }
        rest = &rest[value_start + length..];
    }
    out.extend_from_slice(rest);
    out
}

async fn is_unknown_lesson(lessons: &LessonFolder, path: &str) -> bool {
    let id = path.strip_prefix("/learn/").unwrap_or_default().trim_end_matches('/');
    matches!(lessons.one(id.to_owned()).await, Err(Refusal::NoSuchLesson { .. } | Refusal::InvalidParameter { .. }))
}

/// The request's head, which leptos_axum has put in context by the time the page's context is made.
fn request_head() -> Option<axum::http::request::Parts> {
    leptos::prelude::use_context::<axum::http::request::Parts>()
}

/// The request's `Cookie` header: over HTTP/1.1, which is how browsers reach the lab's pages, there is one.
fn request_cookies() -> Option<String> {
    let parts = request_head()?;
    parts.headers.get(header::COOKIE)?.to_str().ok().map(str::to_owned)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_leaves_crossorigin_and_nothing_else_changes() {
        let head = br#"<meta content="script-src 'nonce-Ab3'"><link rel="modulepreload" href="/pkg/a.js" crossorigin="Ab3"><link crossorigin="anonymous" href="/x"><script nonce="Ab3">go()</script>"#;
        let expected = br#"<meta content="script-src 'nonce-Ab3'"><link rel="modulepreload" href="/pkg/a.js" crossorigin=""><link crossorigin="anonymous" href="/x"><script nonce="Ab3">go()</script>"#;
        assert_eq!(
            String::from_utf8(without_nonce_in_crossorigin(head)).unwrap(),
            String::from_utf8(expected.to_vec()).unwrap()
        );
        assert_eq!(without_nonce_in_crossorigin(b"crossorigin=\"unclosed"), b"crossorigin=\"unclosed");
    }
}
