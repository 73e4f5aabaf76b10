//! Replaying a saved trace in place of the live lanes.

pub mod replay_bar;
pub mod replay_lane;
pub mod replay_view;
