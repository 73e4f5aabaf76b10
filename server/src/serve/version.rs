//! Which HTTP a new connection speaks, from its first bytes: HTTP/2 with prior knowledge opens with a fixed
//! 24-byte preface (RFC 9113 §3.4); anything else is HTTP/1.1. The bytes are only peeked at, so the chosen
//! protocol reads them again from the start.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// The pause before peeking again when only part of the preface has arrived (rare: it is one small write).
const PARTIAL_RETRY: Duration = Duration::from_millis(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    Http1,
    Http2,
}

/// The connection's protocol, or `None` if it did not say within `patience` (or closed first).
pub async fn sniff(stream: &TcpStream, patience: Duration) -> Option<Version> {
    let deadline = Instant::now() + patience;
    let mut first = [0u8; 24];
    loop {
        let seen =
            timeout(deadline.saturating_duration_since(Instant::now()), stream.peek(&mut first)).await.ok()?.ok()?;
        if seen == 0 {
            return None;
        }
        if first[..seen] != HTTP2_PREFACE[..seen] {
            return Some(Version::Http1);
        }
        if seen == HTTP2_PREFACE.len() {
            return Some(Version::Http2);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(PARTIAL_RETRY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    async fn sniffed(sent: &[&'static [u8]]) -> Option<Version> {
        let sent = sent.to_vec();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let mut client = TcpStream::connect(address).await.unwrap();
            for piece in &sent {
                client.write_all(piece).await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        });
        let (server, _) = listener.accept().await.unwrap();
        let version = sniff(&server, Duration::from_millis(200)).await;
        client.abort();
        version
    }

    #[tokio::test]
    async fn the_preface_even_in_pieces_is_http2_anything_else_http1_and_silence_nothing() {
        assert_eq!(sniffed(&[HTTP2_PREFACE]).await, Some(Version::Http2));
        assert_eq!(sniffed(&[&HTTP2_PREFACE[..3], &HTTP2_PREFACE[3..]]).await, Some(Version::Http2));
        assert_eq!(sniffed(&[b"GET / HTTP/1.1\r\n"]).await, Some(Version::Http1));
        assert_eq!(sniffed(&[b"P"]).await, None, "a stalled preface is let go");
        assert_eq!(sniffed(&[]).await, None);
    }
}
