//! Faults the lab can inject so learners (and tests) can watch each transport recover. Browser network emulation
//! cannot cut an open WebSocket and Playwright has no hooks into SSE, so faults are made here, by the server.
//!
//! Every fault names a [`FaultTarget`]: a transport or all, a client or everyone. The page sends its client id with
//! every lane's requests, so one student's "drop" does not cut the rest of the class.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use protocol::{DelayRule, FaultTarget, OfflineRequest, MAX_INJECTED_DELAY_MS, MAX_OFFLINE_SECONDS};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::Instant;

use crate::core::clock::unix_micros_now;
use crate::core::peer::Peer;
use crate::core::refusal::Refusal;

/// Drop orders not yet read by a connection; one that falls further behind drops itself to be safe.
const DROP_ORDER_BACKLOG: usize = 64;

#[derive(Clone)]
pub struct FaultSwitches {
    drops: broadcast::Sender<FaultTarget>,
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Long-lived connections open now, so a drop can say how many it hit.
    open: Mutex<HashMap<u64, Peer>>,
    next_connection: AtomicU64,
    offline: Mutex<Vec<(FaultTarget, Instant)>>,
    delays: Mutex<Vec<DelayRule>>,
    /// Whether either list may hold anything: every request and every delivered event asks, and on a healthy
    /// network the answer should not cost a lock shared by every connection.
    any_offline: AtomicBool,
    any_delay: AtomicBool,
}

