//! HAR 1.2 (the HTTP Archive that Chrome DevTools imports and exports) from what the lanes recorded: every HTTP
//! exchange the server measured for them, with its heads as they crossed, its body as sent, its timings from the
//! server's clock and its sizes from the socket. A WebSocket's frames go in `_webSocketMessages`, the extension
//! Chrome writes. Built from trace records alone, so a replayed trace exports the same file as the live page did.
//!
//! Where the server kept only the start of a body or a frame (2 KiB of text, 256 bytes of a frame), the entry says
//! so in its `comment`: the sizes are always the measured ones, never the kept text's.

use std::collections::{BTreeMap, HashMap};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Serialize;

use super::trace::{TraceRecord, WireKey};
use crate::hex_view::{chunk_data_bytes, frame_payload, opcode_number, parse_hex};
use protocol::civil_date::UtcTime;
use protocol::{Transport, WireDirection, WireRecord, WireUnit};

#[derive(Serialize)]
pub struct Har {
    pub log: Log,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Log {
    pub version: &'static str,
    pub creator: Creator,
    pub pages: Vec<HarPage>,
    pub entries: Vec<Entry>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub comment: String,
}

#[derive(Serialize)]
pub struct Creator {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HarPage {
    pub started_date_time: String,
    pub id: &'static str,
    pub title: String,
    pub page_timings: PageTimings,
}

#[derive(Serialize)]
pub struct PageTimings {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub pageref: &'static str,
    pub started_date_time: String,
    pub time: f64,
    pub request: Request,
    pub response: Response,
    pub cache: Cache,
    pub timings: Timings,
    /// The server's number for the TCP connection, as the diagram's tooltips name it.
    pub connection: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub comment: String,
    /// Which lane made the request (Chrome's HAR has no such field; an underscore marks an extension).
    #[serde(rename = "_lane")]
    pub lane: &'static str,
    #[serde(rename = "_resourceType")]
    pub resource_type: &'static str,
    #[serde(rename = "_webSocketMessages", skip_serializing_if = "Option::is_none")]
    pub web_socket_messages: Option<Vec<WebSocketMessage>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    pub method: String,
    pub url: String,
    pub http_version: String,
    pub cookies: Vec<NameValue>,
    pub headers: Vec<NameValue>,
    pub query_string: Vec<NameValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_data: Option<PostData>,
    pub headers_size: i64,
    pub body_size: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PostData {
    pub mime_type: String,
    pub text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    pub status: u16,
    pub status_text: String,
    pub http_version: String,
    pub cookies: Vec<NameValue>,
    pub headers: Vec<NameValue>,
    pub content: Content,
    #[serde(rename = "redirectURL")]
    pub redirect_url: String,
    pub headers_size: i64,
    pub body_size: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    pub size: i64,
    pub mime_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<&'static str>,
}

#[derive(Serialize)]
pub struct Cache {}

#[derive(Serialize)]
pub struct Timings {
    pub blocked: f64,
    pub dns: f64,
    pub connect: f64,
    pub send: f64,
    pub wait: f64,
    pub receive: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NameValue {
    pub name: String,
    pub value: String,
}

/// One frame as Chrome's `_webSocketMessages` holds it: `time` in seconds since the Unix epoch.
#[derive(Serialize)]
pub struct WebSocketMessage {
    #[serde(rename = "type")]
    pub direction: &'static str,
    pub time: f64,
    pub opcode: u8,
    pub data: String,
}

pub const PAGE_ID: &str = "transport-lab";

/// The HAR of `lanes` (each lane's records, as the toolbar hands them), titled `caption`.
pub fn har(caption: &str, lanes: &[(Transport, Vec<TraceRecord>)]) -> Har {
    let mut entries = Vec::new();
    let mut without_request = 0;
    for (transport, records) in lanes {
        let bodies: HashMap<WireKey, &str> =
            records.iter().filter_map(|record| Some((record.key?, record.body.as_deref()?))).collect();
        let mut exchanges: BTreeMap<u64, Vec<&WireRecord>> = BTreeMap::new();
        for wire in records.iter().flat_map(|record| &record.wire) {
            if !matches!(wire.unit, WireUnit::ConnectionClosed { .. }) {
                exchanges.entry(wire.exchange).or_default().push(wire);
            }
        }
        for wires in exchanges.values_mut() {
            wires.sort_by_key(|wire| (wire.at, wire.id));
            wires.dedup_by_key(|wire| wire.id);
            match entry(*transport, wires, &bodies) {
                Some(entry) => entries.push(entry),
                None => without_request += 1,
            }
        }
    }
    entries.sort_by(|a, b| a.started_date_time.cmp(&b.started_date_time));
    let started = entries.first().map(|entry| entry.started_date_time.clone()).unwrap_or_else(|| iso(0));
    let comment = if without_request > 0 {
        format!(
            "{without_request} exchange(s) left out: their request had already scrolled out of the lanes' records \
             (each lane keeps its last 800 records or 2 minutes)"
        )
    } else {
        String::new()
    };
    Har {
        log: Log {
            version: "1.2",
            creator: Creator { name: "Transport Lab", version: env!("CARGO_PKG_VERSION") },
            pages: vec![HarPage {
                started_date_time: started,
                id: PAGE_ID,
                title: caption.to_owned(),
                page_timings: PageTimings {},
            }],
            entries,
            comment,
        },
    }
}

impl Har {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// One exchange's entry; `None` when its request head is not among the records.
fn entry(transport: Transport, wires: &[&WireRecord], bodies: &HashMap<WireKey, &str>) -> Option<Entry> {
    let request = wires.iter().find(|wire| matches!(wire.unit, WireUnit::Request { .. }))?;
    let WireUnit::Request { connection, .. } = request.unit else { return None };
    let (to_server, to_client): (Vec<&WireRecord>, Vec<&WireRecord>) =
        wires.iter().partition(|wire| wire.direction == WireDirection::ToServer);
    let head = ParsedHead::of(&request.raw);
    let response_head = to_client.iter().find(|wire| matches!(wire.unit, WireUnit::ResponseHead { .. }));
    let status = match response_head.map(|wire| &wire.unit) {
        Some(WireUnit::ResponseHead { status }) => *status,
        _ => 0,
    };
    let answer = response_head.map(|wire| ParsedHead::of(&wire.raw)).unwrap_or_default();
    let mut cut = Vec::new();
    let upgraded = status == 101;

    let request_body: Vec<&WireRecord> = to_server
        .iter()
        .copied()
        .filter(|wire| matches!(wire.unit, WireUnit::Body | WireUnit::GrpcMessage { .. } | WireUnit::Chunk { .. }))
        .collect();
    let post_data = (!request_body.is_empty()).then(|| {
        let (text, _, was_cut) = body_text(&request_body);
        if was_cut {
            cut.push("the request body");
        }
        PostData { mime_type: head.header("content-type").unwrap_or_default(), text }
    });
    let response_body: Vec<&WireRecord> = to_client
        .iter()
        .copied()
        .filter(|wire| !matches!(wire.unit, WireUnit::ResponseHead { .. } | WireUnit::Frame { .. }))
        .collect();
    let (text, encoding, was_cut) = body_text(&response_body);
    if was_cut {
        cut.push("the response body");
    }
    let messages = upgraded.then(|| {
        wires
            .iter()
            .filter(|wire| matches!(wire.unit, WireUnit::Frame { .. }))
            .map(|wire| {
                let (message, was_cut) = web_socket_message(wire, bodies);
                if was_cut && !cut.contains(&"frames") {
                    cut.push("frames");
                }
                message
            })
            .collect::<Vec<_>>()
    });

    let started = request.at;
    let last_sent = to_server.iter().filter(|wire| !upgraded || wire.id == request.id).map(|wire| wire.at).max();
    let first_answer = response_head.map_or(started, |wire| wire.at);
    let last = wires.iter().map(|wire| wire.at).max().unwrap_or(started);
    let millis = |from: u64, to: u64| to.saturating_sub(from) as f64 / 1000.0;
    let send = millis(started, last_sent.unwrap_or(started).min(first_answer));
    let wait = millis(started, first_answer) - send;
    let receive = millis(first_answer, last);
    let sum = |wires: &[&WireRecord], part: fn(&protocol::WireBytes) -> u64| -> i64 {
        as_size(wires.iter().fold(0u64, |sum, wire| sum.saturating_add(part(&wire.bytes))))
    };
    // A gRPC-web body is its messages, each a 5-byte prefix and `length` bytes; the chunks that carried the start of
    // a message split across two hold bytes of it, not a body of their own.
    let has_messages = response_body.iter().any(|wire| matches!(wire.unit, WireUnit::GrpcMessage { .. }));
    let content_size = as_size(response_body.iter().fold(0u64, |sum, wire| {
        let size = match wire.unit {
            WireUnit::GrpcMessage { length, .. } => 5 + u64::from(length),
            WireUnit::Chunk { .. } if !has_messages => chunk_data_bytes(wire.bytes),
            WireUnit::Body => wire.bytes.payload,
            _ => 0,
        };
        sum.saturating_add(size)
    }));
    let comment = if cut.is_empty() {
        String::new()
    } else {
        format!(
            "{} cut to the first bytes the server kept (2 KiB of a body, 256 B of a frame, 64 B of a gRPC \
             message); every size is the measured one",
            cut.join(", ")
        )
    };
    Some(Entry {
        pageref: PAGE_ID,
        started_date_time: iso(started),
        time: send + wait + receive,
        request: Request {
            method: head.method().to_owned(),
            url: format!("http://{}{}", head.header("host").unwrap_or_else(|| "localhost".into()), head.target()),
            http_version: head.version().to_owned(),
            cookies: head.cookies(),
            headers: head.headers.clone(),
            query_string: query_string(head.target()),
            post_data,
            headers_size: as_size(request.bytes.head),
            body_size: sum(&request_body, |bytes| bytes.framing + bytes.payload),
        },
        response: Response {
            status,
            status_text: answer.reason().to_owned(),
            http_version: if response_head.is_some() { answer.version().to_owned() } else { head.version().to_owned() },
            cookies: Vec::new(),
            headers: answer.headers.clone(),
            content: Content {
                size: content_size,
                mime_type: answer.header("content-type").unwrap_or_default(),
                text: (!text.is_empty()).then_some(text),
                encoding,
            },
            redirect_url: answer.header("location").unwrap_or_default(),
            headers_size: response_head.map_or(-1, |wire| as_size(wire.bytes.head)),
            body_size: sum(&response_body, |bytes| bytes.framing + bytes.payload),
        },
        cache: Cache {},
        timings: Timings { blocked: -1.0, dns: -1.0, connect: -1.0, send, wait, receive },
        connection: connection.to_string(),
        comment,
        lane: transport.id(),
        resource_type: if upgraded { "websocket" } else { resource_type(transport) },
        web_socket_messages: messages,
    })
}

/// A byte count as HAR's signed sizes hold it (a hand-edited trace's counts may not fit).
fn as_size(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

fn resource_type(transport: Transport) -> &'static str {
    match transport {
        Transport::Sse => "eventsource",
        _ => "fetch",
    }
}

/// A body as it crossed: text when every piece is text, else base64 of the bytes kept. `true` when the server
/// kept less than was sent.
fn body_text(pieces: &[&WireRecord]) -> (String, Option<&'static str>, bool) {
    let binary =
        pieces.iter().any(|wire| matches!(&wire.unit, WireUnit::GrpcMessage { flags, .. } if flags & 0x80 == 0));
    let mut cut = false;
    if binary {
        let mut bytes = Vec::new();
        // Only the messages: the bytes of one split across chunks are counted in the message that ends it.
        for wire in pieces {
            if let WireUnit::GrpcMessage { flags, length, .. } = &wire.unit {
                let kept = if flags & 0x80 != 0 {
                    wire.raw.as_bytes().to_vec()
                } else {
                    parse_hex(&wire.raw).unwrap_or_default()
                };
                cut |= (kept.len() as u64) < u64::from(*length);
                bytes.push(*flags);
                bytes.extend_from_slice(&length.to_be_bytes());
                bytes.extend(kept);
            }
        }
        return (STANDARD.encode(bytes), Some("base64"), cut);
    }
    let mut text = String::new();
    for wire in pieces {
        match wire.unit {
            WireUnit::Body => {
                cut |= (wire.raw.len() as u64) < wire.bytes.payload;
                text.push_str(&wire.raw);
            }
            WireUnit::Chunk { .. } => {
                cut |= (wire.raw.len() as u64) < chunk_data_bytes(wire.bytes);
                text.push_str(&wire.raw);
            }
            _ => {}
        }
    }
    (text, None, cut)
}

fn web_socket_message(wire: &WireRecord, bodies: &HashMap<WireKey, &str>) -> (WebSocketMessage, bool) {
    let WireUnit::Frame { opcode, .. } = &wire.unit else { unreachable!("only frames are passed") };
    let code = opcode_number(opcode);
    let kept = frame_payload(wire).unwrap_or_default();
    let direction = if wire.direction == WireDirection::ToServer { "send" } else { "receive" };
    // What the browser received whole, where the page kept it (an event's JSON); else the server's kept bytes.
    let received = (code == 1 && wire.direction == WireDirection::ToClient)
        .then(|| bodies.get(&WireKey::of(wire)))
        .flatten()
        .filter(|body| body.len() as u64 == wire.bytes.payload);
    let (data, cut) = match received {
        Some(body) => ((*body).to_owned(), false),
        None => {
            let cut = (kept.len() as u64) < wire.bytes.payload;
            let data = if code == 2 { STANDARD.encode(&kept) } else { String::from_utf8_lossy(&kept).into_owned() };
            (data, cut)
        }
    };
    (WebSocketMessage { direction, time: wire.at as f64 / 1e6, opcode: code, data }, cut)
}

/// Unix microseconds as ISO 8601 in UTC with milliseconds, the form HAR's `startedDateTime` takes.
pub fn iso(micros: u64) -> String {
    let UtcTime { year, month, day, hour, minute, second, micros } = UtcTime::of(micros);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{:03}Z", micros / 1000)
}

fn query_string(target: &str) -> Vec<NameValue> {
    let Some((_, query)) = target.split_once('?') else { return Vec::new() };
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            NameValue { name: name.to_owned(), value: value.to_owned() }
        })
        .collect()
}

/// An HTTP/1.1 head taken apart: its start line's three parts and its header lines in order.
#[derive(Default)]
struct ParsedHead {
    start: [String; 3],
    headers: Vec<NameValue>,
}

impl ParsedHead {
    fn of(raw: &str) -> Self {
        let mut lines = raw.split("\r\n");
        let mut start: [String; 3] = Default::default();
        for (slot, part) in start.iter_mut().zip(lines.next().unwrap_or_default().splitn(3, ' ')) {
            *slot = part.to_owned();
        }
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| NameValue { name: name.to_owned(), value: value.trim().to_owned() })
            .collect();
        Self { start, headers }
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers.iter().find(|header| header.name.eq_ignore_ascii_case(name)).map(|header| header.value.clone())
    }

