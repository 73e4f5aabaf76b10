//! Transport Lab's wire, defined once: every type that crosses it, the codecs that write it, the routes and query
//! strings that address it, and the client session that reads it. No sockets, no runtime, no UI: the server, the
//! browser, the load tool and the fuzzers all build on this crate, so they cannot disagree about the protocol.

mod api;
mod audio;
pub mod civil_date;
mod class;
mod event;
mod faults;
pub mod grpc;
pub mod headers;
mod label;
mod lesson;
mod limits;
pub mod mqtt;
pub mod ndjson;
pub mod parse;
mod per_transport;
pub mod routes;
mod scale;
mod scale_targets;
pub mod session;
pub mod sse;
mod tabs;
mod theme;
mod transport;
pub mod webhook;
mod wire;
mod ws;

pub use api::*;
pub use audio::*;
pub use class::*;
pub use event::*;
pub use faults::*;
pub use label::*;
pub use lesson::*;
pub use limits::*;
pub use per_transport::*;
pub use scale::*;
pub use scale_targets::*;
pub use session::{Arrival, BackOff, ClientSession};
pub use tabs::*;
pub use theme::*;
pub use transport::*;
pub use wire::*;
pub use ws::*;

/// A moment or a span in milliseconds, as the browser's clock gives it (`Date.now()`-based, fractional).
pub type Millis = f64;
