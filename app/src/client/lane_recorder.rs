//! The one place a lane writes down what happened on its connection: trace records for the diagram, figures for
//! the metrics, and the link status.

use leptos::prelude::*;

use crate::diagram::{Millis, NoteTone, RecordKind, TraceLog, WireKey};
use crate::metrics::LaneMetrics;
use crate::round_trip::PendingRoundTrips;
use protocol::session::{CursorCheck, RunCheck};
use protocol::{Arrival, AudioClip, ClientSession, Epoch, Event, EventBody, Gap, PollResponse, Transport, WireRecord};

use super::audio_clip::ReceivedClip;
use super::browser_clock::now;
use super::{LaneOptions, TeacherMessage};
use crate::clock_offset::ClockOffset;
use crate::lane_text;

#[derive(Clone, Debug, PartialEq)]
pub enum LinkStatus {
    Off,
    Connecting,
    Open,
    /// Between short polls.
    Idle,
    /// A request or connection failed; trying again after a delay.
    Retrying {
        delay_ms: u32,
    },
    /// Stopped so that this browser's lab tabs do not use up its connections to the server (see `tab_share`).
    HeldBack,
    /// A request that the server answers at once (or a stream's opening) has had no answer for this long: most
    /// likely it is queued in the browser, waiting for a free connection.
    NoAnswer {
        waited_ms: u32,
    },
}

impl LinkStatus {
    pub fn text(&self) -> String {
        match self {
            LinkStatus::Off => "off".into(),
            LinkStatus::Connecting => "connecting".into(),
            LinkStatus::Open => "open".into(),
            LinkStatus::Idle => "waiting for next poll".into(),
            LinkStatus::Retrying { delay_ms } => format!("retrying in {:.1} s", *delay_ms as f64 / 1000.0),
            LinkStatus::HeldBack => "paused: other tabs hold the connections".into(),
            LinkStatus::NoAnswer { waited_ms } => {
                format!("no answer {:.0} s: waiting for a free connection?", *waited_ms as f64 / 1000.0)
            }
        }
    }

    /// The status in full, for its tooltip (the lane header has room for one short line).
    pub fn detail(&self) -> String {
        match self {
            LinkStatus::HeldBack => {
                "paused: other lab tabs of this browser hold the connections it allows per server (see the note above \
                 the lanes)"
                    .into()
            }
            LinkStatus::NoAnswer { .. } => format!(
                "{}: browsers allow 6 connections per server, shared by all their tabs, and queue the rest without a word",
                self.text()
            ),
            other => other.text(),
        }
    }
}

/// What every transport hook returns.
#[derive(Clone, Copy)]
pub struct LaneHandle {
    pub transport: Transport,
    pub status: ReadSignal<LinkStatus>,
    pub trace: ReadSignal<TraceLog>,
    pub metrics: ReadSignal<LaneMetrics>,
    /// Notify to make the browser close this lane's connection itself (a client-side fault); the lane reconnects.
    pub browser_drop: Trigger,
    /// Where the side channel delivers what the server measured on this lane's connections.
    pub wire_sink: Callback<WireRecord>,
    /// Zeroes the lane's figures (its cursor and connection carry on).
    pub reset_metrics: Callback<()>,
    /// Sends one message upstream the way this lane can (a POST, or a frame on its own socket) and times it until
    /// this lane receives it back (see `round_trip.rs`).
    pub round_trip: Callback<()>,
    /// The latest audio clip this lane received, as it received it, ready to play.
    pub clip: ReadSignal<Option<ReceivedClip>>,
}

#[derive(Clone, Copy)]
pub struct LaneRecorder {
    pub(super) transport: Transport,
    browser_drop: Trigger,
    trace: RwSignal<TraceLog>,
    pub(super) metrics: RwSignal<LaneMetrics>,
    status: RwSignal<LinkStatus>,
    /// Where the lane is in the log and what each arrival means: the protocol's one client session.
    session: StoredValue<ClientSession>,
    clock_offset: Signal<Option<ClockOffset>>,
    teacher_message: RwSignal<Option<TeacherMessage>>,
    pub(super) round_trips: StoredValue<PendingRoundTrips>,
    clip: RwSignal<Option<ReceivedClip>>,
    /// The lane asked for only some of the events (an MQTT filter narrower than every kind): a jump in the numbers
    /// is the events it chose not to get, not a loss.
    skips_by_choice: StoredValue<bool>,
}

