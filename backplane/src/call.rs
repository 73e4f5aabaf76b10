//! How every call to an engine is bounded, and the epochs a log is given.

use std::time::Duration;

use protocol::Epoch;

use crate::address::{BackplaneError, BackplaneUrl};

/// How long one call to the engine may take before it counts as unavailable.
pub const ENGINE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long to wait before trying a lost engine again.
pub(crate) const RETRY_EVERY: Duration = Duration::from_millis(500);
/// What the follower may hold for a replica that has not taken it yet; the follower waits (the engine keeps the
/// events) rather than buffer more.
pub(crate) const FOLLOW_BUFFER: usize = 1024;
/// Announcements heard but not yet taken; the engine's own buffers (bounded too) hold the rest.
pub(crate) const NOTICE_BUFFER: usize = 64;

/// Runs `call` within [`ENGINE_TIMEOUT`].
pub(crate) async fn within<T>(
    engine: &BackplaneUrl,
    call: impl std::future::Future<Output = Result<T, BackplaneError>>,
) -> Result<T, BackplaneError> {
    tokio::time::timeout(ENGINE_TIMEOUT, call).await.unwrap_or_else(|_| Err(timed_out(engine)))
}

pub(crate) fn timed_out(engine: &BackplaneUrl) -> BackplaneError {
    BackplaneError::TimedOut { engine: engine.to_string(), seconds: ENGINE_TIMEOUT.as_secs() }
}

/// A fresh random epoch: 16 hex digits, as the in-memory log's.
pub(crate) fn random_epoch() -> Epoch {
    Epoch(format!("{:016x}", rand::random::<u64>()))
}
