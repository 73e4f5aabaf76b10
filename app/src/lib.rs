#![recursion_limit = "512"]

//! Transport Lab's page: the diagram geometry ([`diagram`]) and lane figures
//! ([`metrics`]) as plain Rust, the browser's transport hooks ([`client`]) and the page ([`components`]).

pub mod client;
pub mod clock_offset;
pub mod comparison;
pub mod components;
pub mod delivery_text;
pub mod diagram;
pub mod hex_view;
pub mod inspect;
pub mod lane_text;
pub mod lesson;
pub mod metrics;

mod page_snapshot;
pub mod round_trip;
pub mod scale_chart;
pub mod tab_share;

pub use components::common::code_failure::{mark_code_running, show_code_failure};
pub use components::{load_rendered_chunks, App, Page};
pub use page_snapshot::SNAPSHOT_ELEMENT_ID;

use leptos::prelude::*;

/// The HTML document around the app, rendered on the server. The server provides the [`protocol::LabSnapshot`] as
/// context; it is written into the page as JSON so the browser hydrates from exactly the same starting point.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    // The reader's choice, if any; without one the stylesheet follows the system's preference.
    let theme = use_context::<protocol::Theme>().map(protocol::Theme::id);
    let snapshot_json = use_context::<protocol::LabSnapshot>().map(|snapshot| page_snapshot::to_script_text(&snapshot));
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme=theme>
            <head>
                <meta charset="utf-8" />
                // Only this response's own scripts (by nonce), the wasm they load, and same-origin connections;
                // audio also from blob: URLs (each lane's copy of a clip it received).
                <meta
                    http-equiv="Content-Security-Policy"
                    content=leptos::nonce::use_nonce().map(|nonce| format!(
                        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
                         style-src 'self'; img-src 'self' data:; media-src 'self' blob:; connect-src 'self'"
                    ))
                />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <title>"Transport Lab"</title>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <link rel="stylesheet" href="/pkg/transport-lab.css" />
                <script type="application/json" id=SNAPSHOT_ELEMENT_ID inner_html=snapshot_json></script>
                <script nonce=leptos::nonce::use_nonce() inner_html=components::common::code_failure::LOAD_WATCH_SCRIPT></script>
                <AutoReload options=options.clone() />
                <HydrationScripts options />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}
