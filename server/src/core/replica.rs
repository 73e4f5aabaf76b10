//! This instance's copy of a shared log: every event the engine numbers, in order, appended to the hub in service,
//! from which every transport reads as it does in one process. A new epoch on the engine (someone restarted the
//! run, or the engine lost its data) restarts the hub, which ends the old run's connections as a restart does.

use std::sync::{Arc, RwLock};

use backplane::{Backplane, Followed};

use crate::core::hub::HubSlot;

/// Whether the engine can be reached, as the replica last found it: what `/api/stats` reports and why publishing
/// answers 503 meanwhile.
#[derive(Clone, Default)]
pub struct LogHealth {
    unavailable: Arc<RwLock<Option<String>>>,
}

impl LogHealth {
    /// `None` while the engine answers; otherwise why not.
    pub fn problem(&self) -> Option<String> {
        self.unavailable.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    fn set(&self, problem: Option<String>) {
        *self.unavailable.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = problem;
    }
}

/// Follows the engine's log into `hub_slot` until the process ends.
pub fn spawn(backplane: Backplane, hub_slot: Arc<HubSlot>) -> LogHealth {
    let health = LogHealth::default();
    tokio::spawn(run(backplane, hub_slot, health.clone()));
    health
}

async fn run(backplane: Backplane, hub_slot: Arc<HubSlot>, health: LogHealth) {
    let mut followed = backplane.follow();
    while let Some(item) = followed.recv().await {
        match item {
            Followed::Event { epoch, event } => {
                hub_slot.restart(epoch).append_numbered(event);
            }
            Followed::Lost { reason } => {
                tracing::warn!(engine = %backplane, "shared event log unavailable: {reason}");
                health.set(Some(reason));
            }
            Followed::Restored => {
                tracing::info!(engine = %backplane, "shared event log available again");
                health.set(None);
            }
        }
    }
}
