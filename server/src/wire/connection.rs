//! One connection's wire accounting: both directions' parsers, the exchange in progress, and what the handlers
//! said the next chunks and frames carry. Fed by [`super::tap::WireTap`] on every read and write.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use protocol::routes::{self, PublishQuery};
use protocol::{ClientId, Transport, WireBytes, WireDirection, WireLabel, WireRecord, WireUnit};

use super::capture::{direction_index, Capture, SharedCapture};
use super::grpc_messages;
use super::hex::hex;
use super::ledger::WireLedger;
use super::parse::{is_data_opcode, Side, StartLine, StreamParser, Unit, Units};
use crate::core::clock::unix_micros_now;

/// What a handler says the next SSE chunk or outgoing WebSocket data frame carries, queued before it is written.
#[derive(Clone, Debug)]
pub struct Annotation {
    pub event: WireLabel,
    pub seq: Option<u64>,
    /// Bytes of the unit that are payload (the event JSON inside an SSE chunk); the rest is framing. `None`: all
    /// of the chunk's data or frame's payload is payload.
    pub payload_len: Option<usize>,
}

/// The HTTP exchange whose response is being written, and for an upgraded connection the one that upgraded it.
#[derive(Clone, Debug, Default)]
struct Exchange {
    id: u64,
    transport: Option<Transport>,
    client: Option<ClientId>,
}

pub struct ConnectionWire {
    /// Numbers this TCP connection, so a page can tell keep-alive reuse from new connections.
    id: u64,
    ledger: Arc<WireLedger>,
    state: Mutex<State>,
    /// The bytes themselves, for the pcapng export, once a page's request has crossed.
    capture: SharedCapture,
}

/// Whether this connection's bytes are kept: not known until its first request head names a page or not.
enum Capturing {
    /// Reads and writes before the first head was complete, in order.
    Undecided(Vec<(WireDirection, u64, Vec<u8>)>),
    /// A page's request crossed: every byte from there on is kept (within the capture's bounds).
    Yes,
    /// The first request was no page's: bytes are only counted (here, to server and to client, so a connection
    /// nobody inspects takes no second lock per write), until a page's request comes.
    No([u64; 2]),
}

/// What the undecided opening may hold: a request head may be 32 KiB (`serve`'s `max_buf_size`).
const UNDECIDED_BYTES: usize = 64 * 1024;

struct State {
    requests: StreamParser,
    responses: StreamParser,
    exchange: Exchange,
    annotations: Annotations,
    units: Units,
    capturing: Capturing,
    /// Pages this connection's capture was handed to.
    pages: Vec<ClientId>,
    /// Request heads read so far: how many exchanges the connection carried.
    exchanges: u64,
    /// Final response heads written so far (not 1xx).
    answered: u64,
    /// WebSocket data messages completed so far, to the server and to the client.
    messages: [u64; 2],
}

/// Pages one connection's capture is handed to: the tabs of one browser can share a kept-alive connection.
const MAX_PAGES_PER_CONNECTION: usize = 8;

/// Annotations waiting for their bytes: a handler can only run so far ahead of its socket.
const MAX_PENDING_ANNOTATIONS: usize = 4096;

impl ConnectionWire {
    /// A connection from `client` accepted at `server`.
    pub fn new(ledger: Arc<WireLedger>, client: SocketAddr, server: SocketAddr) -> Self {
        let state = State {
            requests: StreamParser::new(Side::Requests),
            responses: StreamParser::new(Side::Responses),
            exchange: Exchange::default(),
            annotations: Annotations::default(),
            units: Units::new(),
            capturing: Capturing::Undecided(Vec::new()),
            pages: Vec::new(),
            exchanges: 0,
            answered: 0,
            messages: [0; 2],
        };
        let id = ledger.next_connection();
        let capture = Capture::new(id, client, server, unix_micros_now(), ledger.capture_budget());
        Self { id, ledger, state: Mutex::new(state), capture: Arc::new(Mutex::new(capture)) }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        super::lock(&self.state)
    }

    /// The exchange whose request was read last: the one a handler running now is answering.
    pub fn current_exchange(&self) -> u64 {
        self.state().exchange.id
    }

    /// Whether the response being written has had its whole head written and none of its chunked body: the moment
    /// a handed-off stream may take the socket (see `api::handoff`).
    pub fn response_head_written(&self) -> bool {
        self.state().responses.at_chunked_body_start()
    }

