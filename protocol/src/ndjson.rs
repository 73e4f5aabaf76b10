//! The HTTP streaming codec: `GET /api/stream` is one response that never ends, a JSON line per message
//! (newline-delimited JSON, `application/x-ndjson`).
//!
//! Each line is a [`StreamLine`], tagged by `"type"` exactly as the WebSocket's frames are, so an event line is the
//! event's own JSON with `"type":"event"` beside it. A `fetch` reader gets the body in chunks that fall anywhere, so
//! the client side is a sans-IO [`LineSplitter`]: bytes in, complete lines out, with a bound on how long a line may
//! grow before it is refused.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Event, Gap, StreamHello, WireLabel};

/// The response's `Content-Type`, and what a client sends as `Accept`.
pub const CONTENT_TYPE: &str = "application/x-ndjson";

/// One line of `/api/stream`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamLine {
    /// The first line of every response: the run, the log's head, the exchange that opened it.
    Hello(StreamHello),
    /// One event: the event's own JSON fields beside `"type": "event"`.
    Event(Arc<Event>),
    /// Events the client asked for that the history no longer holds.
    Gap(Gap),
    /// Written while no event is due, so proxies and NAT tables keep an idle stream open.
    KeepAlive,
}

impl StreamLine {
    /// What the line carries, for the wire record: its label and, for an event, its sequence number.
    pub fn label(&self) -> (WireLabel, Option<u64>) {
        match self {
            StreamLine::Hello(_) => (WireLabel::Hello, None),
            StreamLine::Event(event) => (WireLabel::of_event(&event.body), Some(event.seq)),
            StreamLine::Gap(_) => (WireLabel::Gap, None),
            StreamLine::KeepAlive => (WireLabel::KeepAlive, None),
        }
    }

    /// The line as written: its JSON and the newline that ends it.
    pub fn encode(&self) -> LineText {
        let json = serde_json::to_string(self).unwrap_or_default();
        let json_len = json.len();
        LineText { text: json + "\n", json_len }
    }

    /// A line as the splitter hands it over (without its newline).
    pub fn decode(line: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(line)
    }
}

/// One line's text, newline included, and how much of it is JSON (all but the newline, which is the framing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineText {
    pub text: String,
    pub json_len: usize,
}

pub fn encode_hello(hello: &StreamHello) -> LineText {
    StreamLine::Hello(hello.clone()).encode()
}

pub fn encode_event(event: &Arc<Event>) -> LineText {
    StreamLine::Event(event.clone()).encode()
}

pub fn encode_gap(gap: Gap) -> LineText {
    StreamLine::Gap(gap).encode()
}

/// The keep-alive line, the same every time.
pub const KEEP_ALIVE: &str = "{\"type\":\"keep_alive\"}\n";

/// The longest line a reader accepts, newline excluded. The largest line the lab writes is a tick with the
/// largest filler (64 KiB) or a 2-second tone in base64 (about 43 KiB); a quarter of a mebibyte leaves room for
/// JSON escaping and stops a broken or hostile stream from growing a reader's buffer without bound.
pub const MAX_LINE_BYTES: usize = 256 * 1024;

/// A line the splitter refuses. The splitter skips it and carries on with the next line; a client treats it as a
/// broken stream and reconnects.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("a line longer than {max} bytes")]
    TooLong { max: usize },
    #[error("a line that is not UTF-8")]
    NotUtf8,
}

/// Splits a byte stream into lines, whatever the chunk boundaries. Sans-IO: the caller pushes whatever the socket
/// or the `ReadableStream` gave it and gets the lines that became complete. `\n` ends a line, a `\r` before it is
/// dropped, blank lines are skipped. An unfinished line is held (at most `max_line_bytes` of it); a longer one is
/// reported once and its bytes discarded up to its newline.
#[derive(Clone, Debug)]
pub struct LineSplitter {
    partial: Vec<u8>,
    max_line_bytes: usize,
    /// Inside a line already refused as too long: skip up to its newline.
    discarding: bool,
}

impl Default for LineSplitter {
    fn default() -> Self {
        Self::new(MAX_LINE_BYTES)
    }
}

impl LineSplitter {
    pub fn new(max_line_bytes: usize) -> Self {
        Self { partial: Vec::new(), max_line_bytes, discarding: false }
    }

    /// Bytes of an unfinished line held from the chunks pushed so far: where the next chunk's first line began.
    pub fn held(&self) -> usize {
        self.partial.len()
    }

    /// The lines this chunk completed, in order; a refused line is an `Err` in its place.
    pub fn push(&mut self, mut chunk: &[u8]) -> Vec<Result<String, LineError>> {
        let mut lines = Vec::new();
        while !chunk.is_empty() {
            let (piece, ended) = match chunk.iter().position(|&byte| byte == b'\n') {
                Some(end) => (&chunk[..end], true),
                None => (chunk, false),
            };
            chunk = if ended { &chunk[piece.len() + 1..] } else { &[] };
            if self.discarding {
                self.discarding = !ended;
                continue;
            }
            if self.partial.len() + piece.len() > self.max_line_bytes {
                // A `\r` about to be dropped still counts: the bound is on what is held.
                self.partial.clear();
                self.discarding = !ended;
                lines.push(Err(LineError::TooLong { max: self.max_line_bytes }));
                continue;
            }
            self.partial.extend_from_slice(piece);
            if ended {
                if self.partial.last() == Some(&b'\r') {
                    self.partial.pop();
                }
                let line = std::mem::take(&mut self.partial);
                if !line.is_empty() {
                    lines.push(String::from_utf8(line).map_err(|_| LineError::NotUtf8));
                }
            }
        }
        lines
    }

