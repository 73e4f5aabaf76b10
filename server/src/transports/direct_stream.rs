//! A stream that has its socket to itself (SSE and the HTTP stream once hyper let go of it, see `api::handoff`; a
//! WebSocket once upgraded): each event is written by the hub's fan-out the moment it is published, while the
//! socket has room; the stream's own task wakes only for what cannot go at once. Measured in docs/src/scale.md: a
//! task wake-up per stream per event was most of what a delivery cost beyond its `write(2)`.
//!
//! What may not go at once is queued, in order, for the task to write with back-pressure: the hello and the
//! backlog, an event behind a full socket or behind others still queued, and every event while a delay fault holds
//! this client. The queue is bounded: past [`QUEUE_LIMIT`] the stream stops taking events and later reads what it
//! missed from the hub's history, as every lagging reader does (and gets an explicit gap if even that is gone).
//!
//! All writes to the socket, from the fan-out, the task or a WebSocket library writing its own frames (through
//! [`SharedSocket`]), happen under one lock, each unit whole before the next and each announced to the wire tap just
//! before its first byte: the order on the wire is the order of the log.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::io;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Buf, Bytes};
use protocol::{Gap, StreamHello, WireLabel};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::api::handoff::Socket;
use crate::api::wire::Wire;
use crate::core::fanout::{Joined, Offer, Subscriber};
use crate::core::faults::FaultSwitches;
use crate::core::feed::FeedItem;
use crate::core::hub::{Backlog, EventHub};
use crate::core::hub_event::HubEvent;
use crate::core::peer::Peer;
use crate::core::stats::TransportCounters;
use crate::wire::connection::Annotation;

/// Events a stream may have queued before it reads the rest from the history instead (a broadcast receiver's
/// capacity elsewhere in the lab).
pub const QUEUE_LIMIT: usize = 1024;

/// How long a heartbeat's ping may wait for an event to ride behind (see [`State::ping_owed`]): longer than a
/// second, so that a lane at 1 event/s carries every ping, and a small part of the interval, so that the client
/// still has most of it to answer.
const PING_GRACE: Duration = Duration::from_secs(2);

fn ping_grace(every: Duration) -> Duration {
    PING_GRACE.min(every / 4)
}

/// How a stream writes what it carries on its own socket: each unit whole, as one buffer.
pub trait Framing: Send + 'static {
    fn hello(hello: &StreamHello) -> Outbound;
    /// Made once per event for every stream (see `HubEvent`).
    fn event(event: &HubEvent) -> Outbound;
    fn gap(gap: Gap) -> Outbound;
    /// What keeps the connection alive (see [`Upkeep`]).
    fn keep_alive() -> Outbound;
}

/// How a stream keeps its idle connection alive; the hub's fan-out asks each stream when it is due (see
/// `core::fanout`), so no stream keeps a timer of its own.
#[derive(Clone, Copy, Debug)]
pub enum Upkeep {
    /// A keep-alive after this long without a write, so that proxies and NAT tables keep an idle stream (an SSE
    /// comment, an empty line on the HTTP stream). Not while a write waits on the socket: then the client is slow,
    /// not idle.
    WhenIdle(Duration),
    /// A ping this often, whatever else was written; a client that sent nothing since the last one (its pong
    /// included) is unresponsive and the stream ends (a WebSocket, RFC 6455 §5.5.2).
    Heartbeat(Duration),
}

/// One unit as it goes on the wire, and what the wire tap is told of it.
pub struct Outbound {
    pub bytes: Bytes,
    /// `None` for a control frame, which the wire tap names by itself.
    pub label: Option<WireLabel>,
    pub seq: Option<u64>,
    /// See [`Annotation::payload_len`].
    pub payload_len: Option<usize>,
    /// For an event: the body bytes it counts as delivered (without the transport's framing).
    pub delivered: Option<usize>,
}