    /// Whether the request a handler is answering now is the last one read, with no byte of another behind it: a
    /// pipelined request would be answered by hyper after this one, so this one's socket cannot be taken.
    pub fn answering_the_last_request(&self) -> bool {
        let state = self.state();
        state.exchanges == state.answered + 1 && state.requests.between_messages()
    }

    /// Starts loading the connection's state, which the next write will read and change (see
    /// [`crate::core::prefetch`]).
    pub fn prefetch(&self) {
        crate::core::prefetch::prefetch(&self.state, std::mem::size_of_val(&self.state));
    }

    pub fn annotate(&self, annotation: Annotation) {
        self.state().annotations.push(annotation);
    }

    pub fn read(&self, bytes: &[u8]) {
        self.feed(WireDirection::ToServer, bytes);
    }

    pub fn written(&self, bytes: &[u8]) {
        self.feed(WireDirection::ToClient, bytes);
    }

    fn feed(&self, direction: WireDirection, bytes: &[u8]) {
        let mut state = self.state();
        let mut units = std::mem::take(&mut state.units);
        match direction {
            WireDirection::ToServer => state.requests.feed(bytes, &mut units),
            WireDirection::ToClient => state.responses.feed(bytes, &mut units),
        }
        for unit in units.drain(..) {
            let record = match (direction, unit) {
                (WireDirection::ToClient, Unit::Chunk { framing, messages, .. }) if !messages.is_empty() => {
                    let partial = || WireUnit::Chunk { event: None, seq: None };
                    // The lane's own calls are Subscribes; other gRPC-web calls (Publish, reflection) are not events.
                    let events = state.exchange.transport == Some(Transport::Grpc);
                    let keep = state.keeps_text();
                    for (unit, bytes, raw) in grpc_messages::records_of(messages, framing, partial, events, keep) {
                        let record = self.make_record(&state, direction, unit, bytes, raw);
                        self.ledger.record(record, state.exchange.client.as_ref());
                    }
                    continue;
                }
                (WireDirection::ToServer, unit) => self.inbound(&mut state, unit),
                (WireDirection::ToClient, unit) => self.outbound(&mut state, unit),
            };
            self.ledger.record(record, state.exchange.client.as_ref());
        }
        state.units = units;
        self.capture_bytes(&mut state, direction, bytes);
    }

    fn capture_bytes(&self, state: &mut State, direction: WireDirection, bytes: &[u8]) {
        match &mut state.capturing {
            Capturing::Yes => super::lock(&self.capture).keep(direction, unix_micros_now(), bytes),
            Capturing::No(crossed) => crossed[direction_index(direction)] += bytes.len() as u64,
            Capturing::Undecided(pending) => {
                let held: usize = pending.iter().map(|(_, _, bytes)| bytes.len()).sum();
                if held + bytes.len() > UNDECIDED_BYTES {
                    self.decide(state, None);
                    super::lock(&self.capture).skip(direction, bytes.len());
                } else {
                    pending.push((direction, unix_micros_now(), bytes.to_vec()));
                }
            }
        }
    }

    /// A request head named `page` (or none): from here on the connection's bytes are kept for it, and the bytes
    /// held while undecided are kept or only counted.
    fn decide(&self, state: &mut State, page: Option<&ClientId>) {
        let keep = page.is_some() || matches!(state.capturing, Capturing::Yes);
        if !keep && matches!(state.capturing, Capturing::No(_)) {
            return;
        }
        let next = if keep { Capturing::Yes } else { Capturing::No([0, 0]) };
        match std::mem::replace(&mut state.capturing, next) {
            Capturing::Undecided(pending) => {
                let mut capture = super::lock(&self.capture);
                for (direction, at, bytes) in pending {
                    if keep {
                        capture.keep(direction, at, &bytes);
                    } else {
                        capture.skip(direction, bytes.len());
                    }
                }
            }
            Capturing::No([to_server, to_client]) => {
                let mut capture = super::lock(&self.capture);
                capture.skip(WireDirection::ToServer, to_server as usize);
                capture.skip(WireDirection::ToClient, to_client as usize);
            }
            Capturing::Yes => {}
        }
        if let Some(page) = page.filter(|page| !state.pages.contains(page)) {
            if state.pages.len() < MAX_PAGES_PER_CONNECTION {
                state.pages.push(page.clone());
                self.ledger.keep_capture(page, self.capture.clone());
            }
        }
    }

