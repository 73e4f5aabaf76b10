//! What the inspector says about a measured record, as plain Rust: wire text made visible, and a short note for
//! each part a learner should know. The component only renders these lines.

use crate::hex_view::{hex, opcode_number, parse_hex};
use protocol::civil_date::UtcTime;
use protocol::grpc::fields::{decode_message, Contents, End, Field, Schema, Value};
use protocol::{WireDirection, WireRecord, WireUnit};

/// The GUID RFC 6455 §1.3 appends to `Sec-WebSocket-Key` before hashing it into `Sec-WebSocket-Accept`.
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// One line of the inspector: what is on the wire (escaped), and what it means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InspectLine {
    pub text: String,
    pub note: Option<String>,
}

/// Wire text with its line ends visible: `\r\n` and `\n` are written out, so a learner sees exactly what separates
/// HTTP header lines (CRLF) from SSE lines (LF).
pub fn visible_line_ends(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (line, ending, next) = match rest.find('\n') {
            Some(at) if at > 0 && rest.as_bytes()[at - 1] == b'\r' => (&rest[..at - 1], "\\r\\n", &rest[at + 1..]),
            Some(at) => (&rest[..at], "\\n", &rest[at + 1..]),
            None => (rest, "", ""),
        };
        lines.push(format!("{line}{ending}"));
        rest = next;
    }
    lines
}

/// The lines of a record, each with a note where there is something to learn.
pub fn explain(record: &WireRecord) -> Vec<InspectLine> {
    match &record.unit {
        WireUnit::Request { .. } | WireUnit::ResponseHead { .. } => visible_line_ends(&record.raw)
            .into_iter()
            .map(|text| {
                let note = head_line_note(&text).map(str::to_owned);
                InspectLine { text, note }
            })
            .collect(),
        WireUnit::Chunk { .. } => visible_line_ends(&record.raw)
            .into_iter()
            .map(|text| {
                let note = sse_line_note(&text).map(str::to_owned);
                InspectLine { text, note }
            })
            .collect(),
        WireUnit::Frame { opcode, fin, rsv, masked, length_bits, .. } => frame_lines(
            opcode,
            *fin,
            *rsv,
            *masked,
            *length_bits,
            record.bytes.framing,
            record.bytes.payload,
            &record.raw,
        ),
        WireUnit::Body => {
            let mut lines = vec![InspectLine {
                text: format!("{} bytes of body", record.bytes.payload),
                note: Some("sent with Content-Length, so it needs no framing".into()),
            }];
            if !record.raw.is_empty() {
                let kept = if (record.raw.len() as u64) < record.bytes.payload { " (its start)" } else { "" };
                lines.push(note_line(record.raw.clone(), format!("the body as text{kept}")));
            }
            lines
        }
        WireUnit::LastChunk => vec![InspectLine {
            text: "0\\r\\n\\r\\n".into(),
            note: Some("the zero-length chunk: the response is over".into()),
        }],
        WireUnit::GrpcMessage { flags, length, .. } => grpc_message_lines(record, *flags, *length),
        WireUnit::Http2Frame { frame_type, flags, stream, length, .. } => {
            http2_frame_lines(record, frame_type, *flags, *stream, *length)
        }
        WireUnit::Unparsed => vec![InspectLine { text: format!("{} bytes", record.bytes.total()), note: None }],
        WireUnit::ConnectionClosed { connection, exchanges } => vec![note_line(
            format!("TCP connection #{connection} closed after {exchanges} exchange{}", plural(*exchanges)),
            "the server let go of the socket: the next request needs a new connection (a TCP handshake, and for \
             https a TLS one)",
        )],
    }
}

