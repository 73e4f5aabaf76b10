//! The socket wrapper that shows every byte read and written to an observer: the connection's [`ConnectionWire`]
//! on accepted connections, a webhook delivery's counts on the sender's own. The lab's byte counts are taken here,
//! where the bytes really cross, not estimated from what the handlers meant to send.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::connection::ConnectionWire;

/// Told of every byte as it crosses, in order.
pub trait TapObserver {
    fn read(&self, bytes: &[u8]);
    fn written(&self, bytes: &[u8]);
}

impl TapObserver for ConnectionWire {
    fn read(&self, bytes: &[u8]) {
        ConnectionWire::read(self, bytes);
    }

    fn written(&self, bytes: &[u8]) {
        ConnectionWire::written(self, bytes);
    }
}

pub struct WireTap<S, O = ConnectionWire> {
    inner: S,
    wire: Arc<O>,
}

impl<S, O> WireTap<S, O> {
    pub fn new(inner: S, wire: Arc<O>) -> Self {
        Self { inner, wire }
    }
}

impl<S: AsyncRead + Unpin, O: TapObserver> AsyncRead for WireTap<S, O> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            self.wire.read(&buf.filled()[before..]);
        }
        result
    }
}

impl<S: AsyncWrite + Unpin, O: TapObserver> AsyncWrite for WireTap<S, O> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(written)) = result {
            self.wire.written(&buf[..written]);
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(mut written)) = result {
            for buf in bufs {
                let taken = written.min(buf.len());
                self.wire.written(&buf[..taken]);
                written -= taken;
                if written == 0 {
                    break;
                }
            }
        }
        result
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
