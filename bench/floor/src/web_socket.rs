//! The least of RFC 6455 a server that only sends needs: the handshake's accept key, an unmasked text frame's
//! header, and reading what a client sends (masked frames) well enough to answer a ping and a close.

use base64::Engine;
use sha1::{Digest, Sha1};

/// RFC 6455 section 1.3: the GUID appended to the client's key.
const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

pub const CLOSE_NORMAL: u16 = 1000;
/// RFC 6455 section 7.4.1: a frame too big to process.
pub const CLOSE_TOO_BIG: u16 = 1009;
/// RFC 6455 section 7.4.1: a protocol error (an unmasked client frame, a bad length).
pub const CLOSE_PROTOCOL_ERROR: u16 = 1002;

pub fn accept_key(client_key: &str) -> String {
    let digest = Sha1::new().chain_update(client_key.trim().as_bytes()).chain_update(ACCEPT_GUID).finalize();
    base64::engine::general_purpose::STANDARD.encode(digest)
}

fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 10);
    frame.push(0x80 | opcode);
    match payload.len() {
        len @ 0..=125 => frame.push(len as u8),
        len @ 126..=0xffff => {
            frame.push(126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(payload);
    frame
}

pub fn text_frame(text: &str) -> Vec<u8> {
    frame(0x1, text.as_bytes())
}

pub fn close_frame(code: u16) -> Vec<u8> {
    frame(0x8, &code.to_be_bytes())
}

/// What a client's frame asks of the server.
#[derive(Debug, PartialEq, Eq)]
pub enum ClientFrame {
    /// Answer with a pong carrying the same bytes.
    Ping(Vec<u8>),
    /// Answer with a close frame of this code, then close.
    Close(u16),
    /// Data or a pong: this server reads nothing from its clients.
    Other,
}

/// The first whole frame in `input` and how many bytes it took, `None` if more bytes are needed, or the close code
/// a malformed or oversized frame deserves.
pub fn read_frame(input: &[u8], max_payload: usize) -> Result<Option<(ClientFrame, usize)>, u16> {
    let [first, second, ..] = *input else { return Ok(None) };
    if second & 0x80 == 0 {
        return Err(CLOSE_PROTOCOL_ERROR);
    }
    let (len, mut at) = match second & 0x7f {
        126 if input.len() >= 4 => (u64::from(u16::from_be_bytes([input[2], input[3]])), 4),
        127 if input.len() >= 10 => (u64::from_be_bytes(input[2..10].try_into().expect("eight bytes")), 10),
        126 | 127 => return Ok(None),
        len => (u64::from(len), 2),
    };
    if len > max_payload as u64 {
        return Err(CLOSE_TOO_BIG);
    }
    let end = at + 4 + len as usize;
    if input.len() < end {
        return Ok(None);
    }
    let mask = [input[at], input[at + 1], input[at + 2], input[at + 3]];
    at += 4;
    let payload: Vec<u8> = input[at..end].iter().enumerate().map(|(i, byte)| byte ^ mask[i % 4]).collect();
    let frame = match first & 0x0f {
        0x9 => ClientFrame::Ping(payload),
        0x8 => ClientFrame::Close(match payload[..] {
            [high, low, ..] => u16::from_be_bytes([high, low]),
            _ => CLOSE_NORMAL,
        }),
        _ => ClientFrame::Other,
    };
    Ok(Some((frame, end)))
}

pub fn pong_frame(payload: &[u8]) -> Vec<u8> {
    frame(0xA, payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_example_key() {
        // RFC 6455 section 1.3.
        assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn lengths_take_the_short_medium_and_long_forms() {
        assert_eq!(&text_frame("hi")[..2], &[0x81, 2]);
        assert_eq!(&text_frame(&"x".repeat(300))[..4], &[0x81, 126, 1, 44]);
        assert_eq!(text_frame(&"x".repeat(70_000))[1], 127);
    }

    #[test]
    fn a_masked_ping_and_close_are_read_and_an_unmasked_frame_refused() {
        // RFC 6455 section 5.7: a masked "Hello" (here as a ping).
        let ping = [0x89, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
        assert_eq!(read_frame(&ping, 125), Ok(Some((ClientFrame::Ping(b"Hello".to_vec()), 11))));
        assert_eq!(read_frame(&ping[..6], 125), Ok(None));
        let close = [0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe9];
        assert_eq!(read_frame(&close, 125), Ok(Some((ClientFrame::Close(1001), 8))));
        assert_eq!(read_frame(&[0x81, 0x05, b'H'], 125), Err(CLOSE_PROTOCOL_ERROR));
        assert_eq!(read_frame(&[0x82, 0xfe, 0x10, 0x00], 125), Err(CLOSE_TOO_BIG));
    }
}
