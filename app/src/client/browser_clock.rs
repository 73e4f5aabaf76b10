//! The browser's wall clock, precise enough for loopback latencies of a fraction of a millisecond.
//!
//! `Date.now()` is the system clock the server's `emitted_at` is compared with, but it ticks in whole
//! milliseconds. `performance.now()` has ~0.1 ms resolution, yet `performance.timeOrigin + performance.now()` was
//! measured here 1–2 ms ahead of `Date.now()` (checked against a loopback packet capture; see the README). So the
//! fine clock is anchored to the instant `Date.now()` steps to a new millisecond, where both agree, and re-anchored
//! every minute so drift (or a laptop's sleep) cannot accumulate.

use std::cell::Cell;

use crate::diagram::Millis;

/// How long an anchor is trusted, in `performance.now()` milliseconds.
const REANCHOR_AFTER_MS: f64 = 60_000.0;
/// Longest the anchoring may spin waiting for `Date.now()` to step (it steps every millisecond).
const MAX_ANCHOR_SPIN_MS: f64 = 3.0;

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

/// Waits for `Date.now()` to step to the next millisecond; at that instant the wall clock is exactly the new value.
fn anchor(performance: &web_sys::Performance) -> f64 {
    let started = performance.now();
    let coarse = js_sys::Date::now();
    loop {
        let stepped = js_sys::Date::now();
        let fine = performance.now();
        if stepped != coarse || fine - started > MAX_ANCHOR_SPIN_MS {
            return stepped - fine;
        }
    }
}
