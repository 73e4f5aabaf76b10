//! The server's wall clock, as every event, wire record and clock-offset answer states it.

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch; 0 on a clock set before 1970, which no event should then claim to follow.
pub fn unix_micros_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_micros() as u64).unwrap_or(0)
}
