//! Every type that crosses the wire, defined once and used by the server and the browser alike.

mod api;
mod class;
mod event;
mod faults;
mod limits;
mod scale;
mod tabs;
mod transport;
mod wire;
mod ws;

pub use api::*;
pub use class::*;
pub use event::*;
pub use faults::*;
pub use limits::*;
pub use scale::*;
pub use tabs::*;
pub use transport::*;
pub use wire::*;
pub use ws::*;
