use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use super::lab_page::LabPage;
use super::scale_page::ScalePage;

/// The lab's pages. Each is rendered on the server first, so a link works with JavaScript off too. The links load
/// the page afresh (`rel="external"` keeps the router out): the live lab starts from the snapshot the server writes
/// into each page, which a client-side navigation would leave stale.
#[component]
pub fn App() -> impl IntoView {
    view! {
        <Router>
            <nav class="site-nav" data-testid="site-nav">
                <a href="/" rel="external">"Live lab"</a>
                <a href="/scale" rel="external">"Scale: 1,000 and 10,000 clients"</a>
            </nav>
            <Routes fallback=|| view! { <p class="error">"No page here. The lab is at /."</p> }>
                <Route path=path!("/") view=LabPage />
                <Route path=path!("/scale") view=ScalePage />
            </Routes>
        </Router>
    }
}
