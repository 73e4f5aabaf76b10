//! The accept loop. axum's own `serve` sets no timeout for reading a request's head, so a client that connects
//! and sends nothing (or one byte a minute) would hold a socket forever; in a classroom that is how one curious
//! student exhausts the laptop's file descriptors. Serving each connection with hyper directly lets the lab set
//! that timeout (`--handshake-timeout-seconds`) and turn off Nagle's algorithm, which would otherwise hold small
//! event writes back for up to 40 ms and show up as latency that no transport caused.
//!
//! The one port speaks HTTP/1.1 and, for gRPC's native clients, HTTP/2 with prior knowledge (cleartext, no
//! upgrade): the first bytes say which ([`version`]).

mod stall_guard;
mod version;

use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, Version};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Sleep;
use tower::ServiceExt;

use crate::api::handoff::{Handoff, Socket};
use crate::api::state::AppState;
use crate::config::Timing;
use crate::router::app;
use crate::wire::connection::ConnectionWire;
use crate::wire::http2_connection::Http2Wire;
use crate::wire::tap::WireTap;
use stall_guard::StallGuard;

/// Serves the app on `listener` until `shutdown` completes, then lets open requests finish (held long polls are
/// answered and streams ended by the hub closing; see `main.rs`). Each request knows its client's address.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let timing = state.timing;
    let ledger = state.wire.clone();
    if let Ok(bound) = listener.local_addr() {
        // The join link shows the port actually bound (the configuration may have said 0).
        state.join.listening_on(bound);
    }
    let router = app(state);
    let (stop, stopping) = watch::channel(false);
    // Every connection task holds a receiver; when the last is dropped, every connection has ended.
    let (all_closed, open) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, address) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Usually out of file descriptors: wait for some to close rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, %address, "could not turn off Nagle's algorithm");
        }
        let (router, ledger, stopping, open) = (router.clone(), ledger.clone(), stopping.clone(), open.clone());
        tokio::spawn(async move {
            // A client that connects and sends nothing is let go here, before either protocol starts.
            let Some(version) = version::sniff(&stream, timing.handshake_timeout).await else { return };
            let local = stream.local_addr().unwrap_or(address);
            let stream = StallGuard::new(stream, timing.write_stall_timeout);
            match version {
                version::Version::Http1 => {
                    let wire = Arc::new(ConnectionWire::new(ledger, address, local));
                    let handoff = Handoff::default();
                    let service = router.map_request({
                        let (wire, handoff) = (wire.clone(), handoff.clone());
                        move |mut request: Request<Incoming>| {
                            request.extensions_mut().insert(ConnectInfo(address));
                            request.extensions_mut().insert(wire.clone());
                            // Only where hyper would frame an endless body as chunks (see `handoff`).
                            if request.method() == Method::GET && request.version() == Version::HTTP_11 {
                                request.extensions_mut().insert(handoff.clone());
                            }
                            request.map(Body::new)
                        }
                    });
                    let stream = WireTap::new(stream, wire.clone());
                    let connection = Http1Connection { wire, handoff, address };
                    serve_http1(stream, connection, service, timing, stopping, open).await;
                }
                version::Version::Http2 => {
                    let service = router.map_request(move |mut request: Request<Incoming>| {
                        request.extensions_mut().insert(ConnectInfo(address));
                        request.map(Body::new)
                    });
                    let stream = WireTap::new(stream, Arc::new(Http2Wire::new(ledger)));
                    serve_http2(stream, address, service, stopping, open).await;
                }
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    drop(open);
    all_closed.closed().await;
    Ok(())
}

/// The app as hyper serves it to one connection: the router, with the connection's details put into each request.
trait ConnectionService:
    tower::Service<
        Request<Incoming>,
        Response = axum::response::Response,
        Error = std::convert::Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
}

impl<S> ConnectionService for S where
    S: tower::Service<
            Request<Incoming>,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static
{
}

/// The most an HTTP/1.1 connection buffers while it reads a request head: the head's limit, as HTTP/2's header
/// list is limited to `MAX_HEADER_LIST_BYTES`.
const HTTP1_READ_BUFFER_BYTES: usize = 32 * 1024;

/// What the accept loop knows of one HTTP/1.1 connection besides its socket.
struct Http1Connection {
    wire: Arc<ConnectionWire>,
    handoff: Handoff,
    address: SocketAddr,
}

async fn serve_http1<S: ConnectionService>(
    stream: WireTap<StallGuard<TcpStream>>,
    Http1Connection { wire, handoff, address }: Http1Connection,
    service: S,
    timing: Timing,
    mut stopping: watch::Receiver<bool>,
    open: watch::Receiver<()>,
) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(timing.handshake_timeout)
        // hyper's default lets a head grow to about 400 KB before refusing it; no client of the lab sends more
        // than a few KiB, and the wire record keeps what it is sent. Over this, 431.
        .max_buf_size(HTTP1_READ_BUFFER_BYTES);
    let io = TokioIo::new(stream);
    let mut connection = builder.serve_connection(io, TowerToHyperService::new(service)).with_upgrades();
    let mut stop = pin!(async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    });
    let mut shutting_down = false;
    let mut head_patience: Option<Pin<Box<Sleep>>> = None;
    let ended = poll_fn(|cx| {
        // When the lab stops, hyper finishes what is in flight and closes; a stream given meanwhile is still taken
        // below, and ends when the hub closes.
        if !shutting_down && stop.as_mut().poll(cx).is_ready() {
            Pin::new(&mut connection).graceful_shutdown();
            shutting_down = true;
        }
        if let Poll::Ready(result) = Pin::new(&mut connection).poll(cx) {
            return Poll::Ready(Some(result.map_err(|error| error.to_string())));
        }
        if handoff.is_given() {
            // A handler gave its body within this poll, and hyper flushes the head before it waits on the body;
            // if the flush is still blocked, hyper is waiting on the socket and this runs again when it can write.
            if wire.response_head_written() {
                return Poll::Ready(None);
            }
            // The head never seen whole would leave the client with a head and nothing after it: let it go.
            let patience = head_patience.get_or_insert_with(|| Box::pin(tokio::time::sleep(HEAD_PATIENCE)));
            if patience.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Some(Err("the head of a handed-off stream was never seen written".into())));
            }
        }
        Poll::Pending
    })
    .await;
    match ended {
        Some(Ok(())) => {}
        Some(Err(error)) => tracing::debug!(%error, %address, "connection ended with an error"),
        None => hand_off(connection.into_parts(), &handoff, open),
    }
}

