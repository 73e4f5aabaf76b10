//! What the webhook lane draws for one delivery attempt: the sender's `POST` and the receiver's answer, their
//! words, their bytes, and the wait bar before a retry. Plain Rust, so the browser hook only fetches and verifies.

use std::collections::{HashMap, VecDeque};

use protocol::webhook::{AttemptOutcome, DeliveryAttempt};
use protocol::WireBytes;

/// Retries waited on at once that the lane remembers, to draw each one's wait bar: more than the sender keeps
/// outstanding per endpoint.
const WAITS_REMEMBERED: usize = 1024;

/// One attempt, ready to draw. Times stay on the server's clock; the hook moves them onto the browser's.
#[derive(Clone, Debug, PartialEq)]
pub struct DrawnAttempt {
    pub seq: u64,
    pub attempt: u32,
    /// When the attempt before this one (at the same event) failed: the sender waited from then.
    pub waited_from_ms: Option<u64>,
    pub post_label: String,
    pub post_detail: String,
    pub answer_label: String,
    pub answer_detail: String,
    /// The receiver answered 2xx: the event reached it.
    pub accepted: bool,
    /// Sender → receiver and back, as counted on the sender's socket. The body is the event's JSON; everything
    /// else in the request is its head. An answer's split is not known, so it is all counted as head.
    pub to_receiver: WireBytes,
    pub to_sender: WireBytes,
}

/// Follows the attempts in log order, remembering when each still-retried event last failed.
#[derive(Default)]
pub struct DeliveryTracker {
    failed_at: HashMap<String, u64>,
    order: VecDeque<String>,
}

impl DeliveryTracker {
    pub fn attempt(&mut self, attempt: &DeliveryAttempt, signature: SignatureCheck) -> DrawnAttempt {
        let accepted = attempt.outcome.is_success();
        let waited_from_ms = if attempt.attempt > 1 { self.forget(&attempt.webhook_id) } else { None };
        if !accepted && !attempt.gave_up && attempt.next_attempt_at_ms.is_some() {
            self.remember_failure(&attempt.webhook_id, attempt.finished_at_ms);
        }
        let body_bytes = attempt.body.len() as u64;
        let to_receiver = WireBytes {
            head: attempt.request_bytes.saturating_sub(body_bytes),
            framing: 0,
            payload: body_bytes.min(attempt.request_bytes),
        };
        let to_sender = WireBytes { head: attempt.response_bytes, framing: 0, payload: 0 };
        let try_text = if attempt.attempt == 1 { String::new() } else { format!(" · try {}", attempt.attempt) };
        DrawnAttempt {
            seq: attempt.seq,
            attempt: attempt.attempt,
            waited_from_ms,
            // Nothing written (the receiver refused the connection): no bytes crossed, so no signature did either.
            post_label: if attempt.request_bytes == 0 {
                format!("POST #{}{try_text} · not sent", attempt.seq)
            } else {
                format!("POST #{}{try_text} · {} B{}", attempt.seq, attempt.request_bytes, signature.mark())
            },
            post_detail: format!(
                "webhook-id {}, webhook-timestamp {}, webhook-signature {}; {} B written to the sender's socket \
                 ({} B of body). {}",
                attempt.webhook_id,
                attempt.timestamp,
                attempt.signature,
                attempt.request_bytes,
                body_bytes,
                signature.explain()
            ),
            answer_label: answer_label(attempt),
            answer_detail: answer_detail(attempt),
            accepted,
            to_receiver,
            to_sender,
        }
    }

    fn forget(&mut self, webhook_id: &str) -> Option<u64> {
        let at = self.failed_at.remove(webhook_id)?;
        self.order.retain(|id| id != webhook_id);
        Some(at)
    }

    fn remember_failure(&mut self, webhook_id: &str, at_ms: u64) {
        if self.failed_at.insert(webhook_id.to_owned(), at_ms).is_none() {
            self.order.push_back(webhook_id.to_owned());
        }
        while self.order.len() > WAITS_REMEMBERED {
            if let Some(oldest) = self.order.pop_front() {
                self.failed_at.remove(&oldest);
            }
        }
    }
}