impl Default for FaultSwitches {
    fn default() -> Self {
        Self { drops: broadcast::channel(DROP_ORDER_BACKLOG).0, inner: Arc::default() }
    }
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl FaultSwitches {
    /// What a long-lived connection holds for its lifetime: it learns through it when a fault drops it.
    pub fn watch(&self, peer: Peer) -> FaultWatch {
        let id = self.inner.next_connection.fetch_add(1, Relaxed);
        locked(&self.inner.open).insert(id, peer.clone());
        FaultWatch { orders: self.drops.subscribe(), peer, id, inner: self.inner.clone() }
    }

    /// Every long-lived connection open now: whose it is and its transport (the classroom's presence count).
    pub fn open_peers(&self) -> Vec<Peer> {
        locked(&self.inner.open).values().cloned().collect()
    }

    /// Drops the target's open connections; returns how many there were.
    pub fn drop_connections(&self, target: FaultTarget) -> u64 {
        let hit = locked(&self.inner.open).values().filter(|peer| peer.is_hit_by(&target)).count();
        // No receivers means no connections: nothing to drop.
        let _ = self.drops.send(target);
        hit as u64
    }

    /// Takes the request's target offline for its `seconds`, once they are checked; returns how many open
    /// connections that dropped.
    pub fn take_offline(&self, request: &OfflineRequest) -> Result<u64, Refusal> {
        if !(1..=MAX_OFFLINE_SECONDS).contains(&request.seconds) {
            return Err(Refusal::invalid_field("seconds", format!("must be between 1 and {MAX_OFFLINE_SECONDS}")));
        }
        Ok(self.go_offline(request.target(), Duration::from_secs(request.seconds.into())))
    }

    /// Refuses the target's requests for `duration`, after dropping what it holds open.
    pub fn go_offline(&self, target: FaultTarget, duration: Duration) -> u64 {
        let until = Instant::now() + duration;
        let mut offline = locked(&self.inner.offline);
        offline.push((target.clone(), until));
        self.inner.any_offline.store(true, Relaxed);
        drop(offline);
        self.drop_connections(target)
    }

    /// `Err` while an offline fault covers `peer`, with how long it has left.
    pub fn check_online(&self, peer: &Peer) -> Result<(), Refusal> {
        if !self.inner.any_offline.load(Relaxed) {
            return Ok(());
        }
        let now = Instant::now();
        let mut offline = locked(&self.inner.offline);
        offline.retain(|(_, until)| *until > now);
        self.inner.any_offline.store(!offline.is_empty(), Relaxed);
        let remaining =
            offline.iter().filter(|(target, _)| peer.is_hit_by(target)).map(|(_, until)| *until - now).max();
        match remaining {
            None => Ok(()),
            Some(remaining) => Err(Refusal::Offline { retry_after_seconds: remaining.as_secs_f64().ceil() as u64 }),
        }
    }

    /// Ends every delay and offline fault (drops and restarts are over once made).
    pub fn clear(&self) {
        // Each flag is written under its list's lock, so it cannot pass a rule added meanwhile.
        let mut delays = locked(&self.inner.delays);
        delays.clear();
        self.inner.any_delay.store(false, Relaxed);
        drop(delays);
        let mut offline = locked(&self.inner.offline);
        offline.clear();
        self.inner.any_offline.store(false, Relaxed);
    }

    /// Sets the delay for the rule's target (a zero delay removes it), once its figures are checked.
    pub fn set_delay(&self, rule: DelayRule) -> Result<DelayRule, Refusal> {
        for (field, value) in [("delay_ms", rule.delay_ms), ("jitter_ms", rule.jitter_ms)] {
            if value > MAX_INJECTED_DELAY_MS {
                return Err(Refusal::invalid_field(field, format!("must be at most {MAX_INJECTED_DELAY_MS} ms")));
            }
        }
        let mut delays = locked(&self.inner.delays);
        delays.retain(|existing| existing.target() != rule.target());
        if !rule.is_zero() {
            delays.push(rule.clone());
        }
        self.inner.any_delay.store(!delays.is_empty(), Relaxed);
        Ok(rule)
    }

    /// The delay rules in force.
    pub fn delays(&self) -> Vec<DelayRule> {
        locked(&self.inner.delays).clone()
    }

    fn sampled_delay(&self, peer: &Peer) -> Duration {
        if !self.inner.any_delay.load(Relaxed) {
            return Duration::ZERO;
        }
        let delays = locked(&self.inner.delays);
        let Some(rule) =
            delays.iter().filter(|rule| peer.is_hit_by(&rule.target())).max_by_key(|rule| rule.specificity())
        else {
            return Duration::ZERO;
        };
        let jitter = if rule.jitter_ms == 0 { 0 } else { rand::random_range(0..=rule.jitter_ms) };
        Duration::from_millis(u64::from(rule.delay_ms) + u64::from(jitter))
    }

    /// Holds an event until its due time: `emitted_at` plus the injected delay. Scheduling from `emitted_at`, not
    /// from now, keeps a stream's delay constant instead of piling up behind earlier events.
    pub async fn hold_event(&self, peer: &Peer, emitted_at_micros: u64) {
        let due = emitted_at_micros + self.sampled_delay(peer).as_micros() as u64;
        let now = unix_micros_now();
        if due > now {
            tokio::time::sleep(Duration::from_micros(due - now)).await;
        }
    }

    /// Holds a poll response for the injected delay, as a slow network would.
    pub async fn hold_response(&self, peer: &Peer) {
        let delay = self.sampled_delay(peer);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
}

/// A long-lived connection's line to the fault switches; it leaves the count of open connections when dropped.
pub struct FaultWatch {
    orders: broadcast::Receiver<FaultTarget>,
    peer: Peer,
    id: u64,
    inner: Arc<Inner>,
}

impl FaultWatch {
    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// Resolves when a drop hits this connection; never, once the lab is shutting down. Cancel-safe.
    pub async fn until_dropped(&mut self) {
        loop {
            match self.orders.recv().await {
                Ok(target) if self.peer.is_hit_by(&target) => return,
                Ok(_) => continue,
                // Missed orders might have named this connection; dropping it is the safe reading.
                Err(RecvError::Lagged(_)) => return,
                Err(RecvError::Closed) => std::future::pending::<()>().await,
            }
        }
    }
}

impl Drop for FaultWatch {
    fn drop(&mut self) {
        locked(&self.inner.open).remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{ClientId, Transport};

    fn client(text: &str) -> Option<ClientId> {
        Some(ClientId::try_from(text.to_owned()).unwrap())
    }

    #[test]
    fn drops_count_only_the_connections_they_hit() {
        let faults = FaultSwitches::default();
        let _mine = faults.watch(Peer::new(Transport::Sse, client("me")));
        let _yours = faults.watch(Peer::new(Transport::Sse, client("you")));
        let anonymous = faults.watch(Peer::new(Transport::WebSocket, None));
        assert_eq!(faults.drop_connections(FaultTarget { transport: None, client: client("me") }), 1);
        assert_eq!(faults.drop_connections(FaultTarget { transport: Some(Transport::Sse), client: None }), 2);
        assert_eq!(faults.drop_connections(FaultTarget::default()), 3);
        drop(anonymous);
        assert_eq!(faults.drop_connections(FaultTarget::default()), 2);
    }

    #[test]
    fn the_most_specific_delay_rule_wins_and_zero_removes_it() {
        let faults = FaultSwitches::default();
        let mine = Peer::new(Transport::Sse, client("me"));
        faults.set_delay(DelayRule { delay_ms: 100, ..DelayRule::default() }).unwrap();
        faults.set_delay(DelayRule { delay_ms: 700, client: client("me"), ..DelayRule::default() }).unwrap();
        faults.set_delay(DelayRule { delay_ms: 300, transport: Some(Transport::Sse), ..DelayRule::default() }).unwrap();
        assert_eq!(faults.sampled_delay(&mine), Duration::from_millis(700));
        assert_eq!(faults.sampled_delay(&Peer::new(Transport::Sse, None)), Duration::from_millis(300));
        assert_eq!(faults.sampled_delay(&Peer::new(Transport::LongPoll, None)), Duration::from_millis(100));
        faults.set_delay(DelayRule { client: client("me"), ..DelayRule::default() }).unwrap();
        assert_eq!(faults.sampled_delay(&mine), Duration::from_millis(300));
        assert_eq!(faults.delays().len(), 2);
        let too_long = DelayRule { jitter_ms: MAX_INJECTED_DELAY_MS + 1, ..DelayRule::default() };
        assert_eq!(faults.set_delay(too_long).unwrap_err().field(), Some("jitter_ms"));
        assert_eq!(faults.delays().len(), 2, "a refused rule changes nothing");
    }

    #[tokio::test]
    async fn offline_refuses_the_target_until_it_expires() {
        let faults = FaultSwitches::default();
        let mine = Peer::new(Transport::LongPoll, client("me"));
        faults.go_offline(FaultTarget { transport: None, client: client("me") }, Duration::from_millis(200));
        assert!(matches!(faults.check_online(&mine), Err(Refusal::Offline { retry_after_seconds: 1 })));
        assert!(faults.check_online(&Peer::new(Transport::LongPoll, client("you"))).is_ok());
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(faults.check_online(&mine).is_ok());
    }
}
