//! An endpoint's delivery attempts, bounded: the newest few thousand are kept, and how many older ones went is
//! reported (as `/api/wire` does), so a page that reads slowly learns it missed some.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use protocol::webhook::{DeliveryAttempt, DeliveryPage};

const ATTEMPTS_KEPT: usize = 4000;
pub const MAX_ATTEMPTS_PER_PAGE: usize = 1000;

#[derive(Default)]
pub struct DeliveryLog {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    attempts: VecDeque<DeliveryAttempt>,
    last_n: u64,
    dropped: u64,
}

impl DeliveryLog {
    /// Numbers the attempt (its `n`) and keeps it.
    pub fn push(&self, mut attempt: DeliveryAttempt) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.last_n += 1;
        attempt.n = inner.last_n;
        if inner.attempts.len() == ATTEMPTS_KEPT {
            inner.attempts.pop_front();
            inner.dropped += 1;
        }
        inner.attempts.push_back(attempt);
    }

    /// Up to `limit` attempts after `after`, and why deliveries stopped if they did.
    pub fn page(&self, after: u64, limit: usize, disabled: Option<String>) -> DeliveryPage {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let attempts: Vec<_> = inner.attempts.iter().filter(|attempt| attempt.n > after).take(limit).cloned().collect();
        let next = attempts.last().map_or(after, |attempt| attempt.n);
        DeliveryPage { attempts, next, dropped: inner.dropped, disabled }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::webhook::AttemptOutcome;

    fn attempt(seq: u64) -> DeliveryAttempt {
        DeliveryAttempt {
            n: 0,
            webhook_id: format!("msg_t_{seq}"),
            seq,
            attempt: 1,
            sent_at_ms: 0,
            finished_at_ms: 0,
            outcome: AttemptOutcome::Status { status: 200 },
            request_bytes: 0,
            response_bytes: 0,
            next_attempt_at_ms: None,
            gave_up: false,
            signature: String::new(),
            timestamp: 0,
            body: String::new(),
        }
    }

    #[test]
    fn pages_follow_after_and_the_oldest_go_counted() {
        let log = DeliveryLog::default();
        for seq in 1..=(ATTEMPTS_KEPT as u64 + 5) {
            log.push(attempt(seq));
        }
        let page = log.page(0, 3, None);
        assert_eq!(page.attempts.iter().map(|attempt| attempt.n).collect::<Vec<_>>(), [6, 7, 8]);
        assert_eq!((page.next, page.dropped), (8, 5));
        let last = log.page(ATTEMPTS_KEPT as u64 + 5, 10, Some("gone".into()));
        assert!(last.attempts.is_empty());
        assert_eq!((last.next, last.disabled.as_deref()), (ATTEMPTS_KEPT as u64 + 5, Some("gone")));
    }
}
