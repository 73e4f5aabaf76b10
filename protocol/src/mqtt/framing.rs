//! Cutting a byte stream into whole MQTT packets, for the broker and for every client alike. MQTT over WebSocket
//! lets a peer split packets over frames any way it likes, so a packet may arrive in pieces or several to a frame. Only the packet being assembled is buffered, and its size is checked
//! against the limit as soon as its fixed header is complete, so a client announcing a huge packet is refused
//! before the broker holds any of its body.

use bytes::{Bytes, BytesMut};

/// Fixed header: one type-and-flags byte plus at most four bytes of remaining length.
const MAX_FIXED_HEADER_LEN: usize = 5;

/// One whole packet as it came off the wire, not yet decoded.
#[derive(Debug)]
pub struct Frame {
    /// The high nibble of the first byte (0 is reserved and stays for the decoder to refuse).
    pub packet_type: u8,
    pub flags: u8,
    /// Everything after the fixed header.
    pub body: Bytes,
    /// The whole packet, fixed header included (`body` is a view of its end).
    pub packet: Bytes,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("remaining length longer than four bytes")]
    RemainingLengthTooLong,
    #[error("packet of {size} bytes exceeds the maximum of {max}")]
    TooLarge { size: u64, max: u32 },
}

#[derive(Debug, Default)]
pub struct FrameReader {
    buffer: BytesMut,
    /// Total size of the packet being assembled, once its fixed header is complete.
    expected_len: Option<usize>,
    header_len: usize,
}

enum Header {
    Incomplete,
    Complete { header_len: usize, remaining_len: usize },
}

impl FrameReader {
    /// Bytes held for a packet not yet complete.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Drops a half-received packet: a new connection starts a new byte stream.
    pub fn reset(&mut self) {
        self.buffer.clear();
        self.expected_len = None;
    }

    /// Every packet `input` completes, in order (what [`FrameReader::next_frame`] gives, until `input` is used up).
    pub fn frames(&mut self, mut input: &[u8], max_packet_size: u32) -> Result<Vec<Frame>, FrameError> {
        let mut frames = Vec::new();
        while let Some(frame) = self.next_frame(&mut input, max_packet_size)? {
            frames.push(frame);
        }
        Ok(frames)
    }

    /// Takes from `input` what the current packet needs and returns it once whole. Call again with the rest of
    /// `input` until it returns `Ok(None)`.
    pub fn next_frame(&mut self, input: &mut &[u8], max_packet_size: u32) -> Result<Option<Frame>, FrameError> {
        loop {
            if let Some(total) = self.expected_len {
                let take = (total - self.buffer.len()).min(input.len());
                self.buffer.extend_from_slice(&input[..take]);
                *input = &input[take..];
                if self.buffer.len() < total {
                    return Ok(None);
                }
                return Ok(Some(self.finish_frame()));
            }
            let Some((&byte, rest)) = input.split_first() else {
                return Ok(None);
            };
            self.buffer.extend_from_slice(&[byte]);
            *input = rest;
            if let Header::Complete { header_len, remaining_len } = parse_header(&self.buffer)? {
                let total = header_len + remaining_len;
                if total as u64 > u64::from(max_packet_size) {
                    return Err(FrameError::TooLarge { size: total as u64, max: max_packet_size });
                }
                self.header_len = header_len;
                self.expected_len = Some(total);
            }
        }
    }

    fn finish_frame(&mut self) -> Frame {
        let packet = self.buffer.split().freeze();
        self.expected_len = None;
        let first = packet.first().copied().unwrap_or_default();
        let body = packet.slice(self.header_len.min(packet.len())..);
        Frame { packet_type: first >> 4, flags: first & 0x0F, body, packet }
    }
}

fn parse_header(buffer: &[u8]) -> Result<Header, FrameError> {
    let mut remaining_len = 0usize;
    for (index, &byte) in buffer.iter().enumerate().skip(1) {
        if index >= MAX_FIXED_HEADER_LEN {
            return Err(FrameError::RemainingLengthTooLong);
        }
        remaining_len |= usize::from(byte & 0x7F) << (7 * (index - 1));
        if byte & 0x80 == 0 {
            return Ok(Header::Complete { header_len: index + 1, remaining_len });
        }
    }
    if buffer.len() >= MAX_FIXED_HEADER_LEN {
        return Err(FrameError::RemainingLengthTooLong);
    }
    Ok(Header::Incomplete)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(reader: &mut FrameReader, mut input: &[u8], max: u32) -> Result<Vec<Frame>, FrameError> {
        let mut out = Vec::new();
        while let Some(frame) = reader.next_frame(&mut input, max)? {
            out.push(frame);
        }
        assert!(input.is_empty());
        Ok(out)
    }

    #[test]
    fn splits_many_packets_in_one_read() {
        let mut reader = FrameReader::default();
        let got = frames(&mut reader, &[0xC0, 0x00, 0x30, 0x02, b'a', b'b', 0xE0, 0x00], 100).unwrap();
        let kinds: Vec<_> = got.iter().map(|f| (f.packet_type, f.body.len())).collect();
        assert_eq!(kinds, vec![(12, 0), (3, 2), (14, 0)]);
    }

    #[test]
    fn assembles_a_packet_given_byte_by_byte() {
        let mut reader = FrameReader::default();
        let packet = [0x30, 0x83, 0x01].iter().copied().chain(std::iter::repeat_n(7, 131)).collect::<Vec<_>>();
        let mut got = Vec::new();
        for byte in &packet {
            got.extend(frames(&mut reader, std::slice::from_ref(byte), 1000).unwrap());
        }
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].body.len(), 131);
        assert_eq!(reader.buffered(), 0);
    }

    #[test]
    fn refuses_oversized_and_overlong_headers_before_the_body() {
        let cases: [(&[u8], u32, FrameError); 3] = [
            (&[0x30, 0xFF, 0xFF, 0xFF, 0x7F], 100, FrameError::TooLarge { size: 268_435_460, max: 100 }),
            (&[0x30, 0x80, 0x80, 0x80, 0x80, 0x01], 100, FrameError::RemainingLengthTooLong),
            (&[0x30, 0x62], 99, FrameError::TooLarge { size: 100, max: 99 }),
        ];
        for (input, max, expected) in cases {
            let mut reader = FrameReader::default();
            assert_eq!(frames(&mut reader, input, max).err(), Some(expected), "{input:?}");
            assert!(reader.buffered() <= 6);
        }
    }
}
