//! A response that never ends (SSE, the HTTP stream) is written by hyper only up to its head; then the lab takes
//! the socket back and writes the body's chunks itself. hyper keeps an 8 KiB read buffer and an 8 KiB write buffer
//! for a connection's whole life, and its connection task holds the whole service's future: measured with
//! heaptrack over 5,000 idle SSE streams, 31.5 KB of heap each, over half of it hyper's (docs/src/scale.md). The
//! body written here needs neither: one small task per stream and the socket.
//!
//! Only what hyper would write the same way is taken: a `GET` over HTTP/1.1, whose endless body hyper frames as
//! `Transfer-Encoding: chunked`, with no other request read behind it (hyper must answer that one after). Everything before the head (routing, admission, errors with their JSON) stays
//! hyper's and axum's.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The socket a handed-off body writes to: the accepted connection with its wire tap and stall guard.
pub trait Socket: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Socket for T {}

/// The chunks of a body that never ends by itself: `None` once it is over (the hub closed, a fault dropped it).
pub trait ChunkSource: Send + 'static {
    fn next_chunk(&mut self) -> impl Future<Output = Option<Bytes>> + Send;
}

type Run = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What the connection runs on the socket once it has it.
type TakeOver = Box<dyn FnOnce(Box<dyn Socket>) -> Run + Send>;

/// Where a handler leaves its endless body for the connection to take once hyper has written the head.
///
/// One per HTTP/1.1 connection, put into each `GET` request's extensions by `serve`; a handler that finds it may
/// give its body here and answer hyper with [`Handoff::placeholder`].
#[derive(Clone, Default)]
pub struct Handoff(Arc<Slot>);

#[derive(Default)]
struct Slot {
    body: Mutex<Option<TakeOver>>,
    /// Read on every poll of every HTTP/1.1 connection, so without taking the lock.
    given: AtomicBool,
}

impl Handoff {
    /// Leaves `source` to be written as HTTP/1.1 chunks straight to the socket, after the head hyper writes.
    pub fn give<S: ChunkSource>(&self, source: S) {
        let run = move |socket: Box<dyn Socket>| -> Run { Box::pin(write_chunked(source, socket)) };
        *lock(&self.0.body) = Some(Box::new(run));
        self.0.given.store(true, Ordering::Release);
    }

    /// The body hyper is given instead: no data and no end, so hyper writes the head, flushes it and waits.
    pub fn placeholder() -> axum::body::Body {
        axum::body::Body::from_stream(futures::stream::pending::<Result<Bytes, std::convert::Infallible>>())
    }

    pub(crate) fn taken(&self) -> Option<TakeOver> {
        self.0.given.store(false, Ordering::Release);
        lock(&self.0.body).take()
    }

    pub(crate) fn is_given(&self) -> bool {
        self.0.given.load(Ordering::Acquire)
    }
}

/// A handler's panic while it held the slot leaves nothing half-done in it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Each chunk as hyper's chunked encoder frames it (`{len:X}\r\n`, the data, `\r\n`), the last as `0\r\n\r\n`,
/// then the connection closes. Reads only to see the client leave; anything it sends after its `GET` is dropped,
/// as no client pipelines behind a stream that does not end.
async fn write_chunked<S: ChunkSource>(mut source: S, mut socket: Box<dyn Socket>) {
    let mut ignored = [0u8; 64];
    loop {
        let chunk = tokio::select! {
            chunk = source.next_chunk() => chunk,
            read = socket.read(&mut ignored) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            },
        };
        let Some(chunk) = chunk else { break };
        // An empty chunk would read as the body's end.
        if chunk.is_empty() {
            continue;
        }
        if socket.write_all_buf(&mut framed(chunk)).await.is_err() {
            return;
        }
    }
    if socket.write_all(b"0\r\n\r\n").await.is_ok() {
        let _ = socket.shutdown().await;
    }
}

fn framed(chunk: Bytes) -> impl bytes::Buf {
    use bytes::Buf;
    SizeLine::of(chunk.len()).chain(chunk).chain(&b"\r\n"[..])
}

/// A chunk's size line, `{len:X}\r\n`, kept inline: a heap string per chunk would be an allocation per delivery.
struct SizeLine {
    text: [u8; SizeLine::MAX],
    at: usize,
    end: usize,
}

impl SizeLine {
    /// 16 hex digits of a `usize` and CRLF.
    const MAX: usize = 18;

    fn of(len: usize) -> Self {
        use std::io::Write;
        let mut text = [0; Self::MAX];
        let mut cursor = std::io::Cursor::new(&mut text[..]);
        // Cannot fail: the longest line fits.
        let _ = write!(cursor, "{len:X}\r\n");
        let end = cursor.position() as usize;
        Self { text, at: 0, end }
    }
}

impl bytes::Buf for SizeLine {
    fn remaining(&self) -> usize {
        self.end - self.at
    }

    fn chunk(&self) -> &[u8] {
        &self.text[self.at..self.end]
    }

    fn advance(&mut self, count: usize) {
        self.at = (self.at + count).min(self.end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_is_framed_as_hyper_frames_it() {
        use bytes::Buf;
        let mut buf = framed(Bytes::from_static(b"data: {}\n\n"));
        let framed = buf.copy_to_bytes(buf.remaining());
        assert_eq!(&framed[..], b"A\r\ndata: {}\n\n\r\n");
    }

    #[test]
    fn the_size_line_is_upper_case_hex_for_any_length() {
        use bytes::Buf;
        for (len, line) in [(1, "1\r\n"), (255, "FF\r\n"), (65_536, "10000\r\n"), (usize::MAX, "FFFFFFFFFFFFFFFF\r\n")]
        {
            let mut size = SizeLine::of(len);
            assert_eq!(size.copy_to_bytes(size.remaining()), line.as_bytes());
        }
    }
}
