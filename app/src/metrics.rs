//! Per-lane figures computed in the browser from what the lane actually received.

use std::collections::{BTreeSet, VecDeque};

use protocol::{Arrival, WireBytes, WireDirection, WireRecord, WireTotals, WireUnit};

/// Latency samples in milliseconds, bounded to the most recent ones; the maximum covers the whole session.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LatencyWindow {
    recent: VecDeque<f64>,
    last: Option<f64>,
    max: Option<f64>,
}

impl LatencyWindow {
    pub const CAPACITY: usize = 1000;

    pub fn record(&mut self, millis: f64) {
        if self.recent.len() == Self::CAPACITY {
            self.recent.pop_front();
        }
        self.recent.push_back(millis);
        self.last = Some(millis);
        self.max = Some(self.max.map_or(millis, |max| max.max(millis)));
    }

    /// The recent samples, oldest first.
    pub fn samples(&self) -> impl Iterator<Item = f64> + '_ {
        self.recent.iter().copied()
    }

    pub fn last(&self) -> Option<f64> {
        self.last
    }

    pub fn max(&self) -> Option<f64> {
        self.max
    }

    /// The `q` quantile (0.0–1.0) of the recent samples, nearest-rank.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.recent.is_empty() {
            return None;
        }
        let mut sorted: Vec<f64> = self.recent.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        Some(sorted[rank - 1])
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct LaneMetrics {
    pub events_received: u64,
    pub requests: u64,
    /// Poll responses that carried no event (short poll `200 · 0 events`, long poll `204`).
    pub empty_responses: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    /// Events that never arrived and no gap marker accounted for. Should stay 0.
    pub silently_missed: u64,
    /// Events the server said it no longer had (explicit gap markers).
    pub lost_in_gaps: u64,
    /// Bytes of bodies, SSE data and WebSocket messages as the browser saw them.
    pub body_bytes_received: u64,
    /// Size of the latest audio event as this lane received it: its JSON with the clip in base64 (polling, SSE),
    /// or its binary frame's payload (WebSocket).
    pub audio_bytes: Option<u64>,
    pub latency: LatencyWindow,
    /// A message sent upstream by this lane until this lane received it back as an event: browser clock at send to
    /// browser clock at receipt, one clock, so no offset correction.
    pub round_trip: LatencyWindow,
    /// Highest sequence number accounted for, as the lane's session has it (shown; the session owns the cursor).
    pub last_seq: Option<u64>,
    /// When the connection was lost, while the lane has not yet received an event since.
    pub outage_since: Option<f64>,
    /// Outages that ended with an event arriving again.
    pub recoveries: u64,
    /// How long the latest outage lasted, from losing the connection to the next event received, in ms.
    pub last_recovery_ms: Option<f64>,
    /// The figures when the latest outage began, so the scoreboard can show what that fault cost.
    pub at_last_fault: Option<FaultScore>,
    /// Every byte the server measured on this lane's connections, both ways (from `/api/wire`).
    pub wire: WireTotals,
    /// The instance that answered this lane last, when several share one log (`x-lab-instance`, or a stream's
    /// `hello`): a polling lane's moves at each request behind a round-robin balancer, a stream's when it resumes.
    pub served_by: Option<String>,
    /// The TCP connections this lane's requests travelled on, as the server numbered them. A browser pools its
    /// connections to an origin, so a polling lane may share them with other lanes and the page's own requests.
    pub connections: BTreeSet<u64>,
}

/// The figures a fault is judged by: all three must stay 0 where the history covers the outage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultScore {
    pub missed: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
}

impl FaultScore {
    fn since(self, earlier: FaultScore) -> FaultScore {
        FaultScore {
            missed: self.missed.saturating_sub(earlier.missed),
            duplicated: self.duplicated.saturating_sub(earlier.duplicated),
            out_of_order: self.out_of_order.saturating_sub(earlier.out_of_order),
        }
    }
}

const MAX_CONNECTIONS_REMEMBERED: usize = 10_000;

impl LaneMetrics {
    pub fn starting_after(seq: u64) -> Self {
        Self { last_seq: Some(seq), ..Self::default() }
    }

