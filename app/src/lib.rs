//! Transport Lab's shared crate: the wire types ([`model`]), the diagram geometry ([`diagram`]) and lane figures
//! ([`metrics`]) as plain Rust, the browser's transport hooks ([`client`]) and the page ([`components`]).

pub mod client;
pub mod components;
pub mod diagram;
pub mod metrics;
pub mod model;
pub mod server_fns;

pub use components::App;

use leptos::prelude::*;
use leptos_meta::MetaTags;

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}