fn answer_label(attempt: &DeliveryAttempt) -> String {
    let what = match &attempt.outcome {
        AttemptOutcome::Status { status } => status.to_string(),
        AttemptOutcome::Error { error } => format!("no answer: {error}"),
    };
    let next = match (attempt.gave_up, attempt.next_attempt_at_ms) {
        _ if attempt.outcome == AttemptOutcome::Status { status: 410 } => " · deliveries stopped".into(),
        (true, _) if !attempt.outcome.is_success() => format!(" · gave up after {} tries", attempt.attempt),
        (_, Some(next)) => {
            format!(" · retry in {:.1} s", next.saturating_sub(attempt.finished_at_ms) as f64 / 1000.0)
        }
        _ => String::new(),
    };
    format!("{what}{next}")
}

fn answer_detail(attempt: &DeliveryAttempt) -> String {
    let took = attempt.finished_at_ms.saturating_sub(attempt.sent_at_ms);
    let mut detail = format!("{} B read from the sender's socket, {took} ms after the POST", attempt.response_bytes);
    match &attempt.outcome {
        AttemptOutcome::Status { status: 410 } => detail.push_str("; 410 Gone: the sender stops delivering here"),
        AttemptOutcome::Status { status } if (200..300).contains(status) => {
            detail.push_str("; acknowledged: the sender is done with this event")
        }
        _ if attempt.next_attempt_at_ms.is_some() => detail.push_str(
            "; the sender retries with the same webhook-id, signed again with the time of the retry (a timestamp \
                 in whole seconds: a retry within the same second carries the same one, and so the same signature)",
        ),
        _ => {}
    }
    detail
}

/// What this browser made of an attempt's signature.
#[derive(Clone, Debug, PartialEq)]
pub enum SignatureCheck {
    Valid,
    Invalid,
    /// Nothing was sent (a delivery that never left the queue).
    Unsigned,
    /// The browser could not check: no WebCrypto (a page on plain http to another machine is not a secure
    /// context), or it failed; the reason is kept.
    NotChecked(String),
}

impl SignatureCheck {
    fn mark(&self) -> &'static str {
        match self {
            SignatureCheck::Valid => " · signature ✓",
            SignatureCheck::Invalid => " · signature ✗",
            SignatureCheck::Unsigned | SignatureCheck::NotChecked(_) => "",
        }
    }

    fn explain(&self) -> String {
        match self {
            SignatureCheck::Valid => "This browser recomputed the HMAC-SHA256 with WebCrypto: it matches.".into(),
            SignatureCheck::Invalid => {
                "This browser recomputed the HMAC-SHA256 with WebCrypto: it does NOT match.".into()
            }
            SignatureCheck::Unsigned => "Never sent, so never signed.".into(),
            SignatureCheck::NotChecked(why) => format!("Not re-checked in this browser: {why}."),
        }
    }
}

/// Tally of the signatures this page checked, shown beside the receiver's knobs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignatureTally {
    pub valid: u64,
    pub invalid: u64,
    pub not_checked: u64,
}

