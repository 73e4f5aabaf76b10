#![recursion_limit = "512"]

//! The browser entry point: hydrate the server-rendered page. Everything else lives in `app`.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    app::mark_code_running();
    // The console keeps the details for whoever opens it; the page tells everyone else (app's code_failure).
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        app::show_code_failure(&info.to_string());
    }));
    // Parts of some pages are wasm chunks of their own (app::components::common::lazily): fetched first, so that
    // hydration finds the code of every part the server rendered.
    wasm_bindgen_futures::spawn_local(async {
        app::load_rendered_chunks(app::Page::current()).await;
        leptos::mount::hydrate_body(app::App);
    });
}
