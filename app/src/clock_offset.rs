//! How far the server's clock is from this browser's, estimated the way NTP does it: the browser notes when it
//! asked (t0) and when the answer came (t3), the server says its time (t1) in between. If the way there and back
//! took equally long, the server's clock reads `t1 − (t0 + t3) / 2` ahead; the error is at most half the round trip.
//! Of many exchanges only the quickest are kept: a slow one was slow one way or the other, and says little.

use crate::diagram::Millis;

/// One exchange, every time in milliseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClockSample {
    /// Browser clock when the request left.
    pub sent: Millis,
    /// Server clock when it answered.
    pub server: Millis,
    /// Browser clock when the answer arrived.
    pub received: Millis,
}

impl ClockSample {
    pub fn round_trip(&self) -> f64 {
        self.received - self.sent
    }

    pub fn offset(&self) -> f64 {
        self.server - (self.sent + self.received) / 2.0
    }
}

/// Server clock minus browser clock, and how far off that may be. Saved in trace files, to read their latencies.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClockOffset {
    pub offset_ms: f64,
    pub uncertainty_ms: f64,
    /// Exchanges kept for the estimate, of `samples` made.
    pub kept: usize,
    pub samples: usize,
}

impl ClockOffset {
    /// What to add to a latency: the offset, unless it is within its own uncertainty of zero, in which case the
    /// clocks cannot be told apart and correcting by noise would only add error (on one machine, always).
    pub fn correction_ms(&self) -> f64 {
        if self.offset_ms.abs() <= self.uncertainty_ms {
            0.0
        } else {
            self.offset_ms
        }
    }
}

/// One step of the clocks' readings, added to what each exchange allows. The page's wall clock is read through
/// `Date.now()`, which ticks in whole milliseconds (the finer clock is anchored to one of its steps), and browsers
/// coarsen `performance.now()` and Resource Timing too. Measured here on one machine with network-stack timings:
/// round trips of 0.4 ms, and the offset still came out at +0.4 ms, which no real offset on one clock can be; and on
/// a busy one, +1.0 ms from exchanges that, taken at their stamps, excluded zero. Only widened by a step does every
/// exchange's interval hold the true offset, and the estimate never claims more than the clocks can read.
pub const CLOCK_STEP_MS: f64 = 1.0;

/// Share of the samples kept (the quickest), at least one.
const KEPT_SHARE: f64 = 0.25;

/// The estimate from the quickest quarter of `samples`. Each exchange bounds the offset to its own offset ± (half its
/// round trip + a clock step), whatever the two legs took; the true offset lies in every such interval, so the
/// estimate is the middle of where the kept intervals overlap, uncertain by half that overlap (at least a step).
/// Intervals that do not overlap mean a clock stepped or a stamp was coarse: then the median offset, uncertain by
/// enough to cover every kept interval, which is honest if wide.
pub fn estimate(samples: &[ClockSample]) -> Option<ClockOffset> {
    let mut quickest: Vec<ClockSample> = samples.iter().copied().filter(|sample| sample.round_trip() >= 0.0).collect();
    if quickest.is_empty() {
        return None;
    }
    quickest.sort_by(|a, b| a.round_trip().total_cmp(&b.round_trip()));
    let kept = ((quickest.len() as f64 * KEPT_SHARE).ceil() as usize).max(1);
    quickest.truncate(kept);
    let reach = |sample: &ClockSample| sample.round_trip() / 2.0 + CLOCK_STEP_MS;
    let lowest = quickest.iter().map(|sample| sample.offset() - reach(sample)).fold(f64::MIN, f64::max);
    let highest = quickest.iter().map(|sample| sample.offset() + reach(sample)).fold(f64::MAX, f64::min);
    let (offset_ms, uncertainty_ms) = if lowest <= highest {
        ((lowest + highest) / 2.0, (highest - lowest) / 2.0)
    } else {
        let median = median_offset(&quickest);
        let reach = quickest.iter().map(|sample| (sample.offset() - median).abs() + reach(sample)).fold(0.0, f64::max);
        (median, reach)
    };
    Some(ClockOffset { offset_ms, uncertainty_ms, kept, samples: samples.len() })
}