impl SignatureTally {
    pub fn count(&mut self, check: &SignatureCheck) {
        match check {
            SignatureCheck::Valid => self.valid += 1,
            SignatureCheck::Invalid => self.invalid += 1,
            SignatureCheck::NotChecked(_) => self.not_checked += 1,
            SignatureCheck::Unsigned => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(n: u64, seq: u64, attempt: u32, outcome: AttemptOutcome, next: Option<u64>) -> DeliveryAttempt {
        DeliveryAttempt {
            n,
            webhook_id: format!("msg_e_{seq}"),
            seq,
            attempt,
            sent_at_ms: 1_000 * n,
            finished_at_ms: 1_000 * n + 20,
            outcome,
            request_bytes: 400,
            response_bytes: 90,
            next_attempt_at_ms: next,
            gave_up: false,
            signature: "v1,abc".into(),
            timestamp: 1,
            body: "x".repeat(100),
        }
    }

    const FAILED: AttemptOutcome = AttemptOutcome::Status { status: 500 };
    const OK: AttemptOutcome = AttemptOutcome::Status { status: 200 };

    #[test]
    fn a_retry_waits_from_when_the_attempt_before_it_failed() {
        let mut tracker = DeliveryTracker::default();
        let first = tracker.attempt(&attempt(1, 3, 1, FAILED, Some(1_320)), SignatureCheck::Valid);
        assert_eq!(first.waited_from_ms, None);
        assert_eq!(first.answer_label, "500 · retry in 0.3 s");
        assert!(!first.accepted);
        // Later events overtake the retry; they wait for nothing.
        let other = tracker.attempt(&attempt(2, 4, 1, OK, None), SignatureCheck::Valid);
        assert_eq!(other.waited_from_ms, None);
        let retry = tracker.attempt(&attempt(3, 3, 2, OK, None), SignatureCheck::Valid);
        assert_eq!(retry.waited_from_ms, Some(1_020));
        assert_eq!(retry.post_label, "POST #3 · try 2 · 400 B · signature ✓");
        assert!(retry.accepted);
        assert_eq!(retry.answer_label, "200");
        // Once delivered, nothing is remembered for it.
        assert!(tracker.failed_at.is_empty());
    }

    #[test]
    fn a_post_that_never_left_says_so_and_claims_no_signature() {
        let mut refused = attempt(1, 5, 1, AttemptOutcome::Error { error: "connection refused".into() }, Some(1_200));
        refused.request_bytes = 0;
        let drawn = DeliveryTracker::default().attempt(&refused, SignatureCheck::Valid);
        assert_eq!(drawn.post_label, "POST #5 · not sent");
    }

    #[test]
    fn bytes_split_into_the_request_head_and_the_event_body() {
        let drawn = DeliveryTracker::default().attempt(&attempt(1, 1, 1, OK, None), SignatureCheck::Valid);
        assert_eq!(drawn.to_receiver, WireBytes { head: 300, framing: 0, payload: 100 });
        assert_eq!(drawn.to_sender.total(), 90);
    }

    #[test]
    fn errors_and_giving_up_are_said_on_the_answer() {
        let mut last = attempt(1, 5, 8, AttemptOutcome::Error { error: "timeout".into() }, None);
        last.gave_up = true;
        let drawn = DeliveryTracker::default().attempt(&last, SignatureCheck::NotChecked("no WebCrypto".into()));
        assert_eq!(drawn.answer_label, "no answer: timeout · gave up after 8 tries");
        assert!(drawn.post_detail.ends_with("Not re-checked in this browser: no WebCrypto."));
    }

    #[test]
    fn an_event_failing_again_and_again_is_remembered_once() {
        let mut tracker = DeliveryTracker::default();
        for try_number in 1..=3 {
            tracker.attempt(&attempt(try_number.into(), 7, try_number, FAILED, Some(9_000)), SignatureCheck::Valid);
        }
        assert_eq!(tracker.order.len(), 1);
        let gone = AttemptOutcome::Status { status: 410 };
        let drawn = tracker.attempt(&attempt(4, 7, 4, gone, None), SignatureCheck::Valid);
        assert_eq!(drawn.answer_label, "410 · deliveries stopped");
        assert!(tracker.order.is_empty());
    }

    #[test]
    fn the_memory_of_waits_is_bounded() {
        let mut tracker = DeliveryTracker::default();
        for seq in 0..(WAITS_REMEMBERED as u64 + 10) {
            tracker.attempt(&attempt(seq, seq, 1, FAILED, Some(5_000)), SignatureCheck::Valid);
        }
        assert_eq!(tracker.failed_at.len(), WAITS_REMEMBERED);
        assert_eq!(tracker.order.len(), WAITS_REMEMBERED);
    }
}
