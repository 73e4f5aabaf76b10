//! The presenter view for the projector.

pub mod present_page;

use leptos::prelude::*;

use crate::components::common::lazily::ViewMaker;

/// The page, in its own wasm chunk: only /present fetches it.
#[lazy]
pub fn present_page_code() -> ViewMaker<()> {
    |()| view! { <present_page::PresentPage /> }.into_any()
}