    fn inbound(&self, state: &mut State, unit: Unit) -> WireRecord {
        let (unit, bytes, raw) = match unit {
            Unit::Head { raw, start: StartLine::Request { method, target } } => {
                if method == "HEAD" {
                    state.responses.expect_bodiless_response();
                }
                let (transport, client) = classify(&target);
                self.decide(state, client.as_ref());
                let new_connection = state.exchange.id == 0;
                let connection = self.id;
                // Only a page's own lanes keep the text of what they sent and received, for its inspector.
                let keep = client.is_some();
                state.requests.keep_text(keep);
                state.responses.keep_text(keep);
                state.responses.split_grpc_messages(is_grpc(&raw));
                state.exchange = Exchange { id: self.ledger.next_exchange(), transport, client };
                state.exchanges += 1;
                let bytes = WireBytes { head: raw.len() as u64, ..WireBytes::default() };
                let unit = WireUnit::Request { method, target, connection, new_connection };
                (unit, bytes, head_text(&raw, keep))
            }
            other => common_unit(other, None, state.keeps_text()),
        };
        let unit = number_message(state, WireDirection::ToServer, unit);
        self.make_record(state, WireDirection::ToServer, unit, bytes, raw)
    }

    fn outbound(&self, state: &mut State, unit: Unit) -> WireRecord {
        let (unit, bytes, raw) = match unit {
            Unit::Head { raw, start: StartLine::Response { status } } => {
                if status == 101 {
                    state.requests.switch_to_websocket();
                }
                if status >= 200 || status == 101 {
                    state.answered += 1;
                }
                let bytes = WireBytes { head: raw.len() as u64, ..WireBytes::default() };
                (WireUnit::ResponseHead { status }, bytes, head_text(&raw, state.keeps_text()))
            }
            // The streams (SSE, HTTP streaming) say what each chunk carries; a poll's body is one plain answer. A
            // gRPC-web response's chunks were cut by message in `feed` and need no word from the handler.
            Unit::Chunk { .. } if state.exchange.transport.is_some_and(|lane| lane != Transport::Grpc) => {
                let annotation = state.annotations.pop();
                common_unit(unit, annotation, state.keeps_text())
            }
            // The lanes whose handlers say what each message carries: the WebSocket lane's events, and every packet
            // of the MQTT lane's (an event's PUBLISH with its seq, the rest as `mqtt`).
            Unit::Frame { ref info, .. }
                if info.is_data()
                    && matches!(state.exchange.transport, Some(Transport::WebSocket | Transport::Mqtt)) =>
            {
                let annotation = state.annotations.pop();
                common_unit(unit, annotation, state.keeps_text())
            }
            other => common_unit(other, None, state.keeps_text()),
        };
        let unit = number_message(state, WireDirection::ToClient, unit);
        self.make_record(state, WireDirection::ToClient, unit, bytes, raw)
    }

    fn make_record(
        &self,
        state: &State,
        direction: WireDirection,
        unit: WireUnit,
        bytes: WireBytes,
        raw: String,
    ) -> WireRecord {
        WireRecord {
            id: 0, // numbered by the ledger, per client
            exchange: state.exchange.id,
            transport: state.exchange.transport,
            direction,
            at: unix_micros_now(),
            unit,
            bytes,
            raw,
        }
    }
}

impl Drop for ConnectionWire {
    fn drop(&mut self) {
        let now = unix_micros_now();
        super::lock(&self.capture).close(now);
        // A page sees its connections close only where it saw them open: on its own lanes' exchanges.
        let state = self.state();
        if let Some(client) = state.exchange.client.as_ref() {
            let unit = WireUnit::ConnectionClosed { connection: self.id, exchanges: state.exchanges };
            let record = self.make_record(&state, WireDirection::ToClient, unit, WireBytes::default(), String::new());
            self.ledger.record(record, Some(client));
        }
    }
}

/// What handlers said the next units carry, in order. A stream annotates each unit just before writing it, so
/// there is nearly always one at most: it waits inline, beside the rest of the connection's state, and only a
/// handler running ahead of its socket queues more.
#[derive(Default)]
struct Annotations {
    /// The oldest; `None` only when nothing waits.
    next: Option<Annotation>,
    after: VecDeque<Annotation>,
}

