//! The load tool across a restart of the lab's stream (`POST /api/faults/restart`): a new server run numbers its
//! events from 1 again, so a client that kept its old cursor would resume in the middle of the new run (losing its
//! first events without noticing) or call the new events duplicates. Every client of every transport must see the
//! new run once, start again from its #1, and count neither phantom losses nor duplicates.

use crate::common;

use std::time::Duration;

use common::{TestServer, LOAD_POLL_INTERVAL as POLL_INTERVAL, LOAD_RATE as RATE};
use protocol::{routes, LabStats, LoadTransport, RestartReport};
use transport_load::RunOutcome;

const CLIENTS: u32 = 10;
const MEASURE: Duration = Duration::from_secs(3);
/// The old run's head when the stream is restarted: half a second into the window (the generator starts half a
/// second before it), and far more than the slack below, so resuming after the old cursor would show.
const RESTART_AT_SEQ: u64 = 20;

/// One lab per transport, so the runs can go at once without sharing one generator or one restart.
async fn start_lab() -> TestServer {
    TestServer::start().await
}

/// Restarts the stream once the run's generator has emitted [`RESTART_AT_SEQ`] events.
async fn restart_midway(lab: &TestServer) -> RestartReport {
    let waiting = async {
        while lab.stats().await.head_seq < RESTART_AT_SEQ {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), waiting).await.expect("the generator never got going");
    let response = lab.http.post(lab.url(routes::FAULTS_RESTART)).json(&serde_json::json!({})).send().await;
    response
        .and_then(|response| response.error_for_status())
        .expect("restart answered")
        .json()
        .await
        .expect("RestartReport")
}

/// A run of one transport against its own lab, restarted in the middle of the window; with the lab's state
/// after the run (its generator paused again by then).
async fn load_across_restart(transport: LoadTransport) -> (RunOutcome, RestartReport, LabStats) {
    let lab = start_lab().await;
    let options = lab.load_options(transport, CLIENTS, MEASURE);
    let (outcome, restart) = tokio::join!(transport_load::run(&options), restart_midway(&lab));
    let outcome = outcome.unwrap_or_else(|error| panic!("{transport:?}: {error}"));
    (outcome, restart, lab.stats().await)
}

/// Events of the new run a client may still not have at the window's end: a short poll collects up to an
/// interval's worth late; any client may miss the one emitted between the window's end and the pause.
fn slack_per_client(transport: LoadTransport) -> u64 {
    match transport {
        LoadTransport::ShortPoll => (RATE * POLL_INTERVAL.as_secs_f64()).ceil() as u64 + 2,
        _ => 2,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_stream_costs_no_phantom_losses_or_duplicates_on_any_transport() {
    let _alone = crate::alone().await;
    let transports = LoadTransport::LAB;
    let results = futures::future::join_all(transports.map(load_across_restart)).await;
    for (transport, (outcome, restart, after)) in transports.into_iter().zip(results) {
        let run = &outcome.run;
        println!("{}; {}", transport_load::report::summary_line(run), outcome.order_line());
        let why = format!("{transport:?}: {outcome:#?}\n{restart:?}\nnew run's head {}", after.head_seq);
        assert_eq!(after.epoch, restart.epoch, "one restart, and the run ended in it: {why}");
        assert_eq!(run.connected, CLIENTS, "{why}");
        assert_eq!((run.missed, outcome.duplicates, outcome.out_of_order), (0, 0, 0), "{why}");
        // Seen once per client: each saw the new run, none mistook a hello or an answer of it for another restart.
        assert_eq!(outcome.restarts, u64::from(CLIENTS), "{why}");
        // The restart ends every stream once (counted as that client's error); a poll is answered, not dropped.
        let dropped_at_most = match transport {
            LoadTransport::ShortPoll | LoadTransport::LongPoll => 0,
            _ => u64::from(CLIENTS),
        };
        assert!(run.errors <= dropped_at_most, "{why}");

        // Deliveries went on after the restart, from the new run's #1: the whole new run fell in the window, so
        // every client received (nearly) all of it, besides the old run's part of the window.
        assert!(after.head_seq >= 20, "the new run had too few events to tell: {why}");
        assert_eq!(outcome.seq_span.map(|(first, _)| first), Some(1), "the new run's #1 was delivered: {why}");
        let least = u64::from(CLIENTS) * (after.head_seq - slack_per_client(transport));
        assert!(run.deliveries >= least, "{} deliveries, expected at least {least}: {why}", run.deliveries);
    }
}
