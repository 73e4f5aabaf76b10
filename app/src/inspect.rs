//! What the inspector says about a measured record, as plain Rust: wire text made visible, and a short note for
//! each part a learner should know. The component only renders these lines.

use protocol::{WireRecord, WireUnit};

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
        WireUnit::Body => vec![InspectLine {
            text: format!("{} bytes of body", record.bytes.payload),
            note: Some("sent with Content-Length, so it needs no framing".into()),
        }],
        WireUnit::LastChunk => vec![InspectLine {
            text: "0\\r\\n\\r\\n".into(),
            note: Some("the zero-length chunk: the response is over".into()),
        }],
        WireUnit::Unparsed => vec![InspectLine { text: format!("{} bytes", record.bytes.total()), note: None }],
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
        "cookie" => "sent with every request to this origin, lane traffic or not",
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
    let opcode_value = match opcode {
        "continuation" => 0x0,
        "text" => 0x1,
        "binary" => 0x2,
        "close" => 0x8,
        "ping" => 0x9,
        "pong" => 0xA,
        _ => 0xF,
    };
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
        line(format!("payload starts: {first_bytes}"), "first bytes as sent (a browser's are still masked)"),
    ]
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
    use protocol::{WireBytes, WireDirection};

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
            seq: Some(3),
            event: Some(protocol::WireLabel::Tick),
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
}
