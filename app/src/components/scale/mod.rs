//! The Scale page: the scale suite's results.

pub mod scale_page;

use leptos::prelude::*;

use crate::components::common::lazily::ViewMaker;

/// The page, in its own wasm chunk: only /scale fetches it.
#[lazy]
pub fn scale_page_code() -> ViewMaker<()> {
    |()| view! { <scale_page::ScalePage /> }.into_any()
}
