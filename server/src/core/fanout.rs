//! One task per hub that hands each new event to every stream that writes its own socket (see
//! `transports::direct_stream`), in sequence order, instead of waking one task per stream per event.
//!
//! A stream whose socket has room writes the event there and then, from this task; only a stream whose socket is
//! full, or that has something queued, or a delay fault to wait out, is woken to write it itself. With 10,000
//! streams an event then costs 10,000 writes and no task wake-ups (docs/src/scale.md has the measurements).
//!
//! The task reads the hub's history, not a channel of its own: it cannot fall behind into a second queue, and a
//! stream that misses events (a full queue of its own, a jump in numbering) catches up from the same history.
//!
//! The same task keeps idle connections alive (an SSE comment, a WebSocket ping, see [`Subscriber::upkeep`]): one
//! timer for every stream of the hub instead of one per stream, which at 10,000 WebSockets and one event a second
//! was a fifth of the server's CPU (measured: docs/src/scale.md).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::core::hub_event::HubEvent;
use crate::core::prefetch::prefetch;

/// Where the fan-out reads events: the hub's history (`EventHub`).
pub trait EventSource: Send + Sync + 'static {
    fn head_seq(&self) -> u64;
    /// Up to `limit` events numbered after `after`, in order; a stream sees a jump in numbering where the history
    /// no longer holds some.
    fn events_after(&self, after: u64, limit: usize) -> Vec<Arc<HubEvent>>;
}

/// A stream the fan-out hands events to.
pub trait Subscriber: Send + Sync + 'static {
    /// `event` is the next in sequence order after the last one offered, unless the stream joined meanwhile or the
    /// fan-out itself had to skip (see [`Offer::Gone`] and the stream's own contiguity check).
    fn offer(&self, event: &Arc<HubEvent>) -> Offer;
    /// The hub closed: nothing more will be offered.
    fn close(&self);
    /// Whatever keeps the connection alive that is due by `now` (a keep-alive, a heartbeat); answers when it next
    /// wants to be asked, or `None` once the stream ended.
    fn upkeep(&self, now: Instant) -> Option<Instant>;
    /// Starts loading what [`Subscriber::offer`] will read beyond the stream itself (see [`crate::core::prefetch`]):
    /// the stream is next.
    fn prefetch(&self) {}
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
pub(crate) const EVENTS_PER_ROUND: usize = 256;

/// The upkeep looks at least this often, so that a stream that joined meanwhile is soon asked when it is due...
const UPKEEP_AT_LEAST_EVERY: Duration = Duration::from_secs(1);
/// ...and at most this often: thousands of streams each due at its own moment share one look. A keep-alive or a
/// ping is then up to this late.
const UPKEEP_AT_MOST_EVERY: Duration = Duration::from_millis(250);

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
    /// Adds `subscriber`, held weakly: what a stream that ends holds is let go of at once (its connection's wire
    /// record is then closed), and its place in the list when the task next wakes. Starts the task on the first one. Must run inside the
    /// Tokio runtime.
    pub fn join<S: EventSource>(&self, source: &Arc<S>, subscriber: Weak<dyn Subscriber>) -> Joined {
        let mut joining = lock(&self.shared.joining);
        if joining.closed {
            return Joined::Closed;
        }
        joining.subscribers.push(subscriber);
        if !joining.started {
            joining.started = true;
            // Everything up to the head now is in the backlog of any stream joining from here on.
            let from = source.head_seq();
            let source: Weak<dyn EventSource> = Arc::downgrade(source) as Weak<S>;
            // Unconstrained: Tokio's cooperative budget would make every socket after the 128th of a round answer
            // `Pending`, as if full, and wake its stream's task (measured: 99 % of the writes at 10,000 streams).
            tokio::spawn(tokio::task::unconstrained(run(source, self.shared.clone(), from)));
        }
        drop(joining);
        // Whatever the joiner may have missed while the task slept is offered at the next round.
        Joined::Yes
    }

    /// Called after each event is stored, and when a stream ends (its place is then let go of).
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

async fn run(source: Weak<dyn EventSource>, shared: Arc<Shared>, mut offered_up_to: u64) {
    let mut subscribers: Vec<Weak<dyn Subscriber>> = Vec::new();
    let mut upkeeps = Upkeeps::default();
    let mut upkeep_due = std::pin::pin!(tokio::time::sleep_until(Instant::now()));
    loop {
        tokio::select! {
            () = shared.new_events.notified() => {}
            () = upkeep_due.as_mut() => {
                take_joiners(&shared, &mut subscribers, &mut upkeeps);
                upkeep_due.as_mut().reset(upkeeps.run());
                continue;
            }
        }
        loop {
            // Read before the joiners are taken: a stream not taken in this round joined after this read, so the
            // backlog it takes after joining holds these events.
            let events = match source.upgrade() {
                Some(source) => source.events_after(offered_up_to, EVENTS_PER_ROUND),
                None => Vec::new(),
            };
            let closed = take_joiners(&shared, &mut subscribers, &mut upkeeps);
            let Some(last) = events.last().map(|event| event.seq) else {
                if closed {
                    // Only once every event stored before the close was offered: a closing hub loses none.
                    subscribers.iter().filter_map(Weak::upgrade).for_each(|subscriber| subscriber.close());
                    return;
                }
                // Woken without an event: a stream ended, and its place goes now rather than at the next event.
                subscribers.retain(|subscriber| subscriber.strong_count() > 0);
                break;
            };
            // Events the history no longer holds (the task fell behind it) reach each stream as a jump in
            // numbering, which it answers by catching up from the history: the gap is the stream's to report.
            for event in &events {
                offer_to_all(&mut subscribers, event);
                // A burst to thousands of streams would hold this worker thread for a long time without a break.
                if subscribers.len() >= STREAMS_WORTH_A_YIELD {
                    tokio::task::yield_now().await;
                }
            }
            offered_up_to = last;
            // A hub publishing faster than this round writes would never leave it: its connections are kept alive
            // from here then, or their pings would stop while events flow.
            if upkeep_due.is_elapsed() {
                upkeep_due.as_mut().reset(upkeeps.run());
            }
            tokio::task::yield_now().await;
        }
    }
}