    /// Bytes of a line begun but not yet ended: what a stream that closes now leaves unread.
    pub fn pending_bytes(&self) -> usize {
        self.partial.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Epoch, EventBody};

    fn event(seq: u64, text: &str) -> Arc<Event> {
        Arc::new(Event { seq, emitted_at: 5, body: EventBody::Message { text: text.into() } })
    }

    #[test]
    fn each_line_is_tagged_json_and_a_newline() {
        let hello = StreamHello { epoch: Epoch("e".into()), head_seq: 3, exchange: 9, instance: None };
        let cases: [(LineText, &str); 4] = [
            (encode_hello(&hello), "{\"type\":\"hello\",\"epoch\":\"e\",\"head_seq\":3,\"exchange\":9}\n"),
            (
                encode_event(&event(42, "two\nlines")),
                "{\"type\":\"event\",\"seq\":42,\"emitted_at\":5,\"kind\":\"message\",\"payload\":{\"text\":\"two\\nlines\"}}\n",
            ),
            (encode_gap(Gap { from: 3, to: 7 }), "{\"type\":\"gap\",\"from\":3,\"to\":7}\n"),
            (StreamLine::KeepAlive.encode(), KEEP_ALIVE),
        ];
        for (line, expected) in cases {
            assert_eq!(line.text, expected);
            // The newline is the only framing.
            assert_eq!(line.json_len, line.text.len() - 1);
        }
    }

    #[test]
    fn the_splitter_says_how_much_of_a_line_it_holds() {
        let mut splitter = LineSplitter::default();
        assert_eq!(splitter.push(b"{\"a\":1}\n{\"b\""), vec![Ok("{\"a\":1}".to_string())]);
        assert_eq!(splitter.held(), 4);
        assert_eq!(splitter.push(b":2}\n"), vec![Ok("{\"b\":2}".to_string())]);
        assert_eq!(splitter.held(), 0);
    }

    #[test]
    fn every_line_reads_back_with_its_label() {
        let hello = StreamHello { epoch: Epoch("e".into()), head_seq: 3, exchange: 9, instance: None };
        let cases = [
            (StreamLine::Hello(hello), (WireLabel::Hello, None)),
            (StreamLine::Event(event(4, "hi")), (WireLabel::Message, Some(4))),
            (StreamLine::Gap(Gap { from: 1, to: 2 }), (WireLabel::Gap, None)),
            (StreamLine::KeepAlive, (WireLabel::KeepAlive, None)),
        ];
        for (line, label) in cases {
            let text = line.encode().text;
            let decoded = StreamLine::decode(text.trim_end()).unwrap();
            assert_eq!(decoded, line);
            assert_eq!(decoded.label(), label);
        }
        assert!(StreamLine::decode("{\"type\":\"shout\"}").is_err());
    }

    /// Three lines (one with an escaped newline and a multi-byte character), cut at every byte position and at
    /// every pair of positions: the same lines come out.
    #[test]
    fn a_stream_cut_anywhere_gives_the_same_lines() {
        let text =
            [encode_event(&event(1, "a\nb")).text, encode_event(&event(2, "é€")).text, KEEP_ALIVE.to_owned()].concat();
        let bytes = text.as_bytes();
        let expected: Vec<_> = text.lines().map(|line| Ok(line.to_owned())).collect();
        for first in 0..=bytes.len() {
            for second in first..=bytes.len() {
                let mut splitter = LineSplitter::default();
                let mut lines = splitter.push(&bytes[..first]);
                lines.extend(splitter.push(&bytes[first..second]));
                lines.extend(splitter.push(&bytes[second..]));
                assert_eq!(lines, expected, "cut at {first} and {second}");
                assert_eq!(splitter.pending_bytes(), 0);
            }
        }
    }

    #[test]
    fn one_byte_at_a_time_gives_the_same_lines() {
        let text = "{\"a\":1}\r\n\n{\"b\":2}\n{\"c\"";
        let mut splitter = LineSplitter::default();
        let lines: Vec<_> = text.as_bytes().iter().flat_map(|byte| splitter.push(&[*byte])).collect();
        assert_eq!(lines, [Ok("{\"a\":1}".to_owned()), Ok("{\"b\":2}".to_owned())], "CR dropped, blank skipped");
        assert_eq!(splitter.pending_bytes(), 4, "the unfinished line is held");
    }

    #[test]
    fn bad_lines_are_refused_in_their_place_and_the_next_line_is_read() {
        let too_long = LineError::TooLong { max: 8 };
        // (chunks, what comes out)
        type Case = (&'static [&'static [u8]], Vec<Result<&'static str, LineError>>);
        let cases: [Case; 6] = [
            (&[b"12345678\n"], vec![Ok("12345678")]),
            (&[b"123456789\nok\n"], vec![Err(too_long.clone()), Ok("ok")]),
            // Refused as soon as it outgrows the bound, once, and not held while the rest of it arrives.
            (&[b"12345", b"6789", b"abcdef", b"gh\nok\n"], vec![Err(too_long.clone()), Ok("ok")]),
            (&[b"123456789", b"\n"], vec![Err(too_long.clone())]),
            (&[b"\xff\xfe\nok\n"], vec![Err(LineError::NotUtf8), Ok("ok")]),
            (&[b"\n\n\r\n"], vec![]),
        ];
        for (chunks, expected) in cases {
            let mut splitter = LineSplitter::new(8);
            let mut lines = Vec::new();
            for chunk in chunks {
                lines.extend(splitter.push(chunk));
                assert!(splitter.pending_bytes() <= 8, "{chunks:?}: held {}", splitter.pending_bytes());
            }
            let expected: Vec<_> = expected.into_iter().map(|line| line.map(str::to_owned)).collect();
            assert_eq!(lines, expected, "{chunks:?}");
        }
    }
}