impl LaneRecorder {
    pub fn new(transport: Transport, options: &LaneOptions) -> Self {
        let start = &options.start;
        Self {
            clock_offset: options.clock_offset,
            transport,
            browser_drop: Trigger::new(),
            trace: RwSignal::new(TraceLog::default()),
            metrics: RwSignal::new(LaneMetrics::starting_after(start.after)),
            status: RwSignal::new(LinkStatus::Off),
            session: StoredValue::new(ClientSession::starting_after(start.after, start.epoch.clone())),
            teacher_message: options.teacher_message,
            round_trips: StoredValue::new(PendingRoundTrips::default()),
            clip: RwSignal::new(None),
            skips_by_choice: StoredValue::new(false),
        }
    }

    /// Whether the lane now subscribes to only some of the events (see `skips_by_choice`).
    pub fn set_skips_by_choice(&self, skips: bool) {
        self.skips_by_choice.set_value(skips);
    }

    /// What the hook returns; `round_trip` is the hook's own way of sending a message upstream.
    pub fn handle(&self, round_trip: Callback<()>) -> LaneHandle {
        let recorder = *self;
        LaneHandle {
            transport: self.transport,
            status: self.status.read_only(),
            trace: self.trace.read_only(),
            metrics: self.metrics.read_only(),
            browser_drop: self.browser_drop,
            wire_sink: Callback::new(move |record| recorder.attach_wire(record)),
            reset_metrics: Callback::new(move |()| recorder.metrics.update(LaneMetrics::reset)),
            round_trip,
            clip: self.clip.read_only(),
        }
    }

    /// Subscribes the running effect to client-side drops.
    pub fn track_browser_drops(&self) {
        self.browser_drop.track();
    }

    /// The `after` to resume from: the last sequence number this lane accounted for.
    pub fn cursor(&self) -> u64 {
        self.session.try_with_value(ClientSession::resume_after).unwrap_or_default()
    }

    /// Runs `change` on the session, then shows its cursor in the lane's figures. `None` once the lane is gone
    /// (its page left while a task was finishing): there is nothing left to record into.
    fn in_session<T>(&self, change: impl FnOnce(&mut ClientSession) -> T) -> Option<T> {
        let (result, cursor) = self.session.try_update_value(|session| (change(session), session.cursor()))?;
        self.metrics.try_update(|metrics| metrics.last_seq = cursor);
        Some(result)
    }

    /// Forgets where the page started: the lane's first connection asks for what comes from now on, as a page
    /// opened at that moment would. For a lane that starts switched off and can ask for the present (a gRPC call
    /// with no `after`), so that switching it on later does not replay what was published meanwhile and count
    /// the time it spent off as latency.
    pub fn join_at_present(&self) {
        self.in_session(|session| *session = ClientSession::new());
    }

    /// Where to resume, or `None` for a lane that has not learnt where the log is (see [`Self::join_at_present`]).
    pub fn resume_point(&self) -> Option<u64> {
        self.session.try_with_value(ClientSession::cursor).flatten()
    }

    /// A connection opened or a request was answered: the back-off starts again from its first step.
    pub fn connected(&self) {
        self.session.update_value(ClientSession::connected);
    }

    /// A connection or request failed: how long the session's back-off says to wait, and the how-many-th failure
    /// in a row this was.
    pub fn failed(&self) -> (u32, u32) {
        self.in_session(|session| (session.failed(js_sys::Math::random()), session.failures()))
            .unwrap_or((protocol::BackOff::STANDARD.max_ms, 0))
    }

    pub fn set_status(&self, status: LinkStatus) {
        self.status.set(status);
    }

    /// A browser → server message sent now: when (for the answer's held bar) and which arrow it is.
    pub fn request(&self, label: String, detail: String) -> Sent {
        let at = now();
        self.metrics.update(|metrics| metrics.requests += 1);
        let id = self.push(RecordKind::Request, label, detail, at, at);
        Sent { at, id }
    }

