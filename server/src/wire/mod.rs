//! Wire truth: every connection's bytes measured at the socket ([`tap`]), split into heads, framing and payload
//! ([`parse`] and [`connection`] for HTTP/1.1 and WebSocket, [`http2`] and [`http2_connection`] for HTTP/2, with
//! gRPC's messages cut out of either by [`grpc_messages`]), and totalled per transport and kept per page
//! ([`ledger`]). No HTTP framework here:
//! handlers tell a connection what they write through `api::wire`, which also serves the records.

pub mod capture;
pub mod connection;
mod grpc_messages;
mod hex;
mod http2;
pub mod http2_connection;
pub mod ledger;
mod parse;
pub mod pcapng;
pub mod tap;

pub use connection::{Annotation, ConnectionWire};
pub use ledger::WireLedger;
pub use tap::WireTap;

/// The wire records are counts and logs: a panic elsewhere while one was held leaves nothing half-done worth
/// refusing the next byte for, so a poisoned lock is taken as it is.
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
