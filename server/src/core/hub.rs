//! The one ordered event log every transport reads.
//!
//! Appending and broadcasting happen under the same lock as taking a snapshot and subscribing, so a client that
//! joins or resumes sees each event exactly once: either in its snapshot or on its receiver, never both, never
//! neither.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use protocol::{Epoch, Event, EventBody, Gap};
use tokio::sync::broadcast;

use crate::core::clock::unix_micros_now;
use crate::core::fanout::{EventSource, Fanout};
use crate::core::hub_event::HubEvent;

/// How many live events a subscriber may fall behind before it is caught up from the history instead.
const LIVE_QUEUE_CAPACITY: usize = 1024;
/// Audio the history may hold, besides its event count: a clip (up to 32 KB of WAV, then its base64 SSE chunk and
/// its binary frame) weighs thousands of ticks, and `capacity` of them would be gigabytes. Past this the oldest
/// events go, clips or not, and a client that asks for them gets the usual gap. About 500 half-second tones.
pub const MAX_CLIP_BYTES_IN_HISTORY: usize = 4 * 1024 * 1024;

pub struct EventHub {
    epoch: Epoch,
    state: Mutex<HubState>,
    /// Hands each event to the streams that write their own sockets.
    fanout: Fanout,
}

struct HubState {
    history: VecDeque<Arc<HubEvent>>,
    capacity: usize,
    /// Audio bytes held in `history`, kept under [`MAX_CLIP_BYTES_IN_HISTORY`].
    clip_bytes: usize,
    last_seq: u64,
    /// `None` once the hub is closed: every receiver then ends, which ends every stream.
    live: Option<broadcast::Sender<Arc<HubEvent>>>,
}

/// Events after a cursor, as far as the history still holds them.
#[derive(Debug, Default)]
pub struct Backlog {
    pub gap: Option<Gap>,
    pub events: Vec<Arc<HubEvent>>,
}

/// A backlog plus a receiver that yields exactly the events after it.
pub struct Subscription {
    pub backlog: Backlog,
    pub live: broadcast::Receiver<Arc<HubEvent>>,
    /// The newest sequence number at the moment of subscribing.
    pub head_seq: u64,
}

impl EventHub {
    pub fn new(epoch: Epoch, capacity: usize) -> Self {
        let (live, _) = broadcast::channel(LIVE_QUEUE_CAPACITY);
        let history = VecDeque::with_capacity(capacity.min(1 << 16));
        let state = HubState { history, capacity, clip_bytes: 0, last_seq: 0, live: Some(live) };
        Self { epoch, state: Mutex::new(state), fanout: Fanout::default() }
    }

    pub fn epoch(&self) -> &Epoch {
        &self.epoch
    }

    /// Stamps the next sequence number and the server clock on `body`, stores it, and wakes every subscriber.
    pub fn publish(&self, body: EventBody) -> Arc<HubEvent> {
        let mut state = self.lock();
        let event = Event { seq: state.last_seq + 1, emitted_at: unix_micros_now(), body };
        let event = state.push(event);
        drop(state);
        self.fanout.wake();
        event
    }

    /// Adds an event numbered elsewhere: by the engine of a shared log (`--backplane`), which this hub replicates.
    ///
    /// A number already held is a replay (the replica reconnected a little early) and is ignored: `None`. A number
    /// past the next one means the engine no longer holds the events in between: the history starts again there,
    /// so a client that asks for them gets the usual gap rather than a history with a hole in it.
    pub fn append_numbered(&self, event: Event) -> Option<Arc<HubEvent>> {
        let mut state = self.lock();
        if event.seq <= state.last_seq {
            return None;
        }
        if event.seq > state.last_seq + 1 {
            state.history.clear();
            state.clip_bytes = 0;
        }
        let event = state.push(event);
        drop(state);
        self.fanout.wake();
        Some(event)
    }

    /// Ends every live subscription (streams finish, WebSockets close, held long polls return), for shutdown.
    pub fn close(&self) {
        self.lock().live = None;
        self.fanout.close();
    }

    /// Where a stream that writes its own socket joins (see [`Fanout::join`]).
    pub fn fanout(&self) -> &Fanout {
        &self.fanout
    }

    /// Events with `seq > after`, at most `limit` of them.
    pub fn events_after(&self, after: u64, limit: usize) -> Backlog {
        self.lock().backlog_after(after, limit)
    }