    fn method(&self) -> &str {
        &self.start[0]
    }

    fn target(&self) -> &str {
        &self.start[1]
    }

    /// A request's version is its start line's last part; a response's its first.
    fn version(&self) -> &str {
        if self.start[0].starts_with("HTTP/") {
            &self.start[0]
        } else {
            &self.start[2]
        }
    }

    fn reason(&self) -> &str {
        &self.start[2]
    }

    fn cookies(&self) -> Vec<NameValue> {
        self.headers
            .iter()
            .filter(|header| header.name.eq_ignore_ascii_case("cookie"))
            .flat_map(|header| {
                header
                    .value
                    .split(';')
                    .map(str::trim)
                    .filter(|pair| !pair.is_empty())
                    .map(ToOwned::to_owned)
                    .collect::<Vec<_>>()
            })
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((&pair, ""));
                NameValue { name: name.to_owned(), value: value.to_owned() }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagram::trace::RecordKind;
    use crate::hex_view::{frame_unit, hex};
    use protocol::{WireBytes, WireLabel};

    fn wire(
        id: u64,
        exchange: u64,
        direction: WireDirection,
        at: u64,
        unit: WireUnit,
        bytes: WireBytes,
        raw: &str,
    ) -> WireRecord {
        WireRecord { id, exchange, transport: None, direction, at, unit, bytes, raw: raw.to_owned() }
    }

    fn arrow(id: u64, wire: Vec<WireRecord>) -> TraceRecord {
        let mut record = TraceRecord::new(id, RecordKind::Request, "r".into(), String::new(), 0.0, 0.0);
        record.wire = wire;
        record
    }

    const POLL_REQUEST: &str =
        "GET /api/poll?client=p1&after=4 HTTP/1.1\r\nHost: lab:3000\r\nCookie: theme=dark; lab_teacher=****\r\n\r\n";
    const POLL_RESPONSE: &str = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 13\r\n\r\n";

    fn poll_lane() -> Vec<TraceRecord> {
        let head = |bytes: usize| WireBytes { head: bytes as u64, ..WireBytes::default() };
        vec![
            arrow(
                1,
                vec![wire(
                    1,
                    7,
                    WireDirection::ToServer,
                    1_796_256_000_000_000,
                    WireUnit::Request {
                        method: "GET".into(),
                        target: "/api/poll?client=p1&after=4".into(),
                        connection: 3,
                        new_connection: true,
                    },
                    head(POLL_REQUEST.len()),
                    POLL_REQUEST,
                )],
            ),
            arrow(
                2,
                vec![
                    wire(
                        2,
                        7,
                        WireDirection::ToClient,
                        1_796_256_000_250_000,
                        WireUnit::ResponseHead { status: 200 },
                        head(POLL_RESPONSE.len()),
                        POLL_RESPONSE,
                    ),
                    wire(
                        3,
                        7,
                        WireDirection::ToClient,
                        1_796_256_000_251_500,
                        WireUnit::Body,
                        WireBytes { payload: 13, ..WireBytes::default() },
                        "{\"events\":[]}",
                    ),
                ],
            ),
        ]
    }

    #[test]
    fn a_poll_is_one_entry_with_its_heads_body_sizes_and_timings() {
        let har = har("live", &[(Transport::ShortPoll, poll_lane())]);
        let json: serde_json::Value = serde_json::from_str(&har.to_json()).unwrap();
        let entry = &json["log"]["entries"][0];
        assert_eq!(json["log"]["version"], "1.2");
        assert_eq!(entry["startedDateTime"], "2026-12-03T00:00:00.000Z");
        assert_eq!(entry["request"]["url"], "http://lab:3000/api/poll?client=p1&after=4");
        assert_eq!(entry["request"]["httpVersion"], "HTTP/1.1");
        assert_eq!(entry["request"]["queryString"][1], serde_json::json!({"name": "after", "value": "4"}));
        assert_eq!(entry["request"]["cookies"][1]["value"], "****", "credentials stay redacted");
        assert_eq!(entry["request"]["headersSize"], POLL_REQUEST.len());
        assert_eq!(entry["request"]["bodySize"], 0);
        assert_eq!(entry["response"]["status"], 200);
        assert_eq!(entry["response"]["statusText"], "OK");
        assert_eq!(entry["response"]["headersSize"], POLL_RESPONSE.len());
        assert_eq!(entry["response"]["bodySize"], 13);
        assert_eq!(entry["response"]["content"]["text"], "{\"events\":[]}");
        assert_eq!(entry["response"]["content"]["mimeType"], "application/json");
        assert_eq!(entry["timings"]["wait"], 250.0);
        assert_eq!(entry["timings"]["receive"], 1.5);
        assert_eq!(entry["time"], 251.5);
        assert_eq!(entry["connection"], "3");
        assert_eq!(entry["_lane"], "short_poll");
        assert!(entry.get("comment").is_none());
    }

    #[test]
    fn a_websocket_entry_carries_its_frames_unmasked_and_with_their_opcodes() {
        let key = [1, 2, 3, 4];
        let masked: Vec<u8> =
            b"{\"text\":\"hi\"}".iter().enumerate().map(|(index, byte)| byte ^ key[index % 4]).collect();
        let frame = |opcode: &'static str, header: &[u8], seq: Option<u64>| {
            frame_unit(opcode, header, seq, seq.map(|_| WireLabel::Tick))
        };
        let event_json = "{\"seq\":9}";
        let upgrade = "GET /api/ws?client=p1 HTTP/1.1\r\nHost: lab\r\nUpgrade: websocket\r\n\r\n";
        let mut event = arrow(
            3,
            vec![wire(
                4,
                5,
                WireDirection::ToClient,
                3_000_000,
                frame("text", &[0x81, 9], Some(9)),
                WireBytes { framing: 2, payload: 9, head: 0 },
                "7b 22 73",
            )],
        );
        event.kind = RecordKind::Event { seq: 9 };
        event.key = Some(WireKey::Event { exchange: 5, seq: 9 });
        event.body = Some(event_json.into());
        let lane = vec![
            arrow(
                1,
                vec![
                    wire(
                        1,
                        5,
                        WireDirection::ToServer,
                        1_000_000,
                        WireUnit::Request {
                            method: "GET".into(),
                            target: "/api/ws".into(),
                            connection: 1,
                            new_connection: true,
                        },
                        WireBytes { head: upgrade.len() as u64, ..WireBytes::default() },
                        upgrade,
                    ),
                    wire(
                        2,
                        5,
                        WireDirection::ToClient,
                        1_001_000,
                        WireUnit::ResponseHead { status: 101 },
                        WireBytes { head: 100, ..WireBytes::default() },
                        "HTTP/1.1 101 Switching Protocols\r\n\r\n",
                    ),
                    wire(
                        3,
                        5,
                        WireDirection::ToServer,
                        2_000_000,
                        frame("text", &[0x81, 0x8d, 1, 2, 3, 4], None),
                        WireBytes { framing: 6, payload: 13, head: 0 },
                        &hex(&masked),
                    ),
                    wire(
                        5,
                        5,
                        WireDirection::ToClient,
                        4_000_000,
                        frame("close", &[0x88, 2], None),
                        WireBytes { framing: 2, payload: 2, head: 0 },
                        "03 e8",
                    ),
                ],
            ),
            event,
        ];
        let har = har("live", &[(Transport::WebSocket, lane)]);
        let json: serde_json::Value = serde_json::from_str(&har.to_json()).unwrap();
        let entry = &json["log"]["entries"][0];
        assert_eq!(entry["_resourceType"], "websocket");
        let messages = entry["_webSocketMessages"].as_array().unwrap();
        assert_eq!(messages.len(), 3);
        assert_eq!(
            messages[0],
            serde_json::json!({"type": "send", "time": 2.0, "opcode": 1, "data": "{\"text\":\"hi\"}"})
        );
        assert_eq!(messages[1]["data"], event_json, "the event as the browser received it");
        assert_eq!(messages[2]["opcode"], 8);
        assert_eq!(entry["request"]["bodySize"], 0, "frames are not the request's body");
        assert_eq!(entry["timings"]["wait"], 1.0);
    }

