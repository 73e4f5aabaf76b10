//! A text stream (SSE, the HTTP stream) once it has its socket to itself (see `api::handoff`): each event is
//! written by the hub's fan-out the moment it is published, while the socket has room; the stream's own task wakes
//! only for what cannot go at once. Measured in docs/src/scale.md: a task wake-up per stream per event was most of
//! what a delivery cost beyond its `write(2)`.
//!
//! What may not go at once is queued, in order, for the task to write with back-pressure: the hello and the
//! backlog, an event behind a full socket or behind others still queued, and every event while a delay fault holds
//! this client. The queue is bounded: past [`QUEUE_LIMIT`] the stream stops taking events and later reads what it
//! missed from the hub's history, as every lagging reader does (and gets an explicit gap if even that is gone).
//!
//! All writes to the socket, from the fan-out or the task, happen under one lock, each chunk whole before the next
//! and each announced to the wire tap just before its first byte: the order on the wire is the order of the log.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Buf, Bytes};
use protocol::{StreamHello, WireLabel};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::{sleep_until, Instant, Sleep};

use super::text_stream::StreamCodec;
use crate::api::handoff::Socket;
use crate::api::wire::Wire;
use crate::core::clock::unix_micros_now;
use crate::core::fanout::{Joined, Offer, Subscriber};
use crate::core::faults::{FaultSwitches, FaultWatch};
use crate::core::feed::FeedItem;
use crate::core::hub::EventHub;
use crate::core::hub_event::{Http1Chunk, HubEvent, TextChunk};
use crate::core::peer::Peer;
use crate::core::stats::TransportCounters;
use crate::wire::connection::Annotation;

/// Events a stream may have queued before it reads the rest from the history instead (a broadcast receiver's
/// capacity elsewhere in the lab).
pub const QUEUE_LIMIT: usize = 1024;

/// What a stream needs besides its socket, all of it fixed for its life.
pub struct Setup {
    pub hub: Arc<EventHub>,
    pub counters: Arc<TransportCounters>,
    pub faults: FaultSwitches,
    pub peer: Peer,
    pub wire: Wire,
    pub keep_alive: Duration,
}

/// One stream, shared by the fan-out (which offers it events) and its task (which owns its lifetime).
pub struct DirectStream<C> {
    state: Mutex<State>,
    setup: Setup,
    _codec: PhantomData<fn() -> C>,
}

struct State {
    /// `None` until the connection hands the socket over: until then everything is queued.
    socket: Option<Box<dyn Socket>>,
    /// The newest sequence number queued or written (or skipped by a gap); `None` until the backlog is taken.
    accepted_up_to: Option<u64>,
    /// Events offered before the backlog was taken, sorted out against it then.
    early: Vec<Arc<HubEvent>>,
    queue: VecDeque<Outgoing>,
    /// The chunk on its way out, once its first byte may have gone: nothing else is written until it is whole.
    writing: Option<Bytes>,
    /// Events were refused (the queue was full, or one came out of order): read them from the history.
    lagged: bool,
    /// The hub closed: write what is queued, then end the body.
    closed: bool,
    /// The stream ended: the fan-out forgets it.
    gone: bool,
    /// Woken when something is queued for the task.
    task: Option<Waker>,
    last_write: Instant,
}

enum Outgoing {
    Hello(StreamHello),
    Item(FeedItem),
    KeepAlive,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    fn may_write_at_once(&self) -> bool {
        self.socket.is_some() && self.writing.is_none() && self.queue.is_empty() && !self.lagged
    }

    fn wake_task(&mut self) {
        if let Some(task) = self.task.take() {
            task.wake();
        }
    }
}

/// How a stream's task ended.
enum End {
    /// The client left or its socket failed: nothing more can be written.
    Lost,
    /// The hub closed or a fault dropped the stream: the body ends with its last chunk.
    Finished,
}