fn head_line_note(line: &str) -> Option<&'static str> {
    let lower = line.to_ascii_lowercase();
    let name = lower.split(':').next().unwrap_or_default();
    Some(match name {
        _ if lower.starts_with("get ") || lower.starts_with("post ") => {
            "request line: method, target, protocol version"
        }
        _ if lower.starts_with("http/1.1 101") => "the server agrees to stop speaking HTTP on this connection",
        _ if lower.starts_with("http/1.1 204") => "no content: the long poll's hold time passed with no event",
        _ if lower.starts_with("http/1.") => "status line: protocol version, status code, reason",
        "\\r\\n" => "an empty line ends the head; the body (if any) follows",
        "sec-websocket-key" => "16 random bytes, base64: the browser's challenge",
        "sec-websocket-accept" => {
            "base64(SHA-1(key + 258EAFA5-E914-47DA-95CA-C5AB0DC85B11)): proves a WebSocket server read the key"
        }
        "upgrade" => "which protocol to switch to",
        "connection" => {
            "hop-by-hop: `Upgrade` asks to switch protocols, `close` ends the connection after this exchange"
        }
        "sec-websocket-version" => "13 is the only version RFC 6455 defines",
        "transfer-encoding" => "chunked: the body comes in pieces, each prefixed with its size; no length up front",
        "content-length" => "the body's size in bytes; the body needs no other framing",
        "content-type" => "what the body is; text/event-stream makes it an SSE stream",
        "cache-control" => "no-cache: a stream must never be served from a cache",
        "last-event-id" => "the browser's automatic SSE reconnect: resume after this id",
        "cookie" => {
            "sent with every request to this origin, lane traffic or not; a credential, so the lab's record hides its \
             value (as many * as it had bytes, so the byte counts stay exact)"
        }
        "set-cookie" | "authorization" | "x-lab-teacher" => {
            "a credential: the lab's record hides its value (as many * as it had bytes, so the byte counts stay exact)"
        }
        "user-agent" => "sent with every HTTP request: part of what polling costs per request",
        "accept-encoding" => "the browser offers compression; the lab never compresses lane traffic",
        "x-lab-exchange" => "the lab's own: names this exchange so the page can find its measured bytes",
        "x-lab-epoch" => "the lab's own: which server run answered",
        "date" => "added by the HTTP library to every response",
        _ => return None,
    })
}

fn sse_line_note(line: &str) -> Option<&'static str> {
    Some(match line {
        _ if line.starts_with("id: ") => "becomes the browser's Last-Event-ID, sent back when it reconnects",
        _ if line.starts_with("event: ") => "the event's name: which addEventListener handler receives it",
        _ if line.starts_with("data: ") => "the payload: everything after `data: ` up to the line end",
        _ if line.starts_with("retry: ") => "how many ms the browser waits before reconnecting",
        _ if line.starts_with(':') => "a comment: ignored by EventSource, keeps idle connections alive",
        "\\n" => "an empty line ends the event: only now is it dispatched",
        _ => return None,
    })
}

#[allow(clippy::too_many_arguments)]
fn frame_lines(
    opcode: &str,
    fin: bool,
    rsv: u8,
    masked: bool,
    length_bits: u8,
    header: u64,
    payload: u64,
    first_bytes: &str,
) -> Vec<InspectLine> {
    let line = |text: String, note: &str| InspectLine { text, note: Some(note.to_owned()) };
    let opcode_value = opcode_number(opcode);
    let length = match length_bits {
        7 => format!("payload length {payload} in the 7-bit field"),
        16 => format!("126 in the 7-bit field, then {payload} in 16 bits"),
        _ => format!("127 in the 7-bit field, then {payload} in 64 bits"),
    };
    vec![
        line(format!("FIN {}", u8::from(fin)), "1: the last (here, only) frame of its message"),
        line(format!("RSV1-3 {rsv:03b}"), "reserved for extensions such as compression; 000 without them"),
        line(format!("opcode 0x{opcode_value:X} ({opcode})"), "1 text, 2 binary, 8 close, 9 ping, A pong"),
        line(
            format!("MASK {}", u8::from(masked)),
            if masked {
                "browser → server frames are masked with a random 4-byte key (RFC 6455 §5.3)"
            } else {
                "server → browser frames are never masked"
            },
        ),
        line(length, "lengths up to 125 fit the first byte; then 2 or 8 more bytes"),
        line(format!("{header} header bytes, {payload} payload bytes"), "the header is all the framing a frame has"),
        line(
            format!("payload starts: {}", first_payload_bytes(first_bytes)),
            "first bytes as sent (a browser's are still masked); every kept byte is in the hex view",
        ),
    ]
}

fn plural(count: u64) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

/// The first 16 of the kept payload bytes (hex, spaced), marked when more were kept.
fn first_payload_bytes(hex: &str) -> String {
    const SHOWN: usize = 16;
    let shown: Vec<&str> = hex.split_whitespace().take(SHOWN + 1).collect();
    if shown.len() > SHOWN {
        format!("{} …", shown[..SHOWN].join(" "))
    } else {
        shown.join(" ")
    }
}

fn note_line(text: String, note: impl Into<String>) -> InspectLine {
    InspectLine { text, note: Some(note.into()) }
}

