//! Faults the lab can inject so learners (and tests) can watch each transport recover. Browser network emulation
//! cannot cut an open WebSocket and Playwright has no hooks into SSE, so faults are made here, by the server.
//!
//! Every fault names a [`FaultTarget`]: a transport or all, a client or everyone. The page sends its client id with
//! every lane's requests, so one student's "drop" does not cut the rest of the class.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use backplane::Backplane;
use protocol::{ClientId, DelayRule, FaultTarget, OfflineRequest, MAX_INJECTED_DELAY_MS, MAX_OFFLINE_SECONDS};
use tokio::sync::watch;

use crate::core::class_faults::{ClassFaults, FaultRules, OfflineWindow};
use crate::core::clock::unix_micros_now;
use crate::core::peer::Peer;
use crate::core::refusal::Refusal;

#[derive(Clone)]
pub struct FaultSwitches {
    inner: Arc<Inner>,
    /// Set with a shared log: faults are the whole class's, whichever instance was asked.
    class: Option<ClassFaults>,
}

/// Fault switches that do not keep them alive: what the class's followers hold.
#[derive(Clone)]
struct WeakFaultSwitches(Weak<Inner>);

struct Inner {
    /// Long-lived connections open now: whose each is, and the switch that drops it. A drop sets the switches of
    /// the connections it hits and touches no other: there is no queue of orders for a connection to fall behind
    /// on, so a storm of drops aimed at nobody (or at one page) cannot cut anyone else.
    open: Mutex<HashMap<u64, OpenConnection>>,
    next_connection: AtomicU64,
    rules: Mutex<FaultRules>,
    /// The delay rules of `rules`, found by whose they are: every delivery asks, so it must not scan them all.
    delay_index: Mutex<DelayIndex>,
    /// Whether the rules may hold a window or a delay: every request and every delivered event asks, and on a
    /// healthy network the answer should not cost a lock shared by every connection.
    any_offline: AtomicBool,
    any_delay: AtomicBool,
}

impl Default for FaultSwitches {
    fn default() -> Self {
        let inner = Inner {
            open: Mutex::default(),
            next_connection: AtomicU64::default(),
            rules: Mutex::default(),
            delay_index: Mutex::default(),
            any_offline: AtomicBool::default(),
            any_delay: AtomicBool::default(),
        };
        Self { inner: Arc::new(inner), class: None }
    }
}

