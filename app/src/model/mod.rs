//! Every type that crosses the wire, defined once and used by the server and the browser alike.

mod api;
mod audio;
mod class;
mod event;
mod faults;
mod lesson;
mod limits;
mod scale;
mod tabs;
mod theme;
mod transport;
mod wire;
mod ws;

pub use api::*;
pub use audio::*;
pub use class::*;
pub use event::*;
pub use faults::*;
pub use lesson::*;
pub use limits::*;
pub use scale::*;
pub use tabs::*;
pub use theme::*;
pub use transport::*;
pub use wire::*;
pub use ws::*;