/// A gRPC message: its 5-byte prefix, then its protobuf field by field from the bytes the server kept (a trailer
/// frame: its text).
fn grpc_message_lines(record: &WireRecord, flags: u8, length: u32) -> Vec<InspectLine> {
    let flag_note = match flags {
        0x00 => "flag byte 0x00: not compressed (0x01 would mean compressed, 0x80 gRPC-web's trailers)",
        _ if flags & 0x80 != 0 => {
            "top bit set: gRPC-web's trailer frame, in the body because a browser's fetch cannot read HTTP trailers"
        }
        0x01 => "0x01: compressed with the grpc-encoding the call named",
        _ => "bits gRPC does not define",
    };
    let be = length.to_be_bytes();
    let mut lines = vec![
        note_line(format!("flags 0x{flags:02x}"), flag_note),
        note_line(
            format!("length {length} = {:02x} {:02x} {:02x} {:02x}", be[0], be[1], be[2], be[3]),
            "4 bytes, big-endian: how many bytes follow, so messages need no delimiter between them",
        ),
    ];
    if record.bytes.framing > 5 {
        lines.push(note_line(
            format!("{} B of framing: 5 of prefix + {} of the carrier", record.bytes.framing, record.bytes.framing - 5),
            "an HTTP/1.1 chunk-size line (gRPC-web) or a 9-byte HTTP/2 DATA frame header (gRPC)",
        ));
    }
    if flags & 0x80 != 0 {
        lines.extend(visible_line_ends(&record.raw).into_iter().map(|text| {
            let note = trailer_note(&text);
            InspectLine { text, note }
        }));
        return lines;
    }
    let Some(bytes) = parse_hex(&record.raw) else {
        lines.push(note_line(record.raw.clone(), "the first bytes of the protobuf, as the server kept them"));
        return lines;
    };
    let kept = if bytes.len() < length as usize {
        format!("the first {} of the message's {length} bytes, as the server kept them", bytes.len())
    } else {
        format!("all {length} bytes of the protobuf")
    };
    if flags & 0x01 != 0 {
        lines.push(note_line(record.raw.clone(), format!("{kept}; compressed, so not readable as fields")));
        return lines;
    }
    let schema = match record.direction {
        WireDirection::ToClient => Schema::Event,
        WireDirection::ToServer => Schema::Request,
    };
    let decoded = decode_message(&bytes, schema);
    field_lines(&bytes, &decoded.fields, 0, &mut lines);
    match decoded.end {
        End::Complete if bytes.len() < length as usize => {
            lines.push(note_line("…".into(), "kept bytes end here, between two fields"));
        }
        End::Complete => {}
        // A cut value is noted on its field's line.
        End::Cut { at } if decoded.fields.last().is_some_and(|field| field.key.start == at) => {}
        End::Cut { .. } => lines.push(note_line("…".into(), "kept bytes end here, inside a field's tag")),
        End::Unreadable { at, why } => lines.push(note_line(format!("from byte {at}: not protobuf"), why)),
    }
    let hex = if record.raw.is_empty() { "(no bytes)".to_owned() } else { record.raw.clone() };
    lines.push(note_line(hex, kept));
    lines
}

/// One line per field, nested fields after their parent, marked `↳` once per level (leading spaces would collapse
/// in the page).
fn field_lines(bytes: &[u8], fields: &[Field], depth: usize, lines: &mut Vec<InspectLine>) {
    for (index, field) in fields.iter().enumerate() {
        let name = field.name.map(|name| format!(" ({name})")).unwrap_or_default();
        let value = match &field.content {
            Value::Varint(value) => value.to_string(),
            Value::I64(value) => format!("0x{value:016x}"),
            Value::I32(value) => format!("0x{value:08x}"),
            Value::Len { length, contents: Contents::Message(_), .. } => format!("{length} B: a message"),
            Value::Len { length, contents: Contents::Text(text), .. } => format!("{length} B: {text:?}"),
            Value::Len { length, data, contents: Contents::Bytes } => {
                format!("{length} B: {}", hex(&bytes[data.clone()]))
            }
            Value::Cut { length: Some(length), data, fields } if !fields.is_empty() => {
                format!("{length} B, {} kept: a message", data.len())
            }
            Value::Cut { length: Some(length), data, .. } => {
                format!("{length} B, {} kept: {}", data.len(), preview(&bytes[data.clone()]))
            }
            Value::Cut { length: None, .. } => "(cut)".to_owned(),
        };
        let text = format!(
            "{}field {}{name} · {} · tag 0x{} → {value}",
            "↳ ".repeat(depth),
            field.number,
            field.wire_type,
            hex(&bytes[field.key.clone()]).replace(' ', ""),
        );
        let note = field_note(field, depth == 0 && index == 0);
        lines.push(InspectLine { text, note });
        if let Value::Len { contents: Contents::Message(inner), .. } | Value::Cut { fields: inner, .. } = &field.content
        {
            field_lines(bytes, inner, depth + 1, lines);
        }
    }
}

