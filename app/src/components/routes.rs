use leptos::prelude::*;

use crate::components::common::code_failure::CodeFailureNotice;
use crate::components::common::lazily::lazily;
use crate::components::common::theme::{ThemeChoice, ThemeToggle};
use crate::components::lab::knobs_code;
use crate::components::lab::knobs_drawer::remembered_open;
use crate::components::lab::lab_page::LabPage;
use crate::components::lessons::{lesson_panel_code, lessons_page_code};
use crate::components::present::present_page_code;
use crate::components::scale::scale_page_code;

/// The lab's pages, each loaded afresh by its link (the live lab starts from the snapshot the server
/// writes into each page, which a client-side navigation would leave stale), need no client-side router: the
/// server says which page it rendered, the browser reads its own address. `leptos_router` was tried: it cost
/// 57 KB of gzipped wasm (654,019 → 597,144 B), which a classroom on one Wi-Fi pays for 60 times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    Lab,
    Scale,
    Present,
    /// The list of guided lessons.
    Lessons,
    /// The lab with one lesson's panel above it (`/learn/<id>`; the browser reads the id from its address).
    Lesson,
    NotFound,
}

impl Page {
    /// Where each page is served, in the server router's path syntax.
    pub const PATHS: [(&'static str, Page); 5] = [
        ("/", Page::Lab),
        ("/scale", Page::Scale),
        ("/present", Page::Present),
        ("/learn", Page::Lessons),
        ("/learn/{id}", Page::Lesson),
    ];

    pub fn from_path(path: &str) -> Page {
        let path = if path.len() > 1 { path.trim_end_matches('/') } else { path };
        if path.strip_prefix("/learn/").is_some_and(|id| !id.is_empty() && !id.contains('/')) {
            return Page::Lesson;
        }
        Self::PATHS.iter().find(|(known, _)| *known == path).map_or(Page::NotFound, |(_, page)| *page)
    }

    /// In the browser, the page's own address; on the server without a request (the error fallback), not found.
    pub fn current() -> Page {
        if let Some(page) = use_context::<Page>() {
            return page;
        }
        if !cfg!(target_arch = "wasm32") {
            return Page::NotFound;
        }
        web_sys::window()
            .and_then(|window| window.location().pathname().ok())
            .map_or(Page::NotFound, |path| Self::from_path(&path))
    }
}

/// Fetches the wasm chunks of the parts the server rendered into this page, so that hydration finds their code
/// loaded (the browser calls this before it hydrates). Only fetches: no view is built. A part the server renders
/// through `lazily` and this list leaves out would stop the page's hydration (the browser finds the server's nodes
/// where it expects an empty slot): the Playwright test of each page would fail.
pub async fn load_rendered_chunks(page: Page) {
    match page {
        Page::Lessons => _ = lessons_page_code().await,
        Page::Lesson => _ = futures::future::join(lesson_panel_code(), knobs_code()).await,
        Page::Scale => _ = scale_page_code().await,
        Page::Present => _ = present_page_code().await,
        // The drawer the reader left open was rendered open, its controls in it.
        Page::Lab if remembered_open() => _ = knobs_code().await,
        Page::Lab | Page::NotFound => {}
    }
}

#[component]
pub fn App() -> impl IntoView {
    ThemeChoice::provide();
    let page = match Page::current() {
        Page::Lab => view! { <LabPage /> }.into_any(),
        Page::Lesson => view! { <LabPage with_lesson=true /> }.into_any(),
        Page::Lessons => lazily(lessons_page_code(), ()).into_any(),
        Page::Scale => lazily(scale_page_code(), ()).into_any(),
        Page::Present => lazily(present_page_code(), ()).into_any(),
        Page::NotFound => {
            view! { <p class="error" data-testid="not-found">"No page here. The lab is at /."</p> }.into_any()
        }
    };
    view! {
        <CodeFailureNotice />
        <nav class="site-nav" data-testid="site-nav">
            <a href="/">"Live lab"</a>
            <a href="/learn">"Lessons"</a>
            <a href="/scale">"Scale: 1,000 and 10,000 clients"</a>
            <a href="/present">"Presenter view (class)"</a>
            <ThemeToggle />
        </nav>
        {page}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_pages() {
        assert_eq!(Page::from_path("/"), Page::Lab);
        assert_eq!(Page::from_path("/scale"), Page::Scale);
        assert_eq!(Page::from_path("/scale/"), Page::Scale);
        assert_eq!(Page::from_path("/present"), Page::Present);
        assert_eq!(Page::from_path("/learn"), Page::Lessons);
        assert_eq!(Page::from_path("/learn/short-polling"), Page::Lesson);
        assert_eq!(Page::from_path("/learn/a/b"), Page::NotFound);
        assert_eq!(Page::from_path("/nope"), Page::NotFound);
    }
}
