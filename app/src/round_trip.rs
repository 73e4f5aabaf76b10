//! Round trips in flight on one lane: a message the lane sent upstream, waiting to come back to the same lane as an
//! event. The server's answer to the send (a 202 or a WebSocket `ack`) names the event's `seq`, but the event itself
//! may arrive first (SSE and WebSocket deliver within a millisecond, a long poll is answered as soon as the event
//! exists), so both orders are matched. Plain Rust, no browser: the lane hooks drive it.

use std::collections::VecDeque;

/// Browser wall-clock milliseconds, as everywhere in the diagram.
pub use protocol::Millis;

/// One round trip of one lane, numbered from 1 in the order the lane sent them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ticket(pub u64);

/// A message that came back: sent at `sent_at`, received as event `seq` at `arrived_at`, both on the browser's clock.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Completed {
    pub ticket: Ticket,
    pub seq: u64,
    pub sent_at: Millis,
    pub arrived_at: Millis,
}

impl Completed {
    pub fn millis(&self) -> Millis {
        self.arrived_at - self.sent_at
    }
}

/// Why a round trip could not start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("{} round trips are already waiting on this lane", PendingRoundTrips::MAX_PENDING)]
    TooMany,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Pending {
    ticket: Ticket,
    sent_at: Millis,
    /// The event's number, once the server has answered the send.
    seq: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct PendingRoundTrips {
    pending: VecDeque<Pending>,
    /// Events received while some send is still unanswered: one of them may be its message, arrived first.
    early_arrivals: VecDeque<(u64, Millis)>,
    sent: u64,
}

impl PendingRoundTrips {
    /// Round trips one lane may have in flight; each waits at most [`Self::TIMEOUT_MS`].
    pub const MAX_PENDING: usize = 16;
    /// Events remembered while a send is unanswered. At 50 events/s that covers 5 s between the event and the answer
    /// to its send; a message that arrived even earlier times out instead of being matched.
    pub const MAX_EARLY_ARRIVALS: usize = 256;
    pub const TIMEOUT_MS: Millis = 30_000.0;

    /// A message is being sent now.
    pub fn start(&mut self, sent_at: Millis) -> Result<Ticket, Refused> {
        if self.pending.len() >= Self::MAX_PENDING {
            return Err(Refused::TooMany);
        }
        self.sent += 1;
        let ticket = Ticket(self.sent);
        self.pending.push_back(Pending { ticket, sent_at, seq: None });
        Ok(ticket)
    }

    /// The server answered `ticket`'s send: its message is event `seq`. Completes at once if that event is already here.
    pub fn acknowledged(&mut self, ticket: Ticket, seq: u64) -> Option<Completed> {
        let index = self.pending.iter().position(|pending| pending.ticket == ticket)?;
        let early = self.early_arrivals.iter().find(|(arrived, _)| *arrived == seq).map(|(_, at)| *at);
        let completed = match early {
            Some(arrived_at) => {
                let pending = self.pending.remove(index)?;
                Some(Completed { ticket, seq, sent_at: pending.sent_at, arrived_at })
            }
            None => {
                self.pending[index].seq = Some(seq);
                None
            }
        };
        self.forget_early_arrivals_if_unneeded();
        completed
    }

    /// The oldest send still unanswered: on one WebSocket the server answers text frames in the order it got them,
    /// one answer each, so an `ack` (or an error frame) belongs to the oldest publish without an answer.
    pub fn oldest_unanswered(&self) -> Option<Ticket> {
        self.pending.iter().find(|pending| pending.seq.is_none()).map(|pending| pending.ticket)
    }

    /// Event `seq` arrived at `at`: completes the round trip whose message it is, or remembers it for a send not yet
    /// answered.
    pub fn arrived(&mut self, seq: u64, at: Millis) -> Option<Completed> {
        if let Some(index) = self.pending.iter().position(|pending| pending.seq == Some(seq)) {
            let pending = self.pending.remove(index)?;
            return Some(Completed { ticket: pending.ticket, seq, sent_at: pending.sent_at, arrived_at: at });
        }
        if self.oldest_unanswered().is_some() {
            if self.early_arrivals.len() == Self::MAX_EARLY_ARRIVALS {
                self.early_arrivals.pop_front();
            }
            self.early_arrivals.push_back((seq, at));
        }
        None
    }

    /// Gives `ticket` up (its send failed, its socket closed, or it waited too long). Returns whether it was still
    /// waiting, and the event it waited for, if the server had named one.
    pub fn abandon(&mut self, ticket: Ticket) -> Option<Option<u64>> {
        let index = self.pending.iter().position(|pending| pending.ticket == ticket)?;
        let pending = self.pending.remove(index)?;
        self.forget_early_arrivals_if_unneeded();
        Some(pending.seq)
    }

    /// Round trips that have waited longer than [`Self::TIMEOUT_MS`] at `now`, given up.
    pub fn expire(&mut self, now: Millis) -> Vec<Ticket> {
        let expired: Vec<_> = self
            .pending
            .iter()
            .filter(|pending| now - pending.sent_at >= Self::TIMEOUT_MS)
            .map(|pending| pending.ticket)
            .collect();
        self.pending.retain(|pending| now - pending.sent_at < Self::TIMEOUT_MS);
        self.forget_early_arrivals_if_unneeded();
        expired
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    fn forget_early_arrivals_if_unneeded(&mut self) {
        if self.oldest_unanswered().is_none() {
            self.early_arrivals.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_first_then_event() {
        let mut trips = PendingRoundTrips::default();
        let ticket = trips.start(1000.0).unwrap();
        assert_eq!(trips.acknowledged(ticket, 42), None);
        assert_eq!(trips.arrived(41, 1001.0), None, "someone else's event");
        let done = trips.arrived(42, 1003.5).unwrap();
        assert_eq!(done, Completed { ticket, seq: 42, sent_at: 1000.0, arrived_at: 1003.5 });
        assert_eq!(done.millis(), 3.5);
        assert!(trips.is_empty());
    }

    #[test]
    fn event_first_then_answer() {
        let mut trips = PendingRoundTrips::default();
        let ticket = trips.start(1000.0).unwrap();
        assert_eq!(trips.arrived(40, 1000.5), None);
        assert_eq!(trips.arrived(41, 1001.25), None);
        let done = trips.acknowledged(ticket, 41).unwrap();
        assert_eq!((done.seq, done.millis()), (41, 1.25));
        assert!(trips.is_empty());
        assert!(trips.early_arrivals.is_empty(), "nothing is remembered once every send is answered");
    }

    #[test]
    fn events_are_not_remembered_when_no_send_is_unanswered() {
        let mut trips = PendingRoundTrips::default();
        trips.arrived(7, 1.0);
        let ticket = trips.start(2.0).unwrap();
        trips.acknowledged(ticket, 9);
        trips.arrived(8, 3.0);
        assert!(trips.early_arrivals.is_empty());
        assert_eq!(trips.acknowledged(ticket, 7), None, "an event from before the send is never its message");
    }

    #[test]
    fn early_arrivals_are_bounded() {
        let mut trips = PendingRoundTrips::default();
        let ticket = trips.start(0.0).unwrap();
        let count = PendingRoundTrips::MAX_EARLY_ARRIVALS as u64 + 10;
        for seq in 1..=count {
            trips.arrived(seq, seq as f64);
        }
        assert_eq!(trips.early_arrivals.len(), PendingRoundTrips::MAX_EARLY_ARRIVALS);
        assert_eq!(trips.acknowledged(ticket, 3), None, "pushed out: it will time out instead");
        let again = trips.start(0.0).unwrap();
        trips.arrived(count + 1, 500.0);
        assert_eq!(trips.acknowledged(again, count + 1).map(|done| done.arrived_at), Some(500.0));
    }

    #[test]
    fn pending_round_trips_are_bounded() {
        let mut trips = PendingRoundTrips::default();
        for _ in 0..PendingRoundTrips::MAX_PENDING {
            trips.start(0.0).unwrap();
        }
        assert_eq!(trips.start(0.0), Err(Refused::TooMany));
        assert_eq!(trips.len(), PendingRoundTrips::MAX_PENDING);
    }

    #[test]
    fn round_trips_time_out() {
        let mut trips = PendingRoundTrips::default();
        let old = trips.start(0.0).unwrap();
        let answered = trips.start(10_000.0).unwrap();
        trips.acknowledged(answered, 5);
        assert_eq!(trips.expire(29_999.0), vec![]);
        assert_eq!(trips.expire(30_000.0), vec![old]);
        assert_eq!(trips.expire(40_000.0), vec![answered]);
        assert_eq!(trips.arrived(5, 40_001.0), None, "too late: already given up");
    }

    #[test]
    fn socket_answers_go_to_the_oldest_unanswered_send() {
        let mut trips = PendingRoundTrips::default();
        let first = trips.start(1.0).unwrap();
        let second = trips.start(2.0).unwrap();
        assert_eq!(trips.oldest_unanswered(), Some(first));
        trips.acknowledged(first, 10);
        assert_eq!(trips.oldest_unanswered(), Some(second));
        assert_eq!(trips.abandon(second), Some(None));
        assert_eq!(trips.abandon(second), None);
        assert_eq!(trips.oldest_unanswered(), None);
        assert_eq!(trips.arrived(10, 4.0).map(|done| done.ticket), Some(first));
    }

    #[test]
    fn tickets_count_from_one() {
        let mut trips = PendingRoundTrips::default();
        assert_eq!(trips.start(0.0), Ok(Ticket(1)));
        assert_eq!(trips.start(0.0), Ok(Ticket(2)));
    }
}
