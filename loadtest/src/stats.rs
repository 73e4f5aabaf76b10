//! What the clients count. Sharded: ten thousand tasks on two cores would otherwise all contend for one cache line
//! (the counters) or one lock (the latency histogram) on every event.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use protocol::{Event, LatencySummary};

const SHARDS: usize = 64;
const ERROR_SAMPLES: usize = 5;
/// Latencies above a minute are saturated: at that point the figure that matters is that it is huge.
const LATENCY_CEILING_US: u64 = 60_000_000;

/// Counters of one shard. Aligned so two shards never share a cache line.
#[repr(align(128))]
struct Shard {
    deliveries: AtomicU64,
    requests: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    missed: AtomicU64,
    duplicates: AtomicU64,
    /// Events that arrived after a later one (counted missed until then).
    out_of_order: AtomicU64,
    /// Server runs a client saw end (a new epoch): each one starts that client's count again from #1.
    restarts: AtomicU64,
    /// Lowest and highest sequence number delivered in the window: how many events the window spanned.
    first_seq: AtomicU64,
    last_seq: AtomicU64,
    latency: Mutex<Histogram<u64>>,
}

impl Shard {
    fn new() -> Self {
        Self {
            deliveries: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            bytes_up: AtomicU64::new(0),
            bytes_down: AtomicU64::new(0),
            missed: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            out_of_order: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
            first_seq: AtomicU64::new(u64::MAX),
            last_seq: AtomicU64::new(0),
            latency: Mutex::new(new_histogram()),
        }
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_CEILING_US, 3).expect("constant bounds are valid")
}

/// Everything one run counts.
///
/// Window figures (deliveries, requests, bytes, latency) only count while [`Metrics::measuring`] is set, which is
/// how the counters are "reset" at the window's start without racing the clients. Faults (missed, duplicates,
/// errors, restarts) count over the whole run: a loss during warm-up is still a loss.
pub struct Metrics {
    shards: Box<[Shard]>,
    measuring: AtomicBool,
    connected: AtomicU64,
    gave_up: AtomicU64,
    errors: AtomicU64,
    error_samples: Mutex<Vec<String>>,
}

/// The window's totals.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Totals {
    pub deliveries: u64,
    pub requests: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub missed: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub restarts: u64,
    pub errors: u64,
    pub error_samples: Vec<String>,
    pub latency: LatencySummary,
    /// Sequence numbers delivered in the window, lowest and highest (None if nothing arrived).
    pub seq_span: Option<(u64, u64)>,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            shards: (0..SHARDS).map(|_| Shard::new()).collect(),
            measuring: AtomicBool::new(false),
            connected: AtomicU64::new(0),
            gave_up: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            error_samples: Mutex::new(Vec::new()),
        })
    }

    pub fn recorder(self: &Arc<Self>, client: usize) -> Recorder {
        Recorder { metrics: self.clone(), shard: client % SHARDS }
    }

    pub fn set_measuring(&self, measuring: bool) {
        self.measuring.store(measuring, Relaxed);
    }

    pub fn connected(&self) -> u64 {
        self.connected.load(Relaxed)
    }

    pub fn gave_up(&self) -> u64 {
        self.gave_up.load(Relaxed)
    }

    /// Records an error the controller itself hit (not a client), so it shows in the run.
    pub fn error(&self, message: String) {
        self.errors.fetch_add(1, Relaxed);
        let mut samples = self.error_samples.lock().unwrap_or_else(PoisonError::into_inner);
        if samples.len() < ERROR_SAMPLES {
            samples.push(message);
        }
    }

    pub fn totals(&self) -> Totals {
        let sum = |field: fn(&Shard) -> &AtomicU64| self.shards.iter().map(|shard| field(shard).load(Relaxed)).sum();
        let mut latency = new_histogram();
        for shard in self.shards.iter() {
            let histogram = shard.latency.lock().unwrap_or_else(PoisonError::into_inner);
            // Same bounds on both sides, so adding cannot fail.
            let _ = latency.add(&*histogram);
        }
        let first = self.shards.iter().map(|shard| shard.first_seq.load(Relaxed)).min().unwrap_or(u64::MAX);
        let last = self.shards.iter().map(|shard| shard.last_seq.load(Relaxed)).max().unwrap_or(0);
        Totals {
            deliveries: sum(|shard| &shard.deliveries),
            requests: sum(|shard| &shard.requests),
            bytes_up: sum(|shard| &shard.bytes_up),
            bytes_down: sum(|shard| &shard.bytes_down),
            missed: sum(|shard| &shard.missed),
            duplicates: sum(|shard| &shard.duplicates),
            out_of_order: sum(|shard| &shard.out_of_order),
            restarts: sum(|shard| &shard.restarts),
            errors: self.errors.load(Relaxed),
            error_samples: self.error_samples.lock().unwrap_or_else(PoisonError::into_inner).clone(),
            latency: LatencySummary {
                samples: latency.len(),
                p50_us: latency.value_at_quantile(0.50),
                p99_us: latency.value_at_quantile(0.99),
                max_us: latency.max(),
            },
            seq_span: (first <= last).then_some((first, last)),
        }
    }
}

