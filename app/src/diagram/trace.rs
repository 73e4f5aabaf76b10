//! What a lane records: one entry per arrow or note in its sequence diagram.

use std::collections::VecDeque;

/// Times are browser wall-clock milliseconds since the Unix epoch (`Date.now()`), the one axis all lanes share.
pub type Millis = f64;

#[derive(Clone, Debug, PartialEq)]
pub enum RecordKind {
    /// Browser → server: a request, an upgrade, an upstream frame.
    Request,
    /// Server → browser: a response or handshake answer. `held_from` is when the request it answers was sent,
    /// drawn as the server holding it (long polls).
    Response { held_from: Option<Millis> },
    /// Server → browser: one hub event, drawn from where the server emitted it to where the browser got it.
    Event { seq: u64 },
    /// Events the history had lost before this lane asked for them.
    Gap { from: u64, to: u64 },
    /// Something that is not a message: an error, a close, a reconnect.
    Note { tone: NoteTone },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoteTone {
    Info,
    Warning,
    Error,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TraceRecord {
    /// Unique within its lane, for keyed rendering.
    pub id: u64,
    pub kind: RecordKind,
    /// Short text drawn on the arrow, e.g. `GET /api/poll?after=41`.
    pub label: String,
    /// Longer text for the tooltip.
    pub detail: String,
    /// When it left its sender (an event: its `emitted_at`).
    pub sent_at: Millis,
    /// When it reached the other side as far as the browser can tell (usually when the browser saw it).
    pub arrived_at: Millis,
}

impl TraceRecord {
    pub fn seq(&self) -> Option<u64> {
        match self.kind {
            RecordKind::Event { seq } => Some(seq),
            _ => None,
        }
    }
}

/// A lane's records, oldest first, bounded in age and count so a lab left running for hours keeps a flat DOM.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TraceLog {
    records: VecDeque<TraceRecord>,
    next_id: u64,
}

impl TraceLog {
    /// Most records a lane keeps, whatever their age.
    pub const MAX_RECORDS: usize = 800;
    /// Records older than this (relative to the newest) are dropped: they have scrolled out of every view.
    pub const RETENTION_MS: Millis = 120_000.0;

    /// Appends a record and drops what has aged out. Returns the new record's id.
    pub fn push(
        &mut self,
        kind: RecordKind,
        label: String,
        detail: String,
        sent_at: Millis,
        arrived_at: Millis,
    ) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.records.push_back(TraceRecord { id, kind, label, detail, sent_at, arrived_at });
        let oldest_kept = arrived_at - Self::RETENTION_MS;
        while self.records.len() > Self::MAX_RECORDS
            || self.records.front().is_some_and(|record| record.arrived_at.max(record.sent_at) < oldest_kept)
        {
            self.records.pop_front();
        }
        id
    }

    pub fn records(&self) -> &VecDeque<TraceRecord> {
        &self.records
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push_at(log: &mut TraceLog, at: Millis) -> u64 {
        log.push(RecordKind::Note { tone: NoteTone::Info }, "n".into(), String::new(), at, at)
    }

    #[test]
    fn ids_are_unique_and_increasing() {
        let mut log = TraceLog::default();
        assert_eq!((push_at(&mut log, 1.0), push_at(&mut log, 2.0)), (0, 1));
    }

    #[test]
    fn old_records_are_dropped() {
        let mut log = TraceLog::default();
        push_at(&mut log, 0.0);
        push_at(&mut log, 1000.0);
        push_at(&mut log, TraceLog::RETENTION_MS + 500.0);
        let kept: Vec<_> = log.records().iter().map(|record| record.id).collect();
        assert_eq!(kept, vec![1, 2]);
    }

    #[test]
    fn count_is_bounded_for_hours_of_traffic() {
        let mut log = TraceLog::default();
        // Ten hours at 50 records per second, all within the retention window of each other would be too many.
        for i in 0..50_000 {
            push_at(&mut log, i as f64);
        }
        assert_eq!(log.len(), TraceLog::MAX_RECORDS);
        assert_eq!(log.records().back().unwrap().id, 49_999);
    }
}
