//! Replaying a saved trace in place of the live lanes.

pub mod replay_bar;
pub mod replay_lane;
pub mod replay_view;

use leptos::prelude::*;

use crate::components::common::lazily::ViewMaker;

/// A loaded trace's replay, in its own wasm chunk: fetched when a trace is first loaded.
#[lazy]
pub fn replay_code() -> ViewMaker<replay_view::ReplayViewProps> {
    |props| replay_view::ReplayView(props).into_any()
}
