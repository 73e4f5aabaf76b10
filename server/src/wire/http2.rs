//! HTTP/2 on the wire (RFC 9113 §4.1): one direction of a connection cut into the client's 24-byte preface and
//! frames, each a 9-byte header (length, type, flags, stream) and its payload. Like [`super::parse`] for HTTP/1.1,
//! this only finds where one unit ends and the next begins, across reads and writes that split them anywhere, so
//! the units' sizes add up to what crossed the socket. What the frames mean is [`super::http2_connection`]'s.

/// The client's connection preface: `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`.
pub const PREFACE_LEN: usize = 24;
pub const FRAME_HEADER_LEN: usize = 9;
/// A frame's payload is kept whole, to cut DATA at gRPC messages and decode header blocks, up to this size. hyper
/// sends and accepts 16 KiB frames unless a peer asks for more; a larger frame is still counted, byte for byte.
const MAX_KEPT_PAYLOAD: usize = 64 * 1024;

pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const RST_STREAM: u8 = 0x3;
pub const CONTINUATION: u8 = 0x9;

pub const END_STREAM: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;
pub const PADDED: u8 = 0x8;
pub const PRIORITY: u8 = 0x20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    pub length: u32,
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
}

impl FrameHeader {
    fn parse(bytes: &[u8; FRAME_HEADER_LEN]) -> Self {
        Self {
            length: u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]),
            kind: bytes[3],
            flags: bytes[4],
            // The top bit is reserved and ignored on receipt.
            stream: u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]) & 0x7fff_ffff,
        }
    }

    /// The frame type's name as RFC 9113 writes it.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            DATA => "DATA",
            HEADERS => "HEADERS",
            0x2 => "PRIORITY",
            RST_STREAM => "RST_STREAM",
            0x4 => "SETTINGS",
            0x5 => "PUSH_PROMISE",
            0x6 => "PING",
            0x7 => "GOAWAY",
            0x8 => "WINDOW_UPDATE",
            CONTINUATION => "CONTINUATION",
            _ => "UNKNOWN",
        }
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Http2Unit {
    Preface,
    /// `payload` is the whole payload when it was small enough to keep, else `None`.
    Frame {
        header: FrameHeader,
        payload: Option<Vec<u8>>,
    },
}

#[derive(Debug)]
enum State {
    Preface { seen: usize },
    Header { seen: [u8; FRAME_HEADER_LEN], filled: usize },
    Payload { header: FrameHeader, remaining: u32, kept: Option<Vec<u8>> },
}

#[derive(Debug)]
pub struct FrameSplitter {
    state: State,
}

impl FrameSplitter {
    /// What a client sends: the preface, then frames.
    pub fn client() -> Self {
        Self { state: State::Preface { seen: 0 } }
    }

    /// What a server sends: frames from the first byte (its SETTINGS is its preface).
    pub fn server() -> Self {
        Self { state: State::Header { seen: [0; FRAME_HEADER_LEN], filled: 0 } }
    }

    /// Feeds the next bytes, appending each unit they complete to `units`.
    pub fn feed(&mut self, mut bytes: &[u8], units: &mut Vec<Http2Unit>) {
        while !bytes.is_empty() {
            let used = match &mut self.state {
                State::Preface { seen } => {
                    let used = (PREFACE_LEN - *seen).min(bytes.len());
                    *seen += used;
                    if *seen == PREFACE_LEN {
                        units.push(Http2Unit::Preface);
                        *self = Self::server();
                    }
                    used
                }
                State::Header { seen, filled } => {
                    let used = (FRAME_HEADER_LEN - *filled).min(bytes.len());
                    seen[*filled..*filled + used].copy_from_slice(&bytes[..used]);
                    *filled += used;
                    if *filled == FRAME_HEADER_LEN {
                        let header = FrameHeader::parse(seen);
                        let kept = (header.length as usize <= MAX_KEPT_PAYLOAD)
                            .then(|| Vec::with_capacity(header.length as usize));
                        self.state = State::Payload { header, remaining: header.length, kept };
                    }
                    used
                }
                State::Payload { remaining, kept, .. } => {
                    let used = (*remaining as usize).min(bytes.len());
                    if let Some(kept) = kept {
                        kept.extend_from_slice(&bytes[..used]);
                    }
                    *remaining -= used as u32;
                    used
                }
            };
            bytes = &bytes[used..];
            // A frame is complete when its payload is in (at once, for an empty one).
            if let State::Payload { header, remaining: 0, kept } = &mut self.state {
                units.push(Http2Unit::Frame { header: *header, payload: kept.take() });
                *self = Self::server();
            }
        }
    }
}