impl<C: StreamCodec> DirectStream<C> {
    /// Joins the hub's fan-out, then takes the backlog after `after` (joining first is what makes each event
    /// arrive exactly once: see [`crate::core::fanout::Joined`]). The hello goes first.
    pub fn open(setup: Setup, after: Option<u64>, hello: impl FnOnce(u64) -> StreamHello) -> StreamTask<C> {
        let state = State {
            socket: None,
            accepted_up_to: None,
            early: Vec::new(),
            queue: VecDeque::new(),
            writing: None,
            lagged: false,
            closed: false,
            gone: false,
            task: None,
            last_write: Instant::now(),
        };
        let stream = Arc::new(Self { state: Mutex::new(state), setup, _codec: PhantomData });
        let hub = stream.setup.hub.clone();
        let joined = hub.fanout().join(&hub, stream.clone());
        let (backlog, head_seq) = hub.backlog_and_head(after);
        let mut state = lock(&stream.state);
        state.closed = joined == Joined::Closed;
        state.queue.push_back(Outgoing::Hello(hello(head_seq)));
        let mut accepted = after.unwrap_or(head_seq).min(head_seq);
        if let Some(gap) = backlog.gap {
            accepted = gap.to;
            state.queue.push_back(Outgoing::Item(FeedItem::Gap(gap)));
        }
        for event in backlog.events {
            accepted = event.seq;
            state.queue.push_back(Outgoing::Item(FeedItem::Event(event)));
        }
        state.accepted_up_to = Some(accepted);
        for event in std::mem::take(&mut state.early) {
            stream.take(&mut state, &event);
        }
        drop(state);
        StreamTask(stream)
    }

    /// Writes the stream on `socket` until it ends.
    async fn run(&self, socket: Box<dyn Socket>, mut dropped: FaultWatch) {
        lock(&self.state).socket = Some(socket);
        let mut hold = Hold::default();
        let keep_alive = self.setup.keep_alive;
        let mut keep_alive_due = Box::pin(sleep_until(Instant::now() + keep_alive));
        let end = loop {
            tokio::select! {
                end = poll_fn(|cx| self.poll_work(cx, &mut hold)) => break end,
                () = &mut keep_alive_due => {
                    // Written `keep_alive` after the last chunk, whoever wrote it; not while a chunk waits on the
                    // socket, as then the client is not idle but slow.
                    let mut state = lock(&self.state);
                    let (now, due) = (Instant::now(), state.last_write + keep_alive);
                    if due > now {
                        keep_alive_due.as_mut().reset(due);
                    } else {
                        if state.queue.is_empty() && state.writing.is_none() {
                            state.queue.push_back(Outgoing::KeepAlive);
                        }
                        keep_alive_due.as_mut().reset(now + keep_alive);
                    }
                }
                // Ending the body closes the response; the client reconnects (EventSource by itself, a fetch
                // reader by its own code).
                () = dropped.until_dropped() => break End::Finished,
            }
        };
        if let End::Finished = end {
            self.finish().await;
        }
    }

    /// Ends the body: the chunk on its way out is completed, then the last chunk, then the connection closes.
    async fn finish(&self) {
        lock(&self.state).gone = true;
        let written = poll_fn(|cx| {
            let mut state = lock(&self.state);
            self.poll_write(&mut state, cx)
        })
        .await;
        let Some(mut socket) = lock(&self.state).socket.take() else { return };
        if written.is_ok() && socket.write_all(b"0\r\n\r\n").await.is_ok() {
            let _ = socket.shutdown().await;
        }
    }