/// Kept bytes of a cut LEN value: text where they are UTF-8 (up to where a character was cut), else hex.
fn preview(data: &[u8]) -> String {
    match std::str::from_utf8(data) {
        Ok(text) => format!("{text:?}…"),
        Err(error) if error.valid_up_to() > 0 && error.error_len().is_none() => {
            format!("{:?}…", std::str::from_utf8(&data[..error.valid_up_to()]).unwrap_or_default())
        }
        Err(_) => format!("{}…", hex(data)),
    }
}

fn field_note(field: &Field, first: bool) -> Option<String> {
    let mut notes: Vec<String> = Vec::new();
    // A cut nested message is noted where its own last field is cut, if one is.
    if matches!(&field.content, Value::Cut { fields, .. } if !fields.last().is_some_and(Field::is_cut)) {
        notes.push("kept bytes end here: the server keeps only the start of each message".into());
    }
    if first {
        notes.push(format!(
            "tag = field number << 3 | wire type: {} << 3 | {} = 0x{:x}",
            field.number,
            field.wire_type.id(),
            (u64::from(field.number) << 3) | u64::from(field.wire_type.id())
        ));
    } else if field.key.len() > 1 {
        notes.push("field numbers over 15 need a tag of 2 bytes or more".into());
    }
    let specific = match (field.name, &field.content) {
        (Some("seq"), Value::Varint(_)) => Some(format!(
            "a varint: 7 bits per byte, low bits first, top bit set while more follow ({} B here)",
            field.value.len()
        )),
        (Some("emitted_at"), Value::Varint(micros)) => Some(format!(
            "Unix microseconds: {}; a varint of {} B ({} digits in JSON)",
            utc(*micros),
            field.value.len(),
            micros.to_string().len()
        )),
        (Some("tick" | "message" | "broadcast" | "audio"), _) => {
            Some("one case of the oneof `body`: the field number says which; LEN, then a nested message".into())
        }
        (Some("gap"), _) => {
            Some("the oneof's gap case; a gap's seq is 0, which proto3 leaves off the wire (a default)".into())
        }
        (Some("tick.filler" | "message.text" | "broadcast.text" | "client"), Value::Len { .. }) => {
            Some("a string is LEN: a length, then UTF-8 bytes with no terminator".into())
        }
        (Some("audio.data"), _) => Some("raw bytes, where the JSON lanes carry base64 (a third larger)".into()),
        (Some("after"), _) => {
            Some("optional, so sent even when 0: 0 (all the history) differs from absent (only new events)".into())
        }
        (None, Value::I64(_) | Value::I32(_)) => {
            Some("fixed width, little-endian: an integer or a float, only the .proto says which".into())
        }
        (None, Value::Len { .. }) => Some("the wire does not say message, string or bytes: this is a guess".into()),
        _ => None,
    };
    notes.extend(specific);
    (!notes.is_empty()).then(|| notes.join("; "))
}

/// Unix microseconds as a UTC date and time.
fn utc(micros: u64) -> String {
    let UtcTime { year, month, day, hour, minute, second, micros } = UtcTime::of(micros);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}.{micros:06} UTC")
}

fn grpc_status_name(code: &str) -> Option<&'static str> {
    Some(match code.trim() {
        "0" => "OK",
        "1" => "CANCELLED",
        "2" => "UNKNOWN",
        "3" => "INVALID_ARGUMENT",
        "4" => "DEADLINE_EXCEEDED",
        "5" => "NOT_FOUND",
        "6" => "ALREADY_EXISTS",
        "7" => "PERMISSION_DENIED",
        "8" => "RESOURCE_EXHAUSTED",
        "9" => "FAILED_PRECONDITION",
        "10" => "ABORTED",
        "11" => "OUT_OF_RANGE",
        "12" => "UNIMPLEMENTED",
        "13" => "INTERNAL",
        "14" => "UNAVAILABLE",
        "15" => "DATA_LOSS",
        "16" => "UNAUTHENTICATED",
        _ => return None,
    })
}