fn median_offset(samples: &[ClockSample]) -> f64 {
    let mut offsets: Vec<f64> = samples.iter().map(ClockSample::offset).collect();
    offsets.sort_by(f64::total_cmp);
    let middle = offsets.len() / 2;
    if offsets.len() % 2 == 1 {
        offsets[middle]
    } else {
        (offsets[middle - 1] + offsets[middle]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(sent: f64, server: f64, received: f64) -> ClockSample {
        ClockSample { sent, server, received }
    }

    /// `count` exchanges 100 ms apart, each stamped by the server `server_after` ms and answered `received_after`
    /// ms after it was sent.
    fn slow_exchanges(count: i32, server_after: f64, received_after: f64) -> impl Iterator<Item = ClockSample> {
        (0..count).map(move |i| {
            let sent = 100.0 * f64::from(i);
            sample(sent, sent + server_after, sent + received_after)
        })
    }

    #[test]
    fn a_symmetric_exchange_gives_the_exact_offset() {
        // The server is 250 ms ahead; 2 ms each way.
        let estimate = estimate(&[sample(1000.0, 1252.0, 1004.0)]).unwrap();
        assert_eq!((estimate.offset_ms, estimate.uncertainty_ms), (250.0, 2.0 + CLOCK_STEP_MS));
    }

    #[test]
    fn slow_exchanges_are_ignored() {
        let mut samples = vec![sample(0.0, 101.0, 2.0), sample(10.0, 111.2, 12.0)];
        // Six slow ones, each delayed one way only: their offsets are far off.
        samples.extend(slow_exchanges(6, 190.0, 180.0));
        let estimate = estimate(&samples).unwrap();
        assert_eq!(estimate.kept, 2);
        // [98, 102] and [98.2, 102.2] overlap in [98.2, 102].
        assert!((estimate.offset_ms - 100.1).abs() < 1e-9, "{estimate:?}");
        assert!((estimate.uncertainty_ms - 1.9).abs() < 1e-9, "{estimate:?}");
    }

    #[test]
    fn a_quick_but_lopsided_exchange_does_not_narrow_the_claim_below_the_truth() {
        // One clock. Found on a busy machine: the quickest exchange (4.2 ms) was nearly even, two slower ones (10 ms)
        // had their answers held up on the way back out, so their offsets read +4. The old median said +4 ± 3.6 and
        // corrected every latency by 4 ms, which no one clock can need; the overlap of what each allows holds zero.
        let mut samples = vec![sample(0.0, 3.1, 4.2), sample(10.0, 19.0, 20.0), sample(30.0, 39.0, 40.0)];
        samples.extend(slow_exchanges(6, 25.0, 50.0));
        let estimate = estimate(&samples).unwrap();
        assert_eq!(estimate.kept, 3);
        assert!(estimate.offset_ms.abs() <= estimate.uncertainty_ms, "{estimate:?}");
        assert_eq!(estimate.correction_ms(), 0.0);
    }

    #[test]
    fn exchanges_that_cannot_all_be_right_widen_the_claim() {
        // [−2, 2] and [8, 12] do not overlap: the answer covers both rather than choosing.
        let mut samples = vec![sample(0.0, 1.0, 2.0), sample(10.0, 21.0, 12.0)];
        samples.extend(slow_exchanges(4, 20.0, 40.0));
        let estimate = estimate(&samples).unwrap();
        assert_eq!(estimate.kept, 2);
        assert!(
            estimate.offset_ms - estimate.uncertainty_ms <= -1.0
                && estimate.offset_ms + estimate.uncertainty_ms >= 11.0,
            "{estimate:?}"
        );
    }

    #[test]
    fn an_offset_within_its_uncertainty_is_not_applied() {
        let one_clock = ClockOffset { offset_ms: -0.3, uncertainty_ms: 0.4, kept: 2, samples: 8 };
        let two_clocks = ClockOffset { offset_ms: 42.0, uncertainty_ms: 1.5, kept: 2, samples: 8 };
        assert_eq!((one_clock.correction_ms(), two_clocks.correction_ms()), (0.0, 42.0));
    }

    #[test]
    fn no_estimate_claims_more_than_the_page_can_read() {
        // Network-stack timings on one machine: a 0.4 ms round trip, yet the answer seems stamped after it came.
        let estimate = estimate(&[sample(1000.0, 1000.6, 1000.4)]).unwrap();
        assert!((estimate.offset_ms - 0.4).abs() < 1e-9, "{estimate:?}");
        assert!(estimate.uncertainty_ms >= CLOCK_STEP_MS, "{estimate:?}");
        assert_eq!(estimate.correction_ms(), 0.0);
    }

    #[test]
    fn a_clock_step_is_not_taken_for_an_offset() {
        // One clock, found on a busy machine: the quickest exchanges, taken at their whole-millisecond stamps, each
        // seemed to exclude zero ([0.9, 1.5] and [0.8, 1.4]), and the estimate said +1.15 ms ± 1.0 and corrected
        // every latency by it.
        let mut samples = vec![sample(1000.0, 1001.5, 1000.6), sample(2000.0, 2001.4, 2000.6)];
        samples.extend(slow_exchanges(6, 9.0, 12.0));
        let estimate = estimate(&samples).unwrap();
        assert!(estimate.offset_ms.abs() <= estimate.uncertainty_ms, "{estimate:?}");
        assert_eq!(estimate.correction_ms(), 0.0);
    }

    #[test]
    fn nothing_to_go_on_gives_nothing() {
        assert_eq!(estimate(&[]), None);
        assert_eq!(estimate(&[sample(10.0, 5.0, 9.0)]), None, "an answer before the question is a broken sample");
    }
}
