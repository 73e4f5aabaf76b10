//! This instance's copy of a shared log: every event the engine numbers, in order, appended to the hub in service,
//! from which every transport reads as it does in one process. A new epoch on the engine (someone restarted the
//! run, or the engine lost its data) restarts the hub, which ends the old run's connections as a restart does.

use std::collections::VecDeque;
use std::sync::{Arc, RwLock};

use backplane::{Backplane, Followed};
use protocol::Epoch;

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

/// Runs this instance has left, remembered so that a straggler of one (an event the follower had already
/// fetched when this instance's own restart replaced the hub) cannot bring it back.
const RETIRED_RUNS_REMEMBERED: usize = 8;

/// Follows the engine's log into `hub_slot` until the process ends.
pub fn spawn(backplane: Backplane, hub_slot: Arc<HubSlot>) -> LogHealth {
    let health = LogHealth::default();
    tokio::spawn(run(backplane, hub_slot, health.clone()));
    health
}

async fn run(backplane: Backplane, hub_slot: Arc<HubSlot>, health: LogHealth) {
    let mut followed = backplane.follow();
    let mut retired: VecDeque<Epoch> = VecDeque::new();
    let mut in_service = hub_slot.current().epoch().clone();
    while let Some(item) = followed.recv().await {
        match item {
            Followed::Event { epoch, event } => {
                let current = hub_slot.current();
                if current.epoch() != &in_service {
                    // Restarted here (`POST /api/faults/restart` on this instance), not by the follower.
                    retire(&mut retired, std::mem::replace(&mut in_service, current.epoch().clone()));
                }
                if retired.contains(&epoch) {
                    continue;
                }
                if epoch == in_service {
                    current.append_numbered(event);
                } else {
                    retire(&mut retired, std::mem::replace(&mut in_service, epoch.clone()));
                    hub_slot.restart(epoch).append_numbered(event);
                }
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

fn retire(retired: &mut VecDeque<Epoch>, epoch: Epoch) {
    if retired.len() == RETIRED_RUNS_REMEMBERED {
        retired.pop_front();
    }
    retired.push_back(epoch);
}