    /// A backlog of up to `limit` events after `after` and a receiver for what comes next, taken atomically.
    /// With `after: None` the backlog is empty and the receiver starts at the newest event.
    pub fn subscribe(&self, after: Option<u64>, limit: usize) -> Subscription {
        let state = self.lock();
        let backlog = match after {
            Some(after) => state.backlog_after(after, limit),
            None => Backlog::default(),
        };
        let live = match &state.live {
            Some(live) => live.subscribe(),
            // A receiver whose sender is already gone reports `Closed` at once.
            None => broadcast::channel(1).1,
        };
        Subscription { backlog, live, head_seq: state.last_seq }
    }

    /// The backlog after `after` (none with `None`) and the newest sequence number, read together.
    pub fn backlog_and_head(&self, after: Option<u64>) -> (Backlog, u64) {
        let state = self.lock();
        let backlog = after.map(|after| state.backlog_after(after, usize::MAX)).unwrap_or_default();
        (backlog, state.last_seq)
    }

    pub fn head_seq(&self) -> u64 {
        self.lock().last_seq
    }

    pub fn history_len(&self) -> usize {
        self.lock().history.len()
    }

    pub fn capacity(&self) -> usize {
        self.lock().capacity
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        // A panic while holding this lock cannot leave the log half-written (each step is a single push or
        // pop), so a poisoned lock is still safe to use.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl EventSource for EventHub {
    fn head_seq(&self) -> u64 {
        EventHub::head_seq(self)
    }

    fn events_after(&self, after: u64, limit: usize) -> Vec<Arc<HubEvent>> {
        EventHub::events_after(self, after, limit).events
    }
}

impl HubState {
    fn push(&mut self, event: Event) -> Arc<HubEvent> {
        let event = Arc::new(HubEvent::new(event));
        self.last_seq = event.seq;
        if self.history.len() == self.capacity {
            self.evict_oldest();
        }
        self.clip_bytes += event.clip_bytes();
        self.history.push_back(event.clone());
        while self.clip_bytes > MAX_CLIP_BYTES_IN_HISTORY && self.history.len() > 1 {
            self.evict_oldest();
        }
        // Sent while still holding the lock so the broadcast order is the sequence order. An error only means
        // nobody is listening right now, which is fine: the history keeps the event.
        if let Some(live) = &self.live {
            let _ = live.send(event.clone());
        }
        event
    }

    fn evict_oldest(&mut self) {
        if let Some(oldest) = self.history.pop_front() {
            self.clip_bytes -= oldest.clip_bytes();
        }
    }

    fn backlog_after(&self, after: u64, limit: usize) -> Backlog {
        let Some(oldest) = self.history.front().map(|event| event.seq) else {
            return Backlog::default();
        };
        let gap = (after.saturating_add(1) < oldest).then(|| Gap { from: after + 1, to: oldest - 1 });
        // Sequence numbers in the history are contiguous, so the position of `after + 1` is arithmetic.
        let skip = after.saturating_sub(oldest - 1).min(self.history.len() as u64) as usize;
        let events = self.history.iter().skip(skip).take(limit).cloned().collect();
        Backlog { gap, events }
    }
}

/// The hub currently in service. Restarting the stream swaps in a new hub with a new epoch, as a server restart
/// would, and closes the old one, so every connection to it ends the way it would in a real restart.
pub struct HubSlot {
    current: std::sync::RwLock<Arc<EventHub>>,
}

impl HubSlot {
    pub fn new(hub: EventHub) -> Self {
        Self { current: std::sync::RwLock::new(Arc::new(hub)) }
    }

