//! What a lane records: one entry per arrow or note in its sequence diagram.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::control::{control_of, ControlMark};
use protocol::{WireBytes, WireLabel, WireRecord, WireUnit};

/// Times are browser wall-clock milliseconds since the Unix epoch (`Date.now()`), the one axis all lanes share.
pub use protocol::Millis;

// Serde shapes are part of the trace file format (`trace_file.rs`): renaming a field or variant needs a new version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RecordKind {
    /// Browser → server: a request, an upgrade, an upstream frame.
    Request,
    /// Server → browser: a response or handshake answer. `held_from` is when the request it answers was sent,
    /// drawn as the server holding it (long polls).
    Response {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        held_from: Option<Millis>,
    },
    /// Server → browser: one hub event, drawn from where the server emitted it to where the browser got it.
    Event { seq: u64 },
    /// Events the history had lost before this lane asked for them.
    Gap { from: u64, to: u64 },
    /// Something that is not a message: an error, a close, a reconnect.
    Note { tone: NoteTone },
    /// A message this lane sent upstream came back to it as event `seq`: from `sent_at` (sent) to `arrived_at`
    /// (received), both on the browser's clock.
    RoundTrip { seq: u64 },
    /// Sender → receiver (the webhook lane): attempt `attempt` at delivering event `seq`, a `POST` made at
    /// `sent_at`. A retry's `waited_from` is when the attempt before it failed, drawn as the sender waiting.
    Delivery {
        seq: u64,
        attempt: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        waited_from: Option<Millis>,
    },
    /// Receiver → sender (the webhook lane): the receiver's answer, or its absence, at `arrived_at`; `accepted`
    /// when it was a 2xx.
    Answer { accepted: bool },
    /// Connection upkeep (a ping, a pong, a close frame, a keep-alive, a TCP close) at the server's measured time,
    /// moved onto the browser's clock.
    Control { mark: ControlMark, from_browser: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteTone {
    Info,
    Warning,
    Error,
}

/// Which measured wire records belong to an arrow: the server names each record's HTTP exchange, and the page
/// learns its own exchanges from `x-lab-exchange` and the streams' `hello`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireKey {
    /// The request of an exchange (browser → server).
    Request(u64),
    /// Its response: head, body, and for a stream everything not tied to one event or drawn as a control mark
    /// (its hello, say).
    Response(u64),
    /// One event carried on a stream: an SSE chunk or a WebSocket frame.
    Event { exchange: u64, seq: u64 },
    /// The WebSocket `ack` naming event `seq`: a frame of its own, not the event's.
    Ack { exchange: u64, seq: u64 },
    /// An MQTT packet other than an event's PUBLISH: WebSocket data message `number` that way on the connection,
    /// which the page counts as the tap does (`client::mqtt_frames`).
    Message { exchange: u64, to_server: bool, number: u64 },
}

