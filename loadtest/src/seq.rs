//! Per-client order check: every event exactly once, in order.

use protocol::Gap;

/// What one received sequence number means for this client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// The next one, or the first one when the client had no cursor yet.
    InOrder,
    /// Later than the next: this many were skipped.
    Skipped(u64),
    /// Already received (or older): a duplicate or out of order.
    Again { last: u64 },
}

/// The last sequence number a client accounted for.
#[derive(Clone, Copy, Debug, Default)]
pub struct SeqTracker {
    last: Option<u64>,
}

impl SeqTracker {
    pub fn last(&self) -> Option<u64> {
        self.last
    }

    /// Starts (or restarts, after a new epoch) the count after `seq`.
    pub fn start_after(&mut self, seq: u64) {
        self.last = Some(seq);
    }

    pub fn observe(&mut self, seq: u64) -> Seen {
        match self.last {
            Some(last) if seq <= last => Seen::Again { last },
            Some(last) if seq > last + 1 => {
                self.last = Some(seq);
                Seen::Skipped(seq - last - 1)
            }
            _ => {
                self.last = Some(seq);
                Seen::InOrder
            }
        }
    }

    /// The server said these are lost: they count as missed, and the cursor moves past them.
    pub fn gap(&mut self, gap: Gap) -> u64 {
        let already_past = self.last.map_or(0, |last| last.min(gap.to).saturating_sub(gap.from.saturating_sub(1)));
        self.last = Some(self.last.map_or(gap.to, |last| last.max(gap.to)));
        gap.lost_count().saturating_sub(already_past)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_skips_and_repeats() {
        let mut tracker = SeqTracker::default();
        assert_eq!(tracker.observe(7), Seen::InOrder);
        assert_eq!(tracker.observe(8), Seen::InOrder);
        assert_eq!(tracker.observe(11), Seen::Skipped(2));
        assert_eq!(tracker.observe(11), Seen::Again { last: 11 });
        assert_eq!(tracker.observe(3), Seen::Again { last: 11 });
        assert_eq!(tracker.last(), Some(11));
    }

    #[test]
    fn a_gap_counts_what_was_not_already_received() {
        let mut tracker = SeqTracker::default();
        tracker.start_after(4);
        assert_eq!(tracker.gap(Gap { from: 5, to: 9 }), 5);
        assert_eq!(tracker.observe(10), Seen::InOrder);
        // Overlapping what the client already has: only the unseen part is lost.
        assert_eq!(tracker.gap(Gap { from: 8, to: 12 }), 2);
        assert_eq!(tracker.last(), Some(12));
    }
}