    #[test]
    fn a_cut_body_says_so_and_keeps_the_measured_size() {
        let mut lane = poll_lane();
        lane[1].wire[1].bytes.payload = 65_536;
        let har = har("live", &[(Transport::ShortPoll, lane)]);
        let entry = &har.log.entries[0];
        assert_eq!(entry.response.body_size, 65_536);
        assert!(entry.comment.contains("the response body cut"), "{}", entry.comment);
    }

    #[test]
    fn a_grpc_web_body_is_its_messages_even_when_one_was_split_across_chunks() {
        let request =
            "POST /lab.v1.Events/Subscribe HTTP/1.1\r\nHost: lab\r\ncontent-type: application/grpc-web+proto\r\n\r\n";
        let response = "HTTP/1.1 200 OK\r\ncontent-type: application/grpc-web+proto\r\n\r\n";
        let bytes = |head: u64, framing: u64, payload: u64| WireBytes { head, framing, payload };
        let message = |length: u32, flags: u8| WireUnit::GrpcMessage { flags, length, seq: None, event: None };
        let lane = vec![arrow(
            1,
            vec![
                wire(
                    1,
                    9,
                    WireDirection::ToServer,
                    1_000,
                    WireUnit::Request {
                        method: "POST".into(),
                        target: "/lab.v1.Events/Subscribe".into(),
                        connection: 2,
                        new_connection: false,
                    },
                    bytes(request.len() as u64, 0, 0),
                    request,
                ),
                wire(
                    2,
                    9,
                    WireDirection::ToClient,
                    2_000,
                    WireUnit::ResponseHead { status: 200 },
                    bytes(response.len() as u64, 0, 0),
                    response,
                ),
                // A 100-byte message: its prefix and 40 bytes in one chunk (chunk-size line 4 B + CRLF 2 B), the
                // other 60 in the next.
                wire(
                    3,
                    9,
                    WireDirection::ToClient,
                    3_000,
                    WireUnit::Chunk { event: None, seq: None },
                    bytes(0, 11, 40),
                    "",
                ),
                wire(4, 9, WireDirection::ToClient, 4_000, message(100, 0), bytes(0, 6, 60), "08 01"),
                wire(5, 9, WireDirection::ToClient, 5_000, message(14, 0x80), bytes(0, 11, 14), "grpc-status:0\r\n"),
            ],
        )];
        let har = har("live", &[(Transport::Grpc, lane)]);
        let entry = &har.log.entries[0];
        assert_eq!(entry.response.content.size, 5 + 100 + 5 + 14);
        assert_eq!(entry.response.body_size, 11 + 40 + 6 + 60 + 11 + 14, "every byte of the body as it crossed");
        assert_eq!(entry.response.content.encoding, Some("base64"));
        assert!(entry.comment.contains("the response body cut"), "only the start of the message was kept");
    }

    #[test]
    fn an_exchange_whose_request_scrolled_away_is_counted_not_invented() {
        let lane = poll_lane().into_iter().skip(1).collect();
        let har = har("live", &[(Transport::ShortPoll, lane)]);
        assert!(har.log.entries.is_empty());
        assert!(har.log.comment.starts_with("1 exchange(s) left out"), "{}", har.log.comment);
    }

    #[test]
    fn hostile_text_stays_text_in_valid_json() {
        let mut lane = poll_lane();
        lane[1].wire[1].raw = "<script>alert(1)</script>\u{0}\u{7}\u{fffd}\"".into();
        lane[1].wire[1].bytes.payload = lane[1].wire[1].raw.len() as u64;
        let json = har("<b>caption</b>", &[(Transport::ShortPoll, lane)]).to_json();
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            parsed["log"]["entries"][0]["response"]["content"]["text"],
            "<script>alert(1)</script>\u{0}\u{7}\u{fffd}\""
        );
        assert_eq!(parsed["log"]["pages"][0]["title"], "<b>caption</b>");
    }
}
