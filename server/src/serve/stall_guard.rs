//! A client that stops reading stalls the server's writes once the TCP buffers fill. A stalled connection costs
//! a socket and a task, never memory (every transport reads the bounded history, not a queue of its own), but
//! left alone it lasts forever. This wrapper around each accepted socket fails a write that has made no progress
//! for `--write-stall-timeout-seconds`, which makes hyper close the connection: for SSE and long polls that is the
//! disconnect; for WebSockets the session's own, shorter send timeout usually fires first.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{sleep, Sleep};

pub struct StallGuard<S> {
    inner: S,
    patience: Duration,
    /// Running while writes are blocked; cleared as soon as one makes progress.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<S> StallGuard<S> {
    pub fn new(inner: S, patience: Duration) -> Self {
        Self { inner, patience, stalled: None }
    }

    /// Called when the inner write returned `Pending`: starts the clock, or fails once it has run out.
    fn check_stall(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let patience = self.patience;
        let timer = self.stalled.get_or_insert_with(|| Box::pin(sleep(patience)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the client read nothing for {} s", patience.as_secs()),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for StallGuard<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StallGuard<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Pending => self.check_stall(cx),
            ready => {
                self.stalled = None;
                ready
            }
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Pending => self.check_stall(cx),
            ready => {
                self.stalled = None;
                ready
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn a_write_blocked_past_its_patience_fails_and_progress_resets_the_clock() {
        let (near, mut far) = duplex(8);
        let mut guarded = StallGuard::new(near, Duration::from_secs(5));
        guarded.write_all(b"12345678").await.unwrap(); // fills the pipe
        let blocked = guarded.write_all(b"more");
        tokio::pin!(blocked);
        tokio::select! {
            _ = &mut blocked => panic!("the write cannot finish while nobody reads"),
            () = sleep(Duration::from_secs(4)) => {}
        }
        // Reading makes room: the write proceeds and the stall clock resets.
        let mut buffer = [0u8; 8];
        far.read_exact(&mut buffer).await.unwrap();
        blocked.await.unwrap();
        guarded.write_all(b"fill").await.unwrap();
        let error = guarded.write_all(b"blocked for good").await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    }
}
