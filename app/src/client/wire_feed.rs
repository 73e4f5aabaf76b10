//! The side channel: once a second the page asks `GET /api/wire` for what the server measured on this page's lane
//! connections, and hands each record to its lane, which puts the bytes on the right arrow. This traffic is not
//! lane traffic: the server counts it with the control API, and the page shows its cost on its own.

use std::time::Duration;

use gloo_timers::future::sleep;
use leptos::prelude::*;
use leptos::task::spawn_local_scoped_with_cancellation;

use super::http::get;
use super::LaneHandle;
use protocol::routes::WireQuery;
use protocol::{ClientId, PerTransport, WirePage};

const PERIOD: Duration = Duration::from_secs(1);

/// What the side channel itself cost, measured in this browser.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SideChannelCost {
    pub requests: u64,
    pub body_bytes: u64,
    /// Records the server had dropped before the page fetched them (it keeps the latest few thousand per page).
    pub records_dropped: u64,
}

/// What the side channel tells the page besides the records it hands to the lanes.
#[derive(Clone, Copy)]
pub struct WireFeed {
    pub cost: ReadSignal<SideChannelCost>,
    /// With several instances on one shared log: why the instance that answered last cannot reach it (its
    /// `x-lab-log-problem`), while it cannot. The side channel asks every second whatever the lanes do, so every
    /// lane can show the outage, the streams too, which simply receive nothing meanwhile.
    pub log_problem: ReadSignal<Option<String>>,
}

/// Starts the side channel for `lanes` (browser only: the loop is spawned inside an effect).
pub fn use_wire_feed(client: ClientId, lanes: &[LaneHandle]) -> WireFeed {
    let cost = RwSignal::new(SideChannelCost::default());
    let log_problem = RwSignal::new(None::<String>);
    let mut sinks = PerTransport::<Option<Callback<protocol::WireRecord>>>::default();
    for lane in lanes {
        sinks[lane.transport] = Some(lane.wire_sink);
    }
    Effect::new(move |_| {
        let client = client.clone();
        spawn_local_scoped_with_cancellation(async move {
            let mut after = 0;
            loop {
                if let Ok(raw) = get(&WireQuery { client: client.clone(), after }.url(), None).await {
                    if log_problem.with_untracked(|known| *known != raw.log_problem) {
                        log_problem.set(raw.log_problem.clone());
                    }
                    if let Ok(page) = raw.json::<WirePage>() {
                        after = page.next;
                        for record in page.records {
                            let sink = record.transport.and_then(|transport| sinks[transport]);
                            if let Some(sink) = sink {
                                sink.run(record);
                            }
                        }
                        cost.update(|cost| {
                            cost.requests += 1;
                            cost.body_bytes += raw.text.len() as u64;
                            cost.records_dropped = page.dropped;
                        });
                    }
                }
                sleep(PERIOD).await;
            }
        });
    });
    WireFeed { cost: cost.read_only(), log_problem: log_problem.read_only() }
}
