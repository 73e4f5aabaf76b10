//! One task per hub that hands each new event to every stream that writes its own socket (see
//! `transports::direct_stream`), in sequence order, instead of waking one task per stream per event.
//!
//! A stream whose socket has room writes the event there and then, from this task; only a stream whose socket is
//! full, or that has something queued, or a delay fault to wait out, is woken to write it itself. With 10,000
//! streams an event then costs 10,000 writes and no task wake-ups (docs/src/scale.md has the measurements).
//!
//! The task reads the hub's history, not a channel of its own: it cannot fall behind into a second queue, and a
//! stream that misses events (a full queue of its own, a jump in numbering) catches up from the same history.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use tokio::sync::Notify;

use crate::core::hub::EventHub;
use crate::core::hub_event::HubEvent;

/// A stream the fan-out hands events to.
pub trait Subscriber: Send + Sync + 'static {
    /// `event` is the next in sequence order after the last one offered, unless the stream joined meanwhile or the
    /// fan-out itself had to skip (see [`Offer::Gone`] and the stream's own contiguity check).
    fn offer(&self, event: &Arc<HubEvent>) -> Offer;
    /// The hub closed: nothing more will be offered.
    fn close(&self);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    Kept,
    /// The stream ended: forget it.
    Gone,
}

/// With at least this many streams, a round lets the other tasks on its thread run after each event it wrote.
const STREAMS_WORTH_A_YIELD: usize = 1000;

/// How many events one round reads from the history before it offers them.
const EVENTS_PER_ROUND: usize = 256;

/// The fan-out of one hub: joined by streams, woken by every publish.
#[derive(Default)]
pub struct Fanout {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    joining: Mutex<Joining>,
    new_events: Notify,
}

#[derive(Default)]
struct Joining {
    subscribers: Vec<Weak<dyn Subscriber>>,
    /// Whether the task runs; it starts with the first stream.
    started: bool,
    closed: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A stream's joining: from [`Fanout::join`] on, the stream is offered every event the fan-out reads after it
/// joined. The caller takes its backlog from the hub only after joining, so each event is in the backlog, offered,
/// or both (the stream keeps the first copy by its number), never in neither.
#[derive(Debug, PartialEq, Eq)]
pub enum Joined {
    Yes,
    /// The hub is closed: nothing will be offered.
    Closed,
}

impl Fanout {
    /// Adds `subscriber`, held weakly: a stream that ends is let go of with everything it holds (its connection's
    /// wire record is then closed), not at the next event. Starts the task on the first one. Must run inside the
    /// Tokio runtime.
    pub fn join(&self, hub: &Arc<EventHub>, subscriber: Weak<dyn Subscriber>) -> Joined {
        let mut joining = lock(&self.shared.joining);
        if joining.closed {
            return Joined::Closed;
        }
        joining.subscribers.push(subscriber);
        if !joining.started {
            joining.started = true;
            // Everything up to the head now is in the backlog of any stream joining from here on.
            let from = hub.head_seq();
            // Unconstrained: Tokio's cooperative budget would make every socket after the 128th of a round answer
            // `Pending`, as if full, and wake its stream's task (measured: 99 % of the writes at 10,000 streams).
            tokio::spawn(tokio::task::unconstrained(run(Arc::downgrade(hub), self.shared.clone(), from)));
        }
        drop(joining);
        // Whatever the joiner may have missed while the task slept is offered at the next round.
        Joined::Yes
    }

    /// Called after each event is stored.
    pub fn wake(&self) {
        self.shared.new_events.notify_one();
    }

    /// Ends the task: every stream is told the hub closed.
    pub fn close(&self) {
        let waiting = {
            let mut joining = lock(&self.shared.joining);
            joining.closed = true;
            // Without a task, the streams still joining are told here.
            (!joining.started).then(|| std::mem::take(&mut joining.subscribers))
        };
        for subscriber in waiting.into_iter().flatten().filter_map(|subscriber| subscriber.upgrade()) {
            subscriber.close();
        }
        self.shared.new_events.notify_one();
    }
}

impl Drop for Fanout {
    /// A hub dropped without being closed (a test's) still ends its task and tells its streams.
    fn drop(&mut self) {
        self.close();
    }
}

async fn run(hub: Weak<EventHub>, shared: Arc<Shared>, mut offered_up_to: u64) {
    let mut subscribers: Vec<Weak<dyn Subscriber>> = Vec::new();
    loop {
        shared.new_events.notified().await;
        loop {
            // Read before the joiners are taken: a stream that joined before this read took its backlog before
            // these events were published, or is offered them now.
            let backlog = match hub.upgrade() {
                Some(hub) => hub.events_after(offered_up_to, EVENTS_PER_ROUND),
                None => Default::default(),
            };
            let closed = {
                let mut joining = lock(&shared.joining);
                subscribers.append(&mut joining.subscribers);
                joining.closed
            };
            if closed {
                subscribers.iter().filter_map(Weak::upgrade).for_each(|subscriber| subscriber.close());
                return;
            }
            let Some(last) = backlog.events.last().map(|event| event.seq) else { break };
            // A gap here (the task fell behind the history) reaches each stream as a jump in numbering, which it
            // answers by catching up from the history: the gap is the stream's to report.
            for event in &backlog.events {
                subscribers.retain(|subscriber| {
                    subscriber.upgrade().is_some_and(|subscriber| subscriber.offer(event) == Offer::Kept)
                });
                // A burst to thousands of streams would hold this worker thread for a long time without a break.
                if subscribers.len() >= STREAMS_WORTH_A_YIELD {
                    tokio::task::yield_now().await;
                }
            }
            offered_up_to = last;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{Epoch, EventBody};

    #[derive(Default)]
    struct Recorder {
        seen: Mutex<Vec<u64>>,
        closed: std::sync::atomic::AtomicBool,
        leave_after: Option<u64>,
    }

    impl Subscriber for Recorder {
        fn offer(&self, event: &Arc<HubEvent>) -> Offer {
            lock(&self.seen).push(event.seq);
            match self.leave_after {
                Some(last) if event.seq >= last => Offer::Gone,
                _ => Offer::Kept,
            }
        }

        fn close(&self) {
            self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
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