    pub fn current(&self) -> Arc<EventHub> {
        self.current.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Replaces the hub with an empty one under `epoch` and closes the old one, unless the hub in service already
    /// belongs to `epoch` (a shared log's restart is seen by the instance that asked for it and again by its
    /// replica). Returns the hub in service.
    pub fn restart(&self, epoch: Epoch) -> Arc<EventHub> {
        let mut current = self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if current.epoch == epoch {
            return current.clone();
        }
        let fresh = Arc::new(EventHub::new(epoch, current.capacity()));
        let old = std::mem::replace(&mut *current, fresh.clone());
        old.close();
        fresh
    }

    /// Closes the current hub, for shutdown.
    pub fn close(&self) {
        self.current().close();
    }
}

/// A fresh random epoch id.
pub fn random_epoch() -> Epoch {
    Epoch(format!("{:016x}", rand::random::<u64>()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(capacity: usize) -> EventHub {
        EventHub::new(Epoch("test".into()), capacity)
    }

    fn message(text: &str) -> EventBody {
        EventBody::Message { text: text.into() }
    }

    fn seqs(events: &[Arc<HubEvent>]) -> Vec<u64> {
        events.iter().map(|event| event.seq).collect()
    }

    #[test]
    fn sequence_numbers_start_at_one_and_increase() {
        let hub = hub(10);
        let first = hub.publish(message("a"));
        let second = hub.publish(message("b"));
        assert_eq!((first.seq, second.seq), (1, 2));
        assert!(second.emitted_at >= first.emitted_at);
    }

    #[test]
    fn events_after_cursor_respects_limit() {
        let hub = hub(10);
        for _ in 0..5 {
            hub.publish(message("x"));
        }
        assert_eq!(seqs(&hub.events_after(2, 100).events), vec![3, 4, 5]);
        assert_eq!(seqs(&hub.events_after(0, 2).events), vec![1, 2]);
        assert!(hub.events_after(5, 100).events.is_empty());
        assert!(hub.events_after(99, 100).events.is_empty());
    }

    #[test]
    fn evicted_range_is_reported_as_gap() {
        let hub = hub(3);
        for _ in 0..6 {
            hub.publish(message("x"));
        }
        let backlog = hub.events_after(1, 100);
        assert_eq!(backlog.gap, Some(Gap { from: 2, to: 3 }));
        assert_eq!(seqs(&backlog.events), vec![4, 5, 6]);
        assert_eq!(hub.events_after(3, 100).gap, None);
        assert_eq!(hub.history_len(), 3);
    }

    #[test]
    fn audio_beyond_its_budget_pushes_the_oldest_events_out() {
        let hub = hub(10_000);
        hub.publish(message("before"));
        let clip_len = MAX_CLIP_BYTES_IN_HISTORY / 4;
        let clip = || {
            EventBody::Audio(protocol::AudioClip {
                mime_type: protocol::WAV_MIME_TYPE.into(),
                frequency_hz: 440,
                duration_ms: 500,
                data: vec![0; clip_len],
            })
        };
        for _ in 0..4 {
            hub.publish(clip());
        }
        assert_eq!(hub.history_len(), 5, "exactly at the budget, nothing goes");
        hub.publish(clip());
        let backlog = hub.events_after(0, 100);
        assert_eq!(backlog.gap, Some(Gap { from: 1, to: 2 }), "the message and the first clip went");
        assert_eq!(seqs(&backlog.events), vec![3, 4, 5, 6]);
        hub.publish(message("after"));
        assert_eq!(hub.history_len(), 5, "events without audio do not count against it");
    }

    fn numbered(seq: u64) -> Event {
        Event { seq, emitted_at: 0, body: message("x") }
    }

    #[test]
    fn numbered_events_keep_their_numbers_and_replays_are_ignored() {
        let hub = hub(10);
        assert_eq!(hub.append_numbered(numbered(1)).map(|event| event.seq), Some(1));
        assert_eq!(hub.append_numbered(numbered(2)).map(|event| event.seq), Some(2));
        assert!(hub.append_numbered(numbered(2)).is_none());
        assert!(hub.append_numbered(numbered(1)).is_none());
        assert_eq!(seqs(&hub.events_after(0, 100).events), vec![1, 2]);
        assert_eq!(hub.head_seq(), 2);
    }

    #[test]
    fn a_jump_in_numbering_restarts_the_history_so_the_hole_is_a_gap() {
        let hub = hub(10);
        hub.append_numbered(numbered(1));
        hub.append_numbered(numbered(2));
        hub.append_numbered(numbered(7));
        hub.append_numbered(numbered(8));
        let backlog = hub.events_after(0, 100);
        assert_eq!(backlog.gap, Some(Gap { from: 1, to: 6 }));
        assert_eq!(seqs(&backlog.events), vec![7, 8]);
        assert_eq!(hub.events_after(7, 100).gap, None);
    }

    #[test]
    fn a_replica_may_start_in_the_middle_of_the_log() {
        let hub = hub(10);
        hub.append_numbered(numbered(5000));
        assert_eq!(hub.events_after(0, 100).gap, Some(Gap { from: 1, to: 4999 }));
        assert_eq!(hub.head_seq(), 5000);
        // Publishing locally goes on from the engine's numbers (the in-memory log never mixes the two).
        assert_eq!(hub.publish(message("y")).seq, 5001);
    }

    #[tokio::test]
    async fn subscription_neither_misses_nor_repeats_at_the_seam() {
        let hub = Arc::new(hub(10_000));
        let writer = {
            let hub = hub.clone();
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    hub.publish(message("x"));
                }
            })
        };
        let mut subscription = hub.subscribe(Some(0), usize::MAX);
        writer.join().unwrap();
        let mut seen = seqs(&subscription.backlog.events);
        while let Ok(event) = subscription.live.try_recv() {
            seen.push(event.seq);
        }
        assert_eq!(seen, (1..=1000).collect::<Vec<_>>());
    }
}

/// The hub's fan-out (`core::fanout`), driven through the hub as the streams drive it.
#[cfg(test)]
mod fanout_tests {
    use super::*;
    use crate::core::fanout::{Joined, Offer, Subscriber};
    use std::sync::Weak;
    use std::time::Duration;

    fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        mutex.lock().unwrap()
    }

    #[derive(Default)]
    struct Recorder {
        seen: Mutex<Vec<u64>>,
        closed: std::sync::atomic::AtomicBool,
        leave_after: Option<u64>,
        /// When the fan-out asked for upkeep; it answers that the next is due this much later.
        upkept: Arc<Mutex<Vec<tokio::time::Instant>>>,
        upkeep_every: Option<Duration>,
        /// Every offer to the streams sharing this log, as (stream, event), in the order they were made.
        offers: Arc<Mutex<Vec<(usize, u64)>>>,
        id: usize,
    }

    impl Subscriber for Recorder {
        fn offer(&self, event: &Arc<HubEvent>) -> Offer {
            lock(&self.seen).push(event.seq);
            lock(&self.offers).push((self.id, event.seq));
            match self.leave_after {
                Some(last) if event.seq >= last => Offer::Gone,
                _ => Offer::Kept,
            }
        }

        fn close(&self) {
            self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        }

        fn upkeep(&self, now: tokio::time::Instant) -> Option<tokio::time::Instant> {
            lock(&self.upkept).push(now);
            Some(now + self.upkeep_every.unwrap_or(Duration::from_secs(3600)))
        }
    }

    fn message() -> EventBody {
        EventBody::Message { text: "x".into() }
    }

    fn weak(recorder: &Arc<Recorder>) -> Weak<dyn Subscriber> {
        let weak: Weak<Recorder> = Arc::downgrade(recorder);
        weak
    }

