//! A replay's own clock: recorded time, moved on by the wall clock times the chosen speed. Plain Rust; the replay
//! view advances it once per animation frame and draws what had arrived by [`ReplayClock::position`].

use super::trace::{Millis, TraceRecord};
use super::trace_file::TraceFile;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplaySpeed {
    Quarter,
    Half,
    Normal,
    Double,
    Quadruple,
    /// Straight to the end: the diagram as it was exported.
    AllAtOnce,
}

impl ReplaySpeed {
    pub const ALL: [ReplaySpeed; 6] = [
        ReplaySpeed::Quarter,
        ReplaySpeed::Half,
        ReplaySpeed::Normal,
        ReplaySpeed::Double,
        ReplaySpeed::Quadruple,
        ReplaySpeed::AllAtOnce,
    ];

    /// Recorded milliseconds per wall-clock millisecond; `None` for all at once.
    pub fn factor(self) -> Option<f64> {
        match self {
            ReplaySpeed::Quarter => Some(0.25),
            ReplaySpeed::Half => Some(0.5),
            ReplaySpeed::Normal => Some(1.0),
            ReplaySpeed::Double => Some(2.0),
            ReplaySpeed::Quadruple => Some(4.0),
            ReplaySpeed::AllAtOnce => None,
        }
    }

