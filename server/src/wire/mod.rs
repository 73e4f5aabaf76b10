//! Wire truth: every connection's bytes measured at the socket ([`tap`]), split into heads, framing and payload
//! ([`parse`], [`connection`]), and totalled per transport and kept per page ([`ledger`]). No HTTP framework here:
//! handlers tell a connection what they write through `api::wire`, which also serves the records.

pub mod connection;
pub mod ledger;
mod parse;
pub mod tap;

pub use connection::{Annotation, ConnectionWire};
pub use ledger::WireLedger;
pub use tap::WireTap;