/// A DATA or HEADERS frame's payload without its padding (and a HEADERS frame's priority fields): the data, or the
/// header block fragment. The rest is framing. `None` when the padding is longer than the frame (a protocol error
/// hyper answers; here the whole payload is then framing).
pub fn unpadded(header: &FrameHeader, payload: &[u8]) -> Option<std::ops::Range<usize>> {
    let mut start = 0;
    let mut end = payload.len();
    if header.has(PADDED) {
        let padding = *payload.first()? as usize;
        start += 1;
        end = end.checked_sub(padding)?;
    }
    if header.kind == HEADERS && header.has(PRIORITY) {
        start += 5;
    }
    (start <= end).then_some(start..end)
}

/// One frame's bytes, for tests that play the other side.
#[cfg(test)]
pub fn frame_for_tests(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut bytes = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    bytes.extend([kind, flags]);
    bytes.extend(stream.to_be_bytes());
    bytes.extend(payload);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(unit: &Http2Unit) -> u64 {
        match unit {
            Http2Unit::Preface => PREFACE_LEN as u64,
            Http2Unit::Frame { header, .. } => FRAME_HEADER_LEN as u64 + u64::from(header.length),
        }
    }

    use super::frame_for_tests as frame;

    #[test]
    fn a_client_stream_cut_anywhere_gives_the_preface_and_every_frame_whole() {
        let mut wire = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        wire.extend(frame(0x4, 0, 0, &[0, 3, 0, 0, 0, 100]));
        wire.extend(frame(HEADERS, END_HEADERS, 1, b"block"));
        wire.extend(frame(DATA, END_STREAM, 1, b""));
        for cut in 0..wire.len() {
            let mut splitter = FrameSplitter::client();
            let mut units = Vec::new();
            splitter.feed(&wire[..cut], &mut units);
            splitter.feed(&wire[cut..], &mut units);
            assert_eq!(units.len(), 4, "cut at {cut}");
            assert_eq!(units.iter().map(size).sum::<u64>(), wire.len() as u64);
            let Http2Unit::Frame { header, payload } = &units[2] else { panic!("{units:?}") };
            assert_eq!((header.type_name(), header.stream, payload.as_deref()), ("HEADERS", 1, Some(&b"block"[..])));
        }
    }

    #[test]
    fn a_frame_too_big_to_keep_is_still_counted_whole() {
        let big = vec![0u8; MAX_KEPT_PAYLOAD + 1];
        let mut units = Vec::new();
        FrameSplitter::server().feed(&frame(DATA, 0, 3, &big), &mut units);
        assert_eq!(units.len(), 1);
        assert_eq!(size(&units[0]), (FRAME_HEADER_LEN + big.len()) as u64);
        assert!(matches!(&units[0], Http2Unit::Frame { payload: None, .. }));
    }

    #[test]
    fn padding_and_priority_are_framing() {
        let header = FrameHeader { length: 12, kind: HEADERS, flags: PADDED | PRIORITY | END_HEADERS, stream: 1 };
        let payload = [2, 0, 0, 0, 0, 16, b'a', b'b', b'c', b'd', 0, 0];
        assert_eq!(unpadded(&header, &payload), Some(6..10));
        let lying = FrameHeader { length: 2, kind: DATA, flags: PADDED, stream: 1 };
        assert_eq!(unpadded(&lying, &[9, 0]), None);
    }
}
