//! Where an event is born. In one process (the default, nothing to install) the hub numbers it. With several
//! instances (`--backplane nats://…` or `redis://…`) the engine numbers it, once for all of them, and each
//! instance's hub is a replica of the engine's log ([`crate::core::replica`]), so `after=N` names the same event on
//! every instance.

use std::sync::Arc;

use backplane::Backplane;
use protocol::{Epoch, EventBody, RestartReport};

use crate::core::clock::unix_micros_now;
use crate::core::hub::{random_epoch, HubSlot};
use crate::core::refusal::Refusal;

/// The one way into the log: the generator, people's messages, broadcasts and tones all append here.
#[derive(Clone)]
pub struct EventLog {
    hub_slot: Arc<HubSlot>,
    shared: Option<Backplane>,
}

impl EventLog {
    /// The hub itself is the log.
    pub fn in_memory(hub_slot: Arc<HubSlot>) -> Self {
        Self { hub_slot, shared: None }
    }

    /// The engine is the log and `hub_slot` holds this instance's replica of it.
    pub fn shared(hub_slot: Arc<HubSlot>, backplane: Backplane) -> Self {
        Self { hub_slot, shared: Some(backplane) }
    }

    pub fn hub_slot(&self) -> &Arc<HubSlot> {
        &self.hub_slot
    }

    pub fn backplane(&self) -> Option<&Backplane> {
        self.shared.as_ref()
    }

    /// Appends `body` and answers its sequence number. With a shared log the event reaches this instance's hub (and
    /// every other's) a moment later, through the replica.
    pub async fn append(&self, body: EventBody) -> Result<u64, Refusal> {
        match &self.shared {
            None => Ok(self.hub_slot.current().publish(body).seq),
            Some(backplane) => backplane.append(unix_micros_now(), &body).await.map_err(unavailable),
        }
    }

    /// Starts a new run: a new epoch and a log numbered from 1, on every instance when the log is shared.
    pub async fn restart(&self) -> Result<RestartReport, Refusal> {
        let previous_epoch = self.hub_slot.current().epoch().clone();
        let epoch: Epoch = match &self.shared {
            None => random_epoch(),
            Some(backplane) => backplane.reset().await.map_err(unavailable)?,
        };
        // The replica would do this too when the new run's first event arrives; doing it now ends this instance's
        // connections to the old run at once, as the in-memory restart does.
        let hub = self.hub_slot.restart(epoch);
        Ok(RestartReport { previous_epoch, epoch: hub.epoch().clone() })
    }
}

/// What the lab answers when the shared log's engine did not do what was asked: refused (nothing was sent, so
/// nothing will be done), or unconfirmed (sent, and perhaps done later: saying "refused" then would be a lie).
pub(crate) fn unavailable(error: backplane::BackplaneError) -> Refusal {
    match error {
        backplane::BackplaneError::TimedOut { .. } => Refusal::LogUnconfirmed { reason: error.to_string() },
        _ => Refusal::LogUnavailable { reason: error.to_string() },
    }
}