/// What a stream needs besides its socket, all of it fixed for its life.
pub struct Setup {
    pub hub: Arc<EventHub>,
    pub counters: Arc<TransportCounters>,
    pub faults: FaultSwitches,
    pub peer: Peer,
    pub wire: Wire,
    pub upkeep: Upkeep,
}

/// One stream, shared by the fan-out (which offers it events) and its task (which owns its lifetime).
pub struct DirectStream<F> {
    state: Mutex<State>,
    setup: Setup,
    _framing: PhantomData<fn() -> F>,
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
    /// When a heartbeat's next ping is due (a keep-alive's follows from `last_write`).
    next_ping: Instant,
    /// The client sent something since the last ping (see [`Upkeep::Heartbeat`]).
    heard: bool,
    /// A heartbeat's ping is due and waits, for at most [`ping_grace`] after it fell due, to go out behind the
    /// next event in the same write (see [`DirectStream::start`]). A flag, not a time: the fan-out reads this
    /// state for every delivery, and it stays as small as it was.
    ping_owed: bool,
    /// A ping went unanswered: the stream ends.
    unresponsive: bool,
    /// A WebSocket library is writing a frame of its own (see [`SharedSocket`]): until it is whole, events queue.
    foreign_sending: bool,
    /// The library's last write found the socket full: part of its frame may still be in its buffer.
    foreign_blocked: bool,
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
        self.socket.is_some() && self.writing.is_none() && self.queue.is_empty() && !self.lagged && !self.foreign_busy()
    }

    fn foreign_busy(&self) -> bool {
        self.foreign_sending || self.foreign_blocked
    }

    /// Queues `backlog`, read after `accepted`: its gap, then its events; the stream has then taken them all.
    fn queue_backlog(&mut self, mut accepted: u64, backlog: Backlog) {
        if let Some(gap) = backlog.gap {
            accepted = gap.to;
            self.queue.push_back(Outgoing::Item(FeedItem::Gap(gap)));
        }
        for event in backlog.events {
            accepted = event.seq;
            self.queue.push_back(Outgoing::Item(FeedItem::Event(event)));
        }
        self.accepted_up_to = Some(accepted);
    }

    fn wake_task(&mut self) {
        if let Some(task) = self.task.take() {
            task.wake();
        }
    }
}

/// Why a stream's work is over.
pub enum End {
    /// The client left or its socket failed: nothing more can be written.
    Lost,
    /// The hub closed and everything queued was written: the stream ends as its transport ends it.
    Closed,
    /// The client answered nothing for a heartbeat's interval (see [`Upkeep::Heartbeat`]).
    Unresponsive,
}

/// Whether the task watches the socket's read side itself, or something else reads it (a WebSocket library).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    OnlyForClose,
    Elsewhere,
}

