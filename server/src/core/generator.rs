//! The server's own event source: `tick` events at a configurable rate and size.
//!
//! With several instances on a shared log only the lease holder ticks ([`Leadership`]), and the knobs are one
//! setting on the engine: a change made on any instance is stored there first, and every instance reads it back.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use protocol::{tick_filler, EventBody, GeneratorSettings, GeneratorUpdate};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::{sleep_until, Instant};

use backplane::Backplane;

use crate::core::leadership::Leadership;
use crate::core::log::EventLog;
use crate::core::refusal::Refusal;

/// The name of the generator's knobs among the shared log's settings.
const SHARED_SETTING: &str = "generator";
/// How often an instance on a shared log reads the knobs back from the engine.
const READ_SHARED_EVERY: Duration = Duration::from_millis(250);

/// Handle to the running generator: read and change its settings.
#[derive(Clone)]
pub struct Generator {
    settings: watch::Sender<GeneratorSettings>,
    /// Set with a shared log: where the knobs are kept for every instance.
    shared: Option<Backplane>,
    /// Counts changes to the shared knobs, so a value read back from the engine just before a change was stored
    /// does not undo it for a moment.
    version: Arc<AtomicU64>,
}

/// The knobs as stored on the engine.
#[derive(Serialize, Deserialize)]
struct SharedSettings {
    version: u64,
    settings: GeneratorSettings,
}

impl Generator {
    /// Starts the generator task; it stops when the last handle is dropped. It ticks only while `leadership` says
    /// this instance is the generator's (always, in one process).
    pub fn spawn(log: EventLog, leadership: &Leadership, initial: GeneratorSettings) -> Self {
        let (settings, watcher) = watch::channel(initial);
        let shared = log.backplane().cloned();
        let version = Arc::new(AtomicU64::new(0));
        if let Some(backplane) = &shared {
            tokio::spawn(follow_shared_settings(backplane.clone(), settings.clone(), version.clone()));
        }
        tokio::spawn(run(log, watcher, leadership.watch()));
        Self { settings, shared, version }
    }

    pub fn settings(&self) -> GeneratorSettings {
        *self.settings.borrow()
    }

    /// Applies the fields present in `update` after checking all of them, so a bad field changes nothing. With a
    /// shared log the engine stores them first: if it cannot, nothing changes anywhere.
    pub async fn update(&self, update: GeneratorUpdate) -> Result<GeneratorSettings, Refusal> {
        let next = self.checked(update)?;
        if let Some(backplane) = &self.shared {
            let version = self.version.load(Relaxed) + 1;
            let json = SharedSettings { version, settings: next }.to_json();
            backplane.put_setting(SHARED_SETTING, json).await.map_err(crate::core::log::unavailable)?;
            self.version.fetch_max(version, Relaxed);
        }
        self.settings.send_replace(next);
        Ok(next)
    }

    fn checked(&self, update: GeneratorUpdate) -> Result<GeneratorSettings, Refusal> {
        self.settings().updated(update).map_err(|error| Refusal::invalid_field(error.field, error.problem))
    }
}

impl SharedSettings {
    fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("generator settings always serialise")
    }
}

