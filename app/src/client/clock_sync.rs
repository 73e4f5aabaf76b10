//! Keeps the clock-offset estimate fresh: a burst of exchanges with `GET /api/time` at start, then one every few
//! seconds, the latest few dozen kept, each timed by the browser's network stack where it says. This control
//! traffic is not lane traffic.

use std::collections::VecDeque;
use std::time::Duration;

use gloo_timers::future::sleep;
use leptos::prelude::*;
use leptos::task::spawn_local_scoped_with_cancellation;

use super::browser_clock::now;
use super::http::get;
use crate::clock_offset::{estimate, ClockOffset, ClockSample};
use crate::diagram::Millis;
use protocol::ServerTime;
use wasm_bindgen::JsCast;
use web_sys::PerformanceResourceTiming;

const SAMPLES_KEPT: usize = 32;
const FIRST_BURST: usize = 8;
const BETWEEN_SAMPLES: Duration = Duration::from_secs(5);

/// The current estimate of server clock − browser clock (browser only; `None` until the first exchange).
pub fn use_clock_offset() -> ReadSignal<Option<ClockOffset>> {
    let offset = RwSignal::new(None);
    Effect::new(move |_| {
        spawn_local_scoped_with_cancellation(async move {
            let mut samples = VecDeque::with_capacity(SAMPLES_KEPT);
            for round in 0.. {
                if let Some(sample) = exchange().await {
                    if samples.len() == SAMPLES_KEPT {
                        samples.pop_front();
                    }
                    samples.push_back(sample);
                    offset.set(estimate(samples.make_contiguous()));
                }
                let pause = if round < FIRST_BURST { Duration::from_millis(100) } else { BETWEEN_SAMPLES };
                sleep(pause).await;
            }
        });
    });
    offset.read_only()
}

async fn exchange() -> Option<ClockSample> {
    let sent = now();
    let answer = get(protocol::routes::TIME, None).await.ok()?;
    let received = now();
    let server = answer.json::<ServerTime>().ok()?.server_time as f64 / 1000.0;
    let (sent, received) = network_times(sent).unwrap_or((sent, received));
    Some(ClockSample { sent, server, received })
}

/// When the browser's network stack sent the request and began to receive the answer (Resource Timing), on the
/// same clock as [`now`]. Those instants do not include waiting for a free connection nor for this page's main
/// thread to take the answer, which on a busy machine drawing six lanes add milliseconds to a round trip and so to
/// the estimate's uncertainty. `None` when the browser kept no usable entry; the page's own times are used then.
fn network_times(sent: Millis) -> Option<(Millis, Millis)> {
    let window = web_sys::window()?;
    let performance = window.performance()?;
    let url = format!("{}{}", window.location().origin().ok()?, protocol::routes::TIME);
    let entries = performance.get_entries_by_name_with_entry_type(&url, "resource");
    // Cleared after every exchange, found or not, so the browser's buffer (250 entries by default, filled by every
    // request the page makes) never fills up and stops recording, and the next exchange cannot find this one's.
    performance.clear_resource_timings();
    let entry: PerformanceResourceTiming = entries.pop().dyn_into().ok()?;
    let to_wall_clock = now() - performance.now();
    let (request, response) = (to_wall_clock + entry.request_start(), to_wall_clock + entry.response_start());
    // A zero `requestStart` (not exposed) or an entry older than this exchange is no measurement of it.
    (entry.request_start() > 0.0 && request >= sent - 1.0 && response >= request).then_some((request, response))
}
