//! A page's connections byte for byte, as the tap saw them, for the pcapng export ([`super::pcapng`]). Only
//! connections that carried a page's request are kept, and only within bounds: the opening bytes of each (the heads
//! that tell Wireshark which protocol follows), then its most recent bytes up to a cap, and all connections together
//! within one budget. What is not kept is counted, so the export can say so, and its TCP sequence numbers still
//! count every byte that crossed.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use protocol::WireDirection;

/// The first bytes of a connection, never dropped for newer ones.
const OPENING_BYTES: u64 = 16 * 1024;
/// What one connection may keep.
const CONNECTION_BYTES: usize = 256 * 1024;
/// What all kept connections together may keep.
const ALL_CONNECTIONS_BYTES: usize = 64 * 1024 * 1024;

/// Bytes kept by every capture, shared so one busy page cannot take every other page's room.
#[derive(Default)]
pub struct CaptureBudget {
    kept: AtomicUsize,
}

impl CaptureBudget {
    fn take(&self, bytes: usize) -> bool {
        self.kept
            .fetch_update(Relaxed, Relaxed, |kept| {
                let after = kept.checked_add(bytes)?;
                (after <= ALL_CONNECTIONS_BYTES).then_some(after)
            })
            .is_ok()
    }

    fn give_back(&self, bytes: usize) {
        self.kept.fetch_sub(bytes, Relaxed);
    }
}

/// Bytes that crossed in one direction in one read or write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub direction: WireDirection,
    /// Server wall clock, Unix microseconds.
    pub at: u64,
    /// Where the bytes start in their direction's stream: every byte that crossed counts, kept or not.
    pub offset: u64,
    pub bytes: Vec<u8>,
}

/// One TCP connection as the export writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapturedConnection {
    pub id: u64,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub opened_at: u64,
    pub closed_at: Option<u64>,
    /// Oldest first, both directions interleaved as they crossed.
    pub segments: Vec<Segment>,
    /// Bytes that crossed but are not in `segments`.
    pub not_kept: u64,
    /// Bytes that crossed in all, to server and to client.
    pub crossed: [u64; 2],
}

impl CapturedConnection {
    /// Masks credential header values (the teacher's cookie among them) at their length, so every sequence number
    /// and byte count stays true. Each direction's contiguous bytes are masked as one stream: a header line may
    /// span two reads.
    pub fn redact_credentials(&mut self) {
        for direction in [WireDirection::ToServer, WireDirection::ToClient] {
            let mut run = Vec::new();
            let mut run_end = None;
            for index in 0..self.segments.len() {
                let (offset, length) = match &self.segments[index] {
                    segment if segment.direction == direction => (segment.offset, segment.bytes.len() as u64),
                    _ => continue,
                };
                if run_end != Some(offset) {
                    self.redact_run(&run);
                    run.clear();
                }
                run.push(index);
                run_end = Some(offset + length);
            }
            self.redact_run(&run);
        }
    }

    fn redact_run(&mut self, run: &[usize]) {
        let mut stream: Vec<u8> = run.iter().flat_map(|&index| self.segments[index].bytes.iter().copied()).collect();
        protocol::redact_credential_lines(&mut stream);
        let mut rest = stream.as_slice();
        for &index in run {
            let (these, after) = rest.split_at(self.segments[index].bytes.len());
            self.segments[index].bytes.copy_from_slice(these);
            rest = after;
        }
    }
}

pub struct Capture {
    id: u64,
    client: SocketAddr,
    server: SocketAddr,
    opened_at: u64,
    closed_at: Option<u64>,
    segments: VecDeque<Segment>,
    /// Leading segments that hold the opening bytes and are never dropped.
    pinned: usize,
    kept: usize,
    /// Bytes that crossed so far, to server and to client.
    crossed: [u64; 2],
    not_kept: u64,
    budget: Arc<CaptureBudget>,
}

/// Where a direction's count sits in the `[to server, to client]` pairs the capture and its export keep.
pub(super) fn direction_index(direction: WireDirection) -> usize {
    match direction {
        WireDirection::ToServer => 0,
        WireDirection::ToClient => 1,
    }
}

impl Capture {
    pub fn new(id: u64, client: SocketAddr, server: SocketAddr, opened_at: u64, budget: Arc<CaptureBudget>) -> Self {
        Self {
            id,
            client,
            server,
            opened_at,
            closed_at: None,
            segments: VecDeque::new(),
            pinned: 0,
            kept: 0,
            crossed: [0, 0],
            not_kept: 0,
            budget,
        }
    }

    /// Counts bytes that crossed without keeping them: the connection was not yet, or not, a page's.
    pub fn skip(&mut self, direction: WireDirection, bytes: usize) {
        self.crossed[direction_index(direction)] += bytes as u64;
        self.not_kept += bytes as u64;
    }

