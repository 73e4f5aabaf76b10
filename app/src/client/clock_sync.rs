//! Keeps the clock-offset estimate fresh: a burst of exchanges with `GET /api/time` at start, then one every few
//! seconds, the latest few dozen kept. This control traffic is not lane traffic.

use std::collections::VecDeque;
use std::time::Duration;

use gloo_timers::future::sleep;
use leptos::prelude::*;
use leptos::task::spawn_local_scoped_with_cancellation;

use super::browser_clock::now;
use super::http::get;
use crate::clock_offset::{estimate, ClockOffset, ClockSample};
use protocol::ServerTime;

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
    Some(ClockSample { sent, server, received })
}