impl Annotations {
    fn push(&mut self, annotation: Annotation) {
        if self.next.is_none() {
            self.next = Some(annotation);
        } else if self.after.len() + 1 < MAX_PENDING_ANNOTATIONS {
            self.after.push_back(annotation);
        }
    }

    fn pop(&mut self) -> Option<Annotation> {
        let oldest = self.next.take();
        self.next = self.after.pop_front();
        oldest
    }
}

impl State {
    /// Whether this exchange's records are kept for a page (and so worth their text).
    fn keeps_text(&self) -> bool {
        self.exchange.client.is_some()
    }
}

/// An HTTP head as text for the record, its credentials hidden (see [`protocol::redact_credentials`]).
fn head_text(bytes: &[u8], keep: bool) -> String {
    protocol::redact_credentials(&text(bytes, keep))
}

/// The wire text as a string, only when someone will read it: every other record is only counted.
fn text(bytes: &[u8], keep: bool) -> String {
    if keep {
        String::from_utf8_lossy(bytes).into_owned()
    } else {
        String::new()
    }
}

/// Gives the frame that ends a data message its message's number on the connection, that way.
fn number_message(state: &mut State, direction: WireDirection, mut unit: WireUnit) -> WireUnit {
    if let WireUnit::Frame { opcode, fin: true, message, .. } = &mut unit {
        if is_data_opcode(opcode) {
            let count = &mut state.messages[direction_index(direction)];
            *count += 1;
            *message = Some(*count);
        }
    }
    unit
}

/// Bodies, chunks, frames: the same on either side.
fn common_unit(unit: Unit, annotation: Option<Annotation>, keep: bool) -> (WireUnit, WireBytes, String) {
    let event = annotation.as_ref().map(|annotation| annotation.event);
    let seq = annotation.as_ref().and_then(|annotation| annotation.seq);
    let payload_len = annotation.and_then(|annotation| annotation.payload_len);
    match unit {
        Unit::Body { payload, text } => {
            (WireUnit::Body, WireBytes { payload, ..WireBytes::default() }, self::text(&text, keep))
        }
        Unit::Chunk { framing, data, text, .. } => {
            // An SSE chunk's data is field names and line ends around the event JSON: framing, not payload.
            let payload = payload_len.map_or(data, |len| (len as u64).min(data));
            let bytes = WireBytes { head: 0, framing: framing + data - payload, payload };
            (WireUnit::Chunk { event, seq }, bytes, self::text(&text, keep))
        }
        Unit::LastChunk { framing } => {
            (WireUnit::LastChunk, WireBytes { framing, ..WireBytes::default() }, self::text(b"0\r\n\r\n", keep))
        }
        Unit::Frame { info, header, payload, first_bytes } => {
            let unit = WireUnit::Frame {
                opcode: Cow::Borrowed(info.opcode),
                fin: info.fin,
                rsv: info.rsv,
                masked: info.masked,
                length_bits: info.length_bits,
                header: if keep { hex(&header) } else { String::new() },
                seq,
                event,
                message: None,
            };
            let first = if keep { hex(&first_bytes) } else { String::new() };
            (unit, WireBytes { head: 0, framing: header.len() as u64, payload }, first)
        }
        Unit::Unparsed { bytes } => {
            (WireUnit::Unparsed, WireBytes { payload: bytes, ..WireBytes::default() }, String::new())
        }
        Unit::Head { raw, .. } => {
            // A head on the wrong side (a client answering like a server): count it, say nothing more.
            (WireUnit::Unparsed, WireBytes { head: raw.len() as u64, ..WireBytes::default() }, String::new())
        }
    }
}

/// Which transport a request target belongs to, and the page that sent it. Only lane traffic is kept per page:
/// the page's own reads of `/api/wire` must not become records it then reads.
pub(super) fn classify(target: &str) -> (Option<Transport>, Option<ClientId>) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path == routes::PUBLISH {
        return publish_filing(query);
    }
    match Transport::ALL.into_iter().find(|lane| routes::of_lane(*lane) == Some(path)) {
        Some(lane) => (Some(lane), client_of(query)),
        None => (None, None),
    }
}