/// How long a handed-off stream's head may take to cross: a head is a few hundred bytes on a fresh socket, so
/// this only ends a connection the wire tap could not follow.
const HEAD_PATIENCE: Duration = Duration::from_secs(10);

/// Moves a handed-off body onto a task of its own with the bare socket, and lets hyper's connection (its buffers,
/// its task and the service's future) go.
fn hand_off<I: Socket, S>(
    parts: Option<hyper::server::conn::http1::Parts<TokioIo<I>, S>>,
    handoff: &Handoff,
    open: watch::Receiver<()>,
) {
    let (Some(parts), Some(run)) = (parts, handoff.taken()) else { return };
    let socket: Box<dyn Socket> = Box::new(parts.io.into_inner());
    tokio::spawn(async move {
        // Held until the body ends, so that shutdown waits for it as for any connection.
        let _open = open;
        run(socket).await;
    });
}

/// Runs `connection` to its end; when the lab stops, lets it finish what is in flight and close.
async fn run_until_stopped<C, E>(
    connection: C,
    graceful_shutdown: impl FnOnce(Pin<&mut C>),
    address: SocketAddr,
    mut stopping: watch::Receiver<bool>,
) where
    C: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut connection = pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%error, %address, "connection ended with an error");
            }
            return;
        }
        _ = stopping.wait_for(|stop| *stop) => graceful_shutdown(connection.as_mut()),
    }
    let _ = connection.await;
}

/// Streams one HTTP/2 client may have open at once: gRPC calls are streams, and each holds a subscription.
const MAX_CONCURRENT_STREAMS: u32 = 100;
/// The largest header list (HPACK-decoded) a client may send.
const MAX_HEADER_LIST_BYTES: u32 = 16 * 1024;
/// Streams a client may open and reset at once before it is cut (the "rapid reset" attack, CVE-2023-44487).
const MAX_PENDING_RESET_STREAMS: usize = 20;
/// HTTP/2 PINGs: a client that stops answering for this long is cut, like a WebSocket that stops ponging.
const PING_EVERY: Duration = Duration::from_secs(20);
const PING_TIMEOUT: Duration = Duration::from_secs(20);

async fn serve_http2<S: ConnectionService>(
    stream: WireTap<StallGuard<TcpStream>, Http2Wire>,
    address: SocketAddr,
    service: S,
    stopping: watch::Receiver<bool>,
    _open: watch::Receiver<()>,
) {
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .max_header_list_size(MAX_HEADER_LIST_BYTES)
        .max_pending_accept_reset_streams(MAX_PENDING_RESET_STREAMS)
        .keep_alive_interval(PING_EVERY)
        .keep_alive_timeout(PING_TIMEOUT);
    let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    run_until_stopped(connection, |connection| connection.graceful_shutdown(), address, stopping).await;
}