    /// A browser → server frame on an open WebSocket sent now: drawn like a request, but not counted as one (no
    /// HTTP request is made).
    pub fn upstream_frame(&self, label: String, detail: String) -> Sent {
        let at = now();
        let id = self.push(RecordKind::Request, label, detail, at, at);
        Sent { at, id }
    }

    /// A server → browser answer seen now. `held_from` draws the server holding the request since then. Returns
    /// the arrow's id.
    pub fn response(&self, label: String, detail: String, held_from: Option<Millis>) -> u64 {
        let at = now();
        self.push(RecordKind::Response { held_from }, label, detail, at, at)
    }

    /// The server named the exchange of a request (and its response): their measured bytes can now be matched.
    pub fn bind_exchange(&self, request: Option<u64>, response: Option<u64>, exchange: u64) {
        self.trace.update(|trace| {
            if let Some(request) = request {
                trace.bind(request, WireKey::Request(exchange));
            }
            if let Some(response) = response {
                trace.bind(response, WireKey::Response(exchange));
            }
        });
    }

    /// Arrow `id`'s measured bytes are those the server files under `key`.
    pub fn bind(&self, id: u64, key: WireKey) {
        self.trace.update(|trace| trace.bind(id, key));
    }

    /// A record the server measured on this lane's connections (from the side channel).
    pub fn attach_wire(&self, record: WireRecord) {
        self.metrics.update(|metrics| metrics.wire_measured(&record));
        let server_to_browser = -self.clock_correction_ms();
        self.trace.update(|trace| trace.attach(record, server_to_browser));
    }

    /// One hub event arrived now, `received` as the browser got it (the SSE data, the WebSocket message), on the
    /// stream opened by `exchange`. `bytes` is what it adds to the lane's body bytes (0 inside a poll response,
    /// whose body is counted whole).
    pub fn event(&self, event: &Event, label: String, received: &str, bytes: usize, exchange: Option<u64>) {
        self.event_noting(event, label, received, bytes, exchange, None);
    }

    /// [`event`](Self::event), with a line about how it arrived added to the arrow's detail (for a stream read in
    /// chunks: which read completed it).
    pub fn event_noting(
        &self,
        event: &Event,
        label: String,
        received: &str,
        bytes: usize,
        exchange: Option<u64>,
        how: Option<String>,
    ) {
        let at = now();
        // `emitted_at` is on the server's clock; on this browser's clock the event was born `offset` earlier.
        let offset = self.clock_offset.get_untracked().map_or(0.0, |clock| clock.correction_ms());
        let emitted = event.emitted_at as f64 / 1000.0 - offset;
        let latency = at - emitted;
        let Some(arrival) = self.in_session(|session| session.event(event.seq)) else { return };
        let arrival = match arrival {
            Arrival::AfterLoss { .. } if self.skips_by_choice.get_value() => Arrival::InOrder,
            arrival => arrival,
        };
        self.metrics.update(|metrics| {
            metrics.event_arrived_at(at);
            metrics.body_bytes_received += bytes as u64;
            metrics.record_arrival(arrival, latency);
        });
        let size = if bytes > 0 { bytes } else { received.len() };
        let (label, mut detail) = lane_text::event_text(event, label, bytes, size, latency);
        if let Some(how) = how {
            detail.push('\n');
            detail.push_str(&how);
        }
        match &event.body {
            EventBody::Broadcast { text } => self.show_teacher_message(event.seq, text),
            EventBody::Audio(clip) => self.keep_clip(event.seq, clip, size),
            EventBody::Message { .. } | EventBody::Tick { .. } => {}
        }
        if let Some((tone, note)) = lane_text::arrival_note(arrival, event.seq) {
            let note_detail = if matches!(arrival, Arrival::AfterLoss { .. }) { String::new() } else { detail.clone() };
            self.note(tone, note, note_detail);
        }
        if arrival != Arrival::Duplicate {
            self.push_event(event.seq, label, detail, (emitted, at), received, exchange);
        }
        self.round_trip_event(event.seq, at);
    }

