//! The accept loop. axum's own `serve` sets no timeout for reading a request's head, so a client that connects
//! and sends nothing (or one byte a minute) would hold a socket forever; in a classroom that is how one curious
//! student exhausts the laptop's file descriptors. Serving each connection with hyper directly lets the lab set
//! that timeout (`--handshake-timeout-seconds`) and turn off Nagle's algorithm, which would otherwise hold small
//! event writes back for up to 40 ms and show up as latency that no transport caused.

mod stall_guard;

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

use crate::api::state::AppState;
use crate::config::Timing;
use crate::router::app;
use crate::wire::connection::ConnectionWire;
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
        let wire = Arc::new(ConnectionWire::new(ledger.clone()));
        let service = router.clone().map_request({
            let wire = wire.clone();
            move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(address));
                request.extensions_mut().insert(wire.clone());
                request.map(Body::new)
            }
        });
        let stream = WireTap::new(StallGuard::new(stream, timing.write_stall_timeout), wire);
        tokio::spawn(serve_connection(stream, address, service, timing, stopping.clone(), open.clone()));
    }
    drop(listener);
    let _ = stop.send(true);
    drop(open);
    all_closed.closed().await;
    Ok(())
}

async fn serve_connection<S>(
    stream: WireTap<StallGuard<TcpStream>>,
    address: SocketAddr,
    service: S,
    timing: Timing,
    mut stopping: watch::Receiver<bool>,
    _open: watch::Receiver<()>,
) where
    S: tower::Service<Request<Incoming>, Response = axum::response::Response, Error = std::convert::Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(timing.handshake_timeout);
    let io = TokioIo::new(stream);
    let connection = builder.serve_connection(io, TowerToHyperService::new(service)).with_upgrades();
    let mut connection = pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%error, %address, "connection ended with an error");
            }
            return;
        }
        _ = stopping.wait_for(|stop| *stop) => connection.as_mut().graceful_shutdown(),
    }
    let _ = connection.await;
}
