//! Per-transport counters, updated lock-free on the hot path and read by `GET /api/stats`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use protocol::{PerTransport, Transport, TransportStats};

#[derive(Default)]
pub struct TransportCounters {
    open_connections: AtomicU64,
    requests: AtomicU64,
    events_delivered: AtomicU64,
    body_bytes_sent: AtomicU64,
    lag_recoveries: AtomicU64,
    /// Events a stream's socket took the moment the fan-out offered them, with no task woken (see
    /// `transports::direct_stream`): a figure for tests and profiles, not for the page.
    written_at_once: AtomicU64,
}

impl TransportCounters {
    /// Counts a request and holds the connection open in the stats until the guard drops, which also happens when
    /// the client goes away and hyper drops the handler's future.
    pub fn open(self: &Arc<Self>) -> OpenConnection {
        self.requests.fetch_add(1, Relaxed);
        self.open_connections.fetch_add(1, Relaxed);
        OpenConnection(self.clone())
    }

    /// A request made without holding a connection in the stats: a webhook delivery attempt, made by the lab.
    pub fn requested(&self) {
        self.requests.fetch_add(1, Relaxed);
    }

    pub fn delivered(&self, events: usize, body_bytes: usize) {
        self.events_delivered.fetch_add(events as u64, Relaxed);
        self.body_bytes_sent.fetch_add(body_bytes as u64, Relaxed);
    }

    pub fn written_at_once(&self) {
        self.written_at_once.fetch_add(1, Relaxed);
    }

    pub fn written_at_once_count(&self) -> u64 {
        self.written_at_once.load(Relaxed)
    }

    pub fn lag_recovered(&self) {
        self.lag_recoveries.fetch_add(1, Relaxed);
    }

    pub fn snapshot(&self) -> TransportStats {
        TransportStats {
            open_connections: self.open_connections.load(Relaxed),
            requests: self.requests.load(Relaxed),
            events_delivered: self.events_delivered.load(Relaxed),
            body_bytes_sent: self.body_bytes_sent.load(Relaxed),
            lag_recoveries: self.lag_recoveries.load(Relaxed),
            wire: Default::default(),
        }
    }
}

pub struct OpenConnection(Arc<TransportCounters>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open_connections.fetch_sub(1, Relaxed);
    }
}

/// One set of counters per transport.
#[derive(Clone, Default)]
pub struct LabCounters(Arc<PerTransport<Arc<TransportCounters>>>);

impl LabCounters {
    pub fn of(&self, transport: Transport) -> &Arc<TransportCounters> {
        &self.0[transport]
    }

    pub fn snapshot(&self) -> PerTransport<TransportStats> {
        self.0.map(|_, counters| counters.snapshot())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_connection_is_released_on_drop() {
        let counters = LabCounters::default();
        let guard = counters.of(Transport::Sse).open();
        assert_eq!(counters.snapshot()[Transport::Sse].open_connections, 1);
        drop(guard);
        let stats = counters.snapshot()[Transport::Sse];
        assert_eq!((stats.open_connections, stats.requests), (0, 1));
    }
}
