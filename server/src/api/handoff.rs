//! A response that never ends (SSE, the HTTP stream) is written by hyper only up to its head; then the lab takes
//! the socket back and writes the body's chunks itself. hyper keeps an 8 KiB read buffer and an 8 KiB write buffer
//! for a connection's whole life, and its connection task holds the whole service's future: measured with
//! heaptrack over 5,000 idle SSE streams, 31.5 KB of heap each, over half of it hyper's (docs/src/scale.md). The
//! body written here needs neither: one small task per stream and the socket (`transports::direct_stream`).
//!
//! Only what hyper would write the same way is taken: a `GET` over HTTP/1.1, whose endless body hyper frames as
//! `Transfer-Encoding: chunked`, with no other request read behind it (hyper must answer that one after). Everything before the head (routing, admission, errors with their JSON) stays
//! hyper's and axum's.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};

/// The socket a handed-off body writes to: the accepted connection with its wire tap and stall guard.
pub trait Socket: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Socket for T {}

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
    /// Leaves `write` to write the body's chunks (framed as HTTP/1.1 chunks: `TextChunk::http1_chunk`) straight
    /// to the socket, after the head hyper writes; the body ends with `0\r\n\r\n`, and the connection closes.
    pub fn give<F: Future<Output = ()> + Send + 'static>(
        &self,
        write: impl FnOnce(Box<dyn Socket>) -> F + Send + 'static,
    ) {
        let run = move |socket: Box<dyn Socket>| -> Run { Box::pin(write(socket)) };
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