    fn push_event(
        &self,
        seq: u64,
        label: String,
        detail: String,
        (emitted, at): (Millis, Millis),
        received: &str,
        exchange: Option<u64>,
    ) {
        let id = self.push(RecordKind::Event { seq }, label, detail, emitted, at);
        self.trace.update(|trace| {
            trace.set_body(id, received);
            if let Some(exchange) = exchange {
                trace.bind(id, WireKey::Event { exchange, seq });
            }
        });
    }

    /// The newest clip replaces the one before (whose object URL is revoked as it is dropped).
    fn keep_clip(&self, seq: u64, clip: &AudioClip, received_bytes: usize) {
        self.metrics.update(|metrics| metrics.audio_bytes = Some(received_bytes as u64));
        match ReceivedClip::new(seq, clip, received_bytes) {
            Ok(received) => self.clip.set(Some(received)),
            Err(error) => self.note(NoteTone::Error, format!("audio #{seq} cannot be played"), error.to_string()),
        }
    }

    /// Every lane receives the same broadcast; the page shows it once, the newest of this server run.
    fn show_teacher_message(&self, seq: u64, text: &str) {
        let Some(epoch) = self.session.try_with_value(|session| session.epoch().cloned()).flatten() else { return };
        let newer = self
            .teacher_message
            .with_untracked(|shown| shown.as_ref().is_none_or(|shown| shown.epoch != epoch || shown.seq < seq));
        if newer {
            self.teacher_message.set(Some(TeacherMessage { epoch, seq, text: text.to_owned() }));
        }
    }

    /// Server clock − browser clock as far as it is known, to move a server-measured instant onto this page's axis.
    pub fn clock_correction_ms(&self) -> f64 {
        self.clock_offset.get_untracked().map_or(0.0, |clock| clock.correction_ms())
    }

    /// Starts the lane's account afresh after event `after` of run `epoch`: a source that only delivers what
    /// comes after it (a webhook endpoint registered just now) has missed nothing before.
    pub fn start_after(&self, after: u64, epoch: Epoch) {
        self.in_session(|session| *session = ClientSession::starting_after(after, epoch));
    }

    /// A webhook receiver acknowledged event `event` at `at` (this page's clock, from the sender's log): the
    /// event's arrival, judged like any other, without an arrow of its own (the delivery is drawn already).
    pub fn delivered(&self, event: &Event, at: Millis) {
        let emitted = event.emitted_at as f64 / 1000.0 - self.clock_correction_ms();
        let Some(arrival) = self.in_session(|session| session.event(event.seq)) else { return };
        self.metrics.update(|metrics| {
            metrics.event_arrived_at(at);
            metrics.record_arrival(arrival, at - emitted);
        });
        if let Some((tone, note)) = lane_text::delivery_note(arrival, event.seq) {
            self.push(RecordKind::Note { tone }, note, String::new(), at, at);
        }
        if let EventBody::Broadcast { text } = &event.body {
            self.show_teacher_message(event.seq, text);
        }
    }

    /// The event's JSON as it was carried, for the inspector.
    pub(super) fn set_body(&self, id: u64, body: &str) {
        self.trace.update(|trace| trace.set_body(id, body));
    }

    pub fn gap(&self, gap: Gap) {
        let Some(lost) = self.in_session(|session| session.gap(gap)) else { return };
        self.metrics.update(|metrics| metrics.record_gap(lost));
        let at = now();
        let label = format!("gap: #{}–#{} lost", gap.from, gap.to);
        let detail = format!("the server's history no longer holds {} events", gap.lost_count());
        self.push(RecordKind::Gap { from: gap.from, to: gap.to }, label, detail, at, at);
    }

    /// The connection failed: drawn as a note, and the start of an outage the lane's figures will time.
    pub fn connection_lost(&self, label: String, detail: String) {
        let at = now();
        self.metrics.update(|metrics| metrics.connection_lost(at));
        self.push(RecordKind::Note { tone: NoteTone::Error }, label, detail, at, at);
    }

    pub fn note(&self, tone: NoteTone, label: String, detail: String) {
        let at = now();
        self.push(RecordKind::Note { tone }, label, detail, at, at);
    }

    pub fn empty_response(&self) {
        self.metrics.update(|metrics| metrics.empty_responses += 1);
    }

