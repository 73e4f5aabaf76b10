//! Taking a diagram out of the lab: the export toolbar, loading a saved trace, and the live lanes as a trace.

pub mod diagram_toolbar;
pub mod exporters;
pub mod live_export;
pub mod trace_loader;
