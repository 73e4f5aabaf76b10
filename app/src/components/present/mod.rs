//! The presenter view for the projector.

pub mod present_page;
