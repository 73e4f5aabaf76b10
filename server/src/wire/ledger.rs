//! Where measured wire records go: totals per transport (both directions, for `/api/stats`), and for each page
//! that named itself with `client=` its most recent records, which the page reads through `/api/wire` to put
//! bytes on its arrows.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::capture::{CaptureBudget, CapturedConnection, SharedCapture};
use protocol::{ClientId, PerTransport, Transport, WireBytes, WireDirection, WirePage, WireRecord, WireTotals};

/// Records kept per page: a few minutes of four busy lanes.
const RECORDS_PER_CLIENT: usize = 4000;
/// HTTP/2 records kept (native gRPC clients are not pages): the last few calls, for `/api/wire/http2`.
const HTTP2_RECORDS: usize = 2000;
/// Pages remembered at once, and how long an idle one is kept.
const MAX_CLIENTS: usize = 500;
const CLIENT_IDLE_LIMIT: Duration = Duration::from_secs(600);
/// What a page's records may weigh (their text, and a share for the rest of each record), and all pages' together:
/// a request may carry 64 KiB of headers, so a count of records alone bounds nothing.
const PAGE_BYTES: usize = 4 * 1024 * 1024;
const ALL_PAGES_BYTES: usize = 128 * 1024 * 1024;
/// Connections whose bytes a page keeps for its pcapng export, the newest (each is bounded in [`super::capture`]).
const CAPTURES_PER_CLIENT: usize = 32;
/// A record's weight besides its text: its fields and its place in the queue.
const RECORD_OVERHEAD: usize = 160;

#[derive(Default)]
struct Counter {
    head: AtomicU64,
    framing: AtomicU64,
    payload: AtomicU64,
}

impl Counter {
    fn add(&self, bytes: WireBytes) {
        self.head.fetch_add(bytes.head, Relaxed);
        self.framing.fetch_add(bytes.framing, Relaxed);
        self.payload.fetch_add(bytes.payload, Relaxed);
    }

    fn read(&self) -> WireBytes {
        WireBytes {
            head: self.head.load(Relaxed),
            framing: self.framing.load(Relaxed),
            payload: self.payload.load(Relaxed),
        }
    }
}

/// Both directions of one kind of traffic.
#[derive(Default)]
struct Counters {
    to_server: Counter,
    to_client: Counter,
}

impl Counters {
    fn add(&self, direction: WireDirection, bytes: WireBytes) {
        match direction {
            WireDirection::ToServer => self.to_server.add(bytes),
            WireDirection::ToClient => self.to_client.add(bytes),
        }
    }

    fn read(&self) -> WireTotals {
        WireTotals { to_server: self.to_server.read(), to_client: self.to_client.read() }
    }
}

struct ClientLog {
    records: VecDeque<WireRecord>,
    next_id: u64,
    dropped: u64,
    /// When the page last read its records (or first appeared): a page that stops reading is the first to go.
    touched: Instant,
    /// What `records` weigh (see [`weight`]).
    bytes: usize,
    /// The page's connections byte for byte, oldest first.
    captures: VecDeque<SharedCapture>,
}

/// What a record costs to keep.
fn weight(record: &WireRecord) -> usize {
    record.raw.len() + RECORD_OVERHEAD
}

impl ClientLog {
    fn new() -> Self {
        Self {
            records: VecDeque::new(),
            next_id: 1,
            dropped: 0,
            touched: Instant::now(),
            bytes: 0,
            captures: VecDeque::new(),
        }
    }

    /// Keeps `record` within `capacity` records and `max_bytes`, dropping the oldest; answers the bytes it added
    /// (negative: freed).
    fn keep(&mut self, mut record: WireRecord, capacity: usize, max_bytes: usize) -> isize {
        let before = self.bytes;
        record.id = self.next_id;
        self.next_id += 1;
        self.bytes += weight(&record);
        self.records.push_back(record);
        while self.records.len() > capacity || (self.bytes > max_bytes && self.records.len() > 1) {
            self.drop_oldest();
        }
        self.bytes as isize - before as isize
    }