    /// Writes what is queued, waiting on the socket and on delay faults, until the stream ends.
    fn poll_work(&self, cx: &mut Context<'_>, hold: &mut Hold) -> Poll<End> {
        let mut state = lock(&self.state);
        loop {
            if state.gone {
                return Poll::Ready(End::Lost);
            }
            match self.poll_write(&mut state, cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(())) => return Poll::Ready(End::Lost),
                Poll::Pending => return self.poll_client_left(&mut state, cx),
            }
            if let Some(next) = state.queue.front() {
                if let Outgoing::Item(FeedItem::Event(event)) = next {
                    if hold.poll_due(event, &self.setup, cx).is_pending() {
                        return self.poll_client_left(&mut state, cx);
                    }
                }
                if let Some(next) = state.queue.pop_front() {
                    self.start(&mut state, next);
                }
                continue;
            }
            if state.lagged {
                self.catch_up(&mut state);
                continue;
            }
            if state.closed {
                return Poll::Ready(End::Finished);
            }
            return self.poll_client_left(&mut state, cx);
        }
    }

    /// Reads only to see the client leave: anything it sends after its `GET` is dropped (the wire tap still
    /// records it), as no client pipelines behind a stream that does not end.
    /// Also where the task waits: the fan-out wakes it when it queues something.
    fn poll_client_left(&self, state: &mut State, cx: &mut Context<'_>) -> Poll<End> {
        if !state.task.as_ref().is_some_and(|task| task.will_wake(cx.waker())) {
            state.task = Some(cx.waker().clone());
        }
        let Some(socket) = state.socket.as_mut() else { return Poll::Pending };
        let mut ignored = [0u8; 64];
        loop {
            let mut buf = ReadBuf::new(&mut ignored);
            match Pin::new(&mut *socket).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => continue,
                Poll::Ready(_) => {
                    state.gone = true;
                    return Poll::Ready(End::Lost);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Writes the chunk on its way out, as far as the socket takes it.
    fn poll_write(&self, state: &mut State, cx: &mut Context<'_>) -> Poll<Result<(), ()>> {
        let State { socket, writing, last_write, gone, .. } = state;
        let (Some(socket), Some(chunk)) = (socket.as_mut(), writing.as_mut()) else {
            // Nothing to write, or no socket yet (then the queue waits for it).
            return if writing.is_some() { Poll::Pending } else { Poll::Ready(Ok(())) };
        };
        while chunk.has_remaining() {
            match Pin::new(&mut *socket).poll_write(cx, chunk) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                    *gone = true;
                    return Poll::Ready(Err(()));
                }
                Poll::Ready(Ok(written)) => chunk.advance(written),
                Poll::Pending => return Poll::Pending,
            }
        }
        *writing = None;
        *last_write = Instant::now();
        Poll::Ready(Ok(()))
    }

    /// Encodes `next` (an event was encoded and framed once, for every stream), tells the wire tap what it is, and
    /// makes it the chunk on its way out.
    fn start(&self, state: &mut State, next: Outgoing) {
        let (label, seq, chunk) = match next {
            Outgoing::Hello(hello) => (WireLabel::Hello, None, C::hello(&hello).http1_chunk()),
            Outgoing::Item(FeedItem::Event(event)) => {
                let chunk = C::event_http1(&event);
                self.setup.counters.delivered(1, chunk.body_len);
                (WireLabel::of_event(&event.body), Some(event.seq), chunk)
            }
            Outgoing::Item(FeedItem::Gap(gap)) => (WireLabel::Gap, None, C::gap(gap).http1_chunk()),
            Outgoing::KeepAlive => (WireLabel::KeepAlive, None, TextChunk::from_static(C::KEEP_ALIVE).http1_chunk()),
        };
        let Http1Chunk { framed, body_len, json_len } = chunk;
        // An empty chunk would read as the body's end.
        if body_len == 0 {
            return;
        }
        self.setup.wire.annotate(Annotation { event: label, seq, payload_len: Some(json_len) });
        state.writing = Some(framed);
    }

    /// Takes `event` if it is the next one: written now if the socket is free, else queued for the task.
    fn take(&self, state: &mut State, event: &Arc<HubEvent>) {
        let Some(accepted) = state.accepted_up_to else {
            state.early.push(event.clone());
            return;
        };
        if event.seq <= accepted || state.lagged {
            return;
        }
        if event.seq != accepted + 1 || state.queue.len() >= QUEUE_LIMIT {
            state.lagged = true;
            state.wake_task();
            return;
        }
        state.accepted_up_to = Some(event.seq);
        let outgoing = Outgoing::Item(FeedItem::Event(event.clone()));
        if !state.may_write_at_once() || self.setup.faults.delays_events_of(&self.setup.peer) {
            state.queue.push_back(outgoing);
            state.wake_task();
            return;
        }
        self.start(state, outgoing);
        self.setup.counters.written_at_once();
        // Not this task's waker: if the socket is full, the stream's task is woken to wait on it with its own.
        if self.poll_write(state, &mut Context::from_waker(Waker::noop())).is_pending() || state.gone {
            state.wake_task();
        }
    }

    /// Queues what the stream missed, from the history: the events after the last one it took, or a gap.
    fn catch_up(&self, state: &mut State) {
        self.setup.counters.lag_recovered();
        let accepted = state.accepted_up_to.unwrap_or_default();
        let backlog = self.setup.hub.events_after(accepted, QUEUE_LIMIT);
        let mut accepted = accepted;
        if let Some(gap) = backlog.gap {
            accepted = gap.to;
            state.queue.push_back(Outgoing::Item(FeedItem::Gap(gap)));
        }
        // A full page may not be all: the next catch-up reads on.
        state.lagged = backlog.events.len() == QUEUE_LIMIT;
        for event in backlog.events {
            accepted = event.seq;
            state.queue.push_back(Outgoing::Item(FeedItem::Event(event)));
        }
        state.accepted_up_to = Some(accepted);
    }
}

