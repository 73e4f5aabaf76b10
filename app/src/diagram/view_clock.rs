//! What the live diagram's bottom edge shows: now, a paused instant, or a slowed clock falling behind now. Plain
//! Rust; the page reads the wall clock once per animation frame and draws [`ViewMode::view_time`].

use super::trace::{Millis, TraceRecord};

/// Slow motion's speed: recorded milliseconds shown per wall-clock millisecond.
pub const SLOW_MOTION_FACTOR: f64 = 0.25;
/// Furthest slow motion falls behind; past it the view keeps this distance at full speed. A lane keeps two
/// minutes of records ([`super::TraceLog::RETENTION_MS`]), and the view needs its own window of them on screen.
pub const MAX_SLOW_MOTION_LAG_MS: Millis = 60_000.0;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ViewMode {
    Live,
    /// Frozen at `at`; resuming returns to slow motion from `at` if that is what was paused.
    Paused {
        at: Millis,
        resume_slow: bool,
    },
    /// Since wall-clock instant `since_real`, the view has run at [`SLOW_MOTION_FACTOR`] from `since_view`.
    Slow {
        since_real: Millis,
        since_view: Millis,
    },
}

impl ViewMode {
    /// The instant at the diagram's bottom edge when the wall clock reads `real_now`.
    pub fn view_time(self, real_now: Millis) -> Millis {
        match self {
            ViewMode::Live => real_now,
            ViewMode::Paused { at, .. } => at,
            ViewMode::Slow { since_real, since_view } => {
                let slowed = since_view + (real_now - since_real).max(0.0) * SLOW_MOTION_FACTOR;
                slowed.max(real_now - MAX_SLOW_MOTION_LAG_MS).min(real_now)
            }
        }
    }

    pub fn pause(self, real_now: Millis) -> ViewMode {
        match self {
            ViewMode::Paused { .. } => self,
            ViewMode::Live => ViewMode::Paused { at: real_now, resume_slow: false },
            ViewMode::Slow { .. } => ViewMode::Paused { at: self.view_time(real_now), resume_slow: true },
        }
    }

    /// Leaves a pause the way it was entered; anything else is paused.
    pub fn toggle_pause(self, real_now: Millis) -> ViewMode {
        match self {
            ViewMode::Paused { at, resume_slow: true } => ViewMode::Slow { since_real: real_now, since_view: at },
            ViewMode::Paused { resume_slow: false, .. } => ViewMode::Live,
            _ => self.pause(real_now),
        }
    }

    /// Slow motion from wherever the view is now, so switching never jumps the drawing.
    pub fn slow(self, real_now: Millis) -> ViewMode {
        match self {
            ViewMode::Slow { .. } => self,
            _ => ViewMode::Slow { since_real: real_now, since_view: self.view_time(real_now) },
        }
    }

    /// Paused at the next arrival after the current view, if anything has arrived since; otherwise paused where
    /// it is.
    pub fn step(self, real_now: Millis, next_arrival: impl FnOnce(Millis) -> Option<Millis>) -> ViewMode {
        let (at, resume_slow) = match self.pause(real_now) {
            ViewMode::Paused { at, resume_slow } => (at, resume_slow),
            other => (other.view_time(real_now), false),
        };
        let at = next_arrival(at).filter(|next| *next <= real_now).unwrap_or(at);
        ViewMode::Paused { at, resume_slow }
    }

    /// How far behind the wall clock a view reading `view_time` is, for slow motion. Needs no second clock: the
    /// slowed mapping is inverted.
    pub fn lag_at(self, view_time: Millis) -> Millis {
        match self {
            ViewMode::Slow { since_real, since_view } => {
                let real = since_real + (view_time - since_view) / SLOW_MOTION_FACTOR;
                (real - view_time).clamp(0.0, MAX_SLOW_MOTION_LAG_MS)
            }
            _ => 0.0,
        }
    }

    /// Stable name for styling and tests.
    pub fn id(self) -> &'static str {
        match self {
            ViewMode::Live => "live",
            ViewMode::Paused { .. } => "paused",
            ViewMode::Slow { .. } => "slow",
        }
    }
}