    fn drop_oldest(&mut self) -> usize {
        let Some(oldest) = self.records.pop_front() else { return 0 };
        self.dropped += 1;
        let freed = weight(&oldest);
        self.bytes -= freed;
        freed
    }

    fn page(&self, after: u64, limit: usize) -> WirePage {
        let records: Vec<WireRecord> =
            self.records.iter().filter(|record| record.id > after).take(limit).cloned().collect();
        let next = records.last().map_or(after, |record| record.id);
        WirePage { records, next, dropped: self.dropped }
    }
}

#[derive(Default)]
pub struct WireLedger {
    next_exchange: AtomicU64,
    next_connection: AtomicU64,
    lanes: PerTransport<Counters>,
    /// Everything that is no lane's: the page, its assets, the control API.
    other: Counters,
    clients: Mutex<Clients>,
    /// Every HTTP/2 connection's records, newest last.
    http2: Mutex<Option<ClientLog>>,
    capture_budget: Arc<CaptureBudget>,
}

impl WireLedger {
    pub fn next_exchange(&self) -> u64 {
        self.next_exchange.fetch_add(1, Relaxed) + 1
    }

    pub fn next_connection(&self) -> u64 {
        self.next_connection.fetch_add(1, Relaxed) + 1
    }

    fn counters(&self, transport: Option<Transport>) -> &Counters {
        transport.map_or(&self.other, |transport| &self.lanes[transport])
    }

    pub fn count(&self, transport: Option<Transport>, direction: WireDirection, bytes: WireBytes) {
        self.counters(transport).add(direction, bytes);
    }

    /// Counts a record of an HTTP/2 connection and keeps it with the last few thousand.
    pub fn record_http2(&self, record: WireRecord) {
        self.count(record.transport, record.direction, record.bytes);
        let mut log = super::lock(&self.http2);
        log.get_or_insert_with(ClientLog::new).keep(record, HTTP2_RECORDS, PAGE_BYTES);
    }

    /// Up to `limit` HTTP/2 records after `after`.
    pub fn http2_page(&self, after: u64, limit: usize) -> WirePage {
        let log = super::lock(&self.http2);
        log.as_ref().map_or(WirePage { records: Vec::new(), next: after, dropped: 0 }, |log| log.page(after, limit))
    }

    /// Counts a record and, if a page sent it, keeps it for that page.
    pub fn record(&self, record: WireRecord, client: Option<&ClientId>) {
        self.count(record.transport, record.direction, record.bytes);
        let Some(client) = client else { return };
        super::lock(&self.clients).keep(client, record);
    }

    pub fn capture_budget(&self) -> Arc<CaptureBudget> {
        self.capture_budget.clone()
    }

    /// Hands `page` a connection's capture: the connection carried one of its requests.
    pub fn keep_capture(&self, page: &ClientId, capture: SharedCapture) {
        let mut clients = super::lock(&self.clients);
        let log = clients.log(page);
        log.captures.push_back(capture);
        if log.captures.len() > CAPTURES_PER_CLIENT {
            log.captures.pop_front();
        }
    }

    /// The page's connections as they stand now, in the order they opened.
    pub fn captures(&self, page: &ClientId) -> Vec<CapturedConnection> {
        let captures: Vec<SharedCapture> = {
            let clients = super::lock(&self.clients);
            clients.logs.get(page).map(|log| log.captures.iter().cloned().collect()).unwrap_or_default()
        };
        let mut connections: Vec<CapturedConnection> =
            captures.iter().map(|capture| super::lock(capture).snapshot()).collect();
        connections.sort_by_key(|connection| connection.id);
        connections
    }

    pub fn totals(&self, transport: Option<Transport>) -> WireTotals {
        self.counters(transport).read()
    }

    /// Up to `limit` of a page's records after `after`.
    pub fn page(&self, client: &ClientId, after: u64, limit: usize) -> WirePage {
        let mut clients = super::lock(&self.clients);
        let Some(log) = clients.logs.get_mut(client) else {
            return WirePage { records: Vec::new(), next: after, dropped: 0 };
        };
        log.touched = Instant::now();
        log.page(after, limit)
    }
}

