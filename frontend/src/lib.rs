#![recursion_limit = "512"]

//! The browser entry point: hydrate the server-rendered page. Everything else lives in `app`.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Parts of some pages are wasm chunks of their own (app::components::common::lazily): fetched first, so that
    // hydration finds the code of every part the server rendered.
    wasm_bindgen_futures::spawn_local(async {
        app::load_rendered_chunks(app::Page::current()).await;
        leptos::mount::hydrate_body(app::App);
    });
}
