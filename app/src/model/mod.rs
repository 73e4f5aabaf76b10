//! Every type that crosses the wire, defined once and used by the server and the browser alike.

mod api;
mod event;
mod faults;
mod limits;
mod scale;
mod transport;
mod wire;
mod ws;

pub use api::*;
pub use event::*;
pub use faults::*;
pub use limits::*;
pub use scale::*;
pub use transport::*;
pub use wire::*;
pub use ws::*;
