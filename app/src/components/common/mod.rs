//! Small parts more than one page uses: the theme, one-shot fetches, number knobs, the message box's draft, the
//! teacher-only note, the notice that the page's code stopped.

pub mod code_failure;
pub mod fetched;
pub mod lazily;
pub mod message_draft;
pub mod number_knob;
pub mod teacher_only;
pub mod theme;
