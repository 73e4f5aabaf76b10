//! The page. The file tree mirrors what is on screen: controls on top, the export toolbar, then a lane per
//! transport, each a sequence diagram with its figures; or, while a saved trace is replayed, the replay in their
//! place.

mod audio_button;
mod controls;
mod diagram_clock;
mod diagram_legend;
mod diagram_toolbar;
mod explainer;
mod fault_controls;
mod fetched;
mod inspector;
mod keyboard_shortcuts;
mod lab_page;
mod lane;
mod lane_audio;
mod lane_metrics;
mod lesson_answer;
mod lesson_panel;
mod lessons_page;
mod live_export;
mod measurement_notes;
mod message_draft;
mod metrics_panel;
mod number_knob;
mod present_page;
mod replay_bar;
mod replay_lane;
mod replay_view;
mod round_trip_button;
mod routes;
mod scale_page;
mod sequence_diagram;
mod tab_limit_notice;
mod teacher_message;
mod theme;
mod time_axis;
mod trace_loader;
mod view_controls;

pub use routes::{App, Page};
