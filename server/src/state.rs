use std::sync::Arc;
use std::time::{Duration, Instant};

use app::model::{Epoch, LabSnapshot, LabStats};
use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::admission::{Admission, ConnectionCaps};
use crate::config::Config;
use crate::faults::FaultSwitches;
use crate::generator::Generator;
use crate::hub::EventHub;
use crate::stats::LabCounters;

/// Everything a handler may need, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub hub: Arc<EventHub>,
    pub generator: Generator,
    pub counters: LabCounters,
    pub admission: Admission,
    pub faults: FaultSwitches,
    pub timing: Timing,
    pub started: Instant,
    pub leptos_options: LeptosOptions,
}

/// The heartbeat intervals, taken from [`Config`] once.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub ws_ping_interval: Duration,
    pub sse_keep_alive: Duration,
}

impl AppState {
    /// A fresh hub with a new random epoch, and its generator running.
    pub fn new(config: &Config, leptos_options: LeptosOptions) -> Self {
        let epoch = Epoch(format!("{:016x}", rand::random::<u64>()));
        let hub = Arc::new(EventHub::new(epoch, config.history as usize));
        let generator = Generator::spawn(hub.clone(), config.generator());
        Self {
            hub,
            generator,
            counters: LabCounters::default(),
            admission: Admission::new(
                ConnectionCaps {
                    per_transport: config.max_connections_per_transport,
                    per_address: config.max_connections_per_address as usize,
                },
                config.allowed_origins.clone(),
            ),
            faults: FaultSwitches::default(),
            timing: Timing {
                ws_ping_interval: Duration::from_secs(config.ws_ping_seconds),
                sse_keep_alive: Duration::from_secs(config.sse_keep_alive_seconds),
            },
            started: Instant::now(),
            leptos_options,
        }
    }

    pub fn snapshot(&self) -> LabSnapshot {
        LabSnapshot {
            epoch: self.hub.epoch().clone(),
            head_seq: self.hub.head_seq(),
            history_capacity: self.hub.capacity(),
            generator: self.generator.settings(),
            server_time: crate::hub::unix_micros_now(),
        }
    }

    pub fn stats(&self) -> LabStats {
        LabStats {
            epoch: self.hub.epoch().clone(),
            uptime_seconds: self.started.elapsed().as_secs_f64(),
            head_seq: self.hub.head_seq(),
            history_len: self.hub.history_len(),
            history_capacity: self.hub.capacity(),
            generator: self.generator.settings(),
            transports: self.counters.snapshot(),
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
