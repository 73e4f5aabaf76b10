//! What the server measured on the wire: bytes counted at the socket as they were read and written, split the way
//! the lab teaches them, and the records the inspector shows.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::{Transport, WireLabel};

/// A short name from a fixed set (`text`, `tick`, `keep-alive`…): borrowed where the server makes records, so a
/// frame or chunk on the hot path costs no allocation for it.
pub type Name = Cow<'static, str>;

/// Headers whose values are credentials (the teacher's key among them): the wire record keeps their length, so
/// every byte count stays exact, but not their text. A page's records reach whoever holds its id.
pub const CREDENTIAL_HEADERS: [&str; 5] =
    ["authorization", "cookie", "proxy-authorization", "set-cookie", super::headers::TEACHER_KEY];

/// What a redacted value is made of, one per byte.
pub const REDACTED: char = '*';

/// `head` (HTTP/1.1 lines ending `\r\n`, or HTTP/2 header lines ending `\n`) with every credential header's value
/// replaced by as many [`REDACTED`] as it had bytes.
pub fn redact_credentials(head: &str) -> String {
    head.split_inclusive('\n')
        .map(|line| {
            let Some((name, rest)) = line.split_once(':') else { return Cow::Borrowed(line) };
            if !CREDENTIAL_HEADERS.iter().any(|credential| name.eq_ignore_ascii_case(credential)) {
                return Cow::Borrowed(line);
            }
            let body = rest.trim_end_matches(['\r', '\n']);
            let value = body.trim_start_matches([' ', '\t']);
            let (space, end) = (&body[..body.len() - value.len()], &rest[body.len()..]);
            Cow::Owned(format!("{name}:{space}{}{end}", REDACTED.to_string().repeat(value.len())))
        })
        .collect()
}

/// The same redaction over a raw byte stream (a connection's captured bytes, heads and bodies together): every
/// line that starts with a credential header's name and a colon keeps its length and loses its value. Bodies
/// cannot be mistaken for heads here: the lab's JSON and SSE never start a line with a header name.
pub fn redact_credential_lines(stream: &mut [u8]) {
    let mut line_start = 0;
    while line_start < stream.len() {
        let line_end =
            stream[line_start..].iter().position(|&byte| byte == b'\n').map_or(stream.len(), |at| line_start + at);
        let line = &stream[line_start..line_end];
        let credential = CREDENTIAL_HEADERS.iter().find(|name| {
            line.len() > name.len()
                && line[name.len()] == b':'
                && line[..name.len()].eq_ignore_ascii_case(name.as_bytes())
        });
        if let Some(name) = credential {
            let value_start = line_start + name.len() + 1;
            let value = &mut stream[value_start..line_end];
            let skip = value.iter().take_while(|&&byte| byte == b' ' || byte == b'\t').count();
            let end = value.len() - usize::from(value.last() == Some(&b'\r'));
            value[skip.min(end)..end].fill(REDACTED as u8);
        }
        line_start = line_end + 1;
    }
}

/// Bytes of one unit on the wire (or of many, summed).
///
/// - `head`: an HTTP request or response head (start line, headers, blank line).
/// - `framing`: what carries the payload without being it: HTTP chunk-size lines and their CRLFs, SSE field names
///   and line ends, WebSocket frame headers (and the client's 4-byte mask key).
/// - `payload`: the event JSON, the poll response body, a WebSocket frame's payload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireBytes {
    pub head: u64,
    pub framing: u64,
    pub payload: u64,
}

impl WireBytes {
    /// Saturating: the parts of a record read from a hand-edited trace may be anything.
    pub fn total(&self) -> u64 {
        self.head.saturating_add(self.framing).saturating_add(self.payload)
    }

    pub fn add(&mut self, other: WireBytes) {
        self.head += other.head;
        self.framing += other.framing;
        self.payload += other.payload;
    }
}

/// One transport's traffic, both ways, as the server's sockets saw it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireTotals {
    pub to_server: WireBytes,
    pub to_client: WireBytes,
}

