//! Small parts more than one page uses: the theme, one-shot fetches, number knobs, the message box's draft.

pub mod fetched;
pub mod message_draft;
pub mod number_knob;
pub mod theme;
