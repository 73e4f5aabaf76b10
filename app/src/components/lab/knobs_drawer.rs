//! The knobs drawer: the generator, the faults and the polling interval, beside the lanes when asked for, so the
//! first screen belongs to the diagrams. It remembers whether it was open (a cookie, as the theme does), so a
//! teacher who keeps it open finds it open on the next page. The server reads the same cookie and renders the
//! drawer as it was left, so the lanes do not narrow under the reader's eyes once the page has loaded.

use leptos::prelude::*;

use crate::components::context::KnobsDrawer;

const COOKIE: &str = "lab-knobs";

/// Whether the drawer was left open, as the server read it from the request's cookie (put in context by the
/// server, as the theme is).
#[derive(Clone, Copy, Debug)]
pub struct DrawerLeftOpen(pub bool);

impl KnobsDrawer {
    /// As the reader left it: from the server's reading of the cookie while rendering, from the browser's own
    /// cookie when hydrating, which is the same cookie, so both draw the same page.
    pub fn remembered() -> Self {
        let left_open = use_context::<DrawerLeftOpen>().map_or_else(remembered_open, |left| left.0);
        let open = RwSignal::new(left_open);
        // Latched: once true, it stays true.
        let ever_opened = Memo::new(move |was: Option<&bool>| was.copied().unwrap_or(false) || open.get());
        let drawer = Self(open, ever_opened);
        Effect::new(move |first: Option<()>| {
            let open = drawer.0.get();
            if first.is_some() {
                remember(open);
            }
        });
        drawer
    }

    pub fn ever_opened(self) -> bool {
        self.1.get()
    }
}

/// Whether a `Cookie` header (or `document.cookie`) says the drawer was left open.
pub fn left_open_in(cookies: &str) -> bool {
    cookies
        .split(';')
        .any(|cookie| cookie.trim().strip_prefix(COOKIE).and_then(|rest| rest.strip_prefix('=')) == Some("open"))
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

/// In the browser, whether this browser left the drawer open; elsewhere, no.
pub fn remembered_open() -> bool {
    left_open_in(&html_document().and_then(|document| document.cookie().ok()).unwrap_or_default())
}

fn remember(open: bool) {
    if let Some(document) = html_document() {
        let state = if open { "open" } else { "closed" };
        let _ = document.set_cookie(&format!("{COOKIE}={state}; path=/; max-age=31536000; SameSite=Lax"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_read_by_its_exact_name_and_value_among_others() {
        assert!(left_open_in("lab-knobs=open"));
        assert!(left_open_in("theme=dark; lab-knobs=open; other=1"));
        assert!(!left_open_in("lab-knobs=closed"));
        assert!(!left_open_in("my-lab-knobs=open; lab-knobs-x=open"));
        assert!(!left_open_in(""));
    }
}