    /// The lane at a glance, for the lane strip: events received, the median latency, and what went missing when
    /// anything did, so a lane that is not drawn still shows whether it keeps up.
    pub fn glance(&self) -> String {
        let events = match self.events_received {
            1 => "1 event".to_owned(),
            count => format!("{count} events"),
        };
        let latency = self.latency.quantile(0.5).map(|p50| format!(" · p50 {p50:.0} ms")).unwrap_or_default();
        let missing = self.silently_missed + self.lost_in_gaps;
        let lost = if missing > 0 { format!(" · {missing} lost") } else { String::new() };
        format!("{events}{latency}{lost}")
    }

    /// Counts one arrival as the lane's session judged it (see [`protocol::ClientSession::event`]).
    pub fn record_arrival(&mut self, arrival: Arrival, latency_ms: f64) {
        match arrival {
            Arrival::Duplicate => {
                self.duplicates += 1;
                return;
            }
            Arrival::Late => {
                self.silently_missed = self.silently_missed.saturating_sub(1);
                self.out_of_order += 1;
            }
            Arrival::AfterLoss { missing } => self.silently_missed += missing,
            Arrival::InOrder => {}
        }
        self.events_received += 1;
        self.latency.record(latency_ms);
    }

    pub fn wire_measured(&mut self, record: &WireRecord) {
        if let WireUnit::Request { connection, .. } = record.unit {
            if self.connections.len() < MAX_CONNECTIONS_REMEMBERED {
                self.connections.insert(connection);
            }
        }
        match record.direction {
            WireDirection::ToServer => self.wire.to_server.add(record.bytes),
            WireDirection::ToClient => self.wire.to_client.add(record.bytes),
        }
    }

    /// One webhook attempt, counted on the sender's socket: a request made, and its bytes each way (the sender
    /// stands where the server does in the other lanes, the receiver where the browser does).
    pub fn delivery_measured(&mut self, to_receiver: WireBytes, to_sender: WireBytes) {
        self.requests += 1;
        self.wire.to_client.add(to_receiver);
        self.wire.to_server.add(to_sender);
    }

    /// Payload as a share of every byte both ways: how much of the traffic was the events themselves.
    pub fn efficiency(&self) -> Option<f64> {
        let total = self.wire.total();
        (total > 0).then(|| (self.wire.to_server.payload + self.wire.to_client.payload) as f64 / total as f64)
    }

    /// Every measured byte both ways, per event delivered.
    pub fn bytes_per_event(&self) -> Option<f64> {
        (self.events_received > 0).then(|| self.wire.total() as f64 / self.events_received as f64)
    }

    pub fn score(&self) -> FaultScore {
        FaultScore { missed: self.silently_missed, duplicated: self.duplicates, out_of_order: self.out_of_order }
    }

    /// What happened since the latest fault began: `None` before the first.
    pub fn score_since_last_fault(&self) -> Option<FaultScore> {
        self.at_last_fault.map(|baseline| self.score().since(baseline))
    }

    /// The server owned up to losing `lost` events this lane had not accounted for.
    pub fn record_gap(&mut self, lost: u64) {
        self.lost_in_gaps += lost;
    }

    /// The connection failed at `at` (ms). Only the first failure of an outage counts: retries that fail too are
    /// part of the same outage.
    pub fn connection_lost(&mut self, at: f64) {
        if self.outage_since.is_none() {
            self.outage_since = Some(at);
            self.at_last_fault = Some(self.score());
        }
    }

    /// An event arrived at `at` (ms): if the lane was in an outage, it has recovered.
    pub fn event_arrived_at(&mut self, at: f64) {
        if let Some(since) = self.outage_since.take() {
            self.recoveries += 1;
            self.last_recovery_ms = Some(at - since);
        }
    }