/// The first arrival strictly after `after` in any of `lanes`: where a step goes next.
pub fn next_arrival<'a>(lanes: impl IntoIterator<Item = &'a TraceRecord>, after: Millis) -> Option<&'a TraceRecord> {
    lanes.into_iter().filter(|record| record.arrived_at > after).min_by(|a, b| a.arrived_at.total_cmp(&b.arrived_at))
}

/// How many records arrived after `after`: recorded while the view was paused, not yet shown.
pub fn arrivals_after<'a>(lanes: impl IntoIterator<Item = &'a TraceRecord>, after: Millis) -> usize {
    lanes.into_iter().filter(|record| record.arrived_at > after).count()
}

#[cfg(test)]
mod tests {
    use super::super::trace::RecordKind;
    use super::*;

    fn record(id: u64, arrived_at: Millis) -> TraceRecord {
        TraceRecord::new(id, RecordKind::Request, format!("r{id}"), String::new(), arrived_at - 1.0, arrived_at)
    }

    #[test]
    fn live_is_now_and_pause_freezes() {
        assert_eq!(ViewMode::Live.view_time(5_000.0), 5_000.0);
        let paused = ViewMode::Live.pause(5_000.0);
        assert_eq!(paused.view_time(9_000.0), 5_000.0);
        assert_eq!(paused.toggle_pause(9_000.0), ViewMode::Live);
    }

    #[test]
    fn slow_motion_runs_at_a_quarter_and_falls_behind() {
        let slow = ViewMode::Live.slow(10_000.0);
        assert_eq!(slow.view_time(10_000.0), 10_000.0, "no jump on entering");
        assert_eq!(slow.view_time(14_000.0), 11_000.0);
        assert_eq!(slow.lag_at(11_000.0), 3_000.0);
        // Entering again keeps the running mapping rather than restarting it.
        assert_eq!(slow.slow(14_000.0), slow);
    }

    #[test]
    fn slow_motion_lag_is_bounded() {
        let slow = ViewMode::Live.slow(0.0);
        let far = 1_000_000.0;
        assert_eq!(slow.view_time(far), far - MAX_SLOW_MOTION_LAG_MS);
        assert_eq!(slow.lag_at(slow.view_time(far)), MAX_SLOW_MOTION_LAG_MS);
    }

    #[test]
    fn a_paused_slow_motion_resumes_slow_from_where_it_stopped() {
        let slow = ViewMode::Live.slow(0.0);
        let paused = slow.toggle_pause(8_000.0);
        assert_eq!(paused, ViewMode::Paused { at: 2_000.0, resume_slow: true });
        let resumed = paused.toggle_pause(20_000.0);
        assert_eq!(resumed.view_time(20_000.0), 2_000.0);
        assert_eq!(resumed.view_time(24_000.0), 3_000.0);
    }

    #[test]
    fn steps_walk_arrivals_one_by_one_across_lanes() {
        let sse = [record(1, 1_000.0), record(2, 1_000.4)];
        let web_socket = [record(3, 1_000.2), record(4, 3_000.0)];
        let all = || sse.iter().chain(web_socket.iter());
        let mut mode = ViewMode::Live.pause(900.0);
        let mut seen = Vec::new();
        for _ in 0..5 {
            mode = mode.step(5_000.0, |after| next_arrival(all(), after).map(|record| record.arrived_at));
            seen.push(mode.view_time(5_000.0));
        }
        assert_eq!(seen, [1_000.0, 1_000.2, 1_000.4, 3_000.0, 3_000.0], "stays put when nothing newer arrived");
        assert_eq!(arrivals_after(all(), 1_000.2), 2);
    }

    #[test]
    fn stepping_from_live_pauses_at_now_then_finds_nothing_newer() {
        let lane = [record(1, 1_000.0)];
        let stepped = ViewMode::Live.step(2_000.0, |after| next_arrival(&lane, after).map(|record| record.arrived_at));
        assert_eq!(stepped, ViewMode::Paused { at: 2_000.0, resume_slow: false });
    }
}