    /// Compares a stream's epoch with the one this lane knows. On a change (the server restarted) the lane's cursor
    /// is reset, since the new run numbers its events from 1 again, and `true` is returned so the caller can
    /// re-request from there.
    pub fn observe_epoch(&self, epoch: &Epoch) -> bool {
        if self.in_session(|session| session.observe_epoch(epoch)) != Some(RunCheck::Restarted) {
            return false;
        }
        self.note(NoteTone::Warning, "server restarted: new epoch".into(), format!("epoch {epoch}; resyncing from #1"));
        true
    }

    /// Which instance answered (`None`: the lab is one process). A stream that resumes on another instance says so
    /// in the lane's log; a poll's answer carries it on its arrow.
    pub fn served_by(&self, instance: Option<&str>) {
        let Some(instance) = instance else { return };
        let previous = self.metrics.with_untracked(|metrics| metrics.served_by.clone());
        if previous.as_deref() == Some(instance) {
            return;
        }
        self.metrics.update(|metrics| metrics.served_by = Some(instance.to_owned()));
        // A stream stays on its instance until it resumes; a poll moves at every request, so only its arrows say.
        if matches!(self.transport, Transport::Sse | Transport::WebSocket | Transport::HttpStream) {
            let label = format!("served by {instance}");
            let detail = match previous {
                Some(previous) => format!("this stream resumed on instance {instance} (it was on {previous})"),
                None => format!("instance {instance} holds this stream"),
            };
            self.note(NoteTone::Info, label, detail);
        }
    }

    /// Records a poll answer (short or long): the response arrow, then each event it carried. `held` draws the
    /// server holding the request since it was sent; `exchange` is the response's `x-lab-exchange`.
    pub fn poll_answer(
        &self,
        response: &PollResponse,
        body_bytes: usize,
        sent: &Sent,
        held: bool,
        exchange: Option<u64>,
    ) {
        if self.observe_epoch(&response.epoch) {
            return;
        }
        let count = response.events.len();
        let mut label = format!("200 · {count} event{}", if count == 1 { "" } else { "s" });
        if let Some(instance) = self.metrics.with_untracked(|metrics| metrics.served_by.clone()) {
            label = format!("{label} · {instance}");
        }
        let detail = format!("{body_bytes} B of JSON; next after={}", response.next);
        let answer = self.response(label, detail, held.then_some(sent.at));
        if let Some(exchange) = exchange {
            self.bind_exchange(Some(sent.id), Some(answer), exchange);
        }
        if count == 0 && response.gap.is_none() {
            self.empty_response();
        }
        if let Some(gap) = response.gap {
            self.gap(gap);
        }
        // Bytes are attributed to the response as a whole; per-event sizes would be a guess.
        self.metrics.update(|metrics| metrics.body_bytes_received += body_bytes as u64);
        for event in &response.events {
            // Its JSON inside the response's array (bytes are the response's, not split per event).
            let json = serde_json::to_string(event).unwrap_or_default();
            self.event(event, format!("#{} {}", event.seq, event.body.kind_name()), &json, 0, None);
        }
        match self.in_session(|session| session.poll_next(response.next)) {
            None | Some(CursorCheck::Consistent) => {}
            Some(CursorCheck::Skipped(missing)) => {
                self.metrics.update(|metrics| metrics.silently_missed += missing);
                let label = format!("{missing} events missing before next={}", response.next);
                self.note(NoteTone::Error, label, "the answer's cursor is past the events it carried".into());
            }
            Some(CursorCheck::WentBack { from }) => self.note(
                NoteTone::Warning,
                format!("cursor went back to {}", response.next),
                format!("this lane had #{from}; the server's answer says next={} in the same run", response.next),
            ),
        }
    }

    pub(super) fn push(
        &self,
        kind: RecordKind,
        label: String,
        detail: String,
        sent_at: Millis,
        arrived_at: Millis,
    ) -> u64 {
        self.trace.try_update(|trace| trace.push(kind, label, detail, sent_at, arrived_at)).unwrap_or_default()
    }
}

/// A request just drawn: when it left, and its arrow.
#[derive(Clone, Copy, Debug)]
pub struct Sent {
    pub at: Millis,
    pub id: u64,
}
