//! The knobs drawer: the generator, the faults and the polling interval, beside the lanes when asked for, so the
//! first screen belongs to the diagrams. It remembers whether it was open (a cookie, as the theme does), so a
//! teacher who keeps it open finds it open on the next page.

use leptos::prelude::*;

use crate::components::context::KnobsDrawer;

const COOKIE: &str = "lab-knobs";

impl KnobsDrawer {
    /// Closed on the server's render (it cannot know), then as the browser remembers it.
    pub fn remembered() -> Self {
        let open = RwSignal::new(false);
        // Latched: once true, it stays true.
        let ever_opened = Memo::new(move |was: Option<&bool>| was.copied().unwrap_or(false) || open.get());
        let drawer = Self(open, ever_opened);
        Effect::new(move |first: Option<()>| {
            let open = drawer.0.get();
            if first.is_none() {
                if remembered_open() {
                    drawer.0.set(true);
                }
            } else {
                remember(open);
            }
        });
        drawer
    }

    pub fn ever_opened(self) -> bool {
        self.1.get()
    }
}

/// The toolbar's button that opens and closes the drawer.
#[component]
pub fn KnobsButton(drawer: KnobsDrawer) -> impl IntoView {
    view! {
        <button
            type="button"
            class="knobs-button"
            data-testid="knobs-open"
            aria-controls="knobs-drawer"
            aria-expanded=move || drawer.0.get().to_string()
            title="The generator, faults and polling interval (k)"
            on:click=move |_| drawer.0.update(|open| *open = !*open)
        >
            "Knobs & faults"
        </button>
    }
}

#[component]
pub fn KnobsPanel(drawer: KnobsDrawer, children: Children) -> impl IntoView {
    view! {
        <aside
            id="knobs-drawer"
            class="knobs-drawer"
            data-testid="knobs-drawer"
            aria-label="knobs and faults"
            hidden=move || !drawer.0.get()
        >
            <button
                type="button"
                class="close"
                data-testid="knobs-close"
                aria-label="close the knobs"
                on:click=move |_| drawer.0.set(false)
            >
                "×"
            </button>
            {children()}
        </aside>
    }
}

fn html_document() -> Option<web_sys::HtmlDocument> {
    use wasm_bindgen::JsCast;
    web_sys::window()?.document()?.dyn_into::<web_sys::HtmlDocument>().ok()
}

fn remembered_open() -> bool {
    let cookies = html_document().and_then(|document| document.cookie().ok()).unwrap_or_default();
    cookies.split(';').any(|cookie| cookie.trim() == format!("{COOKIE}=open"))
}

fn remember(open: bool) {
    if let Some(document) = html_document() {
        let state = if open { "open" } else { "closed" };
        let _ = document.set_cookie(&format!("{COOKIE}={state}; path=/; max-age=31536000; SameSite=Lax"));
    }
}
