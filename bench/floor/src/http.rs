//! HTTP/1.1 for the floor: one request head parsed with httparse, and every answer written whole, with its
//! `Content-Length`, so a keep-alive connection is ready for its next request.

use std::time::{SystemTime, UNIX_EPOCH};

use protocol::{ApiErrorBody, Epoch};
use serde::Serialize;

/// The largest request (head and body) the floor reads; a bigger one gets 431 and the connection is closed.
pub const MAX_REQUEST_BYTES: usize = 16 * 1024;
const MAX_HEADERS: usize = 32;

/// A parsed request, owned, and how many bytes of the input it took.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Vec<u8>,
    pub last_event_id: Option<String>,
    pub web_socket_key: Option<String>,
    pub upgrade_to_web_socket: bool,
    pub close: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    Incomplete,
    Complete(Request, usize),
    /// The status and message to answer with before closing.
    Refused(u16, &'static str),
}

pub fn parse(input: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let head_len = match request.parse(input) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if input.len() >= MAX_REQUEST_BYTES => {
            return Parsed::Refused(431, "the request head is larger than 16 KiB")
        }
        Ok(httparse::Status::Partial) => return Parsed::Incomplete,
        Err(httparse::Error::TooManyHeaders) => return Parsed::Refused(431, "more than 32 headers"),
        Err(_) => return Parsed::Refused(400, "not an HTTP/1.1 request"),
    };
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|header| header.name.eq_ignore_ascii_case(name))
            .and_then(|header| std::str::from_utf8(header.value).ok())
    };
    let content_length = match header("content-length").map(|value| value.trim().parse::<usize>()) {
        None => 0,
        Some(Ok(len)) if head_len + len <= MAX_REQUEST_BYTES => len,
        Some(Ok(_)) => return Parsed::Refused(413, "the request body is larger than the floor reads"),
        Some(Err(_)) => return Parsed::Refused(400, "Content-Length is not a number"),
    };
    if input.len() < head_len + content_length {
        return Parsed::Incomplete;
    }
    let target = request.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let has_token = |name: &str, token: &str| {
        header(name).is_some_and(|value| value.split(',').any(|part| part.trim().eq_ignore_ascii_case(token)))
    };
    let parsed = Request {
        method: request.method.unwrap_or("GET").to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        body: input[head_len..head_len + content_length].to_vec(),
        last_event_id: header("last-event-id").map(str::to_owned),
        web_socket_key: header("sec-websocket-key").map(str::to_owned),
        upgrade_to_web_socket: has_token("upgrade", "websocket") && has_token("connection", "upgrade"),
        close: has_token("connection", "close"),
    };
    Parsed::Complete(parsed, head_len + content_length)
}

fn reason(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    }
}

/// Every response's head: the lab's `x-lab-epoch`, and the `Date` RFC 9110 asks of an origin server (hyper
/// writes one on every response of the lab's), formatted once a second rather than once per response.
pub struct Heads {
    epoch: Epoch,
    date: String,
    date_second: u64,
}

impl Heads {
    pub fn new(epoch: Epoch) -> Self {
        let mut heads = Self { epoch, date: String::new(), date_second: u64::MAX };
        heads.refresh(SystemTime::now());
        heads
    }

    pub fn refresh(&mut self, now: SystemTime) {
        let second = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        if second != self.date_second {
            self.date = httpdate::fmt_http_date(now);
            self.date_second = second;
        }
    }

    fn head(&self, status: u16, fields: &str) -> String {
        format!(
            "HTTP/1.1 {status} {}\r\ndate: {}\r\nx-lab-epoch: {}\r\n{fields}\r\n",
            reason(status),
            self.date,
            self.epoch
        )
    }

    pub fn json(&self, status: u16, body: &impl Serialize) -> Vec<u8> {
        let body = serde_json::to_vec(body).unwrap_or_default();
        let fields = format!("content-type: application/json\r\ncontent-length: {}\r\n", body.len());
        let mut response = self.head(status, &fields).into_bytes();
        response.extend_from_slice(&body);
        response
    }

    pub fn error(&self, status: u16, error: &str, field: Option<String>, message: String) -> Vec<u8> {
        self.json(status, &ApiErrorBody { error: error.into(), field, message })
    }

    pub fn no_content(&self) -> Vec<u8> {
        self.head(204, "").into_bytes()
    }

    /// The head of a response that never ends (SSE, NDJSON): chunked, one chunk per message, as hyper sends the
    /// lab's.
    pub fn stream(&self, content_type: &str) -> Vec<u8> {
        let fields =
            format!("content-type: {content_type}\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n");
        self.head(200, &fields).into_bytes()
    }

    pub fn switching_protocols(&self, accept: &str) -> Vec<u8> {
        let fields = format!("upgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: {accept}\r\n");
        self.head(101, &fields).into_bytes()
    }
}

/// `bytes` as one chunk of a chunked body (RFC 9112 section 7.1), its size in hex as hyper writes it.
pub fn chunk(bytes: &[u8]) -> Vec<u8> {
    let mut chunk = format!("{:X}\r\n", bytes.len()).into_bytes();
    chunk.extend_from_slice(bytes);
    chunk.extend_from_slice(b"\r\n");
    chunk
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_with_a_body_waits_for_all_of_it() {
        let text = b"POST /api/generator HTTP/1.1\r\nHost: x\r\nContent-Length: 15\r\n\r\n{\"paused\":true}";
        assert_eq!(parse(&text[..text.len() - 1]), Parsed::Incomplete);
        let Parsed::Complete(request, used) = parse(text) else { panic!("not parsed") };
        assert_eq!(
            (request.path.as_str(), request.body.as_slice(), used),
            ("/api/generator", &b"{\"paused\":true}"[..], text.len())
        );
    }

    #[test]
    fn an_upgrade_and_a_query_are_read() {
        let text = b"GET /api/ws?after=3 HTTP/1.1\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: abc\r\n\r\n";
        let Parsed::Complete(request, _) = parse(text) else { panic!("not parsed") };
        assert!(request.upgrade_to_web_socket);
        assert_eq!((request.query.as_str(), request.web_socket_key.as_deref()), ("after=3", Some("abc")));
    }

    #[test]
    fn heads_carry_the_date_and_the_run() {
        let heads = Heads::new(Epoch("e1".into()));
        let text = String::from_utf8(heads.no_content()).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 204 No Content\r\ndate: ") && text.ends_with("x-lab-epoch: e1\r\n\r\n"),
            "{text}"
        );
        let json = String::from_utf8(heads.json(200, &[1, 2])).unwrap();
        assert!(json.ends_with("content-length: 5\r\n\r\n[1,2]"), "{json}");
        assert_eq!(chunk(&[b'x'; 26]), [b"1A\r\n".as_slice(), &[b'x'; 26], b"\r\n"].concat());
    }

    #[test]
    fn garbage_and_giants_are_refused_with_a_status() {
        assert!(matches!(parse(b"\x00\x01 nonsense\r\n\r\n"), Parsed::Refused(400, _)));
        let giant = [b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'a'; MAX_REQUEST_BYTES]].concat();
        assert!(matches!(parse(&giant), Parsed::Refused(431, _)));
        assert!(matches!(parse(b"POST / HTTP/1.1\r\nContent-Length: 99999\r\n\r\n"), Parsed::Refused(413, _)));
    }
}
