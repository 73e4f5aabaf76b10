//! The client side of the lab's protocol, with no I/O: where a client is in the log (its cursor and the server run
//! it belongs to), what each arriving sequence number means, and how long to wait after a failure.
//!
//! Every client drives this one session: the browser's four hooks and the load tool's clients alike. They differ
//! only in how bytes reach them; what an event, a gap, a hello or a restart means is decided here, once, and
//! tested with tables below rather than with a browser or a socket.

use std::collections::BTreeSet;

use super::{Epoch, Gap};

/// What one arriving sequence number means for this client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// The next one expected (or the first, for a client that had no cursor yet).
    InOrder,
    /// Received before: not counted again.
    Duplicate,
    /// Earlier than one already received but never received before: it was counted missing until now.
    Late,
    /// Later than expected with no gap to explain it: `missing` events were lost silently.
    AfterLoss { missing: u64 },
}

/// What a stream's `hello` or a poll answer says about the server run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunCheck {
    /// The run this client already knew (or the first it hears of).
    Same,
    /// A new run (the server restarted): its events are numbered from 1 again, so the cursor went back to 0 and
    /// the client must ask again from there.
    Restarted,
}

/// What a poll answer's `next` cursor says, after its events were counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CursorCheck {
    /// `next` is where the events left the cursor.
    Consistent,
    /// `next` is past the last event the answer held, with no gap to explain it: these were lost silently.
    Skipped(u64),
    /// `next` is behind what this client already has, in the same run: the server went back.
    WentBack { from: u64 },
}

/// When to try again after the `n`-th failure in a row: a ceiling that starts at `first_ms` and doubles up to
/// `max_ms`, of which a random half to all is used. The randomness spreads a classroom's (or a load test's)
/// reconnects after a restart, instead of every client retrying in the same millisecond, again and again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackOff {
    pub first_ms: u32,
    pub max_ms: u32,
}

impl BackOff {
    /// The one schedule every lab client follows: 0.25–0.5 s, 0.5–1 s, 1–2 s, 2–4 s, 4–8 s, then 5–10 s.
    pub const STANDARD: BackOff = BackOff { first_ms: 500, max_ms: 10_000 };

    /// The wait after `failures` failures before this one (0 for the first), with `jitter` in 0..1.
    pub fn delay_ms(self, failures: u32, jitter: f64) -> u32 {
        let ceiling = self.first_ms.saturating_mul(1 << failures.min(16)).min(self.max_ms);
        (f64::from(ceiling) * (0.5 + 0.5 * jitter.clamp(0.0, 1.0))).round() as u32
    }

    /// The schedule in words, for the note a client draws beside each wait.
    pub fn describe(self) -> String {
        format!(
            "a random 50–100 % of min({} s × 2^n, {} s)",
            f64::from(self.first_ms) / 1000.0,
            f64::from(self.max_ms) / 1000.0
        )
    }
}

/// A loss larger than this is remembered only as a count (a late arrival from it then reads as a duplicate).
const MISSING_REMEMBERED: usize = 10_000;

#[derive(Clone, Debug, PartialEq)]
pub struct ClientSession {
    epoch: Option<Epoch>,
    /// The highest sequence number accounted for (received, or lost in a gap); `None` until the client knows
    /// where the log is.
    cursor: Option<u64>,
    /// Sequence numbers counted missing, so a late arrival can be told from a duplicate.
    missing: BTreeSet<u64>,
    failures: u32,
}

impl Default for ClientSession {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientSession {
    /// A client that knows nothing yet: it takes the run and the head from the first hello or poll answer.
    pub fn new() -> Self {
        Self { epoch: None, cursor: None, missing: BTreeSet::new(), failures: 0 }
    }

    /// A client that starts after `after` in run `epoch` (a page knows both from the page it loaded).
    pub fn starting_after(after: u64, epoch: Epoch) -> Self {
        Self { epoch: Some(epoch), cursor: Some(after), ..Self::new() }
    }

    pub fn cursor(&self) -> Option<u64> {
        self.cursor
    }

    /// The `after` to ask with: the cursor, or 0 for a client with none.
    pub fn resume_after(&self) -> u64 {
        self.cursor.unwrap_or(0)
    }