impl WeakFaultSwitches {
    /// This instance's switches while they exist, without the class: what they do stays on this instance.
    fn upgrade(&self) -> Option<FaultSwitches> {
        Some(FaultSwitches { inner: self.0.upgrade()?, class: None })
    }
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl FaultSwitches {
    /// Switches shared by every instance on `backplane`: a fault set on one is in force on all of them.
    pub fn for_class(backplane: Backplane, instance: Arc<str>) -> Self {
        let switches = Self::default();
        let class = ClassFaults::new(backplane, instance);
        let weak = WeakFaultSwitches(Arc::downgrade(&switches.inner));
        let for_drops = weak.clone();
        class.follow(
            move |rules| {
                let Some(live) = weak.upgrade() else { return false };
                if rules != live.rules() {
                    // A window opened elsewhere drops what it covers here too.
                    for target in live.replace_rules(rules) {
                        live.drop_here(target);
                    }
                }
                true
            },
            move |target| {
                let Some(live) = for_drops.upgrade() else { return false };
                live.drop_here(target);
                true
            },
        );
        Self { class: Some(class), ..switches }
    }

    /// What a long-lived connection holds for its lifetime: it learns through it when a fault drops it.
    pub fn watch(&self, peer: Peer) -> FaultWatch {
        let id = self.inner.next_connection.fetch_add(1, Relaxed);
        let (switch, dropped) = watch::channel(false);
        locked(&self.inner.open).insert(id, OpenConnection { peer: peer.clone(), switch });
        FaultWatch { dropped, peer, id, inner: self.inner.clone() }
    }

    /// Every long-lived connection open now: whose it is and its transport (the classroom's presence count).
    pub fn open_peers(&self) -> Vec<Peer> {
        locked(&self.inner.open).values().map(|connection| connection.peer.clone()).collect()
    }

    /// Drops the target's open connections, on every instance of a shared log; answers how many this instance had.
    pub async fn drop_connections(&self, target: FaultTarget) -> Result<u64, Refusal> {
        if let Some(class) = &self.class {
            class.announce_drop(&target).await?;
        }
        Ok(self.drop_here(target))
    }

    /// Drops the target's connections to this instance; returns how many there were.
    pub(crate) fn drop_here(&self, target: FaultTarget) -> u64 {
        let open = locked(&self.inner.open);
        let hit: Vec<_> = open.values().filter(|connection| connection.peer.is_hit_by(&target)).collect();
        for connection in &hit {
            connection.switch.send_replace(true);
        }
        hit.len() as u64
    }

    /// Takes the request's target offline for its `seconds`, once they are checked; returns how many open
    /// connections that dropped here (the other instances drop theirs when they read the new window).
    pub async fn take_offline(&self, request: &OfflineRequest) -> Result<u64, Refusal> {
        if !(1..=MAX_OFFLINE_SECONDS).contains(&request.seconds) {
            return Err(Refusal::invalid_field("seconds", format!("must be between 1 and {MAX_OFFLINE_SECONDS}")));
        }
        let target = request.target();
        let until = unix_micros_now() + u64::from(request.seconds) * 1_000_000;
        let mut too_many = false;
        self.change_rules(|rules| {
            // A new window for the same target replaces the old one, so pressing "offline" again adds no rule.
            rules.offline.retain(|window| window.target != target);
            too_many = rules.len() >= MAX_FAULT_RULES;
            if !too_many {
                rules.offline.push(OfflineWindow { target: target.clone(), until });
            }
        })
        .await?;
        if too_many {
            return Err(Refusal::TooManyFaultRules { limit: MAX_FAULT_RULES });
        }
        Ok(self.drop_here(target))
    }

    /// `Err` while an offline fault covers `peer`, with how long it has left.
    pub fn check_online(&self, peer: &Peer) -> Result<(), Refusal> {
        if !self.inner.any_offline.load(Relaxed) {
            return Ok(());
        }
        let now = unix_micros_now();
        let mut rules = locked(&self.inner.rules);
        rules.forget_ended();
        self.inner.any_offline.store(!rules.offline.is_empty(), Relaxed);
        let remaining =
            rules.offline.iter().filter(|window| peer.is_hit_by(&window.target)).map(|w| w.until - now).max();
        match remaining {
            None => Ok(()),
            Some(remaining) => Err(Refusal::Offline { retry_after_seconds: remaining.div_ceil(1_000_000) }),
        }
    }

    /// Removes the delays and offline windows aimed at `client` (all of them, with `None`).
    pub async fn clear_for(&self, client: Option<&ClientId>) -> Result<(), Refusal> {
        let aimed = |target: Option<&ClientId>| client.is_none() || target == client;
        self.change_rules(|rules| {
            rules.delays.retain(|rule| !aimed(rule.client.as_ref()));
            rules.offline.retain(|window| !aimed(window.target.client.as_ref()));
        })
        .await
    }

    /// Sets the delay for the rule's target (a zero delay removes it), once its figures are checked.
    pub async fn set_delay(&self, rule: DelayRule) -> Result<DelayRule, Refusal> {
        for (field, value) in [("delay_ms", rule.delay_ms), ("jitter_ms", rule.jitter_ms)] {
            if value > MAX_INJECTED_DELAY_MS {
                return Err(Refusal::invalid_field(field, format!("must be at most {MAX_INJECTED_DELAY_MS} ms")));
            }
        }
        let mut too_many = false;
        self.change_rules(|rules| {
            rules.delays.retain(|existing| existing.target() != rule.target());
            too_many = !rule.is_zero() && rules.len() >= MAX_FAULT_RULES;
            if !rule.is_zero() && !too_many {
                rules.delays.push(rule.clone());
            }
        })
        .await?;
        match too_many {
            true => Err(Refusal::TooManyFaultRules { limit: MAX_FAULT_RULES }),
            false => Ok(rule),
        }
    }

    /// The delay rules in force.
    pub fn delays(&self) -> Vec<DelayRule> {
        locked(&self.inner.rules).delays.clone()
    }

    pub(crate) fn rules(&self) -> FaultRules {
        locked(&self.inner.rules).clone()
    }

    /// Makes `change` to the rules. With a shared log the engine stores the new rules first: if it cannot, nothing
    /// changes anywhere.
    async fn change_rules(&self, change: impl FnOnce(&mut FaultRules)) -> Result<(), Refusal> {
        let mut next = self.rules();
        change(&mut next);
        next.version += 1;
        if let Some(class) = &self.class {
            class.store(&next).await?;
        }
        self.replace_rules(next);
        Ok(())
    }

    /// Puts `rules` in force, unless those in force are newer; answers the windows it opened.
    pub(crate) fn replace_rules(&self, mut next: FaultRules) -> Vec<FaultTarget> {
        next.forget_ended();
        let mut rules = locked(&self.inner.rules);
        if next.version < rules.version {
            return Vec::new();
        }
        let opened = next.offline.iter().filter(|window| !rules.offline.contains(window)).map(|w| w.target.clone());
        let opened = opened.collect();
        // Each flag is written under the rules' lock, so it cannot pass a rule added meanwhile.
        self.inner.any_delay.store(!next.delays.is_empty(), Relaxed);
        self.inner.any_offline.store(!next.offline.is_empty(), Relaxed);
        *locked(&self.inner.delay_index) = DelayIndex::of(&next.delays);
        *rules = next;
        opened
    }

    /// Whether a delay rule holds `peer`'s events: the question a stream asks before it writes one at once.
    pub fn delays_events_of(&self, peer: &Peer) -> bool {
        self.inner.any_delay.load(Relaxed) && locked(&self.inner.delay_index).find(peer).is_some()
    }

    fn sampled_delay(&self, peer: &Peer) -> Duration {
        if !self.inner.any_delay.load(Relaxed) {
            return Duration::ZERO;
        }
        let index = locked(&self.inner.delay_index);
        let Some(rule) = index.find(peer) else {
            return Duration::ZERO;
        };
        let jitter = if rule.jitter_ms == 0 { 0 } else { rand::random_range(0..=rule.jitter_ms) };
        Duration::from_millis(u64::from(rule.delay_ms) + u64::from(jitter))
    }

    /// Holds an event until its due time: `emitted_at` plus the injected delay. Scheduling from `emitted_at`, not
    /// from now, keeps a stream's delay constant instead of piling up behind earlier events.
    pub async fn hold_event(&self, peer: &Peer, emitted_at_micros: u64) {
        let wait = self.event_wait(peer, emitted_at_micros);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// How long from now an event emitted at `emitted_at_micros` is still held for `peer` (see [`Self::hold_event`]).
    pub fn event_wait(&self, peer: &Peer, emitted_at_micros: u64) -> Duration {
        let due = emitted_at_micros + self.sampled_delay(peer).as_micros() as u64;
        Duration::from_micros(due.saturating_sub(unix_micros_now()))
    }

    /// Holds a poll response for the injected delay, as a slow network would.
    pub async fn hold_response(&self, peer: &Peer) {
        let delay = self.sampled_delay(peer);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
}

/// The most delay and offline rules in force at once (for every page together). Each page has at most one rule
/// of each kind per transport and one for all; this bounds what fake page ids can add.
pub const MAX_FAULT_RULES: usize = 1_000;

/// Delay rules grouped by the page they are for (`None`: everyone's), each group holding at most one rule per
/// transport and one for all.
#[derive(Default)]
struct DelayIndex(HashMap<Option<ClientId>, Vec<DelayRule>>);

impl DelayIndex {
    fn of(rules: &[DelayRule]) -> Self {
        let mut index: HashMap<Option<ClientId>, Vec<DelayRule>> = HashMap::new();
        for rule in rules {
            index.entry(rule.client.clone()).or_default().push(rule.clone());
        }
        Self(index)
    }

    /// The most specific rule for `peer`: its page and transport, its page, its transport, everyone.
    fn find(&self, peer: &Peer) -> Option<&DelayRule> {
        let best_of = |client: &Option<ClientId>| {
            let rules = self.0.get(client)?.iter();
            rules
                .filter(|rule| rule.transport.is_none_or(|only| only == peer.transport))
                .max_by_key(|rule| rule.transport.is_some())
        };
        best_of(&peer.client).or_else(|| best_of(&None))
    }
}

struct OpenConnection {
    peer: Peer,
    /// Set once, by the drop that hits this connection.
    switch: watch::Sender<bool>,
}

/// A long-lived connection's line to the fault switches; it leaves the count of open connections when dropped.
pub struct FaultWatch {
    dropped: watch::Receiver<bool>,
    peer: Peer,
    id: u64,
    inner: Arc<Inner>,
}

impl FaultWatch {
    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// Resolves once a drop has hit this connection (at once, if one already has). Cancel-safe.
    pub async fn until_dropped(&mut self) {
        // The switch lives as long as this watch (it leaves the map only when the watch is dropped).
        if self.dropped.wait_for(|dropped| *dropped).await.is_err() {
            std::future::pending::<()>().await
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
        assert_eq!(faults.drop_here(FaultTarget { transport: None, client: client("me") }), 1);
        assert_eq!(faults.drop_here(FaultTarget { transport: Some(Transport::Sse), client: None }), 2);
        assert_eq!(faults.drop_here(FaultTarget::default()), 3);
        drop(anonymous);
        assert_eq!(faults.drop_here(FaultTarget::default()), 2);
    }

    /// Drops used to be a queue of 64 orders that every connection read; one that fell behind dropped itself. A
    /// storm of drops aimed at nobody cut bystanders.
    #[tokio::test]
    async fn a_storm_of_drops_aimed_elsewhere_touches_nobody_else() {
        let faults = FaultSwitches::default();
        let mut bystander = faults.watch(Peer::new(Transport::Sse, client("bystander")));
        let mut mine = faults.watch(Peer::new(Transport::Sse, client("me")));
        for _ in 0..1_000 {
            assert_eq!(faults.drop_here(FaultTarget { transport: None, client: client("nobody") }), 0);
            faults.drop_here(FaultTarget { transport: None, client: client("me") });
        }
        let untouched = tokio::time::timeout(Duration::from_millis(50), bystander.until_dropped()).await;
        assert!(untouched.is_err(), "the bystander was dropped");
        tokio::time::timeout(Duration::from_secs(5), mine.until_dropped()).await.expect("mine was dropped");
        tokio::time::timeout(Duration::from_secs(5), mine.until_dropped()).await.expect("and stays dropped");
    }

    #[tokio::test]
    async fn rules_are_bounded_and_a_repeated_offline_replaces_its_window() {
        let faults = FaultSwitches::default();
        let offline = OfflineRequest { seconds: 60, transport: None, client: client("me") };
        for _ in 0..5 {
            faults.take_offline(&offline).await.unwrap();
        }
        assert_eq!(faults.rules().offline.len(), 1);
        for n in 1..MAX_FAULT_RULES {
            let rule = DelayRule { delay_ms: 10, client: client(&format!("page{n}")), ..DelayRule::default() };
            faults.set_delay(rule).await.unwrap();
        }
        let one_more = DelayRule { delay_ms: 10, client: client("late"), ..DelayRule::default() };
        let refused = faults.set_delay(one_more).await.unwrap_err();
        assert_eq!(refused, Refusal::TooManyFaultRules { limit: MAX_FAULT_RULES });
        assert_eq!(faults.rules().len(), MAX_FAULT_RULES);
        // Changing or removing a rule in force is still possible at the cap.
        let changed = DelayRule { delay_ms: 20, client: client("page1"), ..DelayRule::default() };
        assert!(faults.set_delay(changed).await.is_ok());
        assert_eq!(faults.sampled_delay(&Peer::new(Transport::Sse, client("page1"))), Duration::from_millis(20));
    }

    #[tokio::test]
    async fn the_most_specific_delay_rule_wins_and_zero_removes_it() {
        let faults = FaultSwitches::default();
        let mine = Peer::new(Transport::Sse, client("me"));
        faults.set_delay(DelayRule { delay_ms: 100, ..DelayRule::default() }).await.unwrap();
        faults.set_delay(DelayRule { delay_ms: 700, client: client("me"), ..DelayRule::default() }).await.unwrap();
        faults
            .set_delay(DelayRule { delay_ms: 300, transport: Some(Transport::Sse), ..DelayRule::default() })
            .await
            .unwrap();
        assert_eq!(faults.sampled_delay(&mine), Duration::from_millis(700));
        assert_eq!(faults.sampled_delay(&Peer::new(Transport::Sse, None)), Duration::from_millis(300));
        assert_eq!(faults.sampled_delay(&Peer::new(Transport::LongPoll, None)), Duration::from_millis(100));
        faults.set_delay(DelayRule { client: client("me"), ..DelayRule::default() }).await.unwrap();
        assert_eq!(faults.sampled_delay(&mine), Duration::from_millis(300));
        assert_eq!(faults.delays().len(), 2);
        let too_long = DelayRule { jitter_ms: MAX_INJECTED_DELAY_MS + 1, ..DelayRule::default() };
        assert_eq!(faults.set_delay(too_long).await.unwrap_err().field(), Some("jitter_ms"));
        assert_eq!(faults.delays().len(), 2, "a refused rule changes nothing");
    }

    #[tokio::test]
    async fn offline_refuses_the_target_until_it_expires() {
        let faults = FaultSwitches::default();
        let mine = Peer::new(Transport::LongPoll, client("me"));
        let mut rules = faults.rules();
        let target = FaultTarget { transport: None, client: client("me") };
        rules.offline.push(OfflineWindow { target, until: unix_micros_now() + 200_000 });
        rules.version += 1;
        faults.replace_rules(rules);
        assert!(matches!(faults.check_online(&mine), Err(Refusal::Offline { retry_after_seconds: 1 })));
        assert!(faults.check_online(&Peer::new(Transport::LongPoll, client("you"))).is_ok());
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(faults.check_online(&mine).is_ok());
    }

    #[test]
    fn rules_read_back_older_than_those_in_force_change_nothing() {
        let faults = FaultSwitches::default();
        let slow = FaultRules {
            version: 2,
            delays: vec![DelayRule { delay_ms: 300, ..DelayRule::default() }],
            ..FaultRules::default()
        };
        assert!(faults.replace_rules(slow.clone()).is_empty());
        let stale = FaultRules { version: 1, ..FaultRules::default() };
        faults.replace_rules(stale);
        assert_eq!(faults.rules(), slow, "a read that began before the change must not undo it");
        let window = OfflineWindow { target: FaultTarget::default(), until: unix_micros_now() + 5_000_000 };
        let offline = FaultRules { version: 3, offline: vec![window.clone()], ..slow };
        assert_eq!(faults.replace_rules(offline.clone()), vec![window.target.clone()], "a new window is reported");
        assert!(faults.replace_rules(FaultRules { version: 4, ..offline }).is_empty(), "an old window is not");
    }
}
