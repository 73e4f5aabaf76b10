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
use protocol::{DelayRule, FaultTarget};
use serde::{Deserialize, Serialize};

use crate::core::clock::unix_micros_now;
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
    pub(crate) fn new(backplane: Backplane, instance: Arc<str>) -> Self {
        Self { backplane, instance }
    }

    /// Follows the class's faults for as long as the callbacks want them (each answers `false` once its switches
    /// are gone): `rules` gets the rules as read back every 250 ms, ended windows left out; `drops` each target
    /// another instance announced a drop of.
    pub(crate) fn follow(
        &self,
        rules: impl FnMut(FaultRules) -> bool + Send + 'static,
        drops: impl FnMut(FaultTarget) -> bool + Send + 'static,
    ) {
        tokio::spawn(read_rules(self.backplane.clone(), rules));
        tokio::spawn(hear_drops(self.clone(), drops));
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

async fn read_rules(backplane: Backplane, mut apply: impl FnMut(FaultRules) -> bool) {
    let mut ticker = tokio::time::interval(READ_RULES_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        // Nothing stored yet is a healthy network; an engine out of reach keeps the rules as they are (the replica
        // reports the outage).
        let Ok(Some(json)) = backplane.setting(RULES_SETTING).await else { continue };
        match serde_json::from_slice::<FaultRules>(&json) {
            Ok(mut rules) => {
                rules.forget_ended();
                if !apply(rules) {
                    return;
                }
            }
            Err(error) => tracing::warn!("the class's fault rules cannot be read: {error}"),
        }
    }
}

async fn hear_drops(class: ClassFaults, mut drop: impl FnMut(FaultTarget) -> bool) {
    let mut orders = class.backplane.hear(DROPS_CHANNEL);
    while let Some(json) = orders.recv().await {
        match serde_json::from_slice::<DropOrder>(&json) {
            // The announcer made the drop on its own connections already.
            Ok(order) if *order.from == *class.instance => {}
            Ok(order) => {
                if !drop(order.target) {
                    return;
                }
            }
            Err(error) => tracing::warn!("a drop order from another instance cannot be read: {error}"),
        }
    }
}

/// The faults that last (the drops are over once made): what the class shares through the engine.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct FaultRules {
    /// Counts changes, so a rule set read back from the engine is not mistaken for a newer one.
    pub version: u64,
    pub delays: Vec<DelayRule>,
    pub offline: Vec<OfflineWindow>,
}

/// A target refused until `until` (Unix microseconds: every instance reads the same moment).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct OfflineWindow {
    pub target: FaultTarget,
    pub until: u64,
}

impl FaultRules {
    /// Delay rules and offline windows together.
    pub(crate) fn len(&self) -> usize {
        self.delays.len() + self.offline.len()
    }

    /// Windows that have ended stay in the stored rules until the next change; they hold nothing.
    pub(crate) fn forget_ended(&mut self) {
        let now = unix_micros_now();
        self.offline.retain(|window| window.until > now);
    }
}
