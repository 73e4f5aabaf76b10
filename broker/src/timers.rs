//! What `tick` has to do and when. Entries are hints, checked against the state when they come due: a
//! keep-alive entry whose connection has since sent a packet is pushed back, one for a session that has
//! reconnected is dropped. So a busy connection costs no heap work per packet.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use crate::output::ConnectionId;
use crate::session::SessionId;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// CONNECT timeout or keep-alive.
    Connection(ConnectionId),
    Will(SessionId),
    SessionExpiry(SessionId),
    QueuedMessageExpiry(SessionId),
}

#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, Timer)>>,
}

impl Timers {
    pub(crate) fn push(&mut self, at: Instant, timer: Timer) {
        self.heap.push(Reverse((at, timer)));
    }

    pub(crate) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        if self.next()? > now {
            return None;
        }
        self.heap.pop().map(|Reverse((_, timer))| timer)
    }
}
