//! The live lab page: the controls on top, then one lane per transport with its diagram and figures.

pub mod audio_button;
pub mod controls;
pub mod explainer;
pub mod fault_controls;
pub mod keyboard_shortcuts;
pub mod knobs_drawer;
pub mod lab_page;
pub mod lane;
pub mod lane_audio;
pub mod lane_metrics;
pub mod lane_strip;
pub mod measurement_notes;
pub mod metrics_panel;
pub mod mqtt_knobs;
pub mod native_grpc_wire;
pub mod round_trip_button;
pub mod tab_limit_notice;
pub mod teacher_message;
pub mod view_controls;
pub mod webhook_receiver;

use leptos::prelude::*;

use crate::components::common::lazily::ViewMaker;

/// The knobs drawer's controls, in their own wasm chunk: fetched when the drawer is first opened.
#[lazy]
pub fn knobs_code() -> ViewMaker<controls::KnobsProps> {
    |props| controls::Knobs(props).into_any()
}
