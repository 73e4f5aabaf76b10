//! Sequence-diagram geometry as plain Rust: what the lanes record ([`trace`]) and where it is drawn ([`layout`]).
//! Components only render what these compute.

pub mod layout;
pub mod trace;

pub use layout::*;
pub use trace::*;