/// One client's handle on the metrics: cheap to clone into its byte counter.
#[derive(Clone)]
pub struct Recorder {
    metrics: Arc<Metrics>,
    shard: usize,
}

impl Recorder {
    fn shard(&self) -> &Shard {
        &self.metrics.shards[self.shard]
    }

    fn measuring(&self) -> bool {
        self.metrics.measuring.load(Relaxed)
    }

    pub fn delivered(&self, event: &Event) {
        if !self.measuring() {
            return;
        }
        let shard = self.shard();
        shard.deliveries.fetch_add(1, Relaxed);
        shard.first_seq.fetch_min(event.seq, Relaxed);
        shard.last_seq.fetch_max(event.seq, Relaxed);
        // A clock that stepped backwards would make this negative; zero says "no measurable delay" honestly enough.
        let latency = now_unix_micros().saturating_sub(event.emitted_at);
        shard.latency.lock().unwrap_or_else(PoisonError::into_inner).saturating_record(latency);
    }

    pub fn request(&self) {
        if self.measuring() {
            self.shard().requests.fetch_add(1, Relaxed);
        }
    }

    pub fn bytes_up(&self, bytes: usize) {
        if self.measuring() {
            self.shard().bytes_up.fetch_add(bytes as u64, Relaxed);
        }
    }

    pub fn bytes_down(&self, bytes: usize) {
        if self.measuring() {
            self.shard().bytes_down.fetch_add(bytes as u64, Relaxed);
        }
    }

    pub fn missed(&self, count: u64) {
        self.shard().missed.fetch_add(count, Relaxed);
    }

    pub fn duplicate(&self, seq: u64) {
        self.shard().duplicates.fetch_add(1, Relaxed);
        self.error(format!("duplicate seq {seq}"));
    }

    /// `event` arrived after a later one: it was counted missed then, and is a delivery out of order now.
    pub fn late(&self, event: &Event) {
        let shard = self.shard();
        // The same client counted it missed on this same shard, so this cannot wrap.
        shard.missed.fetch_sub(1, Relaxed);
        shard.out_of_order.fetch_add(1, Relaxed);
        self.error(format!("seq {} arrived out of order", event.seq));
        self.delivered(event);
    }

    /// The client saw a new server run: what it counts from now on is numbered from #1 again.
    pub fn restarted(&self) {
        self.shard().restarts.fetch_add(1, Relaxed);
    }

    pub fn error(&self, message: String) {
        self.metrics.error(message);
    }

    pub fn connected(&self) {
        self.metrics.connected.fetch_add(1, Relaxed);
    }

    pub fn gave_up(&self) {
        self.metrics.gave_up.fetch_add(1, Relaxed);
    }
}

pub fn now_unix_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|since| since.as_micros() as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::EventBody;

    fn event(seq: u64) -> Event {
        Event { seq, emitted_at: now_unix_micros(), body: EventBody::Tick { n: seq, filler: String::new() } }
    }

    #[test]
    fn only_the_window_counts_deliveries_but_faults_always_count() {
        let metrics = Metrics::new();
        let recorder = metrics.recorder(3);
        recorder.delivered(&event(1));
        recorder.missed(2);
        metrics.set_measuring(true);
        recorder.delivered(&event(4));
        metrics.recorder(70).delivered(&event(5));
        metrics.set_measuring(false);
        recorder.delivered(&event(6));
        let totals = metrics.totals();
        assert_eq!(totals.deliveries, 2);
        assert_eq!(totals.latency.samples, 2);
        assert_eq!(totals.missed, 2);
        assert_eq!(totals.seq_span, Some((4, 5)));
    }

    #[test]
    fn a_late_event_is_no_longer_missed_but_out_of_order() {
        let metrics = Metrics::new();
        metrics.set_measuring(true);
        let recorder = metrics.recorder(5);
        recorder.missed(2);
        recorder.delivered(&event(4));
        recorder.late(&event(2));
        recorder.restarted();
        let totals = metrics.totals();
        assert_eq!((totals.missed, totals.out_of_order, totals.deliveries), (1, 1, 2));
        assert_eq!((totals.duplicates, totals.restarts, totals.errors), (0, 1, 1));
    }

    #[test]
    fn error_samples_are_capped() {
        let metrics = Metrics::new();
        for n in 0..9 {
            metrics.error(format!("e{n}"));
        }
        let totals = metrics.totals();
        assert_eq!(totals.errors, 9);
        assert_eq!(totals.error_samples.len(), ERROR_SAMPLES);
    }
}