    pub fn epoch(&self) -> Option<&Epoch> {
        self.epoch.as_ref()
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The server run named by a hello or a poll answer. A different one than before means a restart: the new run
    /// numbers its events from 1, so the old cursor (and what it counted missing) means nothing any more.
    pub fn observe_epoch(&mut self, epoch: &Epoch) -> RunCheck {
        match &self.epoch {
            Some(known) if known == epoch => RunCheck::Same,
            None => {
                self.epoch = Some(epoch.clone());
                RunCheck::Same
            }
            Some(_) => {
                self.epoch = Some(epoch.clone());
                self.cursor = Some(0);
                self.missing.clear();
                RunCheck::Restarted
            }
        }
    }

    /// A stream's first message. A client with no cursor yet counts from the head it names; a resumed one keeps
    /// its own.
    pub fn hello(&mut self, epoch: &Epoch, head_seq: u64) -> RunCheck {
        let check = self.observe_epoch(epoch);
        if self.cursor.is_none() {
            self.cursor = Some(head_seq);
        }
        self.connected();
        check
    }

    pub fn event(&mut self, seq: u64) -> Arrival {
        let expected = self.cursor.map_or(seq, |cursor| cursor + 1);
        if seq < expected {
            return if self.missing.remove(&seq) { Arrival::Late } else { Arrival::Duplicate };
        }
        self.cursor = Some(seq);
        let missing = seq - expected;
        if missing == 0 {
            return Arrival::InOrder;
        }
        let room = MISSING_REMEMBERED.saturating_sub(self.missing.len()) as u64;
        self.missing.extend(expected..expected + missing.min(room));
        Arrival::AfterLoss { missing }
    }

    /// The server said these are gone from its history: the cursor moves past them. Returns how many of them this
    /// client had not already accounted for (a gap may overlap events received before).
    pub fn gap(&mut self, gap: Gap) -> u64 {
        let already_past =
            self.cursor.map_or(0, |cursor| cursor.min(gap.to).saturating_sub(gap.from.saturating_sub(1)));
        self.cursor = Some(self.cursor.map_or(gap.to, |cursor| cursor.max(gap.to)));
        self.missing.retain(|seq| !(gap.from..=gap.to).contains(seq));
        gap.lost_count().saturating_sub(already_past)
    }

    /// A poll answer's `next`, after its gap and events were counted.
    pub fn poll_next(&mut self, next: u64) -> CursorCheck {
        match self.cursor {
            Some(cursor) if next > cursor => {
                self.cursor = Some(next);
                CursorCheck::Skipped(next - cursor)
            }
            Some(cursor) if next < cursor => {
                self.cursor = Some(next);
                CursorCheck::WentBack { from: cursor }
            }
            Some(_) => CursorCheck::Consistent,
            None => {
                self.cursor = Some(next);
                CursorCheck::Consistent
            }
        }
    }

    /// A connection opened or a request was answered: the next failure starts the schedule again.
    pub fn connected(&mut self) {
        self.failures = 0;
    }

    /// A connection or request failed: how long to wait before the next attempt (`jitter` in 0..1).
    pub fn failed(&mut self, jitter: f64) -> u32 {
        let delay = BackOff::STANDARD.delay_ms(self.failures, jitter);
        self.failures += 1;
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(name: &str) -> Epoch {
        Epoch(name.into())
    }

    /// One step a client can see, and what the session must answer.
    enum Step {
        Event(u64, Arrival),
        Gap(u64, u64, u64),
        Hello(&'static str, u64, RunCheck),
        PollNext(u64, CursorCheck),
        Cursor(Option<u64>),
    }

    fn run(mut session: ClientSession, steps: &[Step]) {
        for (index, step) in steps.iter().enumerate() {
            match *step {
                Step::Event(seq, expected) => assert_eq!(session.event(seq), expected, "step {index}: event {seq}"),
                Step::Gap(from, to, lost) => assert_eq!(session.gap(Gap { from, to }), lost, "step {index}: gap"),
                Step::Hello(name, head, expected) => {
                    assert_eq!(session.hello(&epoch(name), head), expected, "step {index}: hello")
                }
                Step::PollNext(next, expected) => assert_eq!(session.poll_next(next), expected, "step {index}"),
                Step::Cursor(expected) => assert_eq!(session.cursor(), expected, "step {index}: cursor"),
            }
        }
    }

    #[test]
    fn the_order_check_table() {
        use Step::*;
        let cases: Vec<(&str, ClientSession, Vec<Step>)> = vec![
            (
                "in order",
                ClientSession::starting_after(10, epoch("a")),
                vec![Event(11, Arrival::InOrder), Event(12, Arrival::InOrder), Cursor(Some(12))],
            ),
            (
                "duplicate",
                ClientSession::starting_after(10, epoch("a")),
                vec![Event(11, Arrival::InOrder), Event(11, Arrival::Duplicate), Event(3, Arrival::Duplicate)],
            ),
            (
                "late, then its repeat a duplicate",
                ClientSession::starting_after(0, epoch("a")),
                vec![
                    Event(1, Arrival::InOrder),
                    Event(4, Arrival::AfterLoss { missing: 2 }),
                    Event(2, Arrival::Late),
                    Event(2, Arrival::Duplicate),
                    Event(3, Arrival::Late),
                    Cursor(Some(4)),
                ],
            ),
            (
                "a gap is loss the server owned up to, not silent loss",
                ClientSession::starting_after(4, epoch("a")),
                vec![Gap(5, 9, 5), Event(10, Arrival::InOrder), Gap(8, 12, 2), Cursor(Some(12))],
            ),
            (
                "a gap over events counted missing forgets them",
                ClientSession::starting_after(0, epoch("a")),
                vec![Event(5, Arrival::AfterLoss { missing: 4 }), Gap(1, 4, 0), Event(2, Arrival::Duplicate)],
            ),
            (
                "a fresh client starts at the head its hello names",
                ClientSession::new(),
                vec![Cursor(None), Hello("a", 7, RunCheck::Same), Event(8, Arrival::InOrder)],
            ),
            (
                "a resumed client keeps its cursor across a hello of the same run",
                ClientSession::starting_after(3, epoch("a")),
                vec![Hello("a", 9, RunCheck::Same), Event(4, Arrival::InOrder)],
            ),
            (
                "a restart starts the count again from #1 without phantom losses or duplicates",
                ClientSession::starting_after(0, epoch("a")),
                vec![
                    Event(1, Arrival::InOrder),
                    Event(3, Arrival::AfterLoss { missing: 1 }),
                    Hello("b", 0, RunCheck::Restarted),
                    Cursor(Some(0)),
                    Event(1, Arrival::InOrder),
                    Event(2, Arrival::InOrder),
                ],
            ),
            (
                "a poll answer's next cursor",
                ClientSession::starting_after(5, epoch("a")),
                vec![
                    PollNext(5, CursorCheck::Consistent),
                    PollNext(8, CursorCheck::Skipped(3)),
                    PollNext(2, CursorCheck::WentBack { from: 8 }),
                    Cursor(Some(2)),
                ],
            ),
        ];
        for (name, session, steps) in cases {
            eprintln!("case: {name}");
            run(session, &steps);
        }
    }

    #[test]
    fn the_back_off_table() {
        let standard = BackOff::STANDARD;
        let ceilings: Vec<_> = (0..7).map(|failures| standard.delay_ms(failures, 1.0)).collect();
        assert_eq!(ceilings, [500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
        assert_eq!(standard.delay_ms(0, 0.0), 250);
        assert_eq!(standard.delay_ms(3, 0.5), 3000);
        assert_eq!(standard.delay_ms(9, 0.0), 5000);
        assert_eq!(standard.delay_ms(1, 7.0), 1000, "jitter is clamped");
        assert_eq!(standard.delay_ms(u32::MAX, 1.0), 10_000, "no overflow after many failures");

        let mut session = ClientSession::new();
        assert_eq!([session.failed(1.0), session.failed(1.0), session.failed(1.0)], [500, 1000, 2000]);
        assert_eq!(session.failures(), 3);
        session.connected();
        assert_eq!(session.failed(1.0), 500, "a success starts the schedule again");
        session.hello(&epoch("a"), 0);
        assert_eq!(session.failures(), 0, "a stream's hello is a success");
    }

    #[test]
    fn a_huge_loss_is_bounded_in_memory() {
        let mut session = ClientSession::starting_after(0, epoch("a"));
        assert_eq!(session.event(1_000_000), Arrival::AfterLoss { missing: 999_999 });
        assert_eq!(session.missing.len(), MISSING_REMEMBERED);
        assert_eq!(session.event(5), Arrival::Late);
        assert_eq!(session.event(999_000), Arrival::Duplicate, "beyond what is remembered");
    }
}
