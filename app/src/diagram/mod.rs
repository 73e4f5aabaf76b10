//! Sequence-diagram geometry as plain Rust: what the lanes record ([`trace`]) and where it is drawn ([`layout`]);
//! the same records saved and read back ([`trace_file`]), replayed on their own clock ([`replay`]), written as
//! Mermaid text ([`mermaid`]) or an HTTP Archive ([`har`]), or put together as one picture ([`svg_picture`]). Components only render what these
//! compute.

pub mod control;
pub mod describe;
pub mod har;
pub mod layout;
pub mod mermaid;
pub mod replay;
pub mod svg_picture;
pub mod trace;
pub mod trace_file;
pub mod view_clock;

pub use layout::*;
pub use trace::*;