/// The pages' records, bounded in pages, records and bytes. Page ids are whatever a request names, so a flood of
/// made-up ids must not push real pages out: when every place is taken, the page that has gone longest without
/// reading its records leaves (a real page reads every second), and when all pages together weigh too much, the
/// heaviest gives up its oldest records.
#[derive(Default)]
struct Clients {
    logs: HashMap<ClientId, ClientLog>,
    bytes: usize,
}

impl Clients {
    fn log(&mut self, client: &ClientId) -> &mut ClientLog {
        if !self.logs.contains_key(client) {
            self.make_room();
        }
        self.logs.entry(client.clone()).or_insert_with(ClientLog::new)
    }

    fn keep(&mut self, client: &ClientId, record: WireRecord) {
        let log = self.log(client);
        let added = log.keep(record, RECORDS_PER_CLIENT, PAGE_BYTES);
        self.bytes = self.bytes.saturating_add_signed(added);
        while self.bytes > ALL_PAGES_BYTES {
            let Some(heaviest) = self.logs.values_mut().max_by_key(|log| log.bytes) else { break };
            let freed = heaviest.drop_oldest();
            if freed == 0 {
                break;
            }
            self.bytes -= freed;
        }
    }

    fn make_room(&mut self) {
        let now = Instant::now();
        self.forget(|log| now.duration_since(log.touched) >= CLIENT_IDLE_LIMIT);
        if self.logs.len() >= MAX_CLIENTS {
            let stalest = self.logs.iter().min_by_key(|(_, log)| log.touched).map(|(id, _)| id.clone());
            if let Some(stalest) = stalest {
                if let Some(log) = self.logs.remove(&stalest) {
                    self.bytes -= log.bytes;
                }
            }
        }
    }

    fn forget(&mut self, gone: impl Fn(&ClientLog) -> bool) {
        let mut freed = 0;
        self.logs.retain(|_, log| {
            let keep = !gone(log);
            if !keep {
                freed += log.bytes;
            }
            keep
        });
        self.bytes -= freed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::WireUnit;

    fn record(raw_bytes: usize) -> WireRecord {
        WireRecord {
            id: 0,
            exchange: 1,
            transport: Some(Transport::ShortPoll),
            direction: WireDirection::ToServer,
            at: 0,
            unit: WireUnit::LastChunk,
            bytes: WireBytes::default(),
            raw: "h".repeat(raw_bytes),
        }
    }

    fn page(name: &str) -> ClientId {
        ClientId::try_from(name.to_owned()).unwrap()
    }

    #[test]
    fn a_page_s_records_are_bounded_by_bytes_not_only_by_count() {
        let ledger = WireLedger::default();
        for _ in 0..200 {
            ledger.record(record(64 * 1024), Some(&page("big")));
        }
        let kept = ledger.page(&page("big"), 0, usize::MAX);
        let weight: usize = kept.records.iter().map(weight).sum();
        assert!(weight <= PAGE_BYTES, "{weight}");
        assert_eq!(kept.records.len() as u64 + kept.dropped, 200, "what was dropped is counted");
        assert_eq!(super::super::lock(&ledger.clients).bytes, weight);
    }

    #[test]
    fn made_up_pages_push_out_the_page_that_stopped_reading_not_the_one_that_reads() {
        let ledger = WireLedger::default();
        ledger.record(record(10), Some(&page("real")));
        for n in 0..MAX_CLIENTS * 3 {
            if n % 100 == 0 {
                // The real page reads its records, as its page does every second.
                ledger.page(&page("real"), 0, 1);
                std::thread::sleep(Duration::from_millis(2));
            }
            ledger.record(record(10), Some(&page(&format!("fake{n}"))));
        }
        let clients = super::super::lock(&ledger.clients);
        assert_eq!(clients.logs.len(), MAX_CLIENTS);
        assert!(clients.logs.contains_key(&page("real")), "the page that reads was kept");
        assert_eq!(clients.bytes, clients.logs.values().map(|log| log.bytes).sum::<usize>());
    }
}