    /// Stable value for the speed picker (and tests).
    pub fn id(self) -> &'static str {
        match self {
            ReplaySpeed::Quarter => "0.25",
            ReplaySpeed::Half => "0.5",
            ReplaySpeed::Normal => "1",
            ReplaySpeed::Double => "2",
            ReplaySpeed::Quadruple => "4",
            ReplaySpeed::AllAtOnce => "all",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ReplaySpeed::Quarter => "0.25×",
            ReplaySpeed::Half => "0.5×",
            ReplaySpeed::Normal => "1×",
            ReplaySpeed::Double => "2×",
            ReplaySpeed::Quadruple => "4×",
            ReplaySpeed::AllAtOnce => "all at once",
        }
    }

    pub fn from_id(id: &str) -> Option<ReplaySpeed> {
        ReplaySpeed::ALL.into_iter().find(|speed| speed.id() == id)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReplayClock {
    pub start: Millis,
    /// Where the replay stops: the exported view.
    pub end: Millis,
    /// Recorded time shown now: records that had arrived by then are drawn.
    pub position: Millis,
    pub speed: ReplaySpeed,
    pub paused: bool,
}

impl ReplayClock {
    /// Recorded time between the first record and this, so the replay does not open on an arrow already drawn.
    pub const LEAD_IN_MS: Millis = 1000.0;
    /// Most wall-clock time one step may cover: a hidden tab gets no animation frames, and on its return the
    /// replay goes on from where it was instead of leaping ahead.
    pub const MAX_STEP_MS: Millis = 250.0;

    /// At the start of `trace`, playing at normal speed.
    pub fn new(trace: &TraceFile) -> Self {
        let span = trace.recorded_span();
        let end = span.map_or(trace.view_at, |(_, last)| trace.view_at.max(last));
        let start = span.map_or(end, |(first, _)| (first - Self::LEAD_IN_MS).min(end));
        Self { start, end, position: start, speed: ReplaySpeed::Normal, paused: false }
    }

    /// Moves on by `wall_elapsed` milliseconds of wall-clock time. Returns whether the position changed.
    pub fn advance(&mut self, wall_elapsed: Millis) -> bool {
        if self.paused || self.finished() {
            return false;
        }
        let before = self.position;
        self.position = match self.speed.factor() {
            Some(factor) => (self.position + wall_elapsed.clamp(0.0, Self::MAX_STEP_MS) * factor).min(self.end),
            None => self.end,
        };
        self.position != before
    }

    pub fn set_speed(&mut self, speed: ReplaySpeed) {
        self.speed = speed;
        if speed == ReplaySpeed::AllAtOnce {
            self.position = self.end;
        }
    }

    /// Pauses, resumes, or after the end starts again.
    pub fn toggle_pause(&mut self) {
        if self.finished() {
            self.restart();
        } else {
            self.paused = !self.paused;
        }
    }

    pub fn restart(&mut self) {
        self.position = self.start;
        self.paused = false;
    }

    pub fn finished(&self) -> bool {
        self.position >= self.end
    }

    /// Seconds played and in all, for the position readout.
    pub fn progress_seconds(&self) -> (f64, f64) {
        ((self.position - self.start) / 1000.0, (self.end - self.start) / 1000.0)
    }
}

/// The records of `records` that had arrived by `position`: what a replay draws, in their recorded order.
pub fn arrived_by<'a>(
    records: impl IntoIterator<Item = &'a TraceRecord>,
    position: Millis,
) -> impl Iterator<Item = &'a TraceRecord> {
    records.into_iter().filter(move |record| record.arrived_at <= position)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagram::trace_file::{LaneTrace, TraceSettings};
    use crate::diagram::RecordKind;
    use protocol::Transport;

    fn trace(arrivals: &[Millis], view_at: Millis) -> TraceFile {
        let records = arrivals
            .iter()
            .enumerate()
            .map(|(id, &at)| TraceRecord::new(id as u64, RecordKind::Request, "r".into(), String::new(), at, at))
            .collect();
        let lane = LaneTrace { transport: Transport::Sse, enabled: true, records };
        TraceFile::new(view_at, view_at, 0.0, TraceSettings::default(), vec![lane])
    }

    #[test]
    fn starts_a_second_before_the_first_record_and_ends_on_the_exported_view() {
        let clock = ReplayClock::new(&trace(&[5_000.0, 9_000.0], 12_000.0));
        assert_eq!((clock.start, clock.position, clock.end), (4_000.0, 4_000.0, 12_000.0));
        let records = &trace(&[5_000.0, 9_000.0], 12_000.0).lanes[0].records;
        assert_eq!(arrived_by(records, clock.position).count(), 0);
        assert_eq!(arrived_by(records, 5_000.0).count(), 1);
        assert_eq!(clock.progress_seconds(), (0.0, 8.0));
    }

    #[test]
    fn speed_scales_wall_time() {
        let mut clock = ReplayClock::new(&trace(&[5_000.0], 60_000.0));
        clock.set_speed(ReplaySpeed::Quarter);
        clock.advance(200.0);
        assert_eq!(clock.position, 4_050.0);
        clock.set_speed(ReplaySpeed::Quadruple);
        clock.advance(200.0);
        assert_eq!(clock.position, 4_850.0);
        for _ in 0..1000 {
            clock.advance(200.0);
        }
        assert_eq!(clock.position, 60_000.0, "stops at the end");
        assert!(clock.finished() && !clock.advance(16.0));
    }

    #[test]
    fn a_long_gap_between_frames_counts_as_one_short_step() {
        let mut clock = ReplayClock::new(&trace(&[5_000.0], 60_000.0));
        assert!(clock.advance(30_000.0));
        assert_eq!(clock.position, 4_000.0 + ReplayClock::MAX_STEP_MS);
        assert!(!clock.advance(-5.0), "a clock stepping back moves nothing");
    }

    #[test]
    fn all_at_once_jumps_to_the_end_and_pause_holds() {
        let mut clock = ReplayClock::new(&trace(&[5_000.0, 7_000.0], 8_000.0));
        clock.toggle_pause();
        assert!(!clock.advance(100.0));
        clock.set_speed(ReplaySpeed::AllAtOnce);
        assert!(clock.finished() && clock.position == 8_000.0);
        // At the end, "resume" plays it again from the start.
        clock.set_speed(ReplaySpeed::Normal);
        clock.toggle_pause();
        assert_eq!((clock.position, clock.paused), (clock.start, false));
    }

    #[test]
    fn an_empty_trace_is_already_at_its_end() {
        let clock = ReplayClock::new(&trace(&[], 8_000.0));
        assert!(clock.finished());
        assert_eq!(clock.start, 8_000.0);
    }

    #[test]
    fn speed_ids_round_trip() {
        for speed in ReplaySpeed::ALL {
            assert_eq!(ReplaySpeed::from_id(speed.id()), Some(speed));
        }
        assert_eq!(ReplaySpeed::from_id("8"), None);
    }
}
