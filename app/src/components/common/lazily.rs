//! Views whose code is a separate wasm chunk, fetched the first time one is shown.
//!
//! A `#[lazy]` function (Leptos's wasm splitting, `cargo leptos build --split`) is moved with everything only it
//! reaches into its own `.wasm` file; calling it fetches that file once. Each part here is a `#[lazy]` function
//! that gives back the function building the part's view, so fetching the code and building the view are separate
//! steps: before hydrating, the browser fetches the chunks of the parts the server rendered
//! ([`load_rendered_chunks`](crate::components::load_rendered_chunks)), and hydration then finds them
//! ready. On the server the `#[lazy]` function is an ordinary async function, ready at once.

use std::future::Future;

use leptos::prelude::*;

/// What a `#[lazy]` part gives back: the function that builds its view from its props.
pub type ViewMaker<Props> = fn(Props) -> AnyView;

/// Shows the part `maker` fetches, built from `props`, once its chunk has arrived, and nothing before. Not inside a
/// `<Suspense>`: with the server's out-of-order streaming that would send a placeholder and the part later.
pub fn lazily<Props: Send + 'static>(
    maker: impl Future<Output = ViewMaker<Props>> + Send + 'static,
    props: Props,
) -> impl IntoView {
    Suspend::new(async move { maker.await(props) })
}
