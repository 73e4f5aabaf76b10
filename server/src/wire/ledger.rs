//! Where measured wire records go: totals per transport (both directions, for `/api/stats`), and for each page
//! that named itself with `client=` its most recent records, which the page reads through `/api/wire` to put
//! bytes on its arrows.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use protocol::{ClientId, PerTransport, Transport, WireBytes, WireDirection, WirePage, WireRecord, WireTotals};

/// Records kept per page: a few minutes of four busy lanes.
const RECORDS_PER_CLIENT: usize = 4000;
/// HTTP/2 records kept (native gRPC clients are not pages): the last few calls, for `/api/wire/http2`.
const HTTP2_RECORDS: usize = 2000;
/// Pages remembered at once, and how long an idle one is kept.
const MAX_CLIENTS: usize = 500;
const CLIENT_IDLE_LIMIT: Duration = Duration::from_secs(600);

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
    touched: Instant,
}

impl ClientLog {
    fn new() -> Self {
        Self { records: VecDeque::new(), next_id: 1, dropped: 0, touched: Instant::now() }
    }

    fn keep(&mut self, mut record: WireRecord, capacity: usize) {
        record.id = self.next_id;
        self.next_id += 1;
        if self.records.len() == capacity {
            self.records.pop_front();
            self.dropped += 1;
        }
        self.records.push_back(record);
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
    clients: Mutex<HashMap<ClientId, ClientLog>>,
    /// Every HTTP/2 connection's records, newest last.
    http2: Mutex<Option<ClientLog>>,
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
        log.get_or_insert_with(ClientLog::new).keep(record, HTTP2_RECORDS);
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
        let mut clients = super::lock(&self.clients);
        if !clients.contains_key(client) {
            let now = Instant::now();
            clients.retain(|_, log| now.duration_since(log.touched) < CLIENT_IDLE_LIMIT);
            if clients.len() >= MAX_CLIENTS {
                return;
            }
        }
        clients.entry(client.clone()).or_insert_with(ClientLog::new).keep(record, RECORDS_PER_CLIENT);
    }

    pub fn totals(&self, transport: Option<Transport>) -> WireTotals {
        self.counters(transport).read()
    }

    /// Up to `limit` of a page's records after `after`.
    pub fn page(&self, client: &ClientId, after: u64, limit: usize) -> WirePage {
        let mut clients = super::lock(&self.clients);
        let Some(log) = clients.get_mut(client) else {
            return WirePage { records: Vec::new(), next: after, dropped: 0 };
        };
        log.touched = Instant::now();
        log.page(after, limit)
    }
}