impl<F: Framing> DirectStream<F> {
    /// Joins the hub's fan-out, then takes the backlog after `after` (joining first is what makes each event
    /// arrive exactly once: see [`crate::core::fanout::Joined`]). The hello goes first.
    pub fn open(setup: Setup, after: Option<u64>, hello: impl FnOnce(u64) -> StreamHello) -> StreamTask<F> {
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
            next_ping: Instant::now() + setup.upkeep.every(),
            heard: true,
            ping_owed: false,
            unresponsive: false,
            foreign_sending: false,
            foreign_blocked: false,
        };
        let stream = Arc::new(Self { state: Mutex::new(state), setup, _framing: PhantomData });
        let hub = stream.setup.hub.clone();
        let subscriber: std::sync::Weak<DirectStream<F>> = Arc::downgrade(&stream);
        let joined = hub.fanout().join(&hub, subscriber);
        let (backlog, head_seq) = hub.backlog_and_head(after);
        let mut state = lock(&stream.state);
        // A close that came while the backlog was read has already been told: keep it.
        state.closed |= joined == Joined::Closed;
        state.queue.push_back(Outgoing::Hello(hello(head_seq)));
        state.queue_backlog(after.unwrap_or(head_seq).min(head_seq), backlog);
        for event in std::mem::take(&mut state.early) {
            stream.take(&mut state, &event);
        }
        drop(state);
        StreamTask(stream)
    }

    /// Gives the stream its socket: from here on the fan-out may write to it.
    pub fn attach(&self, socket: Box<dyn Socket>) {
        lock(&self.state).socket = Some(socket);
    }

    /// Stops the fan-out writing to this stream and completes the unit on its way out, so that whatever the
    /// transport writes last starts on a boundary; false if the socket failed.
    pub async fn stop(&self) -> bool {
        lock(&self.state).gone = true;
        poll_fn(|cx| {
            let mut state = lock(&self.state);
            self.poll_write(&mut state, cx)
        })
        .await
        .is_ok()
    }

    /// The socket, for the transport's last words once the stream is stopped.
    pub fn take_socket(&self) -> Option<Box<dyn Socket>> {
        lock(&self.state).socket.take()
    }

    /// Marks a frame of the WebSocket library's own (an `ack`, a close) as on its way, or done: meanwhile events
    /// queue, so that the frame and its label stay together and in order.
    pub fn foreign_sending(&self, sending: bool) {
        let mut state = lock(&self.state);
        state.foreign_sending = sending;
        // Done answering a frame of the client's own (heard, then): the pongs that came while the session was busy
        // are read next, and the heartbeat's verdict waits a round for them rather than racing that read.
        if !sending {
            state.heard = true;
        }
    }

    /// Writes what is queued, waiting on the socket and on delay faults, until the stream ends.
    pub fn poll_work(&self, cx: &mut Context<'_>, hold: &mut Hold, reads: Reads) -> Poll<End> {
        let mut state = lock(&self.state);
        loop {
            if state.gone {
                return Poll::Ready(End::Lost);
            }
            if state.unresponsive {
                return Poll::Ready(End::Unresponsive);
            }
            match self.poll_write(&mut state, cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(())) => return Poll::Ready(End::Lost),
                Poll::Pending => return self.poll_client_left(&mut state, cx, reads),
            }
            if state.foreign_busy() {
                return self.poll_client_left(&mut state, cx, reads);
            }
            if let Some(next) = state.queue.front() {
                if let Outgoing::Item(FeedItem::Event(event)) = next {
                    if hold.poll_due(event, &self.setup, cx).is_pending() {
                        return self.poll_client_left(&mut state, cx, reads);
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
                return Poll::Ready(End::Closed);
            }
            return self.poll_client_left(&mut state, cx, reads);
        }
    }

    /// Reads only to see the client leave: anything it sends after its `GET` is dropped (the wire tap still
    /// records it), as no client pipelines behind a stream that does not end.
    /// Also where the task waits: the fan-out wakes it when it queues something.
    fn poll_client_left(&self, state: &mut State, cx: &mut Context<'_>, reads: Reads) -> Poll<End> {
        if !state.task.as_ref().is_some_and(|task| task.will_wake(cx.waker())) {
            state.task = Some(cx.waker().clone());
        }
        let Some(socket) = state.socket.as_mut().filter(|_| reads == Reads::OnlyForClose) else {
            return Poll::Pending;
        };
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
    /// makes it the unit on its way out.
    fn start(&self, state: &mut State, next: Outgoing) {
        let outbound = match next {
            Outgoing::Hello(hello) => F::hello(&hello),
            Outgoing::Item(FeedItem::Event(event)) => F::event(&event),
            Outgoing::Item(FeedItem::Gap(gap)) => F::gap(gap),
            Outgoing::KeepAlive => F::keep_alive(),
        };
        let Outbound { mut bytes, label, seq, payload_len, delivered } = outbound;
        if let Some(body_len) = delivered {
            self.setup.counters.delivered(1, body_len);
            // The ping that is owed goes in the same write, right behind the event: one system call and one TCP
            // segment instead of two. The wire tap names the ping itself, as a control frame.
            if std::mem::take(&mut state.ping_owed) {
                let ping = F::keep_alive().bytes;
                let mut both = Vec::with_capacity(bytes.len() + ping.len());
                both.extend_from_slice(&bytes);
                both.extend_from_slice(&ping);
                bytes = Bytes::from(both);
            }
        }
        // Nothing to write (see `TextChunk::http1_chunk`).
        if bytes.is_empty() {
            return;
        }
        if let Some(event) = label {
            self.setup.wire.annotate(Annotation { event, seq, payload_len });
        }
        state.writing = Some(bytes);
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
        let delayed = self.setup.faults.delays_events_of(&self.setup.peer);
        if self.send(state, Outgoing::Item(FeedItem::Event(event.clone())), !delayed) {
            self.setup.counters.written_at_once();
        }
    }

    /// Writes `outgoing` now if it `may_go_now` and the socket is free, else queues it for the task; answers
    /// whether it was written now.
    fn send(&self, state: &mut State, outgoing: Outgoing, may_go_now: bool) -> bool {
        if !may_go_now || !state.may_write_at_once() {
            state.queue.push_back(outgoing);
            state.wake_task();
            return false;
        }
        self.start(state, outgoing);
        // Not this task's waker: if the socket is full, the stream's task is woken to wait on it with its own.
        if self.poll_write(state, &mut Context::from_waker(Waker::noop())).is_pending() || state.gone {
            state.wake_task();
        }
        true
    }

    /// Queues what the stream missed, from the history: the events after the last one it took, or a gap.
    fn catch_up(&self, state: &mut State) {
        self.setup.counters.lag_recovered();
        let accepted = state.accepted_up_to.unwrap_or_default();
        let backlog = self.setup.hub.events_after(accepted, QUEUE_LIMIT);
        // A full page may not be all: the next catch-up reads on.
        state.lagged = backlog.events.len() == QUEUE_LIMIT;
        state.queue_backlog(accepted, backlog);
    }
}

impl<F: Framing> Subscriber for DirectStream<F> {
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

    fn prefetch(&self) {
        self.setup.wire.prefetch();
    }

    fn upkeep(&self, now: Instant) -> Option<Instant> {
        let mut state = lock(&self.state);
        if state.gone {
            return None;
        }
        let next = match self.setup.upkeep {
            Upkeep::WhenIdle(every) if state.last_write + every > now => state.last_write + every,
            Upkeep::WhenIdle(every) => {
                let waiting = !state.queue.is_empty() || state.writing.is_some() || state.foreign_busy();
                if !waiting {
                    self.send(&mut state, Outgoing::KeepAlive, true);
                }
                // A period on: after the keep-alive, or to see again whether a slow client has become idle.
                now + every
            }
            // No event came to carry the owed ping within its grace: it goes alone, behind whatever is queued (a
            // client too slow to read that is as good as silent).
            Upkeep::Heartbeat(every) if state.ping_owed => {
                // It fell due when the next ping was set one interval ahead.
                let until = state.next_ping - every + ping_grace(every);
                if until > now {
                    return Some(until);
                }
                state.ping_owed = false;
                self.send(&mut state, Outgoing::KeepAlive, true);
                state.next_ping
            }
            Upkeep::Heartbeat(_) if state.next_ping > now => state.next_ping,
            Upkeep::Heartbeat(every) => {
                state.next_ping = now + every;
                // While the session answers a frame of the client's own (an append that may wait on a slow
                // engine), it reads nothing: a pong that came meanwhile is unread, not missing, and the verdict
                // waits for a round in which the session listens.
                if std::mem::replace(&mut state.heard, false) || state.foreign_sending {
                    state.ping_owed = true;
                    now + ping_grace(every)
                } else {
                    state.unresponsive = true;
                    state.wake_task();
                    state.next_ping
                }
            }
        };
        (!state.gone).then_some(next)
    }
}

/// A stream as its task holds it: when the task ends, or is dropped before it ran (the connection never handed
/// the socket over), the fan-out forgets the stream and the events it queued are let go.
pub struct StreamTask<F: Framing>(Arc<DirectStream<F>>);

impl<F: Framing> std::ops::Deref for StreamTask<F> {
    type Target = DirectStream<F>;

    fn deref(&self) -> &DirectStream<F> {
        &self.0
    }
}

impl<F: Framing> StreamTask<F> {
    /// The socket as a WebSocket library sees it: its reads and writes go through the stream's lock, its writes
    /// after the unit on its way out.
    pub fn shared_socket(&self) -> SharedSocket<F> {
        SharedSocket(self.0.clone())
    }
}

impl Upkeep {
    fn every(self) -> Duration {
        match self {
            Upkeep::WhenIdle(every) | Upkeep::Heartbeat(every) => every,
        }
    }
}

impl<F: Framing> Drop for StreamTask<F> {
    fn drop(&mut self) {
        {
            let mut state = lock(&self.0.state);
            state.gone = true;
            state.queue.clear();
            // Closed now, not when the fan-out next offers an event.
            state.socket = None;
        }
        self.0.setup.hub.fanout().wake();
    }
}

/// The stream's socket for a WebSocket library, which reads it and writes its own frames (pongs, replies, the
/// close) between the events the stream writes.
pub struct SharedSocket<F>(Arc<DirectStream<F>>);

impl<F: Framing> SharedSocket<F> {
    fn with_socket<T>(
        &self,
        cx: &mut Context<'_>,
        io: impl FnOnce(Pin<&mut Box<dyn Socket>>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        let mut state = lock(&self.0.state);
        match state.socket.as_mut() {
            Some(socket) => io(Pin::new(socket), cx),
            None => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }
}

impl<F: Framing> AsyncRead for SharedSocket<F> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let mut state = lock(&self.0.state);
        let Some(socket) = state.socket.as_mut() else {
            return Poll::Ready(Err(io::ErrorKind::NotConnected.into()));
        };
        let before = buf.filled().len();
        let read = Pin::new(socket).poll_read(cx, buf);
        // Anything from the client, a pong or not, shows it is there.
        if buf.filled().len() > before {
            state.heard = true;
        }
        read
    }
}

impl<F: Framing> AsyncWrite for SharedSocket<F> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let stream = &self.0;
        let mut state = lock(&stream.state);
        // The unit on its way out goes first, whole.
        match stream.poll_write(&mut state, cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(())) => return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
            Poll::Pending => {
                state.foreign_blocked = true;
                return Poll::Pending;
            }
        }
        let Some(socket) = state.socket.as_mut() else {
            return Poll::Ready(Err(io::ErrorKind::NotConnected.into()));
        };
        let written = Pin::new(socket).poll_write(cx, buf);
        // tungstenite always writes its whole buffer: until it has, it is mid-frame (a pong, a ping), and an event
        // may not go in between.
        state.foreign_blocked = !matches!(written, Poll::Ready(Ok(count)) if count == buf.len());
        if !state.foreign_blocked {
            state.last_write = Instant::now();
            // What the library was writing held events back: the task writes them now.
            state.wake_task();
        }
        written
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with_socket(cx, |socket, cx| socket.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with_socket(cx, |socket, cx| socket.poll_shutdown(cx))
    }
}

/// The wait of the event at the front of the queue for its due time while a delay fault holds this client,
/// scheduled from when it was emitted so that a stream's delay stays constant (see `FaultSwitches::hold_event`).
#[derive(Default)]
pub struct Hold {
    waiting: Option<(u64, Pin<Box<Sleep>>)>,
}

impl Hold {
    fn poll_due(&mut self, event: &HubEvent, setup: &Setup, cx: &mut Context<'_>) -> Poll<()> {
        if !matches!(&self.waiting, Some((seq, _)) if *seq == event.seq) {
            let wait = setup.faults.event_wait(&setup.peer, event.emitted_at);
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