/// The note for a `grpc-status` or `grpc-message` line, in trailers or in an HTTP/2 header list.
fn trailer_note(line: &str) -> Option<String> {
    let (name, value) = line.split_once(':')?;
    let value = value.trim_start().trim_end_matches("\\r\\n").trim_end_matches("\\n");
    Some(match name.to_ascii_lowercase().as_str() {
        "grpc-status" => match (value.trim(), grpc_status_name(value)) {
            ("0", _) => "0 = OK: the call succeeded; the status comes last, after every message".into(),
            ("10", _) => "10 = ABORTED: here, the server restarted; subscribe again with no `after`".into(),
            ("14", _) => "14 = UNAVAILABLE: here, a fault dropped the stream; retrying can work".into(),
            (code, Some(status)) => format!("{code} = {status}: the call failed"),
            (code, None) => format!("{code}: not a status gRPC defines"),
        },
        "grpc-message" => "why, for people: percent-encoded text, sent when the status is not OK".into(),
        _ => return None,
    })
}

/// An HTTP/2 frame: its 9-byte header field by field, what the type is for, and a HEADERS frame's header list.
fn http2_frame_lines(record: &WireRecord, frame_type: &str, flags: u8, stream: u32, length: u32) -> Vec<InspectLine> {
    if frame_type == "PREFACE" {
        return vec![note_line(
            "PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n".into(),
            "the client's 24-byte preface: HTTP/2 from the first byte (prior knowledge, no Upgrade); SETTINGS follow",
        )];
    }
    let (code, purpose) = match frame_type {
        "DATA" => (Some(0x0), "carries the body, here length-prefixed gRPC messages; counted by flow control"),
        "HEADERS" => (Some(0x1), "opens a stream with request or response headers, or ends it with trailers"),
        "PRIORITY" => (Some(0x2), "weighs streams against each other; deprecated by RFC 9113"),
        "RST_STREAM" => (Some(0x3), "ends one stream at once with an error code, the connection stays open"),
        "SETTINGS" => (Some(0x4), "each side's parameters (frame size, window size…); the peer acknowledges them"),
        "PUSH_PROMISE" => (Some(0x5), "server push: announces a stream the server will open; gRPC never uses it"),
        "PING" => (Some(0x6), "8 bytes echoed back with ACK: measures round-trip time, keeps the connection alive"),
        "GOAWAY" => (Some(0x7), "the sender is closing the connection: no new streams after the last one it names"),
        "WINDOW_UPDATE" => (Some(0x8), "flow control: lets the sender send that many more bytes"),
        "CONTINUATION" => (Some(0x9), "the rest of a header block too large for one HEADERS frame"),
        _ => (None, "a type this lab does not name; HTTP/2 says to ignore unknown frame types"),
    };
    let type_text = match code {
        Some(code) => format!("{frame_type} (type 0x{code:x})"),
        None => frame_type.to_owned(),
    };
    let defined = http2_flags(frame_type);
    let set: Vec<_> = defined.iter().filter(|(bit, _, _)| flags & bit != 0).collect();
    let undefined = flags & !defined.iter().fold(0, |all, (bit, _, _)| all | bit);
    let mut flag_notes: Vec<String> = set.iter().map(|(_, _, note)| (*note).to_owned()).collect();
    if undefined != 0 {
        flag_notes.push(format!("0x{undefined:02x}: not defined for {frame_type}"));
    }
    let flag_names: Vec<_> = set.iter().map(|(_, name, _)| *name).collect();
    let flags_text = match flag_names.is_empty() {
        true => format!("flags 0x{flags:02x}"),
        false => format!("flags 0x{flags:02x} {}", flag_names.join(" | ")),
    };
    let stream_note = match stream {
        0 => "0: the connection itself, not any one request",
        _ if stream % 2 == 1 => "odd: opened by the client; each gRPC call is one stream",
        _ => "even: opened by the server (push)",
    };
    let mut lines = vec![
        note_line(type_text, purpose),
        InspectLine { text: flags_text, note: (!flag_notes.is_empty()).then(|| flag_notes.join("; ")) },
        note_line(format!("stream {stream}"), stream_note),
        note_line(format!("length {length}"), "the payload's size, in 24 bits; the 9-byte frame header is not counted"),
    ];
    if matches!(frame_type, "HEADERS" | "CONTINUATION") && (record.bytes.head > 0 || !record.raw.is_empty()) {
        lines.push(note_line(
            format!("{} B of HPACK → {} B of header text", record.bytes.head, record.raw.len()),
            "on the wire headers are HPACK-compressed: indices into tables of common and earlier headers, Huffman-coded strings",
        ));
        lines.extend(record.raw.lines().map(|text| {
            let note = http2_header_note(text);
            InspectLine { text: text.to_owned(), note }
        }));
    }
    lines
}

