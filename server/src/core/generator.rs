//! The server's own event source: `tick` events at a configurable rate and size.

use std::sync::Arc;
use std::time::Duration;

use protocol::{
    EventBody, GeneratorSettings, GeneratorUpdate, MAX_PAYLOAD_BYTES, MAX_RATE_PER_SECOND, MIN_RATE_PER_SECOND,
};
use tokio::sync::watch;
use tokio::time::{sleep_until, Instant};

use crate::core::hub::HubSlot;
use crate::core::refusal::Refusal;

/// Handle to the running generator: read and change its settings.
#[derive(Clone)]
pub struct Generator {
    settings: watch::Sender<GeneratorSettings>,
}

impl Generator {
    /// Starts the generator task; it stops when the last handle is dropped.
    pub fn spawn(hub: Arc<HubSlot>, initial: GeneratorSettings) -> Self {
        let (settings, watcher) = watch::channel(initial);
        tokio::spawn(run(hub, watcher));
        Self { settings }
    }

    pub fn settings(&self) -> GeneratorSettings {
        *self.settings.borrow()
    }

    /// Applies the fields present in `update` after checking all of them, so a bad field changes nothing.
    pub fn update(&self, update: GeneratorUpdate) -> Result<GeneratorSettings, Refusal> {
        let mut next = self.settings();
        if let Some(rate) = update.rate_per_second {
            if !(MIN_RATE_PER_SECOND..=MAX_RATE_PER_SECOND).contains(&rate) {
                return Err(Refusal::invalid_field(
                    "rate_per_second",
                    format!("must be between {MIN_RATE_PER_SECOND} and {MAX_RATE_PER_SECOND} events per second"),
                ));
            }
            next.rate_per_second = rate;
        }
        if let Some(payload_bytes) = update.payload_bytes {
            if payload_bytes > MAX_PAYLOAD_BYTES {
                return Err(Refusal::invalid_field(
                    "payload_bytes",
                    format!("must be at most {MAX_PAYLOAD_BYTES} bytes"),
                ));
            }
            next.payload_bytes = payload_bytes;
        }
        if let Some(paused) = update.paused {
            next.paused = paused;
        }
        self.settings.send_replace(next);
        Ok(next)
    }
}

async fn run(hub: Arc<HubSlot>, mut settings: watch::Receiver<GeneratorSettings>) {
    let mut ticks_sent = 0;
    let mut next_tick = Instant::now();
    loop {
        let current = *settings.borrow_and_update();
        if current.paused {
            if settings.changed().await.is_err() {
                return;
            }
            next_tick = Instant::now();
            continue;
        }
        let period = Duration::from_secs_f64(1.0 / current.rate_per_second);
        tokio::select! {
            _ = sleep_until(next_tick) => {
                ticks_sent += 1;
                hub.current().publish(EventBody::Tick { n: ticks_sent, filler: filler(current.payload_bytes) });
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
        }
    }
}

/// Printable filler of exactly `bytes` bytes, so the JSON payload grows by exactly that much.
fn filler(bytes: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..bytes).map(|i| ALPHABET[i % ALPHABET.len()] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::Epoch;

    fn hub() -> Arc<HubSlot> {
        Arc::new(HubSlot::new(crate::core::hub::EventHub::new(Epoch("t".into()), 100)))
    }

    #[test]
    fn filler_has_exact_length() {
        assert_eq!(filler(0), "");
        assert_eq!(filler(40).len(), 40);
    }

    #[tokio::test(start_paused = true)]
    async fn ticks_at_the_configured_rate() {
        let hub = hub();
        let _generator =
            Generator::spawn(hub.clone(), GeneratorSettings { rate_per_second: 10.0, ..Default::default() });
        tokio::time::sleep(Duration::from_millis(1050)).await;
        // One tick at start, then one every 100 ms.
        assert_eq!(hub.current().head_seq(), 11);
    }

    #[tokio::test(start_paused = true)]
    async fn pause_stops_ticks_and_resume_restarts_them() {
        let hub = hub();
        let generator =
            Generator::spawn(hub.clone(), GeneratorSettings { rate_per_second: 10.0, ..Default::default() });
        tokio::time::sleep(Duration::from_millis(250)).await;
        generator.update(GeneratorUpdate { paused: Some(true), ..Default::default() }).unwrap();
        let paused_at = hub.current().head_seq();
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(hub.current().head_seq(), paused_at);
        generator.update(GeneratorUpdate { paused: Some(false), ..Default::default() }).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(hub.current().head_seq(), paused_at + 1);
    }

    #[tokio::test]
    async fn out_of_range_update_changes_nothing() {
        let generator = Generator::spawn(hub(), GeneratorSettings::default());
        let bad =
            GeneratorUpdate { rate_per_second: Some(2.0), payload_bytes: Some(MAX_PAYLOAD_BYTES + 1), paused: None };
        let error = generator.update(bad).unwrap_err();
        assert_eq!(error.field(), Some("payload_bytes"));
        assert_eq!(generator.settings(), GeneratorSettings::default());
        assert!(generator.update(GeneratorUpdate { rate_per_second: Some(0.01), ..Default::default() }).is_err());
        assert!(generator.update(GeneratorUpdate { rate_per_second: Some(f64::NAN), ..Default::default() }).is_err());
    }
}
