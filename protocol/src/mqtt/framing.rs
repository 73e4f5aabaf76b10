//! Cutting what a socket delivers into whole MQTT packets. MQTT over WebSocket lets a peer split packets over
//! frames any way it likes, so a packet may arrive in pieces or several to a frame. Only the packet being
//! assembled is held, and its announced size is checked as soon as its fixed header is complete, so a peer that
//! announces a huge packet is refused before any of its body is buffered.

/// Fixed header: one type-and-flags byte plus at most four bytes of remaining length.
const MAX_FIXED_HEADER_LEN: usize = 5;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("remaining length longer than four bytes")]
    RemainingLengthTooLong,
    #[error("packet of {size} bytes exceeds the maximum of {max}")]
    TooLarge { size: usize, max: usize },
}

#[derive(Debug)]
pub(crate) struct FrameReader {
    max_packet: usize,
    buffer: Vec<u8>,
    /// Total size of the packet being assembled, once its fixed header is complete.
    expected: Option<usize>,
}

impl FrameReader {
    pub(crate) fn new(max_packet: usize) -> Self {
        Self { max_packet, buffer: Vec::new(), expected: None }
    }

    /// Bytes held for a packet not yet complete.
    #[cfg(test)]
    pub(crate) fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Drops a half-received packet: a new connection starts a new byte stream.
    pub(crate) fn reset(&mut self) {
        self.buffer.clear();
        self.expected = None;
    }

    /// Every packet `input` completes, each whole (fixed header included), in order.
    pub(crate) fn packets(&mut self, mut input: &[u8]) -> Result<Vec<Vec<u8>>, FrameError> {
        let mut packets = Vec::new();
        while !input.is_empty() {
            if let Some(total) = self.expected {
                let take = (total - self.buffer.len()).min(input.len());
                self.buffer.extend_from_slice(&input[..take]);
                input = &input[take..];
                if self.buffer.len() == total {
                    self.expected = None;
                    packets.push(std::mem::take(&mut self.buffer));
                }
                continue;
            }
            self.buffer.push(input[0]);
            input = &input[1..];
            if let Some((header_len, remaining)) = parse_header(&self.buffer)? {
                let total = header_len + remaining;
                if total > self.max_packet {
                    self.reset();
                    return Err(FrameError::TooLarge { size: total, max: self.max_packet });
                }
                if total == header_len {
                    packets.push(std::mem::take(&mut self.buffer));
                } else {
                    self.expected = Some(total);
                }
            }
        }
        Ok(packets)
    }
}

/// The fixed header's length and the remaining length it announces, once both are complete.
pub(crate) fn parse_header(buffer: &[u8]) -> Result<Option<(usize, usize)>, FrameError> {
    let mut remaining = 0usize;
    for (index, &byte) in buffer.iter().enumerate().skip(1) {
        if index >= MAX_FIXED_HEADER_LEN {
            return Err(FrameError::RemainingLengthTooLong);
        }
        remaining |= usize::from(byte & 0x7F) << (7 * (index - 1));
        if byte & 0x80 == 0 {
            return Ok(Some((index + 1, remaining)));
        }
    }
    if buffer.len() >= MAX_FIXED_HEADER_LEN {
        return Err(FrameError::RemainingLengthTooLong);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_framing_table() {
        let big: Vec<u8> = [0x30, 0x83, 0x01].into_iter().chain(std::iter::repeat_n(7, 131)).collect();
        // (name, chunks fed one after another, packet sizes expected, bytes left buffered)
        let cases: Vec<(&str, Vec<Vec<u8>>, Vec<usize>, usize)> = vec![
            ("three in one read", vec![vec![0xC0, 0x00, 0x30, 0x02, b'a', b'b', 0xD0, 0x00]], vec![2, 4, 2], 0),
            ("one byte at a time", big.iter().map(|byte| vec![*byte]).collect(), vec![134], 0),
            ("split inside the length", vec![vec![0x30, 0x83], vec![0x01, 1, 2]], vec![], 5),
            ("an empty read", vec![vec![]], vec![], 0),
        ];
        for (name, chunks, sizes, left) in cases {
            let mut reader = FrameReader::new(1000);
            let mut got = Vec::new();
            for chunk in chunks {
                got.extend(reader.packets(&chunk).unwrap().into_iter().map(|packet| packet.len()));
            }
            assert_eq!(got, sizes, "{name}");
            assert_eq!(reader.buffered(), left, "{name}");
        }
    }

    #[test]
    fn refuses_oversized_and_overlong_before_the_body() {
        let cases: [(&[u8], usize, FrameError); 3] = [
            (&[0x30, 0xFF, 0xFF, 0xFF, 0x7F], 100, FrameError::TooLarge { size: 268_435_460, max: 100 }),
            (&[0x30, 0x80, 0x80, 0x80, 0x80, 0x01], 100, FrameError::RemainingLengthTooLong),
            (&[0x30, 0x62], 99, FrameError::TooLarge { size: 100, max: 99 }),
        ];
        for (input, max, expected) in cases {
            let mut reader = FrameReader::new(max);
            assert_eq!(reader.packets(input).err(), Some(expected), "{input:?}");
            assert!(reader.buffered() <= 6);
        }
    }
}
