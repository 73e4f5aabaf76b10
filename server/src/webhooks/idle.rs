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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::guard::Target;
    use protocol::webhook::{WebhookSecret, KEY_BYTES};
    use tokio::sync::watch;

    fn endpoint(id: &str) -> Arc<Endpoint> {
        let addr = "127.0.0.1:9".parse().unwrap();
        Arc::new(Endpoint {
            id: id.into(),
            secret: WebhookSecret::from_key(vec![7; KEY_BYTES]).unwrap(),
            target: Target { addr, host: "127.0.0.1:9".into(), path: "/".into(), url: "http://127.0.0.1:9/".into() },
            owner: "test".into(),
            client: None,
            log: Default::default(),
            receiver: Default::default(),
            disabled: Mutex::new(None),
            phase: watch::Sender::new(Phase::Delivering),
            watched: Mutex::new(Instant::now()),
        })
    }

    /// Lets the timer task run at the paused clock's new time.
    async fn advance(secs: u64) {
        tokio::time::advance(Duration::from_secs(secs)).await;
        tokio::task::yield_now().await;
    }

    #[tokio::test(start_paused = true)]
    async fn watching_postpones_removal_and_a_disabled_endpoint_still_goes() {
        let endpoints: Arc<Mutex<HashMap<String, Arc<Endpoint>>>> = Arc::default();
        let watched = endpoint("ep_watched");
        let disabled = endpoint("ep_disabled");
        for endpoint in [&watched, &disabled] {
            endpoints.lock().unwrap().insert(endpoint.id.clone(), endpoint.clone());
            spawn(endpoint.clone(), Arc::downgrade(&endpoints), Duration::from_secs(30));
        }
        // A 410 stops its deliveries, not its timer: it still holds a place under the caps.
        disabled.disable("410 Gone from receiver");
        advance(20).await;
        watched.touch();
        advance(20).await;
        assert!(endpoints.lock().unwrap().contains_key("ep_watched"), "watched 20 s ago");
        assert!(!endpoints.lock().unwrap().contains_key("ep_disabled"), "unwatched for 40 s");
        assert_eq!(*disabled.phase.borrow(), Phase::Removed);
        advance(11).await;
        assert!(endpoints.lock().unwrap().is_empty());
        assert_eq!(*watched.phase.borrow(), Phase::Removed, "its sender is told to stop");
    }

    #[tokio::test(start_paused = true)]
    async fn a_deleted_endpoints_timer_ends_and_touches_nothing() {
        let endpoints: Arc<Mutex<HashMap<String, Arc<Endpoint>>>> = Arc::default();
        let old = endpoint("ep_same");
        endpoints.lock().unwrap().insert(old.id.clone(), old.clone());
        spawn(old.clone(), Arc::downgrade(&endpoints), Duration::from_secs(30));
        // Deleted, and (however unlikely) the id registered again: the old timer must not remove the new one.
        endpoints.lock().unwrap().remove("ep_same");
        old.phase.send_replace(Phase::Removed);
        let new = endpoint("ep_same");
        endpoints.lock().unwrap().insert(new.id.clone(), new.clone());
        advance(31).await;
        assert!(Arc::ptr_eq(&endpoints.lock().unwrap()["ep_same"], &new));
        assert_eq!(Arc::strong_count(&old), 1, "the old timer let go of its endpoint");
    }
}