impl WireTotals {
    pub fn total(&self) -> u64 {
        self.to_server.total() + self.to_client.total()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireDirection {
    ToServer,
    ToClient,
}

/// What one measured unit was.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WireUnit {
    /// An HTTP request head exactly as received (a body, if any, follows as a `body` record). `connection`
    /// numbers its TCP connection; `new_connection` says it was the first request on it (later ones reused it:
    /// HTTP keep-alive, shared by every request the browser makes to this origin).
    Request {
        method: String,
        target: String,
        #[serde(default)]
        connection: u64,
        #[serde(default)]
        new_connection: bool,
    },
    /// An HTTP response head exactly as written.
    ResponseHead { status: u16 },
    /// A response body sent with `Content-Length`, complete.
    Body,
    /// One chunk of a chunked response. For SSE, `event` names what it carried (`hello`, `tick`, `message`, `gap`,
    /// `keep-alive`) and `seq` the event's sequence number.
    Chunk {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        event: Option<WireLabel>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// The zero-length chunk that ends a chunked response.
    LastChunk,
    /// The TCP connection numbered `connection` closed, after carrying `exchanges` exchanges (recorded when the
    /// server let go of the socket, for the page whose exchange was last on it).
    ConnectionClosed { connection: u64, exchanges: u64 },
    /// One WebSocket frame. `length_bits` is how its payload length was encoded: 7, 7+16 or 7+64 bits. `header`
    /// is the frame header as it crossed, in hex (2 to 14 bytes, the mask key last), so a browser's masked payload
    /// can be read; empty where the server kept no text. `message` numbers the data messages each way on the
    /// connection, 1 for the first, on the frame that ends one: what lets a page that counts its own sends and
    /// receipts find each message's bytes (an MQTT packet is one binary message).
    Frame {
        opcode: Name,
        fin: bool,
        rsv: u8,
        masked: bool,
        length_bits: u8,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        header: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        event: Option<WireLabel>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<u64>,
    },
    /// One length-prefixed gRPC message (or gRPC-web's trailer frame, `flags` 0x80), in whatever carried it: an
    /// HTTP/1.1 chunk for gRPC-web, an HTTP/2 DATA frame for native gRPC. `framing` counts the 5-byte prefix and
    /// the carrier's own framing where the message is the first in it (a chunk-size line, a DATA frame header);
    /// `payload` is the protobuf. `raw` is the first bytes of the protobuf in hex (a trailer frame: its text).
    /// A message split across carriers is recorded where it ends; the carrier before holds a `Chunk` or a DATA
    /// `Http2Frame` with the bytes that went ahead.
    GrpcMessage {
        flags: u8,
        length: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        event: Option<WireLabel>,
    },
    /// One HTTP/2 frame (RFC 9113 §4.1), or the client's 24-byte connection preface (`frame_type` `PREFACE`).
    /// `head` counts a HEADERS or CONTINUATION frame's HPACK-compressed header block; the 9-byte frame header,
    /// padding and every control frame are framing. `raw` is the decoded header list of a HEADERS frame.
    /// `connection` numbers the TCP connection as HTTP/1.1's requests do: two programs' calls are both on stream
    /// 1, each on its own connection (0 in a trace from a lab that did not record it).
    Http2Frame {
        frame_type: Name,
        flags: u8,
        stream: u32,
        length: u32,
        #[serde(default)]
        connection: u64,
    },
    /// Bytes the lab could not parse as any of the above (counted, never dropped from the totals).
    Unparsed,
}

/// One measured unit on one connection. `exchange` is the HTTP exchange it belongs to (for WebSocket frames and
/// SSE chunks, the exchange that opened the connection); responses carry it as `x-lab-exchange`, streams in their
/// `hello`, so the browser can attach each record to its own arrow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireRecord {
    pub id: u64,
    pub exchange: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<Transport>,
    pub direction: WireDirection,
    /// Server wall clock when the unit was complete, Unix microseconds.
    pub at: u64,
    pub unit: WireUnit,
    pub bytes: WireBytes,
    /// The HTTP head as text exactly as on the wire; for a body or a chunk its first 2 KiB as text (invalid UTF-8
    /// replaced); for frames the first 256 bytes of the payload in hex (as sent, so still masked from a browser).
    pub raw: String,
}

/// Body of `GET /api/wire?client=…&after=…`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WirePage {
    pub records: Vec<WireRecord>,
    /// The `after` for the next page.
    pub next: u64,
    /// Records this client had that were dropped (the server keeps the most recent few thousand per client).
    pub dropped: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_keep_their_length_and_lose_their_text() {
        let head = "GET /api/sse?client=k HTTP/1.1\r\nHost: lab\r\nCookie: lab_teacher=s3cret; theme=dark\r\n\
                    x-lab-teacher:s3cret\r\nAccept: */*\r\n\r\n";
        let redacted = redact_credentials(head);
        assert_eq!(redacted.len(), head.len(), "the byte counts stay exact");
        assert!(!redacted.contains("s3cret"), "{redacted}");
        assert!(redacted.contains("Cookie: ******************************\r\n"), "{redacted}");
        assert!(redacted.contains("x-lab-teacher:******\r\n") && redacted.contains("Host: lab\r\n"), "{redacted}");
        let http2 = "authorization: Bearer t\nuser-agent: grpc\n";
        assert_eq!(redact_credentials(http2), "authorization: ********\nuser-agent: grpc\n");
    }

    #[test]
    fn a_raw_stream_loses_its_credentials_and_keeps_every_byte_count() {
        let stream = b"GET / HTTP/1.1\r\nCOOKIE:  lab_teacher=s3cret\r\n\r\ndata: {\"cookie: no\"}\n\nHTTP/1.1 303 See Other\r\n\
                       set-cookie: lab_teacher=s3cret; HttpOnly\r\nx-lab-teacher:k\nauthorization\r\n";
        let mut redacted = stream.to_vec();
        redact_credential_lines(&mut redacted);
        let text = String::from_utf8(redacted.clone()).unwrap();
        assert_eq!(redacted.len(), stream.len());
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("COOKIE:  ******************\r\n"), "{text}");
        assert!(
            text.contains(&format!("set-cookie: {}\r\n", "*".repeat("lab_teacher=s3cret; HttpOnly".len()))),
            "{text}"
        );
        assert!(text.contains("x-lab-teacher:*\n") && text.contains("{\"cookie: no\"}"), "{text}");
        assert!(text.ends_with("authorization\r\n"), "a name with no colon is no header: {text}");
        assert_eq!(text, redact_credentials(std::str::from_utf8(stream).unwrap()), "both redactions agree");
    }

    #[test]
    fn records_name_their_unit_by_kind() {
        let record = WireRecord {
            id: 7,
            exchange: 3,
            transport: Some(Transport::Sse),
            direction: WireDirection::ToClient,
            at: 1,
            unit: WireUnit::Chunk { event: Some(WireLabel::Tick), seq: Some(42) },
            bytes: WireBytes { head: 0, framing: 30, payload: 60 },
            raw: "id: 42\n".into(),
        };
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["unit"]["kind"], "chunk");
        assert_eq!(json["unit"]["seq"], 42);
        assert_eq!(serde_json::from_value::<WireRecord>(json).unwrap(), record);
    }
}