/// The flags RFC 9113 defines for a frame type: bit, name, and what it means.
pub fn http2_flags(frame_type: &str) -> &'static [(u8, &'static str, &'static str)] {
    match frame_type {
        "DATA" => &[(0x1, "END_STREAM", END_STREAM), (0x8, "PADDED", PADDED)],
        "HEADERS" => &[
            (0x1, "END_STREAM", END_STREAM),
            (0x4, "END_HEADERS", END_HEADERS),
            (0x8, "PADDED", PADDED),
            (0x20, "PRIORITY", "PRIORITY: stream priority fields come first"),
        ],
        "SETTINGS" | "PING" => &[(0x1, "ACK", "ACK: the answer to the peer's frame of this type")],
        "CONTINUATION" => &[(0x4, "END_HEADERS", END_HEADERS)],
        "PUSH_PROMISE" => &[(0x4, "END_HEADERS", END_HEADERS), (0x8, "PADDED", PADDED)],
        _ => &[],
    }
}

const END_STREAM: &str = "END_STREAM: the sender's last frame on this stream";
const END_HEADERS: &str = "END_HEADERS: the header block is complete, no CONTINUATION follows";
const PADDED: &str = "PADDED: padding after the data hides its real length";

fn http2_header_note(line: &str) -> Option<String> {
    let name = line.split(": ").next().unwrap_or_default();
    Some(match name {
        ":method" => "pseudo-headers (`:`) replace HTTP/1.1's request line; gRPC always POSTs".into(),
        ":path" => "/package.Service/Method: which RPC this stream calls".into(),
        ":scheme" | ":authority" => "pseudo-headers: what HTTP/1.1 put in the URL and Host".into(),
        ":status" => "always 200 for gRPC: the call's outcome is grpc-status, at the end".into(),
        "content-type" => "application/grpc: the body is length-prefixed protobuf messages".into(),
        "te" => "trailers: required by gRPC, says the client reads trailers (where grpc-status comes)".into(),
        "grpc-timeout" => "the call's deadline, sent along so the server can give up in time".into(),
        "grpc-encoding" | "grpc-accept-encoding" => "message compression: used, and accepted".into(),
        "x-lab-epoch" => "the lab's own: which server run answered".into(),
        "x-lab-head-seq" => "the lab's own: the log's newest seq when the stream opened".into(),
        "grpc-status" | "grpc-message" => return trailer_note(line),
        _ => return None,
    })
}

