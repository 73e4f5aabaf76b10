//! The bounds the API enforces. One place, so the server's validation, the UI's knobs and the docs agree.

/// Largest message a person may publish, in UTF-8 bytes.
pub const MAX_MESSAGE_BYTES: usize = 1024;
/// Generator rate bounds, in events per second.
pub const MIN_RATE_PER_SECOND: f64 = 0.1;
pub const MAX_RATE_PER_SECOND: f64 = 50.0;
/// Largest generator filler, in bytes.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;
/// Long-poll hold bounds and default, in seconds.
pub const MIN_LONG_POLL_TIMEOUT_SECONDS: u64 = 1;
pub const MAX_LONG_POLL_TIMEOUT_SECONDS: u64 = 60;
pub const DEFAULT_LONG_POLL_TIMEOUT_SECONDS: u64 = 25;
/// Most events one poll response carries; the `next` cursor fetches the rest.
pub const DEFAULT_POLL_LIMIT: usize = 1000;
pub const MAX_POLL_LIMIT: usize = 10_000;
/// What the server tells `EventSource` to wait before reconnecting, in milliseconds.
pub const SSE_RETRY_MILLIS: u64 = 2000;
/// Largest injected delivery delay, and largest jitter, in milliseconds.
pub const MAX_INJECTED_DELAY_MS: u32 = 10_000;
/// Longest an offline fault may last, in seconds.
pub const MAX_OFFLINE_SECONDS: u32 = 120;
