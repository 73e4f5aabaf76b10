#![recursion_limit = "512"]

//! The Transport Lab server: one event hub, delivered over short polling, long polling, SSE and WebSocket.
//!
//! Where things live, each layer importing only from the ones below it:
//! - [`crate::core`]: the lab itself, no HTTP in it: the hub and what feeds it, faults, presence, counters, lessons.
//! - [`wire`]: the socket tap that measures every byte, and its parser.
//! - [`api`]: the HTTP API around the core: its state, errors, extractors and one small router per concern.
//! - [`webhooks`]: the webhook sender (an HTTP client) and the lab receiver's state, held by the app's state.
//! - [`mqtt`]: the MQTT broker in service (the sans-IO `broker` crate behind a lock, fed by the hub) and its TCP
//!   door, held by the app's state.
//! - [`transports`]: one router per transport (`poll`, `long_poll`, `sse`, `ws`, `http_stream`, `webhooks`, `mqtt`), all
//!   reading the one hub.
//! - [`app()`] puts the routers together with the Leptos pages; [`serve()`] accepts connections through the tap,
//!   with a timeout on request heads and on stalled writes.

pub mod api;
pub mod config;
pub mod core;
pub mod mqtt;
mod pages;
mod router;
mod serve;
pub mod transports;
pub mod webhooks;
pub mod wire;

pub use api::state::AppState;
pub use config::Config;
pub use pages::leptos_options;
pub use router::{app, EPOCH_HEADER, INSTANCE_HEADER};
pub use serve::serve;