/// `Sec-WebSocket-Key` and `Sec-WebSocket-Accept` from a request and response head, to check one against the other.
pub fn websocket_key_and_accept(request: &str, response: &str) -> Option<(String, String)> {
    let header = |head: &str, name: &str| {
        head.lines().find_map(|line| {
            let (found, value) = line.split_once(':')?;
            found.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
        })
    };
    Some((header(request, "sec-websocket-key")?, header(response, "sec-websocket-accept")?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::WireBytes;

    fn record(unit: WireUnit, raw: &str) -> WireRecord {
        WireRecord {
            id: 1,
            exchange: 1,
            transport: None,
            direction: WireDirection::ToClient,
            at: 0,
            unit,
            bytes: WireBytes { head: 0, framing: 2, payload: 5 },
            raw: raw.into(),
        }
    }

    #[test]
    fn crlf_and_lf_line_ends_are_written_out() {
        assert_eq!(
            visible_line_ends("GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            ["GET / HTTP/1.1\\r\\n", "Host: a\\r\\n", "\\r\\n"]
        );
        assert_eq!(visible_line_ends("id: 1\ndata: {}\n\n"), ["id: 1\\n", "data: {}\\n", "\\n"]);
    }

    #[test]
    fn heads_and_sse_lines_get_notes_where_they_teach_something() {
        let head = record(
            WireUnit::ResponseHead { status: 101 },
            "HTTP/1.1 101 Switching Protocols\r\nsec-websocket-accept: x\r\n\r\n",
        );
        let lines = explain(&head);
        assert!(lines[0].note.as_deref().unwrap().contains("stop speaking HTTP"));
        assert!(lines[1].note.as_deref().unwrap().contains("SHA-1"));
        let chunk = record(
            WireUnit::Chunk { event: Some(protocol::WireLabel::Tick), seq: Some(1) },
            "id: 1\nevent: tick\ndata: {}\n\n",
        );
        let notes: Vec<_> = explain(&chunk).iter().map(|line| line.note.is_some()).collect();
        assert_eq!(notes, [true, true, true, true]);
    }

    #[test]
    fn a_frame_is_decoded_field_by_field() {
        let frame = WireUnit::Frame {
            opcode: "text".into(),
            fin: true,
            rsv: 0,
            masked: false,
            length_bits: 16,
            header: String::new(),
            seq: Some(3),
            event: Some(protocol::WireLabel::Tick),
            message: None,
        };
        let lines = explain(&record(frame, "7b 22"));
        let texts: Vec<_> = lines.iter().map(|line| line.text.as_str()).collect();
        assert_eq!(texts[..4], ["FIN 1", "RSV1-3 000", "opcode 0x1 (text)", "MASK 0"]);
        assert_eq!(texts[4], "126 in the 7-bit field, then 5 in 16 bits");
    }

    #[test]
    fn the_websocket_key_and_accept_are_found_in_their_heads() {
        let request = "GET /api/ws HTTP/1.1\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
        let response = "HTTP/1.1 101 Switching Protocols\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        assert_eq!(
            websocket_key_and_accept(request, response),
            Some(("dGhlIHNhbXBsZSBub25jZQ==".into(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".into()))
        );
    }

    fn grpc_record(direction: WireDirection, flags: u8, protobuf: &[u8], kept: usize) -> WireRecord {
        let raw = protobuf[..kept].iter().map(|byte| format!("{byte:02x}")).collect::<Vec<_>>().join(" ");
        let unit = WireUnit::GrpcMessage { flags, length: protobuf.len() as u32, seq: None, event: None };
        WireRecord {
            direction,
            bytes: WireBytes { head: 0, framing: 5, payload: protobuf.len() as u64 },
            ..record(unit, &raw)
        }
    }

    fn texts(lines: &[InspectLine]) -> Vec<&str> {
        lines.iter().map(|line| line.text.as_str()).collect()
    }

    fn note<'a>(lines: &'a [InspectLine], text: &str) -> &'a str {
        let line = lines.iter().find(|line| line.text.starts_with(text)).unwrap_or_else(|| panic!("{text}: {lines:?}"));
        line.note.as_deref().unwrap_or_default()
    }

    #[test]
    fn a_grpc_message_is_decoded_prefix_fields_and_hex() {
        use prost::Message;
        use protocol::grpc::v1;
        let tick = v1::Event {
            seq: 300,
            emitted_at: 1_795_303_724_621_196,
            body: Some(v1::event::Body::Tick(v1::Tick { n: 42, filler: String::new() })),
        }
        .encode_to_vec();
        let lines = explain(&grpc_record(WireDirection::ToClient, 0, &tick, tick.len()));
        assert_eq!(
            texts(&lines)[..6],
            [
                "flags 0x00",
                "length 16 = 00 00 00 10",
                "field 1 (seq) · varint · tag 0x08 → 300",
                "field 2 (emitted_at) · varint · tag 0x10 → 1795303724621196",
                "field 3 (tick) · len · tag 0x1a → 2 B: a message",
                "↳ field 1 (tick.n) · varint · tag 0x08 → 42",
            ]
        );
        assert!(note(&lines, "field 1 (seq)").contains("1 << 3 | 0 = 0x8"));
        assert!(note(&lines, "field 2").contains("2026-11-21 23:28:44.621196 UTC"));
        assert!(note(&lines, "field 3").contains("oneof"));
        assert_eq!(lines.last().unwrap().text, "08 ac 02 10 8c bb 94 c6 9b 9a 98 03 1a 02 08 2a");
        assert_eq!(lines.last().unwrap().note.as_deref(), Some("all 16 bytes of the protobuf"));
    }

    #[test]
    fn a_grpc_message_cut_by_the_kept_bytes_says_where() {
        use prost::Message;
        use protocol::grpc::v1;
        let message = v1::Event {
            seq: 7,
            emitted_at: 1,
            body: Some(v1::event::Body::Message(v1::Text { text: "é".repeat(60) })),
        }
        .encode_to_vec();
        let lines = explain(&grpc_record(WireDirection::ToClient, 0, &message, 64));
        let body = lines.iter().find(|line| line.text.starts_with("field 4 (message)")).unwrap();
        assert_eq!(body.text, "field 4 (message) · len · tag 0x22 → 122 B, 58 kept: a message");
        let text = lines.iter().find(|line| line.text.starts_with("↳ field 1 (message.text)")).unwrap();
        assert!(text.text.ends_with(&format!("120 B, 56 kept: \"{}\"…", "é".repeat(28))), "{text:?}");
        assert!(text.note.as_deref().unwrap().starts_with("kept bytes end here"));
        assert!(lines.last().unwrap().note.as_deref().unwrap().starts_with("the first 64 of the message's"));
    }

    #[test]
    fn a_request_is_named_by_the_request_messages() {
        use prost::Message;
        use protocol::grpc::v1;
        let request = v1::SubscribeRequest { after: Some(0), client: "page-1234567".into() }.encode_to_vec();
        let lines = explain(&grpc_record(WireDirection::ToServer, 0, &request, request.len()));
        assert_eq!(texts(&lines)[2], "field 1 (after) · varint · tag 0x08 → 0");
        assert_eq!(texts(&lines)[3], "field 2 (client) · len · tag 0x12 → 12 B: \"page-1234567\"");
        assert!(note(&lines, "field 1").contains("optional"));
    }

    #[test]
    fn grpc_web_trailers_name_their_status() {
        let text = "grpc-status: 14\r\ngrpc-message: fault%20injected\r\n";
        let unit = WireUnit::GrpcMessage { flags: 0x80, length: text.len() as u32, seq: None, event: None };
        let lines = explain(&record(unit, text));
        assert_eq!(
            texts(&lines),
            ["flags 0x80", "length 49 = 00 00 00 31", "grpc-status: 14\\r\\n", "grpc-message: fault%20injected\\r\\n"]
        );
        assert!(note(&lines, "flags").contains("trailer"));
        assert!(note(&lines, "grpc-status").contains("UNAVAILABLE"));
        assert!(note(&lines, "grpc-message").contains("percent-encoded"));
        assert!(trailer_note("grpc-status: 0\\r\\n").unwrap().starts_with("0 = OK"));
        assert!(trailer_note("grpc-status: 5\\r\\n").unwrap().contains("NOT_FOUND"));
    }

    #[test]
    fn bytes_that_are_not_protobuf_are_said_to_be() {
        let unit = WireUnit::GrpcMessage { flags: 0, length: 3, seq: None, event: None };
        let lines = explain(&record(unit, "08 01 0f"));
        assert!(texts(&lines).contains(&"from byte 2: not protobuf"));
        let lines = explain(&record(WireUnit::GrpcMessage { flags: 0, length: 3, seq: None, event: None }, "zz"));
        assert_eq!(lines.last().unwrap().text, "zz", "shown as it is when it is not hex");
    }

    #[test]
    fn http2_frames_name_their_type_flags_and_stream() {
        let headers =
            WireUnit::Http2Frame { frame_type: "HEADERS".into(), flags: 0x05, stream: 1, length: 30, connection: 1 };
        let record = WireRecord {
            bytes: WireBytes { head: 30, framing: 9, payload: 0 },
            ..record(headers, ":status: 200\ncontent-type: application/grpc\ngrpc-status: 0\n")
        };
        let lines = explain(&record);
        assert_eq!(
            texts(&lines),
            [
                "HEADERS (type 0x1)",
                "flags 0x05 END_STREAM | END_HEADERS",
                "stream 1",
                "length 30",
                "30 B of HPACK → 59 B of header text",
                ":status: 200",
                "content-type: application/grpc",
                "grpc-status: 0",
            ]
        );
        assert!(note(&lines, "30 B of HPACK").contains("HPACK-compressed"));
        assert!(note(&lines, "grpc-status").starts_with("0 = OK"));
        let settings =
            WireUnit::Http2Frame { frame_type: "SETTINGS".into(), flags: 0x01, stream: 0, length: 0, connection: 1 };
        let lines = explain(&self::record(settings, ""));
        assert_eq!(texts(&lines), ["SETTINGS (type 0x4)", "flags 0x01 ACK", "stream 0", "length 0"]);
        assert!(note(&lines, "stream 0").contains("the connection itself"));
        let odd = WireUnit::Http2Frame { frame_type: "DATA".into(), flags: 0x02, stream: 3, length: 20, connection: 1 };
        assert!(note(&explain(&self::record(odd, "")), "flags 0x02").contains("not defined for DATA"));
        let preface =
            WireUnit::Http2Frame { frame_type: "PREFACE".into(), flags: 0, stream: 0, length: 24, connection: 1 };
        assert_eq!(explain(&self::record(preface, "")).len(), 1);
    }
}
