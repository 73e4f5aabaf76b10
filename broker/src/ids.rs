//! Identifiers every part of the broker names things by, kept apart so that none of those parts imports another
//! just for a number.

/// A session, which outlives the connections that use it; never reused while the broker runs.
pub(crate) type SessionId = u64;
