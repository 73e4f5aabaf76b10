//! Splits one direction of a connection's bytes into the units the lab counts: HTTP heads, bodies, chunks and
//! WebSocket frames. Heads and chunk-size lines are parsed by `httparse` (hyper's own parser), frame headers by
//! `tungstenite`; this module only keeps track of where one unit ends and the next begins, across reads and
//! writes that split them anywhere. Every byte fed in ends up in exactly one unit, so the units' sizes always add
//! up to what crossed the socket.

use std::io::Cursor;

use smallvec::SmallVec;
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tungstenite::protocol::frame::FrameHeader;

use super::grpc_messages::{self, MessageSplitter, Piece};

/// Longest head the lab will parse; anything longer is counted as unparsed (hyper refuses such heads anyway).
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// How much of a chunk's text, or of a frame's payload, is kept for the inspector.
pub const KEPT_CHUNK_TEXT: usize = 2048;
pub const KEPT_FRAME_BYTES: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Bytes the client sent: requests, then masked frames.
    Requests,
    /// Bytes the server wrote: responses, then frames.
    Responses,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartLine {
    Request { method: String, target: String },
    Response { status: u16 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameInfo {
    pub opcode: &'static str,
    pub fin: bool,
    pub rsv: u8,
    pub masked: bool,
    pub length_bits: u8,
}

impl FrameInfo {
    pub fn is_data(&self) -> bool {
        is_data_opcode(self.opcode)
    }
}

/// Whether a frame of this opcode carries (part of) a message rather than controlling the connection.
pub fn is_data_opcode(opcode: &str) -> bool {
    matches!(opcode, "text" | "binary" | "continuation")
}

/// A complete unit found in the stream, with its exact size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unit {
    Head {
        raw: Vec<u8>,
        start: StartLine,
    },
    /// A `Content-Length` body, and its first bytes when text is kept (for the inspector and the HAR export).
    Body {
        payload: u64,
        text: Vec<u8>,
    },
    /// One chunk: `framing` is its size line and the CRLF after its data. For a gRPC-web response, `messages`
    /// cuts its data where the gRPC messages in it end.
    Chunk {
        framing: u64,
        data: u64,
        text: Vec<u8>,
        messages: Vec<Piece>,
    },
    /// The last chunk and any trailers.
    LastChunk {
        framing: u64,
    },
    /// `header` is the frame header's bytes as they crossed (mask key included), kept with the payload's first
    /// bytes so the hex view can show every field.
    Frame {
        info: FrameInfo,
        header: FrameHeaderBytes,
        payload: u64,
        first_bytes: Vec<u8>,
    },
    Unparsed {
        bytes: u64,
    },
}

/// A WebSocket frame header: at most 14 bytes (2, a 64-bit length, a mask), kept inline so that a frame, which a
/// stream writes per event, costs the tap no allocation.
pub type FrameHeaderBytes = SmallVec<[u8; 14]>;

/// The units one read or write completes: one, nearly always (an event's frame or chunk), kept inline in the
/// connection's state so that taking them touches no memory of its own.
pub type Units = SmallVec<[Unit; 1]>;

/// A chunk-size line as it is read: hex digits and CRLF, inline unless a sender adds long extensions.
type ChunkSizeLine = SmallVec<[u8; 24]>;

#[derive(Debug)]
enum State {
    Head(Vec<u8>),
    Fixed {
        remaining: u64,
        length: u64,
        text: Vec<u8>,
    },
    ChunkSize(ChunkSizeLine),
    ChunkData {
        remaining: u64,
        size: u64,
        line: u64,
        text: Vec<u8>,
        messages: Vec<Piece>,
    },
    ChunkEnd {
        remaining: u64,
        size: u64,
        line: u64,
        text: Vec<u8>,
        messages: Vec<Piece>,
    },
    Trailers {
        seen: Vec<u8>,
        line: u64,
    },
    FrameHeader(FrameHeaderBytes),
    FramePayload {
        remaining: u64,
        info: FrameInfo,
        header: FrameHeaderBytes,
        payload: u64,
        first_bytes: Vec<u8>,
    },
    /// Lost track (a head too long, a malformed chunk, a body without a length): count the rest as unparsed.
    Unparsed,
}

#[derive(Debug)]
pub struct StreamParser {
    side: Side,
    state: State,
    /// The request this response answers was `HEAD`: its response has no body whatever its headers say.
    next_response_has_no_body: bool,
    /// Whether to keep chunk text and frame bytes for the inspector; only a page's own lanes need them.
    keep_text: bool,
    /// Set while the body being read is a gRPC-web message stream.
    grpc_messages: Option<MessageSplitter>,
}

impl StreamParser {
    pub fn new(side: Side) -> Self {
        Self {
            side,
            state: State::Head(Vec::new()),
            next_response_has_no_body: false,
            keep_text: true,
            grpc_messages: None,
        }
    }

    /// Whether nothing of a next message has been read: the last one ended where the bytes so far end.
    pub fn between_messages(&self) -> bool {
        matches!(&self.state, State::Head(head) if head.is_empty())
    }

    /// Whether a chunked body is between two chunks. For a response whose body has not written a byte (an endless
    /// stream waiting for its first chunk), that is where its head ends.
    pub fn at_chunked_body_start(&self) -> bool {
        matches!(&self.state, State::ChunkSize(line) if line.is_empty())
    }

    /// Whether the next body carries gRPC messages, to be cut where they end (see [`grpc_messages`]).
    pub fn split_grpc_messages(&mut self, split: bool) {
        self.grpc_messages = split.then(MessageSplitter::default);
    }

    /// From now on the stream carries WebSocket frames (the response side saw `101 Switching Protocols`).
    pub fn switch_to_websocket(&mut self) {
        if matches!(self.state, State::Head(ref bytes) if bytes.is_empty()) {
            self.state = State::FrameHeader(FrameHeaderBytes::new());
        }
    }

    pub fn keep_text(&mut self, keep: bool) {
        self.keep_text = keep;
    }

    pub fn expect_bodiless_response(&mut self) {
        self.next_response_has_no_body = true;
    }

    /// Feeds the next bytes of the stream, appending each unit they complete to `units`.
    pub fn feed(&mut self, mut data: &[u8], units: &mut Units) {
        while !data.is_empty() {
            let used = self.step(data, units);
            data = &data[used..];
        }
    }

    /// Consumes some of `data` (at least one byte) and returns how many.
    fn step(&mut self, data: &[u8], units: &mut Units) -> usize {
        let (kept_text, kept_frame_bytes) = if self.keep_text { (KEPT_CHUNK_TEXT, KEPT_FRAME_BYTES) } else { (0, 0) };
        match &mut self.state {
            State::Head(seen) => {
                let start = seen.len().saturating_sub(3);
                seen.extend_from_slice(data);
                let Some(end) = find(&seen[start..], b"\r\n\r\n").map(|at| start + at + 4) else {
                    if seen.len() > MAX_HEAD_BYTES {
                        units.push(Unit::Unparsed { bytes: seen.len() as u64 });
                        self.state = State::Unparsed;
                    }
                    return data.len();
                };
                let used = data.len() - (seen.len() - end);
                seen.truncate(end);
                let raw = std::mem::take(seen);
                self.finish_head(raw, units);
                used
            }
            State::Fixed { remaining, length, text } => {
                let used = (*remaining).min(data.len() as u64);
                let room = kept_text.saturating_sub(text.len()).min(used as usize);
                text.extend_from_slice(&data[..room]);
                *remaining -= used;
                if *remaining == 0 {
                    units.push(Unit::Body { payload: *length, text: std::mem::take(text) });
                    self.state = State::Head(Vec::new());
                }
                used as usize
            }
            State::ChunkSize(line) => {
                let start = line.len().saturating_sub(1);
                // Only up to the first line end: the chunk's data follows in the same write, and copying it here
                // cost an allocation per SSE event.
                let taken = data.iter().position(|&byte| byte == b'\n').map_or(data.len(), |at| at + 1);
                line.extend_from_slice(&data[..taken]);
                let Some(end) = find(&line[start..], b"\r\n").map(|at| start + at + 2) else {
                    if line.len() > 1024 {
                        units.push(Unit::Unparsed { bytes: line.len() as u64 });
                        self.state = State::Unparsed;
                    }
                    return taken;
                };
                let used = taken - (line.len() - end);
                line.truncate(end);
                let size = match httparse::parse_chunk_size(line) {
                    Ok(httparse::Status::Complete((_, size))) => size,
                    _ => {
                        units.push(Unit::Unparsed { bytes: line.len() as u64 });
                        self.state = State::Unparsed;
                        return used;
                    }
                };
                let line = line.len() as u64;
                self.state = if size == 0 {
                    State::Trailers { seen: Vec::new(), line }
                } else {
                    State::ChunkData { remaining: size, size, line, text: Vec::new(), messages: Vec::new() }
                };
                used
            }
            State::ChunkData { remaining, size, line, text, messages } => {
                let used = (*remaining).min(data.len() as u64) as usize;
                let room = kept_text.saturating_sub(text.len()).min(used);
                text.extend_from_slice(&data[..room]);
                if let Some(splitter) = &mut self.grpc_messages {
                    grpc_messages::append(messages, splitter.feed(&data[..used]));
                }
                *remaining -= used as u64;
                if *remaining == 0 {
                    let (text, messages) = (std::mem::take(text), std::mem::take(messages));
                    self.state = State::ChunkEnd { remaining: 2, size: *size, line: *line, text, messages };
                }
                used
            }
            State::ChunkEnd { remaining, size, line, text, messages } => {
                let used = (*remaining).min(data.len() as u64);
                *remaining -= used;
                if *remaining == 0 {
                    let (text, messages) = (std::mem::take(text), std::mem::take(messages));
                    units.push(Unit::Chunk { framing: *line + 2, data: *size, text, messages });
                    self.state = State::ChunkSize(ChunkSizeLine::new());
                }
                used as usize
            }
            State::Trailers { seen, line } => {
                // Either an empty line at once, or trailer fields ending in an empty line.
                let start = seen.len().saturating_sub(3);
                seen.extend_from_slice(data);
                let end = if seen.starts_with(b"\r\n") {
                    Some(2)
                } else {
                    find(&seen[start..], b"\r\n\r\n").map(|at| start + at + 4)
                };
                let Some(end) = end else { return data.len() };
                let used = data.len() - (seen.len() - end);
                units.push(Unit::LastChunk { framing: *line + end as u64 });
                self.state = State::Head(Vec::new());
                used
            }
            State::FrameHeader(seen) => {
                let before = seen.len();
                seen.extend_from_slice(&data[..data.len().min(14 - before.min(14))]);
                let mut cursor = Cursor::new(seen.as_slice());
                match FrameHeader::parse(&mut cursor) {
                    Ok(Some((header, payload))) => {
                        let header_len = cursor.position() as usize;
                        let used = header_len - before;
                        let info = frame_info(&header, header_len);
                        let state = State::FramePayload {
                            remaining: payload,
                            info,
                            header: FrameHeaderBytes::from_slice(&seen[..header_len]),
                            payload,
                            first_bytes: Vec::new(),
                        };
                        self.state = state;
                        if payload == 0 {
                            self.finish_frame(units);
                        }
                        used
                    }
                    Ok(None) => seen.len() - before,
                    Err(_) => {
                        units.push(Unit::Unparsed { bytes: seen.len() as u64 });
                        self.state = State::Unparsed;
                        seen_len_used(before, data.len())
                    }
                }
            }
            State::FramePayload { remaining, first_bytes, .. } => {
                let used = (*remaining).min(data.len() as u64) as usize;
                let room = kept_frame_bytes.saturating_sub(first_bytes.len()).min(used);
                first_bytes.extend_from_slice(&data[..room]);
                *remaining -= used as u64;
                if *remaining == 0 {
                    self.finish_frame(units);
                }
                used
            }
            State::Unparsed => {
                units.push(Unit::Unparsed { bytes: data.len() as u64 });
                data.len()
            }
        }
    }

    fn finish_frame(&mut self, units: &mut Units) {
        if let State::FramePayload { info, header, payload, first_bytes, .. } =
            std::mem::replace(&mut self.state, State::FrameHeader(FrameHeaderBytes::new()))
        {
            units.push(Unit::Frame { info, header, payload, first_bytes });
        }
    }

    /// A head is complete: parse it and set up for its body.
    fn finish_head(&mut self, raw: Vec<u8>, units: &mut Units) {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let parsed = match self.side {
            Side::Requests => {
                let mut request = httparse::Request::new(&mut headers);
                match request.parse(&raw) {
                    Ok(httparse::Status::Complete(_)) => Some((
                        StartLine::Request {
                            method: request.method.unwrap_or_default().to_owned(),
                            target: request.path.unwrap_or_default().to_owned(),
                        },
                        body_framing(request.headers),
                    )),
                    _ => None,
                }
            }
            Side::Responses => {
                let mut response = httparse::Response::new(&mut headers);
                match response.parse(&raw) {
                    Ok(httparse::Status::Complete(_)) => {
                        let status = response.code.unwrap_or_default();
                        let framing = if status == 101 {
                            BodyFraming::WebSocket
                        } else if (100..200).contains(&status)
                            || status == 204
                            || status == 304
                            || std::mem::take(&mut self.next_response_has_no_body)
                        {
                            BodyFraming::None
                        } else {
                            match body_framing(response.headers) {
                                // A response with neither length nor chunking runs until the connection closes.
                                BodyFraming::None => BodyFraming::UntilClose,
                                framing => framing,
                            }
                        };
                        Some((StartLine::Response { status }, framing))
                    }
                    _ => None,
                }
            }
        };
        let Some((start, framing)) = parsed else {
            units.push(Unit::Unparsed { bytes: raw.len() as u64 });
            self.state = State::Unparsed;
            return;
        };
        units.push(Unit::Head { raw, start });
        self.state = match framing {
            BodyFraming::None | BodyFraming::Fixed(0) => State::Head(Vec::new()),
            BodyFraming::Fixed(length) => State::Fixed { remaining: length, length, text: Vec::new() },
            BodyFraming::Chunked => State::ChunkSize(ChunkSizeLine::new()),
            BodyFraming::WebSocket => State::FrameHeader(FrameHeaderBytes::new()),
            BodyFraming::UntilClose => State::Unparsed,
        };
    }
}

fn seen_len_used(before: usize, available: usize) -> usize {
    (14 - before.min(14)).min(available).max(1)
}

enum BodyFraming {
    None,
    Fixed(u64),
    Chunked,
    WebSocket,
    UntilClose,
}

fn body_framing(headers: &[httparse::Header<'_>]) -> BodyFraming {
    let value = |name: &str| {
        headers
            .iter()
            .find(|header| header.name.eq_ignore_ascii_case(name))
            .and_then(|header| std::str::from_utf8(header.value).ok())
    };
    if value("transfer-encoding").is_some_and(|value| value.to_ascii_lowercase().contains("chunked")) {
        return BodyFraming::Chunked;
    }
    match value("content-length").and_then(|value| value.trim().parse().ok()) {
        Some(length) => BodyFraming::Fixed(length),
        None => BodyFraming::None,
    }
}

/// `header_len` says how the length was really encoded: a sender may use a longer form than it needs.
fn frame_info(header: &FrameHeader, header_len: usize) -> FrameInfo {
    let opcode = match header.opcode {
        OpCode::Data(Data::Text) => "text",
        OpCode::Data(Data::Binary) => "binary",
        OpCode::Data(Data::Continue) => "continuation",
        OpCode::Control(Control::Close) => "close",
        OpCode::Control(Control::Ping) => "ping",
        OpCode::Control(Control::Pong) => "pong",
        OpCode::Data(Data::Reserved(_)) | OpCode::Control(Control::Reserved(_)) => "reserved",
    };
    let mask_len = if header.mask.is_some() { 4 } else { 0 };
    let length_bits = match header_len - 2 - mask_len {
        0 => 7,
        2 => 16,
        _ => 64,
    };
    FrameInfo {
        opcode,
        fin: header.is_final,
        rsv: u8::from(header.rsv1) << 2 | u8::from(header.rsv2) << 1 | u8::from(header.rsv3),
        masked: header.mask.is_some(),
        length_bits,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tungstenite::protocol::frame::Frame;

    /// Feeds `bytes` split at every possible size, checking the units never depend on how the stream was cut.
    fn units_in_any_split(side: Side, bytes: &[u8]) -> Vec<Unit> {
        let mut whole = Units::new();
        StreamParser::new(side).feed(bytes, &mut whole);
        for size in 1..bytes.len().min(40) {
            let mut parser = StreamParser::new(side);
            let mut units = Units::new();
            for piece in bytes.chunks(size) {
                parser.feed(piece, &mut units);
            }
            assert_eq!(units, whole, "split every {size} bytes");
        }
        whole.into_vec()
    }

    fn total(units: &[Unit]) -> u64 {
        units
            .iter()
            .map(|unit| match unit {
                Unit::Head { raw, .. } => raw.len() as u64,
                Unit::Body { payload, .. } => *payload,
                Unit::Chunk { framing, data, .. } => framing + data,
                Unit::LastChunk { framing } => *framing,
                Unit::Frame { header, payload, .. } => header.len() as u64 + payload,
                Unit::Unparsed { bytes } => *bytes,
            })
            .sum()
    }

    #[test]
    fn keep_alive_requests_and_a_body() {
        let bytes = b"GET /api/poll?after=4 HTTP/1.1\r\nHost: lab\r\n\r\nPOST /api/publish HTTP/1.1\r\nHost: lab\r\nContent-Length: 13\r\n\r\n{\"text\":\"hi\"}";
        let units = units_in_any_split(Side::Requests, bytes);
        assert_eq!(units.len(), 3);
        assert!(matches!(&units[0], Unit::Head { start: StartLine::Request { method, target }, raw }
            if method == "GET" && target == "/api/poll?after=4" && raw.len() == 45));
        assert!(matches!(&units[2], Unit::Body { payload: 13, .. }));
        assert_eq!(total(&units), bytes.len() as u64);
    }

    #[test]
    fn a_chunked_stream_splits_into_size_lines_data_and_the_last_chunk() {
        let bytes =
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1c\r\nid: 1\nevent: tick\ndata: {}\n\n\r\n0\r\n\r\n";
        let units = units_in_any_split(Side::Responses, bytes);
        assert!(matches!(units[0], Unit::Head { start: StartLine::Response { status: 200 }, .. }));
        // "1c\r\n" + CRLF after the data = 6 bytes of framing around 28 bytes of data.
        assert!(matches!(&units[1], Unit::Chunk { framing: 6, data: 28, text, .. } if text.starts_with(b"id: 1\n")));
        assert_eq!(units[2], Unit::LastChunk { framing: 5 });
        assert_eq!(total(&units), bytes.len() as u64);
    }

    #[test]
    fn bodiless_responses_go_straight_to_the_next_head() {
        let bytes =
            b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
        let units = units_in_any_split(Side::Responses, bytes);
        assert_eq!(units.len(), 3);
        assert!(matches!(&units[2], Unit::Body { payload: 2, .. }));
    }

    fn frame_bytes(frame: Frame) -> Vec<u8> {
        let mut bytes = Vec::new();
        frame.format(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn websocket_frame_headers_are_2_4_or_10_bytes_plus_4_for_a_mask() {
        for (length, header, bits) in [(0, 2, 7), (125, 2, 7), (126, 4, 16), (65_535, 4, 16), (65_536, 10, 64)] {
            let payload = vec![b'x'; length];
            let mut bytes = b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n".to_vec();
            bytes.extend(frame_bytes(Frame::message(payload.clone(), OpCode::Data(Data::Text), true)));
            let mut units = Units::new();
            StreamParser::new(Side::Responses).feed(&bytes, &mut units);
            let Unit::Frame { info, header: measured, payload: carried, .. } = &units[1] else { panic!("{units:?}") };
            assert_eq!((measured.len(), *carried, info.length_bits), (header, length as u64, bits), "{length} B");
            assert_eq!(
                measured[..],
                bytes[bytes.len() - length - header..bytes.len() - length],
                "the header's own bytes"
            );
            assert!(!info.masked && info.fin && info.opcode == "text");

            let mut masked = Frame::message(payload, OpCode::Data(Data::Text), true);
            masked.header_mut().mask = Some([1, 2, 3, 4]);
            let mut parser = StreamParser::new(Side::Requests);
            parser.switch_to_websocket();
            let mut units = Units::new();
            parser.feed(&frame_bytes(masked), &mut units);
            assert!(matches!(&units[0], Unit::Frame { header: h, info, .. }
                if h.len() == header + 4 && h[header..] == [1, 2, 3, 4] && info.masked));
        }
    }

    #[test]
    fn frames_split_anywhere_still_add_up() {
        let mut bytes = b"HTTP/1.1 101 Switching Protocols\r\n\r\n".to_vec();
        bytes.extend(frame_bytes(Frame::ping(vec![1, 2, 3])));
        bytes.extend(frame_bytes(Frame::message(vec![b'a'; 300], OpCode::Data(Data::Text), true)));
        bytes.extend(frame_bytes(Frame::close(None)));
        let units = units_in_any_split(Side::Responses, &bytes);
        let opcodes: Vec<_> = units
            .iter()
            .filter_map(|unit| if let Unit::Frame { info, .. } = unit { Some(info.opcode) } else { None })
            .collect();
        assert_eq!(opcodes, ["ping", "text", "close"]);
        assert_eq!(total(&units), bytes.len() as u64);
    }

    #[test]
    fn garbage_is_counted_not_lost() {
        let bytes = b"\x16\x03\x01 not http at all\r\n\r\nmore";
        for size in 1..bytes.len() {
            let mut parser = StreamParser::new(Side::Requests);
            let mut units = Units::new();
            bytes.chunks(size).for_each(|piece| parser.feed(piece, &mut units));
            assert_eq!(total(&units), bytes.len() as u64, "split every {size} bytes");
        }
    }
}