/// The page a lane's request names. Read leniently, not with the lane's whole query type: a page's malformed
/// request is still its own, and its inspector shows the 400 it got.
fn client_of(query: &str) -> Option<ClientId> {
    let (_, value) = form_urlencoded::parse(query.as_bytes()).find(|(name, _)| name == "client")?;
    ClientId::try_from(value.into_owned()).ok()
}

/// A lane's own publish (its round trip, `POST /api/publish?client=…&lane=sse`) is that lane's upstream, so it is
/// filed as the named lane's traffic. Read with the [`PublishQuery`] the handler checks: an address the handler
/// refuses (an unknown lane, a malformed client) is nobody's lane traffic, and neither is the message box's
/// publish, which names no lane.
fn publish_filing(query: &str) -> (Option<Transport>, Option<ClientId>) {
    match serde_urlencoded::from_str::<PublishQuery>(query) {
        Ok(PublishQuery { lane: Some(lane), client }) => (Some(lane), client),
        _ => (None, None),
    }
}

/// Whether a request head is a gRPC call (native, or gRPC-web in any of its content types): its response body is
/// then a stream of length-prefixed messages.
fn is_grpc(head: &[u8]) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    if request.parse(head).is_err() {
        return false;
    }
    request.headers.iter().any(|header| {
        header.name.eq_ignore_ascii_case("content-type")
            && header.value.len() >= protocol::grpc::CONTENT_TYPE.len()
            && header.value[..protocol::grpc::CONTENT_TYPE.len()]
                .eq_ignore_ascii_case(protocol::grpc::CONTENT_TYPE.as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_address() -> SocketAddr {
        "127.0.0.1:3000".parse().unwrap()
    }

    #[test]
    fn a_kept_alive_connection_is_kept_from_the_page_s_first_request_with_true_offsets() {
        let ledger = Arc::new(WireLedger::default());
        let wire = ConnectionWire::new(ledger.clone(), test_address(), test_address());
        let asset = b"GET /pkg/lab.js HTTP/1.1\r\nhost: lab\r\n\r\n";
        wire.read(asset);
        wire.written(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        let poll = b"GET /api/poll?client=me HTTP/1.1\r\nhost: lab\r\n\r\n";
        wire.read(poll);
        let page = ClientId::try_from("me".to_owned()).unwrap();
        let captured = ledger.captures(&page);
        assert_eq!(captured.len(), 1);
        let segments = &captured[0].segments;
        assert_eq!(
            (segments.len(), segments[0].offset, segments[0].bytes.as_slice()),
            (1, asset.len() as u64, &poll[..])
        );
        assert_eq!(captured[0].not_kept, asset.len() as u64 + 40);
        assert!(ledger.captures(&ClientId::try_from("other".to_owned()).unwrap()).is_empty());
    }

    #[test]
    fn annotations_come_out_in_the_order_they_went_in_however_they_interleave() {
        let label = |seq| Annotation { event: WireLabel::Tick, seq: Some(seq), payload_len: None };
        let mut annotations = Annotations::default();
        let (mut pushed, mut taken) = (0, Vec::new());
        // One at a time (the streams), then a handler running three ahead, then one and one again.
        for (pushes, pops) in [(1, 1), (3, 1), (1, 2), (2, 4)] {
            for _ in 0..pushes {
                annotations.push(label(pushed));
                pushed += 1;
            }
            taken.extend((0..pops).filter_map(|_| annotations.pop()).map(|annotation| annotation.seq.unwrap()));
        }
        assert_eq!(taken, (0..7).collect::<Vec<_>>());
        assert!(annotations.pop().is_none());

        // A handler far ahead of its socket: what waits is bounded, the inline one included.
        (0..MAX_PENDING_ANNOTATIONS as u64 + 10).for_each(|seq| annotations.push(label(seq)));
        assert_eq!(std::iter::from_fn(|| annotations.pop()).count(), MAX_PENDING_ANNOTATIONS);
    }

    #[test]
    fn targets_name_their_transport_and_client() {
        let (transport, client) = classify("/api/sse?after=3&client=abc");
        assert_eq!((transport, client.as_ref().map(ClientId::as_str)), (Some(Transport::Sse), Some("abc")));
        assert_eq!(classify("/api/stats"), (None, None));
        assert_eq!(classify("/api/wire?client=abc"), (None, None), "the side channel is not lane traffic");
        assert_eq!(classify("/api/poll?client=bad%20id").1, None);
        let (transport, client) = classify("/api/publish?client=abc&lane=long_poll");
        assert_eq!((transport, client.as_ref().map(ClientId::as_str)), (Some(Transport::LongPoll), Some("abc")));
        assert_eq!(classify("/api/publish?client=abc"), (None, None), "the message box is not a lane's");
        assert_eq!(classify("/api/publish?client=abc&lane=carrier_pigeon"), (None, None));
        assert_eq!(classify("/api/publish?client=%3Cb%3E&lane=sse"), (None, None), "refused, so nobody's");
    }

    #[test]
    fn an_annotated_sse_chunk_splits_field_syntax_from_the_event_json() {
        let ledger = Arc::new(WireLedger::default());
        let wire = ConnectionWire::new(ledger.clone(), test_address(), test_address());
        wire.read(b"GET /api/sse?client=me HTTP/1.1\r\nhost: lab\r\n\r\n");
        let text = "id: 7\nevent: tick\ndata: {\"seq\":7}\n\n";
        wire.annotate(Annotation { event: WireLabel::Tick, seq: Some(7), payload_len: Some(9) });
        let response = format!("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{text}\r\n", text.len());
        wire.written(response.as_bytes());
        let page = ledger.page(&ClientId::try_from("me".to_owned()).unwrap(), 0, 100);
        let chunk = page.records.iter().find(|record| matches!(record.unit, WireUnit::Chunk { .. })).unwrap();
        assert_eq!(chunk.unit, WireUnit::Chunk { event: Some(WireLabel::Tick), seq: Some(7) });
        // 9 bytes of JSON; the rest of the 35-byte chunk text and the chunk's "23\r\n" + "\r\n" are framing.
        assert_eq!(chunk.bytes, WireBytes { head: 0, framing: 35 - 9 + 6, payload: 9 });
        assert_eq!(chunk.transport, Some(Transport::Sse));
        let totals = ledger.totals(Some(Transport::Sse));
        assert_eq!(totals.total(), (response.len() + 46) as u64);
    }

    #[test]
    fn a_grpc_web_backlog_in_one_chunk_is_one_record_per_message_labelled_by_its_own_seq() {
        use prost::Message as _;
        use protocol::grpc::framing::{encode_message, encode_trailers};
        let ledger = Arc::new(WireLedger::default());
        let wire = ConnectionWire::new(ledger.clone(), test_address(), test_address());
        wire.read(
            b"POST /lab.v1.Events/Subscribe?client=me HTTP/1.1\r\nhost: lab\r\ncontent-type: application/grpc-web+proto\r\ncontent-length: 5\r\n\r\n\0\0\0\0\0",
        );
        let message = |seq| {
            let body = protocol::EventBody::Tick { n: seq, filler: String::new() };
            let event = protocol::Event { seq, emitted_at: 1, body };
            encode_message(&protocol::grpc::v1::Event::from(&event).encode_to_vec())
        };
        let mut backlog = message(7);
        backlog.extend(message(8));
        let trailers = encode_trailers(&[("grpc-status", "0")]);
        let mut response = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
        for chunk in [&backlog, &trailers] {
            response.extend(format!("{:x}\r\n", chunk.len()).bytes());
            response.extend(chunk.iter());
            response.extend(b"\r\n");
        }
        response.extend(b"0\r\n\r\n");
        wire.written(&response);
        let page = ledger.page(&ClientId::try_from("me".to_owned()).unwrap(), 0, 100);
        let messages: Vec<_> = page
            .records
            .iter()
            .filter_map(|record| match &record.unit {
                WireUnit::GrpcMessage { flags, seq, event, .. } => Some((*flags, *seq, *event)),
                _ => None,
            })
            .collect();
        assert_eq!(
            messages,
            [(0, Some(7), Some(WireLabel::Tick)), (0, Some(8), Some(WireLabel::Tick)), (0x80, None, None)]
        );
        assert!(page.records.iter().any(|record| record.raw.contains("grpc-status: 0")));
        let totals = ledger.totals(Some(Transport::Grpc));
        assert_eq!(totals.to_client.total(), response.len() as u64);
    }
}