impl WireKey {
    /// Where a measured record belongs.
    pub fn of(record: &WireRecord) -> WireKey {
        let to_server = record.direction == protocol::WireDirection::ToServer;
        match &record.unit {
            WireUnit::Frame { seq: Some(seq), event: Some(event), .. } if !to_server && *event == WireLabel::Ack => {
                WireKey::Ack { exchange: record.exchange, seq: *seq }
            }
            WireUnit::Frame { seq: None, message: Some(number), .. }
                if record.transport == Some(protocol::Transport::Mqtt) =>
            {
                WireKey::Message { exchange: record.exchange, to_server, number: *number }
            }
            WireUnit::Chunk { seq: Some(seq), .. }
            | WireUnit::Frame { seq: Some(seq), .. }
            | WireUnit::GrpcMessage { seq: Some(seq), .. }
                if !to_server =>
            {
                WireKey::Event { exchange: record.exchange, seq: *seq }
            }
            WireUnit::Request { .. } => WireKey::Request(record.exchange),
            // A request body belongs with its request (a gRPC call's request message too); client frames (pongs, a
            // close) with the connection.
            WireUnit::Body | WireUnit::GrpcMessage { .. } if to_server => WireKey::Request(record.exchange),
            _ => WireKey::Response(record.exchange),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceRecord {
    /// Unique within its lane, for keyed rendering.
    pub id: u64,
    pub kind: RecordKind,
    /// Short text drawn on the arrow, e.g. `GET /api/poll?after=41`.
    pub label: String,
    /// Longer text for the tooltip.
    #[serde(default)]
    pub detail: String,
    /// When it left its sender (an event: its `emitted_at`).
    pub sent_at: Millis,
    /// When it reached the other side as far as the browser can tell (usually when the browser saw it).
    pub arrived_at: Millis,
    /// How to find this arrow's measured bytes, once the page knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<WireKey>,
    /// What the server measured for this arrow, in the order it was measured.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wire: Vec<WireRecord>,
    /// For an event: its JSON as this browser received it (cut at [`TraceLog::MAX_BODY_BYTES`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

impl TraceRecord {
    /// A record as drawn before the page knows its bytes or body.
    pub fn new(id: u64, kind: RecordKind, label: String, detail: String, sent_at: Millis, arrived_at: Millis) -> Self {
        Self { id, kind, label, detail, sent_at, arrived_at, key: None, wire: Vec::new(), body: None }
    }

    pub fn seq(&self) -> Option<u64> {
        match self.kind {
            RecordKind::Event { seq } | RecordKind::RoundTrip { seq } | RecordKind::Delivery { seq, .. } => Some(seq),
            _ => None,
        }
    }

    /// The arrow's text: its label, and once measured, its bytes on the wire.
    pub fn label_with_bytes(&self) -> String {
        self.label_within(usize::MAX)
    }

    /// [`Self::label_with_bytes`] in at most `most_chars` characters: the label's text is cut short with "…",
    /// never the measured bytes after it.
    pub fn label_within(&self, most_chars: usize) -> String {
        let bytes = self.bytes().map(|bytes| format!(" · {} B", bytes.total())).unwrap_or_default();
        let room = most_chars.saturating_sub(bytes.chars().count());
        if self.label.chars().count() <= room {
            return format!("{}{bytes}", self.label);
        }
        let cut: String = self.label.chars().take(room.saturating_sub(1)).collect();
        format!("{}…{bytes}", cut.trim_end())
    }

    /// The TCP connection this request went out on, as the server's tap numbered it, and whether this request was
    /// the connection's first (it opened it) rather than one reusing a kept-alive connection.
    pub fn tcp_connection(&self) -> Option<(u64, bool)> {
        self.wire.iter().find_map(|record| match record.unit {
            WireUnit::Request { connection, new_connection, .. } => Some((connection, new_connection)),
            _ => None,
        })
    }

    /// Whether the server answered `204 No Content`: a long poll's hold time passed with no event.
    pub fn answered_no_content(&self) -> bool {
        matches!(self.kind, RecordKind::Response { .. })
            && (self.label.starts_with("204 ")
                || self.wire.iter().any(|wire| wire.unit == WireUnit::ResponseHead { status: 204 }))
    }

    /// Connection upkeep rather than data: what the "control" toggle hides.
    pub fn is_control(&self) -> bool {
        matches!(self.kind, RecordKind::Control { .. }) || self.answered_no_content()
    }

    /// The measured bytes of this arrow, if any have been matched to it.
    pub fn bytes(&self) -> Option<WireBytes> {
        (!self.wire.is_empty()).then(|| {
            let mut total = WireBytes::default();
            self.wire.iter().for_each(|record| total.add(record.bytes));
            total
        })
    }
}

/// A lane's records, oldest first, bounded in age and count so a lab left running for hours keeps a flat DOM.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TraceLog {
    records: VecDeque<TraceRecord>,
    next_id: u64,
    /// Measured records whose arrow is not known yet (the side channel can be ahead of the lane, or behind).
    unmatched: VecDeque<WireRecord>,
}

impl TraceLog {
    /// Most records a lane keeps, whatever their age.
    pub const MAX_RECORDS: usize = 800;
    /// Records older than this (relative to the newest) are dropped: they have scrolled out of every view.
    pub const RETENTION_MS: Millis = 120_000.0;
    /// Measured records kept while waiting for their arrow. Few ever wait long: those that never find one (the
    /// request of an `EventSource`'s silent reconnect) are pushed out by newer ones.
    pub const MAX_UNMATCHED: usize = 256;
    /// Most of an event's JSON an arrow keeps for the inspector.
    pub const MAX_BODY_BYTES: usize = 2048;
    /// Measured records one arrow keeps (a stream's connect arrow collects keep-alives for as long as it lasts).
    pub const MAX_WIRE_PER_ARROW: usize = 64;

    /// A log holding exactly `records` (a trace loaded from a file), oldest first, with no age or count limit:
    /// what was recorded is shown as it was, however long ago that was.
    pub fn from_records(records: impl IntoIterator<Item = TraceRecord>) -> Self {
        let records: VecDeque<_> = records.into_iter().collect();
        let next_id = records.iter().map(|record| record.id + 1).max().unwrap_or(0);
        Self { records, next_id, unmatched: VecDeque::new() }
    }

    /// Appends a record and drops what has aged out. Returns the new record's id.
    pub fn push(
        &mut self,
        kind: RecordKind,
        label: String,
        detail: String,
        sent_at: Millis,
        arrived_at: Millis,
    ) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.records.push_back(TraceRecord::new(id, kind, label, detail, sent_at, arrived_at));
        let oldest_kept = arrived_at - Self::RETENTION_MS;
        while self.records.len() > Self::MAX_RECORDS
            || self.records.front().is_some_and(|record| record.arrived_at.max(record.sent_at) < oldest_kept)
        {
            self.records.pop_front();
        }
        id
    }

    /// Tells the log which wire records belong to arrow `id`, and attaches those already waiting.
    pub fn bind(&mut self, id: u64, key: WireKey) {
        let Some(record) = self.records.iter_mut().rev().find(|record| record.id == id) else { return };
        record.key = Some(key);
        // Usually nothing waits: the side channel runs behind the lane, so records find their arrow on arrival.
        self.unmatched.retain(|wire| {
            let belongs = WireKey::of(wire) == key;
            if belongs {
                push_bounded(&mut record.wire, wire.clone());
            }
            !belongs
        });
    }

    /// Keeps what the browser received for arrow `id`, cut to [`Self::MAX_BODY_BYTES`] on a character boundary.
    pub fn set_body(&mut self, id: u64, body: &str) {
        let mut end = body.len().min(Self::MAX_BODY_BYTES);
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        if let Some(record) = self.records.iter_mut().rev().find(|record| record.id == id) {
            record.body = Some(body[..end].to_owned());
        }
    }

    /// Attaches a measured record to its arrow, or keeps it until the arrow is bound. A control unit (a ping, a
    /// keep-alive, a TCP close) is its own mark instead, at the server's time of it plus `server_to_browser_ms`.
    pub fn attach(&mut self, wire: WireRecord, server_to_browser_ms: Millis) {
        if let Some(control) = control_of(&wire) {
            let at = wire.at as Millis / 1000.0 + server_to_browser_ms;
            let kind = RecordKind::Control { mark: control.mark, from_browser: control.from_browser };
            let id = self.push(kind, control.label, control.detail, at, at);
            if let Some(record) = self.records.iter_mut().rev().find(|record| record.id == id) {
                record.wire.push(wire);
            }
            return;
        }
        let key = WireKey::of(&wire);
        match self.records.iter_mut().rev().find(|record| record.key == Some(key)) {
            Some(record) => push_bounded(&mut record.wire, wire),
            None => {
                if self.unmatched.len() == Self::MAX_UNMATCHED {
                    self.unmatched.pop_front();
                }
                self.unmatched.push_back(wire);
            }
        }
    }

    pub fn records(&self) -> &VecDeque<TraceRecord> {
        &self.records
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

fn push_bounded(wire: &mut Vec<WireRecord>, record: WireRecord) {
    if wire.len() < TraceLog::MAX_WIRE_PER_ARROW {
        wire.push(record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{Transport, WireDirection};

    fn wire(exchange: u64, direction: WireDirection, unit: WireUnit, head: u64) -> WireRecord {
        WireRecord {
            id: 0,
            exchange,
            transport: Some(Transport::Sse),
            direction,
            at: 0,
            unit,
            bytes: WireBytes { head, framing: 1, payload: 2 },
            raw: String::new(),
        }
    }

    /// Exchange `exchange`'s request head, `head` bytes of it, on a new connection.
    fn request_head(exchange: u64, head: u64) -> WireRecord {
        let unit = WireUnit::Request { method: "GET".into(), target: "/".into(), connection: 1, new_connection: true };
        wire(exchange, WireDirection::ToServer, unit, head)
    }

    #[test]
    fn measured_records_find_their_arrow_whichever_comes_first() {
        let mut log = TraceLog::default();
        let request = push_at(&mut log, 1.0);
        let event = log.push(RecordKind::Event { seq: 9 }, "e".into(), String::new(), 2.0, 3.0);
        // The response head is measured before the page knows the exchange; the event after.
        log.attach(wire(5, WireDirection::ToClient, WireUnit::ResponseHead { status: 200 }, 100), 0.0);
        log.attach(request_head(5, 300), 0.0);
        log.bind(request, WireKey::Request(5));
        log.bind(event, WireKey::Event { exchange: 5, seq: 9 });
        log.attach(
            wire(5, WireDirection::ToClient, WireUnit::Chunk { event: Some(WireLabel::Tick), seq: Some(9) }, 0),
            0.0,
        );
        let bytes = |id: u64| log.records().iter().find(|record| record.id == id).unwrap().bytes();
        assert_eq!(bytes(request), Some(WireBytes { head: 300, framing: 1, payload: 2 }));
        assert_eq!(bytes(event), Some(WireBytes { head: 0, framing: 1, payload: 2 }));
        assert_eq!(log.unmatched.len(), 1, "the response head waits for its arrow");
        let labelled = log.records().iter().find(|record| record.id == request).unwrap().label_with_bytes();
        assert_eq!(labelled, "n · 303 B");
    }

    #[test]
    fn a_long_label_is_cut_short_but_never_its_bytes() {
        let mut log = TraceLog::default();
        let long = "no answer: connection closed before a complete response · retry in 2.0 s";
        let id = log.push(RecordKind::Request, long.into(), String::new(), 1.0, 1.0);
        let record = |log: &TraceLog| log.records().iter().find(|record| record.id == id).unwrap().clone();
        assert_eq!(record(&log).label_within(100), long);
        assert_eq!(record(&log).label_within(20), "no answer: connecti…");
        log.attach(request_head(5, 300), 0.0);
        log.bind(id, WireKey::Request(5));
        // Cut where a word ends, the space before the cut is not kept.
        assert_eq!(record(&log).label_within(20), "no answer:… · 303 B");
        assert_eq!(record(&log).label_within(22), "no answer: co… · 303 B");
        assert_eq!(record(&log).label_with_bytes(), format!("{long} · 303 B"));
    }

    #[test]
    fn a_websocket_ack_is_not_its_events_frame() {
        let frame = |event: WireLabel| WireUnit::Frame {
            opcode: "text".into(),
            fin: true,
            rsv: 0,
            masked: false,
            length_bits: 7,
            header: String::new(),
            seq: Some(9),
            event: Some(event),
            message: None,
        };
        let ack = wire(5, WireDirection::ToClient, frame(WireLabel::Ack), 0);
        let event = wire(5, WireDirection::ToClient, frame(WireLabel::Message), 0);
        assert_eq!(WireKey::of(&ack), WireKey::Ack { exchange: 5, seq: 9 });
        assert_eq!(WireKey::of(&event), WireKey::Event { exchange: 5, seq: 9 });
    }

    #[test]
    fn an_mqtt_packet_is_found_by_its_message_number_and_an_event_s_publish_by_its_seq() {
        let frame = |seq: Option<u64>, message: Option<u64>| WireUnit::Frame {
            opcode: "binary".into(),
            fin: true,
            rsv: 0,
            masked: false,
            length_bits: 7,
            header: String::new(),
            seq,
            event: Some(WireLabel::Mqtt),
            message,
        };
        let on = |transport: Transport, direction: WireDirection, unit: WireUnit| WireRecord {
            transport: Some(transport),
            ..wire(5, direction, unit, 0)
        };
        let connack = on(Transport::Mqtt, WireDirection::ToClient, frame(None, Some(1)));
        assert_eq!(WireKey::of(&connack), WireKey::Message { exchange: 5, to_server: false, number: 1 });
        let subscribe = on(Transport::Mqtt, WireDirection::ToServer, frame(None, Some(2)));
        assert_eq!(WireKey::of(&subscribe), WireKey::Message { exchange: 5, to_server: true, number: 2 });
        let publish = on(Transport::Mqtt, WireDirection::ToClient, frame(Some(9), Some(3)));
        assert_eq!(WireKey::of(&publish), WireKey::Event { exchange: 5, seq: 9 });
        // The WebSocket lane's own frames without an event (its hello) stay with the connection's answer.
        let hello = on(Transport::WebSocket, WireDirection::ToClient, frame(None, Some(1)));
        assert_eq!(WireKey::of(&hello), WireKey::Response(5));
    }

    #[test]
    fn a_keep_alive_is_its_own_mark_at_the_server_s_time_on_the_browser_s_clock() {
        let mut log = TraceLog::default();
        let connect = push_at(&mut log, 1_000.0);
        log.bind(connect, WireKey::Response(5));
        let mut keep_alive =
            wire(5, WireDirection::ToClient, WireUnit::Chunk { event: Some(WireLabel::KeepAlive), seq: None }, 0);
        keep_alive.at = 16_000_000;
        // The server's clock runs 4 ms ahead of the browser's.
        log.attach(keep_alive, -4.0);
        let records = log.records();
        assert_eq!(records.len(), 2);
        assert!(records[0].wire.is_empty(), "not on the stream's connect arrow");
        let mark = &records[1];
        assert_eq!(mark.kind, RecordKind::Control { mark: ControlMark::KeepAlive, from_browser: false });
        assert_eq!((mark.sent_at, mark.arrived_at), (15_996.0, 15_996.0));
        assert_eq!(mark.wire.len(), 1, "its bytes stay with it, for the inspector");
    }

    fn push_at(log: &mut TraceLog, at: Millis) -> u64 {
        log.push(RecordKind::Note { tone: NoteTone::Info }, "n".into(), String::new(), at, at)
    }

    #[test]
    fn records_are_tagged_by_type_in_json() {
        let held = RecordKind::Response { held_from: Some(2.5) };
        assert_eq!(serde_json::to_value(&held).unwrap(), serde_json::json!({"type": "response", "held_from": 2.5}));
        let note = RecordKind::Note { tone: NoteTone::Error };
        assert_eq!(serde_json::to_value(&note).unwrap(), serde_json::json!({"type": "note", "tone": "error"}));
        let key = WireKey::Event { exchange: 5, seq: 9 };
        assert_eq!(serde_json::to_value(key).unwrap(), serde_json::json!({"event": {"exchange": 5, "seq": 9}}));
        // A hand-written record needs only what is drawn.
        let minimal = r#"{"id": 3, "kind": {"type": "request"}, "label": "GET /", "sent_at": 1.0, "arrived_at": 1.0}"#;
        let record: TraceRecord = serde_json::from_str(minimal).unwrap();
        assert_eq!((record.detail.as_str(), record.key, record.wire.len(), record.body), ("", None, 0, None));
    }

    #[test]
    fn a_log_from_records_keeps_them_all_and_continues_their_ids() {
        let mut old = TraceLog::default();
        for i in 0..5 {
            push_at(&mut old, i as f64);
        }
        let mut log = TraceLog::from_records(old.records().iter().cloned());
        assert_eq!(log.records(), old.records());
        assert_eq!(push_at(&mut log, 10.0), 5);
    }

    #[test]
    fn ids_are_unique_and_increasing() {
        let mut log = TraceLog::default();
        assert_eq!((push_at(&mut log, 1.0), push_at(&mut log, 2.0)), (0, 1));
    }

    #[test]
    fn old_records_are_dropped() {
        let mut log = TraceLog::default();
        push_at(&mut log, 0.0);
        push_at(&mut log, 1000.0);
        push_at(&mut log, TraceLog::RETENTION_MS + 500.0);
        let kept: Vec<_> = log.records().iter().map(|record| record.id).collect();
        assert_eq!(kept, vec![1, 2]);
    }

    #[test]
    fn count_is_bounded_for_hours_of_traffic() {
        let mut log = TraceLog::default();
        // Ten hours at 50 records per second, all within the retention window of each other would be too many.
        for i in 0..50_000 {
            push_at(&mut log, i as f64);
        }
        assert_eq!(log.len(), TraceLog::MAX_RECORDS);
        assert_eq!(log.records().back().unwrap().id, 49_999);
    }
}
