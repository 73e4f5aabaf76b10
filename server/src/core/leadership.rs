//! Which instance runs the generator. In one process it is this one. With a shared log exactly one instance holds
//! the generator's lease on the engine (a key with a time to live, renewed well within it); when that instance
//! dies the key expires and the next instance to try takes it, so the ticks go on within about two seconds.

use std::time::Duration;

use backplane::Backplane;
use tokio::sync::watch;

/// The lease's time to live on the engine: how long ticks may stop when the generator's instance dies.
pub const LEASE_TTL: Duration = Duration::from_millis(1500);
/// How often the holder renews and the others try to take it over. A holder that cannot renew for a whole
/// [`LEASE_TTL`] stops generating before another can start, short of a paused process (see the docs).
const TRY_EVERY: Duration = Duration::from_millis(250);

/// `true` while this instance should run the generator.
#[derive(Clone)]
pub struct Leadership {
    leader: watch::Receiver<bool>,
    /// Kept so that a leadership that never changes (one process) never reports its sender gone.
    _held: Option<std::sync::Arc<watch::Sender<bool>>>,
}

impl Leadership {
    /// One process: always the generator's.
    pub fn sole() -> Self {
        let (sender, leader) = watch::channel(true);
        Self { leader, _held: Some(std::sync::Arc::new(sender)) }
    }

    /// Contends for the generator's lease on `backplane` as `instance`, for as long as the process runs.
    pub fn contend(backplane: Backplane, instance: String) -> Self {
        let (sender, leader) = watch::channel(false);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(TRY_EVERY);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let held = match backplane.hold_lease(&instance, LEASE_TTL).await {
                    Ok(held) => held,
                    Err(error) => {
                        tracing::debug!(engine = %backplane, "generator lease: {error}");
                        false
                    }
                };
                let was = sender.send_replace(held);
                if held != was {
                    tracing::info!(instance, "{} the generator", if held { "now runs" } else { "no longer runs" });
                }
                if sender.is_closed() {
                    return;
                }
            }
        });
        Self { leader, _held: None }
    }

    pub fn is_leader(&self) -> bool {
        *self.leader.borrow()
    }

    pub(crate) fn watch(&self) -> watch::Receiver<bool> {
        self.leader.clone()
    }
}