impl<C: StreamCodec> Subscriber for DirectStream<C> {
    fn offer(&self, event: &Arc<HubEvent>) -> Offer {
        let mut state = lock(&self.state);
        if state.gone {
            return Offer::Gone;
        }
        self.take(&mut state, event);
        if state.gone {
            Offer::Gone
        } else {
            Offer::Kept
        }
    }

    fn close(&self) {
        let mut state = lock(&self.state);
        state.closed = true;
        state.wake_task();
    }
}

/// A stream as its task holds it: when the task ends, or is dropped before it ran (the connection never handed
/// the socket over), the fan-out forgets the stream and the events it queued are let go.
pub struct StreamTask<C: StreamCodec>(Arc<DirectStream<C>>);

impl<C: StreamCodec> StreamTask<C> {
    /// Writes the stream on `socket` until the client leaves, the hub closes or a fault drops it.
    pub async fn run(self, socket: Box<dyn Socket>, dropped: FaultWatch) {
        self.0.run(socket, dropped).await;
    }
}

impl<C: StreamCodec> Drop for StreamTask<C> {
    fn drop(&mut self) {
        let mut state = lock(&self.0.state);
        state.gone = true;
        state.queue.clear();
        // Closed now, not when the fan-out next offers an event.
        state.socket = None;
    }
}

/// The wait of the event at the front of the queue for its due time while a delay fault holds this client,
/// scheduled from when it was emitted so that a stream's delay stays constant (see `FaultSwitches::hold_event`).
#[derive(Default)]
struct Hold {
    waiting: Option<(u64, Pin<Box<Sleep>>)>,
}

impl Hold {
    fn poll_due(&mut self, event: &HubEvent, setup: &Setup, cx: &mut Context<'_>) -> Poll<()> {
        if !matches!(&self.waiting, Some((seq, _)) if *seq == event.seq) {
            let delay = setup.faults.sampled_delay(&setup.peer);
            let due_micros = event.emitted_at + delay.as_micros() as u64;
            let wait = Duration::from_micros(due_micros.saturating_sub(unix_micros_now()));
            if wait.is_zero() {
                self.waiting = None;
                return Poll::Ready(());
            }
            self.waiting = Some((event.seq, Box::pin(tokio::time::sleep(wait))));
        }
        let Some((_, sleep)) = self.waiting.as_mut() else { return Poll::Ready(()) };
        sleep.as_mut().poll(cx).map(|()| self.waiting = None)
    }
}
