//! What draws a lane: the sequence diagram, its time axis and clock, the legend and the inspector (live and replayed alike).

pub mod diagram_clock;
pub mod diagram_legend;
pub mod fitted_height;
pub mod hex_dump;
pub mod inspector;
pub mod sequence_diagram;
pub mod time_axis;
