//! The load tool against real lab servers started in this process: 20 clients of each transport at 20 events/s,
//! and every client must get every event of the window, in order, once.

use crate::common;

use std::time::Duration;

use common::{TestServer, LOAD_POLL_INTERVAL as POLL_INTERVAL, LOAD_RATE as RATE};
use protocol::LoadTransport;
use transport_load::RunOutcome;

const CLIENTS: u32 = 20;

/// Runs that go at once: on two cores, five would starve the short polls' timer, whose request rate is checked.
const RUNS_AT_ONCE: usize = 3;

/// One lab per transport, so several runs can go at once without sharing (and pausing) one generator.
async fn load(transport: LoadTransport) -> RunOutcome {
    let options = TestServer::start().await.load_options(transport, CLIENTS, Duration::from_secs(2));
    transport_load::run(&options).await.unwrap_or_else(|error| panic!("{transport:?}: {error}"))
}

/// Events in flight at either edge of the window that a client may get just outside it.
fn slack_per_client(transport: LoadTransport) -> u64 {
    match transport {
        // A short poll collects up to an interval's worth of events late, at either edge.
        LoadTransport::ShortPoll => 2 * (RATE * POLL_INTERVAL.as_secs_f64()).ceil() as u64 + 2,
        _ => 2,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_gets_every_event_in_order_on_every_transport() {
    let _alone = crate::alone().await;
    let transports = LoadTransport::LAB;
    let mut outcomes = Vec::new();
    for batch in transports.chunks(RUNS_AT_ONCE) {
        outcomes.extend(futures::future::join_all(batch.iter().copied().map(load)).await);
    }
    for (transport, outcome) in transports.into_iter().zip(outcomes) {
        let run = &outcome.run;
        println!("{}", transport_load::report::summary_line(run));
        let why = format!("{transport:?}: {run:#?}");
        assert_eq!(run.connected, CLIENTS, "{why}");
        assert_eq!((run.missed, run.errors, outcome.duplicates), (0, 0, 0), "{why}");
        let (first, last) = outcome.seq_span.unwrap_or_else(|| panic!("nothing delivered: {why}"));
        let span = last - first + 1;
        // 2 s at 20/s is 40 events; the generator's own timing may stretch that, but not halve it.
        assert!(span >= 20, "only {span} events in the window: {why}");
        let most = CLIENTS as u64 * span;
        let least = CLIENTS as u64 * span.saturating_sub(slack_per_client(transport));
        assert!(
            (least..=most).contains(&run.deliveries),
            "{} deliveries, expected {least}..={most}: {why}",
            run.deliveries
        );
        assert_eq!(run.latency.samples, run.deliveries, "{why}");
        assert!(run.latency.p50_us > 0 && run.latency.max_us < 2_000_000, "{why}");
        assert!(run.bytes_per_second_down > 0.0 && run.server_rss_connected_bytes > 0, "{why}");
        if transport == LoadTransport::ShortPoll {
            // Each client asks 5 times a second: 100 requests a second, give or take the edges.
            assert!((80.0..=120.0).contains(&run.requests_per_second), "{why}");
        }
    }
}