    pub fn keep(&mut self, direction: WireDirection, at: u64, bytes: &[u8]) {
        let offset = self.crossed[direction_index(direction)];
        self.crossed[direction_index(direction)] += bytes.len() as u64;
        if bytes.is_empty() {
            return;
        }
        while self.kept + bytes.len() > CONNECTION_BYTES && self.segments.len() > self.pinned {
            self.drop_one();
        }
        if self.kept + bytes.len() > CONNECTION_BYTES || !self.budget.take(bytes.len()) {
            self.not_kept += bytes.len() as u64;
            return;
        }
        let opening = offset < OPENING_BYTES;
        self.kept += bytes.len();
        self.segments.push_back(Segment { direction, at, offset, bytes: bytes.to_vec() });
        if opening && self.pinned + 1 == self.segments.len() {
            self.pinned += 1;
        }
    }

    fn drop_one(&mut self) {
        if let Some(segment) = self.segments.remove(self.pinned) {
            self.kept -= segment.bytes.len();
            self.not_kept += segment.bytes.len() as u64;
            self.budget.give_back(segment.bytes.len());
        }
    }

    pub fn close(&mut self, at: u64) {
        self.closed_at.get_or_insert(at);
    }

    pub fn snapshot(&self) -> CapturedConnection {
        CapturedConnection {
            id: self.id,
            client: self.client,
            server: self.server,
            opened_at: self.opened_at,
            closed_at: self.closed_at,
            segments: self.segments.iter().cloned().collect(),
            not_kept: self.not_kept,
            crossed: self.crossed,
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.budget.give_back(self.kept);
    }
}

/// A capture as the connection and every page it carried share it.
pub type SharedCapture = Arc<Mutex<Capture>>;

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(budget: &Arc<CaptureBudget>) -> Capture {
        let (client, server) = ("127.0.0.1:50000".parse().unwrap(), "127.0.0.1:3000".parse().unwrap());
        Capture::new(1, client, server, 10, budget.clone())
    }

    #[test]
    fn offsets_count_every_byte_kept_or_not() {
        let budget = Arc::new(CaptureBudget::default());
        let mut capture = capture(&budget);
        capture.skip(WireDirection::ToServer, 100);
        capture.keep(WireDirection::ToServer, 11, b"GET / HTTP/1.1\r\n\r\n");
        capture.keep(WireDirection::ToClient, 12, b"HTTP/1.1 204 No Content\r\n\r\n");
        let snapshot = capture.snapshot();
        assert_eq!(snapshot.segments[0].offset, 100);
        assert_eq!(snapshot.segments[1].offset, 0);
        assert_eq!(snapshot.not_kept, 100);
        assert_eq!(budget.kept.load(Relaxed), 18 + 27);
        drop(capture);
        assert_eq!(budget.kept.load(Relaxed), 0, "a capture gives its bytes back when it goes");
    }

    #[test]
    fn a_long_stream_keeps_its_opening_and_its_latest_bytes_within_its_cap() {
        let budget = Arc::new(CaptureBudget::default());
        let mut capture = capture(&budget);
        capture.keep(WireDirection::ToServer, 1, b"GET /api/sse HTTP/1.1\r\n\r\n");
        let chunk = vec![b'x'; 10_000];
        for at in 0..100 {
            capture.keep(WireDirection::ToClient, 2 + at, &chunk);
        }
        let snapshot = capture.snapshot();
        let kept: usize = snapshot.segments.iter().map(|segment| segment.bytes.len()).sum();
        assert!(kept <= CONNECTION_BYTES, "{kept}");
        assert_eq!(snapshot.segments[0].bytes, b"GET /api/sse HTTP/1.1\r\n\r\n", "the opening stays");
        assert_eq!(snapshot.segments[1].offset, 0, "so does the response's opening");
        assert_eq!(snapshot.segments.last().unwrap().offset, 990_000, "and the latest bytes are there");
        assert_eq!(snapshot.not_kept + kept as u64, 25 + 1_000_000);
        assert_eq!(budget.kept.load(Relaxed), kept);
    }

    #[test]
    fn a_credential_split_across_two_reads_is_masked_and_every_length_stays() {
        let budget = Arc::new(CaptureBudget::default());
        let mut capture = capture(&budget);
        capture.keep(WireDirection::ToServer, 1, b"GET / HTTP/1.1\r\nCoo");
        capture.keep(WireDirection::ToClient, 2, b"HTTP/1.1 100 Continue\r\n\r\n");
        capture.keep(WireDirection::ToServer, 3, b"kie: lab_teacher=s3cret\r\n\r\n");
        let mut snapshot = capture.snapshot();
        snapshot.redact_credentials();
        let lengths: Vec<usize> = snapshot.segments.iter().map(|segment| segment.bytes.len()).collect();
        assert_eq!(lengths, [19, 25, 27]);
        assert_eq!(snapshot.segments[2].bytes, b"kie: ******************\r\n\r\n");
    }

    #[test]
    fn the_shared_budget_bounds_every_capture_together() {
        let budget = Arc::new(CaptureBudget::default());
        let chunk = vec![0; 200 * 1024];
        let captures: Vec<Capture> = (0..400)
            .map(|_| {
                let mut capture = capture(&budget);
                capture.keep(WireDirection::ToClient, 1, &chunk);
                capture
            })
            .collect();
        assert!(budget.kept.load(Relaxed) <= ALL_CONNECTIONS_BYTES);
        let refused = captures.iter().filter(|capture| capture.not_kept > 0).count();
        assert!(refused > 0, "400 × 200 KiB is more than the budget");
    }
}
