//! The page. The file tree mirrors what is on screen: controls on top, then a lane per transport, each a
//! sequence diagram with its figures.

mod controls;
mod diagram_clock;
mod explainer;
mod fault_controls;
mod inspector;
mod lab_page;
mod lane;
mod lane_metrics;
mod measurement_notes;
mod metrics_panel;
mod number_knob;
mod present_page;
mod routes;
mod scale_page;
mod sequence_diagram;
mod tab_limit_notice;
mod teacher_message;
mod time_axis;

pub use routes::App;
