//! Faults for the whole class when several instances share one log: a student's lane can be served by any
//! instance, so "offline for everyone" or "drop my SSE" must hold on all of them.
//!
//! The lasting rules (delays, offline windows) are one shared setting, stored before they take effect and read back
//! by every instance, as the generator's knobs are; an instance that starts later or was cut off catches up on its
//! next read. A drop is over once made, so it is an announcement instead: heard now by the instances that can hear,
//! and by none later.

use std::sync::Arc;
use std::time::Duration;

use backplane::Backplane;
use protocol::FaultTarget;
use serde::{Deserialize, Serialize};

use crate::core::faults::{FaultRules, WeakFaultSwitches};
use crate::core::log::unavailable;
use crate::core::refusal::Refusal;

/// The shared setting that holds the rules.
const RULES_SETTING: &str = "faults";
/// The channel drop orders are announced on.
const DROPS_CHANNEL: &str = "faults.drop";
/// How often an instance reads the rules back from the engine.
const READ_RULES_EVERY: Duration = Duration::from_millis(250);

#[derive(Clone)]
pub struct ClassFaults {
    backplane: Backplane,
    instance: Arc<str>,
}

/// A drop as announced: the announcer has already made it on its own connections.
#[derive(Serialize, Deserialize)]
struct DropOrder {
    from: String,
    target: FaultTarget,
}

impl ClassFaults {
    /// Starts following the class's faults into `switches`, for as long as they exist.
    pub(crate) fn follow(backplane: Backplane, instance: Arc<str>, switches: WeakFaultSwitches) -> Self {
        let class = Self { backplane, instance };
        tokio::spawn(read_rules(class.backplane.clone(), switches.clone()));
        tokio::spawn(hear_drops(class.clone(), switches));
        class
    }

    pub(crate) async fn store(&self, rules: &FaultRules) -> Result<(), Refusal> {
        let json = serde_json::to_vec(rules).expect("fault rules always serialise");
        self.backplane.put_setting(RULES_SETTING, json).await.map_err(unavailable)
    }

    pub(crate) async fn announce_drop(&self, target: &FaultTarget) -> Result<(), Refusal> {
        let order = DropOrder { from: self.instance.to_string(), target: target.clone() };
        let json = serde_json::to_vec(&order).expect("a drop order always serialises");
        self.backplane.announce(DROPS_CHANNEL, json).await.map_err(unavailable)
    }
}

/// Keeps the rules in force equal to the class's, and drops what a window opened elsewhere covers.
async fn read_rules(backplane: Backplane, switches: WeakFaultSwitches) {
    let mut ticker = tokio::time::interval(READ_RULES_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let stored = backplane.setting(RULES_SETTING).await;
        let Some(live) = switches.upgrade() else { return };
        // Nothing stored yet is a healthy network; an engine out of reach keeps the rules as they are (the replica
        // reports the outage).
        let Ok(Some(json)) = stored else { continue };
        match serde_json::from_slice::<FaultRules>(&json).map(|mut rules| {
            rules.forget_ended();
            rules
        }) {
            Ok(rules) if rules != live.rules() => {
                for target in live.replace_rules(rules) {
                    live.drop_here(target);
                }
            }
            Ok(_) => {}
            Err(error) => tracing::warn!("the class's fault rules cannot be read: {error}"),
        }
    }
}

async fn hear_drops(class: ClassFaults, switches: WeakFaultSwitches) {
    let mut orders = class.backplane.hear(DROPS_CHANNEL);
    while let Some(json) = orders.recv().await {
        let Some(live) = switches.upgrade() else { return };
        match serde_json::from_slice::<DropOrder>(&json) {
            Ok(order) if *order.from != *class.instance => {
                live.drop_here(order.target);
            }
            Ok(_) => {}
            Err(error) => tracing::warn!("a drop order from another instance cannot be read: {error}"),
        }
    }
}
