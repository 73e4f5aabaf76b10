//! An endpoint nobody watches is removed: a page that registered one cannot be relied on to delete it when it is
//! closed or reloaded, and without this a classroom reloading its pages would fill the lab's cap for everyone.
//!
//! One timer per endpoint (so at most [`super::MAX_ENDPOINTS`] of them), sleeping until the moment the endpoint
//! would have gone unwatched for the idle period; it ends when the endpoint is removed, whichever way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::time::{sleep_until, Instant};

use super::{Endpoint, Phase};

pub fn spawn(endpoint: Arc<Endpoint>, endpoints: Weak<Mutex<HashMap<String, Arc<Endpoint>>>>, idle: Duration) {
    let mut phase = endpoint.phase.subscribe();
    tokio::spawn(async move {
        loop {
            let due = endpoint.last_watched() + idle;
            tokio::select! {
                () = sleep_until(due) => {}
                _ = phase.wait_for(|phase| *phase == Phase::Removed) => return,
            }
            // Watched meanwhile: sleep until the new deadline.
            if endpoint.last_watched() + idle > Instant::now() {
                continue;
            }
            let Some(endpoints) = endpoints.upgrade() else { return };
            let mut endpoints = endpoints.lock().unwrap_or_else(PoisonError::into_inner);
            if endpoints.get(&endpoint.id).is_some_and(|current| Arc::ptr_eq(current, &endpoint)) {
                endpoints.remove(&endpoint.id);
            }
            drop(endpoints);
            tracing::info!(id = %endpoint.id, idle_secs = idle.as_secs(), "webhook endpoint removed: unwatched");
            endpoint.phase.send_replace(Phase::Removed);
            return;
        }
    });
}