/// Takes the streams that joined since the last look into the offers and the upkeep schedule; answers whether the
/// hub closed.
fn take_joiners(shared: &Shared, subscribers: &mut Vec<Weak<dyn Subscriber>>, upkeeps: &mut Upkeeps) -> bool {
    let mut joining = lock(&shared.joining);
    upkeeps.schedule(&joining.subscribers);
    subscribers.append(&mut joining.subscribers);
    joining.closed
}

/// When each stream's upkeep is next due, earliest first: a look asks only the streams that are due, so 10,000
/// WebSockets pinged every 20 s cost 500 asks a second, not 10,000 per look.
#[derive(Default)]
struct Upkeeps {
    due: BinaryHeap<Reverse<Due>>,
    /// Breaks ties in joining order.
    scheduled: u64,
}

struct Due {
    at: Instant,
    order: u64,
    stream: Weak<dyn Subscriber>,
}

impl Upkeeps {
    /// Streams just joined are asked at the next look, and tell then when they are next due.
    fn schedule(&mut self, joined: &[Weak<dyn Subscriber>]) {
        let now = Instant::now();
        for stream in joined {
            self.push(now, stream.clone());
        }
    }

    fn push(&mut self, at: Instant, stream: Weak<dyn Subscriber>) {
        self.scheduled += 1;
        self.due.push(Reverse(Due { at, order: self.scheduled, stream }));
    }

    /// Asks every stream that is due for its upkeep, forgets the ones that ended, and answers when to look again.
    fn run(&mut self) -> Instant {
        let now = Instant::now();
        while let Some(Reverse(Due { at, .. })) = self.due.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse(Due { stream, .. })) = self.due.pop() else { break };
            let Some(subscriber) = stream.upgrade() else { continue };
            if let Some(Some(next)) = guarded(&*subscriber, "its upkeep", |subscriber| subscriber.upkeep(now)) {
                // Never again in this look, whatever the stream answers.
                self.push(next.max(now + UPKEEP_AT_MOST_EVERY), stream);
            }
        }
        let earliest = self.due.peek().map_or(now + UPKEEP_AT_LEAST_EVERY, |Reverse(due)| due.at);
        earliest.min(now + UPKEEP_AT_LEAST_EVERY).max(now + UPKEEP_AT_MOST_EVERY)
    }
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}

impl Eq for Due {}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.order).cmp(&(other.at, other.order))
    }
}

/// Offers `event` to every stream in joining order, and forgets the ones that ended. Each stream's memory is loaded
/// in steps before its turn (see [`crate::core::prefetch`]): three streams ahead, where its reference counts are;
/// two ahead, the stream itself; one ahead, what it points to (its connection's wire tap).
fn offer_to_all(subscribers: &mut Vec<Weak<dyn Subscriber>>, event: &Arc<HubEvent>) {
    let upgrade = |subscribers: &[Weak<dyn Subscriber>], index: usize| subscribers.get(index).and_then(Weak::upgrade);
    let mut next = upgrade(subscribers, 0);
    let mut after_next = upgrade(subscribers, 1);
    let mut kept = 0;
    for index in 0..subscribers.len() {
        if let Some(far) = subscribers.get(index + 3) {
            // The counts sit just before the stream in its allocation.
            let stream = Weak::as_ptr(far).cast::<u8>();
            prefetch(stream.wrapping_sub(2 * std::mem::size_of::<usize>()), 64);
        }
        let current = std::mem::replace(&mut next, after_next.take());
        after_next = upgrade(subscribers, index + 2);
        if let Some(stream) = &after_next {
            prefetch(Arc::as_ptr(stream), std::mem::size_of_val(&**stream));
        }
        if let Some(stream) = &next {
            stream.prefetch();
        }
        if current.is_some_and(|subscriber| offer(&*subscriber, event)) {
            // Order is kept: everything between `kept` and `index` has ended.
            subscribers.swap(kept, index);
            kept += 1;
        }
    }
    subscribers.truncate(kept);
}

/// Offers `event` to one stream; answers whether to keep it.
fn offer(subscriber: &dyn Subscriber, event: &Arc<HubEvent>) -> bool {
    guarded(subscriber, "an event", |subscriber| subscriber.offer(event)) == Some(Offer::Kept)
}

/// Runs `work` on one stream: a panic in one stream's writing (its framing, the wire tap) ends that stream
/// (`None`), not the fan-out of every other.
fn guarded<T>(subscriber: &dyn Subscriber, what: &str, work: impl FnOnce(&dyn Subscriber) -> T) -> Option<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(subscriber))) {
        Ok(answer) => Some(answer),
        Err(_) => {
            tracing::error!("a stream panicked while the fan-out wrote {what} to it; it is closed");
            subscriber.close();
            None
        }
    }
}
