//! MQTT: the lab's own broker ([`broker`], sans-IO) behind two doors, WebSocket at `GET /api/mqtt` for pages and
//! plain TCP at `--mqtt-addr` for everything else. Every hub event is published to `lab/events/<kind>`; a client's
//! message on `lab/chat` becomes a hub event that every lane receives.

mod host;
mod tcp;
mod web_socket;

use axum::routing::get;
use axum::Router;

use crate::api::state::AppState;

pub use host::{chat_payload, MqttHost};
pub use tcp::serve_tcp;

pub fn router() -> Router<AppState> {
    Router::new().route(protocol::routes::MQTT, get(web_socket::get_mqtt))
}
