//! The length-prefixed message framing of gRPC (over HTTP/2 DATA frames) and gRPC-web (in an HTTP/1.1 body):
//! each message is a flag byte, a 4-byte big-endian length, then that many bytes of protobuf. gRPC-web, whose
//! browsers cannot read HTTP trailers, sends the trailers last as one more frame with the flag's top bit set and
//! `name: value\r\n` lines for a body.

/// The flag byte and the length in front of every message.
pub const PREFIX_LEN: usize = 5;
/// Flag bit: the message is compressed (with the `grpc-encoding` the call named). The lab sends none.
pub const COMPRESSED: u8 = 0x01;
/// Flag bit, gRPC-web only: this frame holds the trailers.
pub const TRAILERS: u8 = 0x80;

/// One frame as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    Message {
        compressed: bool,
        payload: Vec<u8>,
    },
    /// gRPC-web's trailer frame: `grpc-status`, `grpc-message` and any other trailer, names lower-cased.
    Trailers(Vec<(String, String)>),
}

impl Frame {
    /// A trailer's value, by lower-case name.
    pub fn trailer(&self, name: &str) -> Option<&str> {
        match self {
            Frame::Trailers(trailers) => trailers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str()),
            Frame::Message { .. } => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("a {length}-byte message is over the limit of {limit} bytes")]
    TooLarge { length: usize, limit: usize },
    #[error("flag byte {0:#04x} has bits gRPC does not define")]
    UnknownFlags(u8),
    #[error("the trailer frame is not `name: value` lines: {0}")]
    BadTrailers(String),
    #[error("the stream ended {held} bytes into a frame")]
    Truncated { held: usize },
}

/// A message frame around `payload`, uncompressed.
pub fn encode_message(payload: &[u8]) -> Vec<u8> {
    frame(0, payload)
}

/// gRPC-web's trailer frame.
pub fn encode_trailers(trailers: &[(&str, &str)]) -> Vec<u8> {
    let body: String = trailers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
    frame(TRAILERS, body.as_bytes())
}

fn frame(flags: u8, payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len()).expect("a gRPC message is under 4 GiB");
    let mut bytes = Vec::with_capacity(PREFIX_LEN + payload.len());
    bytes.push(flags);
    bytes.extend_from_slice(&length.to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// Splits a body that arrives in pieces of any size into frames, refusing a length over `limit` before buffering
/// it, so a lying prefix cannot make the reader hold gigabytes.
#[derive(Debug)]
pub struct FrameReader {
    buffer: Vec<u8>,
    limit: usize,
}

impl FrameReader {
    pub fn new(limit: usize) -> Self {
        Self { buffer: Vec::new(), limit }
    }

    /// Bytes received that are not yet a whole frame.
    pub fn held(&self) -> usize {
        self.buffer.len()
    }

    /// Takes the next piece of the body and returns every frame it completes, in order. After an error the
    /// reader is of no further use: the stream is broken.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Frame>, FramingError> {
        self.buffer.extend_from_slice(bytes);
        let mut frames = Vec::new();
        let mut start = 0;
        while let Some(prefix) = self.buffer.get(start..start + PREFIX_LEN) {
            let flags = prefix[0];
            if flags & !(COMPRESSED | TRAILERS) != 0 {
                return Err(FramingError::UnknownFlags(flags));
            }
            let length = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]) as usize;
            if length > self.limit {
                return Err(FramingError::TooLarge { length, limit: self.limit });
            }
            let Some(payload) = self.buffer.get(start + PREFIX_LEN..start + PREFIX_LEN + length) else { break };
            frames.push(if flags & TRAILERS != 0 {
                Frame::Trailers(parse_trailers(payload)?)
            } else {
                Frame::Message { compressed: flags & COMPRESSED != 0, payload: payload.to_vec() }
            });
            start += PREFIX_LEN + length;
        }
        self.buffer.drain(..start);
        Ok(frames)
    }

    /// The body has ended: an error if it ended inside a frame.
    pub fn finish(&self) -> Result<(), FramingError> {
        match self.buffer.len() {
            0 => Ok(()),
            held => Err(FramingError::Truncated { held }),
        }
    }
}

fn parse_trailers(payload: &[u8]) -> Result<Vec<(String, String)>, FramingError> {
    let text = std::str::from_utf8(payload).map_err(|_| FramingError::BadTrailers("not UTF-8".into()))?;
    text.split("\r\n")
        .filter(|line| !line.is_empty())
        .map(|line| match line.split_once(':') {
            Some((name, value)) => Ok((name.trim().to_ascii_lowercase(), value.trim().to_owned())),
            None => Err(FramingError::BadTrailers(format!("{line:?} has no `:`"))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_anywhere_come_out_whole_and_in_order() {
        let mut body = encode_message(b"first");
        body.extend(encode_message(b""));
        body.extend(encode_trailers(&[("grpc-status", "0"), ("grpc-message", "")]));
        for split in 0..=body.len() {
            let mut reader = FrameReader::new(1024);
            let mut frames = reader.push(&body[..split]).unwrap();
            frames.extend(reader.push(&body[split..]).unwrap());
            reader.finish().unwrap();
            assert_eq!(frames.len(), 3, "split at {split}");
            assert_eq!(frames[0], Frame::Message { compressed: false, payload: b"first".to_vec() });
            assert_eq!(frames[1], Frame::Message { compressed: false, payload: Vec::new() });
            assert_eq!(frames[2].trailer("grpc-status"), Some("0"));
        }
    }

    #[test]
    fn the_prefix_is_a_flag_byte_and_a_big_endian_length() {
        assert_eq!(encode_message(&[9; 300])[..PREFIX_LEN], [0, 0, 0, 1, 44]);
        assert_eq!(encode_trailers(&[("grpc-status", "0")]), b"\x80\x00\x00\x00\x10grpc-status: 0\r\n");
    }

    #[test]
    fn a_length_over_the_limit_is_refused_before_its_bytes_arrive() {
        let mut reader = FrameReader::new(100);
        let error = reader.push(&[0, 0x7f, 0xff, 0xff, 0xff]).unwrap_err();
        assert_eq!(error, FramingError::TooLarge { length: 0x7fff_ffff, limit: 100 });
    }

    #[test]
    fn broken_frames_are_errors_not_panics() {
        assert_eq!(FrameReader::new(10).push(&[0x42, 0, 0, 0, 0]), Err(FramingError::UnknownFlags(0x42)));
        let mut reader = FrameReader::new(10);
        assert_eq!(reader.push(&[0, 0, 0, 0, 5, 1, 2]).unwrap(), Vec::new());
        assert_eq!(reader.finish(), Err(FramingError::Truncated { held: 7 }));
        let trailer = [TRAILERS, 0, 0, 0, 3, b'a', b'b', b'c'];
        assert!(matches!(FrameReader::new(10).push(&trailer), Err(FramingError::BadTrailers(_))));
    }
}
