//! The browser's wall clock, precise enough for loopback latencies of a fraction of a millisecond.
//!
//! `Date.now()` is the system clock the server's `emitted_at` is compared with, but it ticks in whole
//! milliseconds. `performance.now()` has ~0.1 ms resolution, yet `performance.timeOrigin + performance.now()` was
//! measured here 1–2 ms ahead of `Date.now()` (checked against a loopback packet capture; see docs/src/measurements.md). So the
//! fine clock is anchored to the instant `Date.now()` steps to a new millisecond, where both agree, and re-anchored
//! every minute so drift (or a laptop's sleep) cannot accumulate.

use std::cell::Cell;

use crate::diagram::Millis;

/// How long an anchor is trusted, in `performance.now()` milliseconds.
const REANCHOR_AFTER_MS: f64 = 60_000.0;
/// Longest the anchoring may spin watching for a clean step of `Date.now()`: it steps every millisecond, so this is
/// reached only while the page keeps being descheduled (then the tightest step seen is used).
const MAX_ANCHOR_SPIN_MS: f64 = 20.0;

thread_local! {
    /// (wall clock minus `performance.now()`, when that was measured on the `performance.now()` clock)
    static ANCHOR: Cell<Option<(f64, f64)>> = const { Cell::new(None) };
}

/// Wall-clock milliseconds since the Unix epoch, sub-millisecond resolution. Browser only.
pub fn now() -> Millis {
    let Some(performance) = web_sys::window().and_then(|window| window.performance()) else {
        return js_sys::Date::now();
    };
    let fine = performance.now();
    let offset = match ANCHOR.get() {
        Some((offset, anchored_at)) if fine - anchored_at < REANCHOR_AFTER_MS => offset,
        _ => {
            let offset = anchor(&performance);
            ANCHOR.set(Some((offset, performance.now())));
            offset
        }
    };
    offset + fine
}

/// Watches `Date.now()` step to a new millisecond: at that instant the wall clock is exactly the new value.
fn anchor(performance: &web_sys::Performance) -> f64 {
    let started = performance.now();
    let readings = std::iter::from_fn(|| {
        let wall = js_sys::Date::now();
        let fine = performance.now();
        (fine - started <= MAX_ANCHOR_SPIN_MS).then_some((wall, fine))
    });
    anchor_from(readings).unwrap_or_else(|| js_sys::Date::now() - performance.now())
}

/// A step seen within this much `performance.now()` time of the reading before it is trusted at once.
const TIGHT_STEP_MS: f64 = 0.05;

/// The offset (wall clock − `performance.now()`) from successive (`Date.now()`, `performance.now()`) readings: the
/// first step of the wall clock seen between two readings close together, placed midway between them. A step
/// seen after a long gap (the page was descheduled, which a busy 2-core machine does for milliseconds) could have
/// happened anywhere in that gap: it is kept only as the fallback when no tight one comes before the readings end.
/// Taking such a step as exact once put this browser's clock 6 ms behind the server's on the same machine.
fn anchor_from(readings: impl IntoIterator<Item = (f64, f64)>) -> Option<f64> {
    let mut readings = readings.into_iter();
    let (mut last_wall, mut last_fine) = readings.next()?;
    let mut loosest_kept: Option<(f64, f64)> = None;
    for (wall, fine) in readings {
        if wall != last_wall {
            let gap = fine - last_fine;
            let offset = wall - (last_fine + fine) / 2.0;
            if gap <= TIGHT_STEP_MS {
                return Some(offset);
            }
            if loosest_kept.is_none_or(|(kept_gap, _)| gap < kept_gap) {
                loosest_kept = Some((gap, offset));
            }
        }
        (last_wall, last_fine) = (wall, fine);
    }
    loosest_kept.map(|(_, offset)| offset)
}

#[cfg(test)]
mod tests {
    use super::anchor_from;

    #[test]
    fn a_tight_step_anchors_midway_between_its_readings() {
        let readings = [(1000.0, 5.00), (1000.0, 5.40), (1001.0, 5.42)];
        assert_eq!(anchor_from(readings), Some(1001.0 - 5.41));
    }

    #[test]
    fn a_step_seen_after_a_long_gap_is_not_trusted_while_a_tight_one_follows() {
        // Descheduled for 6 ms: the clock stepped somewhere in between. Then a clean step.
        let readings = [(1000.0, 5.0), (1006.0, 11.0), (1006.0, 11.9), (1007.0, 11.92)];
        assert_eq!(anchor_from(readings), Some(1007.0 - 11.91));
    }

    #[test]
    fn without_a_tight_step_the_tightest_seen_is_used() {
        let readings = [(1000.0, 5.0), (1006.0, 11.0), (1006.0, 11.5), (1007.0, 12.5)];
        assert_eq!(anchor_from(readings), Some(1007.0 - 12.0));
        assert_eq!(anchor_from([(1000.0, 5.0), (1000.0, 5.5)]), None);
    }
}