/// Keeps this instance's knobs equal to the shared ones. The first instance to find none (or none it can read,
/// left by an older lab) stores its own.
async fn follow_shared_settings(
    backplane: Backplane,
    settings: watch::Sender<GeneratorSettings>,
    version: Arc<AtomicU64>,
) {
    let mut ticker = tokio::time::interval(READ_SHARED_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !settings.is_closed() {
        ticker.tick().await;
        let stored = match backplane.setting(SHARED_SETTING).await {
            Ok(stored) => stored.and_then(|json| serde_json::from_slice::<SharedSettings>(&json).ok()),
            // The replica reports the engine's absence; the knobs stay as they are meanwhile.
            Err(_) => continue,
        };
        match stored {
            // Older than what this instance has just stored itself: a read that crossed the change.
            Some(shared) if shared.version < version.load(Relaxed) => {}
            Some(shared) => {
                version.store(shared.version, Relaxed);
                settings.send_if_modified(|current| std::mem::replace(current, shared.settings) != shared.settings);
            }
            None => {
                let own = SharedSettings { version: version.load(Relaxed), settings: *settings.borrow() };
                let _ = backplane.put_setting(SHARED_SETTING, own.to_json()).await;
            }
        }
    }
}

async fn run(log: EventLog, mut settings: watch::Receiver<GeneratorSettings>, mut leader: watch::Receiver<bool>) {
    let mut ticks_sent = 0;
    let mut next_tick = Instant::now();
    // Said once per outage of a shared log, not once per tick.
    let mut failing = false;
    loop {
        let current = *settings.borrow_and_update();
        if current.paused || !*leader.borrow_and_update() {
            tokio::select! {
                changed = settings.changed() => if changed.is_err() { return },
                _ = changed_or_never(&mut leader) => {}
            }
            next_tick = Instant::now();
            continue;
        }
        let period = Duration::from_secs_f64(1.0 / current.rate_per_second);
        tokio::select! {
            _ = sleep_until(next_tick) => {
                ticks_sent += 1;
                match log.append(EventBody::Tick { n: ticks_sent, filler: tick_filler(current.payload_bytes) }).await {
                    Ok(_) => failing = false,
                    Err(refusal) if !failing => {
                        failing = true;
                        tracing::warn!("the generator's ticks are not being published: {refusal}");
                    }
                    Err(_) => {}
                }
                // Scheduling from the previous deadline keeps the rate exact; after a stall (a suspended laptop),
                // start afresh rather than firing a burst of catch-up ticks.
                next_tick += period;
                let now = Instant::now();
                if next_tick < now {
                    next_tick = now + period;
                }
            }
            changed = settings.changed() => {
                if changed.is_err() {
                    return;
                }
                // A new rate takes effect from now, not after the old (possibly 10 s) period ends.
                next_tick = Instant::now().min(next_tick);
            }
            // Lost the lease: stop at once (checked at the top of the loop).
            _ = changed_or_never(&mut leader) => {}
        }
    }
}

/// Waits for a change; a leadership whose sender is gone never changes again.
async fn changed_or_never(leader: &mut watch::Receiver<bool>) {
    if leader.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::hub::HubSlot;
    use protocol::Epoch;
    use protocol::MAX_PAYLOAD_BYTES;

    fn hub() -> Arc<HubSlot> {
        Arc::new(HubSlot::new(crate::core::hub::EventHub::new(Epoch("t".into()), 100)))
    }

    fn spawn(hub: &Arc<HubSlot>, settings: GeneratorSettings) -> Generator {
        Generator::spawn(EventLog::in_memory(hub.clone()), &Leadership::sole(), settings)
    }

    #[tokio::test(start_paused = true)]
    async fn ticks_at_the_configured_rate() {
        let hub = hub();
        let _generator = spawn(&hub, GeneratorSettings { rate_per_second: 10.0, ..Default::default() });
        tokio::time::sleep(Duration::from_millis(1050)).await;
        // One tick at start, then one every 100 ms.
        assert_eq!(hub.current().head_seq(), 11);
    }

    #[tokio::test(start_paused = true)]
    async fn pause_stops_ticks_and_resume_restarts_them() {
        let hub = hub();
        let generator = spawn(&hub, GeneratorSettings { rate_per_second: 10.0, ..Default::default() });
        tokio::time::sleep(Duration::from_millis(250)).await;
        generator.update(GeneratorUpdate { paused: Some(true), ..Default::default() }).await.unwrap();
        let paused_at = hub.current().head_seq();
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(hub.current().head_seq(), paused_at);
        generator.update(GeneratorUpdate { paused: Some(false), ..Default::default() }).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(hub.current().head_seq(), paused_at + 1);
    }

    #[tokio::test]
    async fn out_of_range_update_changes_nothing() {
        let generator = spawn(&hub(), GeneratorSettings::default());
        let bad =
            GeneratorUpdate { rate_per_second: Some(2.0), payload_bytes: Some(MAX_PAYLOAD_BYTES + 1), paused: None };
        let error = generator.update(bad).await.unwrap_err();
        assert_eq!(error.field(), Some("payload_bytes"));
        assert_eq!(generator.settings(), GeneratorSettings::default());
        let too_slow = GeneratorUpdate { rate_per_second: Some(0.01), ..Default::default() };
        assert!(generator.update(too_slow).await.is_err());
        let not_a_number = GeneratorUpdate { rate_per_second: Some(f64::NAN), ..Default::default() };
        assert!(generator.update(not_a_number).await.is_err());
    }
}