    async fn settle() {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn every_event_published_after_joining_is_offered_in_order_and_once() {
        let hub = Arc::new(EventHub::new(Epoch("t".into()), 10_000));
        hub.publish(message());
        let early = Arc::new(Recorder::default());
        assert_eq!(hub.fanout().join(&hub, weak(&early)), Joined::Yes);
        for _ in 0..600 {
            hub.publish(message());
        }
        settle().await;
        let late = Arc::new(Recorder::default());
        hub.fanout().join(&hub, weak(&late));
        hub.publish(message());
        settle().await;
        assert_eq!(*lock(&early.seen), (2..=602).collect::<Vec<_>>());
        assert_eq!(*lock(&late.seen), vec![602]);
    }

    #[tokio::test]
    async fn events_stored_just_before_the_hub_closes_are_offered_before_the_close() {
        let hub = Arc::new(EventHub::new(Epoch("t".into()), 100));
        let recorder = Arc::new(Recorder::default());
        hub.fanout().join(&hub, weak(&recorder));
        for _ in 0..3 {
            hub.publish(message());
        }
        hub.close();
        settle().await;
        assert_eq!(*lock(&recorder.seen), vec![1, 2, 3]);
        assert!(recorder.closed.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_stream_dropped_by_its_owner_is_let_go_of_without_an_event() {
        let hub = Arc::new(EventHub::new(Epoch("t".into()), 100));
        let dropped = Arc::new(Recorder::default());
        let kept = Arc::new(Recorder::default());
        hub.fanout().join(&hub, weak(&dropped));
        hub.fanout().join(&hub, weak(&kept));
        let held_by_the_fanout = Arc::downgrade(&dropped);
        drop(dropped);
        assert!(held_by_the_fanout.upgrade().is_none(), "the fan-out holds no stream alive");
        hub.publish(message());
        settle().await;
        assert_eq!(*lock(&kept.seen), vec![1]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_upkeep_asks_each_stream_when_it_is_due_in_looks_at_most_every_quarter_second() {
        let hub = Arc::new(EventHub::new(Epoch("t".into()), 100));
        let start = tokio::time::Instant::now();
        let recorder = |every: Option<u64>| {
            Arc::new(Recorder { upkeep_every: every.map(Duration::from_millis), ..Default::default() })
        };
        let (idle, slow, fast) = (recorder(None), recorder(Some(600)), recorder(Some(100)));
        hub.fanout().join(&hub, weak(&idle));
        hub.fanout().join(&hub, weak(&slow));
        let until = |millis: u64| tokio::time::sleep_until(start + Duration::from_millis(millis));
        until(2_900).await;
        hub.fanout().join(&hub, weak(&fast));
        until(4_100).await;
        let fast_asked = fast.upkept.clone();
        drop(fast);
        until(5_000).await;
        let slow_asked = slow.upkept.clone();
        drop(slow);
        until(6_600).await;
        let asked = |asked: &Mutex<Vec<tokio::time::Instant>>| -> Vec<u64> {
            lock(asked).iter().map(|at| at.duration_since(start).as_millis() as u64).collect()
        };
        // Asked when due (the slow stream's 3,600 ms waited for the look at 3,750), a look at most every 250 ms
        // (the fast stream's 100 ms), and a stream that ended is dropped from the schedule when next due.
        assert_eq!(asked(&slow_asked), vec![0, 600, 1200, 1800, 2400, 3000, 3750, 4500]);
        assert_eq!(asked(&fast_asked), vec![3000, 3250, 3500, 3750, 4000]);
        // Asked on joining only: an hour is not due yet.
        assert_eq!(asked(&idle.upkept), vec![0]);
    }

    #[tokio::test(start_paused = true)]
    async fn connections_are_kept_alive_while_the_hub_publishes_faster_than_a_round_writes() {
        let hub = Arc::new(EventHub::new(Epoch("t".into()), 100_000));
        let recorder = Arc::new(Recorder { upkeep_every: Some(Duration::from_millis(500)), ..Default::default() });
        hub.fanout().join(&hub, weak(&recorder));
        settle().await;
        // More events than a round reads arrive before each round: the fan-out never finds the history drained.
        for _ in 0..40 {
            for _ in 0..(crate::core::fanout::EVENTS_PER_ROUND + 50) {
                hub.publish(message());
            }
            tokio::time::advance(Duration::from_millis(100)).await;
            tokio::task::yield_now().await;
        }
        let asked = lock(&recorder.upkept).len();
        assert!(asked >= 7, "4 s at one upkeep per 500 ms, asked {asked} times");
        assert!(lock(&recorder.seen).len() > 9_000, "the fan-out kept writing");
    }

    #[tokio::test]
    async fn streams_are_offered_each_event_in_joining_order_while_others_leave_or_are_dropped_between_them() {
        let hub = Arc::new(EventHub::new(Epoch("t".into()), 100));
        let offers = Arc::new(Mutex::new(Vec::new()));
        // Stream 3 is dropped by its owner before any event; 0, 2 and 5 leave after events 1, 2 and 3.
        let leaving = [Some(1), None, Some(2), None, None, Some(3), None];
        let streams: Vec<_> = leaving
            .iter()
            .enumerate()
            .map(|(id, &leave_after)| {
                Arc::new(Recorder { leave_after, offers: offers.clone(), id, ..Default::default() })
            })
            .collect();
        for stream in &streams {
            hub.fanout().join(&hub, weak(stream));
        }
        let mut streams: Vec<_> = streams.into_iter().map(Some).collect();
        streams[3] = None;
        for _ in 0..5 {
            hub.publish(message());
        }
        settle().await;
        let offered =
            |seq: u64| lock(&offers).iter().filter(|(_, of)| *of == seq).map(|(id, _)| *id).collect::<Vec<_>>();
        assert_eq!(offered(1), [0, 1, 2, 4, 5, 6]);
        assert_eq!(offered(2), [1, 2, 4, 5, 6]);
        assert_eq!(offered(3), [1, 4, 5, 6]);
        assert_eq!(offered(4), [1, 4, 6]);
        assert_eq!(offered(5), [1, 4, 6]);
        for stream in streams.iter().flatten().filter(|stream| stream.leave_after.is_none()) {
            assert_eq!(*lock(&stream.seen), [1, 2, 3, 4, 5], "stream {}", stream.id);
        }
    }

    #[tokio::test]
    async fn a_stream_that_leaves_is_offered_nothing_more_and_closing_tells_the_rest() {
        let hub = Arc::new(EventHub::new(Epoch("t".into()), 100));
        let leaving = Arc::new(Recorder { leave_after: Some(2), ..Default::default() });
        let staying = Arc::new(Recorder::default());
        hub.fanout().join(&hub, weak(&leaving));
        hub.fanout().join(&hub, weak(&staying));
        for _ in 0..4 {
            hub.publish(message());
        }
        settle().await;
        hub.close();
        settle().await;
        assert_eq!(*lock(&leaving.seen), vec![1, 2]);
        assert_eq!(*lock(&staying.seen), vec![1, 2, 3, 4]);
        assert!(staying.closed.load(std::sync::atomic::Ordering::SeqCst));
        assert!(!leaving.closed.load(std::sync::atomic::Ordering::SeqCst));
        let after_closing = Arc::new(Recorder::default());
        assert_eq!(hub.fanout().join(&hub, weak(&after_closing)), Joined::Closed);
    }
}
