//! The lab's own receiver for one endpoint: its knobs, what it has counted, and the webhook-ids it has seen, so
//! dedupe (or its absence) is visible. The HTTP side (verifying, sleeping, answering) is in `transports::webhooks`.

use std::collections::{HashSet, VecDeque};
use std::sync::{Mutex, PoisonError};

use protocol::webhook::{ReceiverCounts, ReceiverKnobs, ReceiverState};

/// Webhook-ids remembered for dedupe. A real receiver keeps them at least as long as the sender retries; the lab
/// keeps the most recent ones, which at class speed covers far more than the whole retry schedule.
const SEEN_IDS: usize = 4096;

#[derive(Default)]
pub struct LabReceiver {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    knobs: ReceiverKnobs,
    counts: ReceiverCounts,
    seen: HashSet<String>,
    seen_order: VecDeque<String>,
    highest_seq: u64,
}

/// What processing one verified delivery came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Processed {
    First,
    /// A redelivery, processed again (dedupe off).
    Again,
    /// A redelivery, acknowledged without processing (dedupe on).
    Skipped,
}

impl LabReceiver {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn knobs(&self) -> ReceiverKnobs {
        self.lock().knobs
    }

    pub fn set_knobs(&self, knobs: ReceiverKnobs) -> ReceiverState {
        let mut inner = self.lock();
        inner.knobs = knobs;
        ReceiverState { knobs, counts: inner.counts }
    }

    pub fn state(&self) -> ReceiverState {
        let inner = self.lock();
        ReceiverState { knobs: inner.knobs, counts: inner.counts }
    }

    pub fn rejected_signature(&self) {
        self.lock().counts.rejected_signatures += 1;
    }

    /// Acts on a verified delivery of event `seq` (if its body named one) under `webhook_id`.
    pub fn process(&self, webhook_id: &str, seq: Option<u64>) -> Processed {
        let mut inner = self.lock();
        let redelivered = inner.seen.contains(webhook_id);
        if redelivered && inner.knobs.dedupe {
            inner.counts.duplicates_skipped += 1;
            return Processed::Skipped;
        }
        inner.counts.processed += 1;
        if let Some(seq) = seq {
            if seq < inner.highest_seq {
                inner.counts.out_of_order += 1;
            }
            inner.highest_seq = inner.highest_seq.max(seq);
        }
        if redelivered {
            inner.counts.duplicates_processed += 1;
            return Processed::Again;
        }
        if inner.seen_order.len() == SEEN_IDS {
            if let Some(oldest) = inner.seen_order.pop_front() {
                inner.seen.remove(&oldest);
            }
        }
        inner.seen.insert(webhook_id.to_owned());
        inner.seen_order.push_back(webhook_id.to_owned());
        Processed::First
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupe_decides_whether_a_redelivery_is_processed_again() {
        let receiver = LabReceiver::default();
        assert_eq!(receiver.process("a", Some(2)), Processed::First);
        assert_eq!(receiver.process("a", Some(2)), Processed::Again);
        receiver.set_knobs(ReceiverKnobs { dedupe: true, ..ReceiverKnobs::default() });
        assert_eq!(receiver.process("a", Some(2)), Processed::Skipped);
        assert_eq!(receiver.process("b", Some(1)), Processed::First);
        let counts = receiver.state().counts;
        assert_eq!((counts.processed, counts.duplicates_processed, counts.duplicates_skipped), (3, 1, 1));
        assert_eq!(counts.out_of_order, 1, "event 1 after event 2");
    }
}
