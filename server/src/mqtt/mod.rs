//! The lab's MQTT broker in service: the sans-IO [`broker`] behind a lock, fed every hub event and a clock
//! ([`host`]), with plain TCP as one door ([`tcp`], `--mqtt-addr`). The other door, the page's WebSocket at
//! `GET /api/mqtt`, is a route like every transport's: `crate::transports::mqtt`.

mod host;
mod tcp;

pub use host::{Link, MqttHost, ToSocket};
pub use tcp::serve_tcp;