    /// Figures back to zero, keeping what the lane needs to carry on: its cursor, and an outage in progress.
    pub fn reset(&mut self) {
        *self = Self { last_seq: self.last_seq, outage_since: self.outage_since, ..Self::default() };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_glance_names_events_latency_and_only_losses_that_happened() {
        let mut metrics = LaneMetrics::default();
        assert_eq!(metrics.glance(), "0 events");
        metrics.events_received = 1;
        assert_eq!(metrics.glance(), "1 event");
        metrics.events_received = 12;
        metrics.latency.record(4.2);
        metrics.latency.record(9.6);
        metrics.latency.record(30.0);
        assert_eq!(metrics.glance(), "12 events · p50 10 ms");
        metrics.lost_in_gaps = 2;
        metrics.silently_missed = 1;
        assert_eq!(metrics.glance(), "12 events · p50 10 ms · 3 lost");
    }

    /// Replays sequence numbers through a session, as a lane does, and counts what it judged.
    fn receive(metrics: &mut LaneMetrics, session: &mut protocol::ClientSession, seqs: &[u64]) {
        for &seq in seqs {
            metrics.record_arrival(session.event(seq), 1.0);
        }
    }

    fn session() -> protocol::ClientSession {
        protocol::ClientSession::starting_after(0, protocol::Epoch("e".into()))
    }

    #[test]
    fn arrivals_are_counted_as_the_session_judged_them() {
        let (mut metrics, mut session) = (LaneMetrics::default(), session());
        receive(&mut metrics, &mut session, &[1, 1, 4, 2, 2]);
        assert_eq!(metrics.events_received, 3);
        assert_eq!(metrics.score(), FaultScore { missed: 1, duplicated: 2, out_of_order: 1 });
    }

    #[test]
    fn the_score_since_a_fault_counts_only_what_came_after_it() {
        let (mut metrics, mut session) = (LaneMetrics::default(), session());
        receive(&mut metrics, &mut session, &[1, 1]);
        assert_eq!(metrics.score_since_last_fault(), None);
        metrics.connection_lost(10.0);
        receive(&mut metrics, &mut session, &[4, 4]);
        assert_eq!(metrics.score_since_last_fault(), Some(FaultScore { missed: 2, duplicated: 1, out_of_order: 0 }));
        metrics.event_arrived_at(15.0);
        metrics.connection_lost(20.0);
        assert_eq!(metrics.score_since_last_fault(), Some(FaultScore::default()));
    }

    #[test]
    fn explicit_gap_is_not_silent_loss() {
        let (mut metrics, mut session) = (LaneMetrics::default(), session());
        metrics.record_gap(session.gap(protocol::Gap { from: 1, to: 5 }));
        receive(&mut metrics, &mut session, &[6]);
        assert_eq!((metrics.lost_in_gaps, metrics.silently_missed), (5, 0));
    }

    #[test]
    fn an_outage_lasts_from_the_first_failure_to_the_next_event() {
        let mut metrics = LaneMetrics::default();
        metrics.event_arrived_at(50.0);
        assert_eq!(metrics.recoveries, 0);
        metrics.connection_lost(1000.0);
        metrics.connection_lost(1500.0); // a failed retry within the same outage
        metrics.event_arrived_at(3100.0);
        assert_eq!((metrics.recoveries, metrics.last_recovery_ms), (1, Some(2100.0)));
        metrics.event_arrived_at(3200.0);
        assert_eq!(metrics.recoveries, 1);
    }

    #[test]
    fn quantiles_use_nearest_rank() {
        let mut window = LatencyWindow::default();
        for millis in [5.0, 1.0, 3.0, 2.0, 4.0] {
            window.record(millis);
        }
        assert_eq!(window.quantile(0.5), Some(3.0));
        assert_eq!(window.quantile(1.0), Some(5.0));
        assert_eq!(window.quantile(0.0), Some(1.0));
        assert_eq!((window.last(), window.max()), (Some(4.0), Some(5.0)));
        assert_eq!(LatencyWindow::default().quantile(0.5), None);
    }

    #[test]
    fn window_keeps_recent_samples_but_max_of_all() {
        let mut window = LatencyWindow::default();
        window.record(1000.0);
        for _ in 0..LatencyWindow::CAPACITY {
            window.record(1.0);
        }
        assert_eq!(window.quantile(1.0), Some(1.0));
        assert_eq!(window.max(), Some(1000.0));
    }
}
