//! This instance's place in a lab run as several instances on one shared log (`--backplane`): its name, the
//! engine, whether it runs the generator, whether the log can be reached, and its share of the class for the
//! presenter, who should count every student whichever instance answers.

use std::sync::Arc;
use std::time::Duration;

use backplane::Backplane;
use protocol::ClusterFigures;
use serde::{Deserialize, Serialize};

use crate::core::clock::unix_micros_now;
use crate::core::faults::FaultSwitches;
use crate::core::leadership::Leadership;
use crate::core::presence::{Presence, PresenceSnapshot};
use crate::core::replica::LogHealth;

/// How often each instance stores its view of the class on the engine.
const SHARE_PRESENCE_EVERY: Duration = Duration::from_secs(1);
/// An instance's view older than this no longer counts: the instance has stopped (or cannot reach the engine).
const PRESENCE_STALE_AFTER: Duration = Duration::from_secs(3);
/// The shared settings that hold the instances' views, one each: `presence.<instance>`.
const PRESENCE_SETTINGS: &str = "presence.";

#[derive(Clone)]
pub struct Membership {
    /// `--instance`, or this host's name and port: what `x-lab-instance` and each stream's `hello` say.
    pub instance: Arc<str>,
    /// The engine and its URL, for people to read.
    pub engine: String,
    pub health: LogHealth,
    pub leadership: Leadership,
    pub backplane: Backplane,
}

/// One instance's view of the class as stored on the engine.
#[derive(Serialize, Deserialize)]
struct SharedView {
    instance: String,
    /// When it was taken, in Unix microseconds: a view that stops being renewed stops counting.
    taken_at: u64,
    view: PresenceSnapshot,
}

impl Membership {
    pub fn figures(&self) -> ClusterFigures {
        ClusterFigures {
            instance: self.instance.to_string(),
            engine: self.engine.clone(),
            generator: self.leadership.is_leader(),
            log_problem: self.health.problem(),
        }
    }

    /// Stores this instance's view of the class on the engine every second, for as long as the process runs.
    pub fn share_presence(&self, presence: Presence, faults: FaultSwitches) {
        let (backplane, instance) = (self.backplane.clone(), self.instance.to_string());
        let setting = format!("{PRESENCE_SETTINGS}{}", setting_name(&instance));
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(SHARE_PRESENCE_EVERY);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let view = presence.snapshot(&faults.open_peers());
                let shared = SharedView { instance: instance.clone(), taken_at: unix_micros_now(), view };
                let json = serde_json::to_vec(&shared).expect("a presence view always serialises");
                // The engine's absence is reported by the replica; the presenter sees only this instance meanwhile.
                let _ = backplane.put_setting(&setting, json).await;
            }
        });
    }

    /// The whole class: `own` (this instance's view, taken now) merged with every other instance's recent one.
    pub async fn whole_class(&self, mut own: PresenceSnapshot) -> PresenceSnapshot {
        let Ok(views) = self.backplane.settings_starting(PRESENCE_SETTINGS).await else { return own };
        let oldest = unix_micros_now().saturating_sub(PRESENCE_STALE_AFTER.as_micros() as u64);
        for (_, json) in views {
            match serde_json::from_slice::<SharedView>(&json) {
                Ok(shared) if shared.instance != *self.instance && shared.taken_at >= oldest => own.merge(shared.view),
                Ok(_) => {}
                Err(error) => tracing::warn!("another instance's view of the class cannot be read: {error}"),
            }
        }
        own
    }
}

/// An instance name as a setting's name: the engines' key syntax (NATS: letters, digits, `-_=/.`) has no `:`.
fn setting_name(instance: &str) -> String {
    instance.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect()
}
