//! One module per transport, each a small router over the same [`EventHub`](crate::core::hub::EventHub), all
//! taking the one [`Lanes`](crate::api::lanes::Lanes) sub-state.

mod direct_stream;
pub mod grpc;
pub mod http_stream;
pub mod long_poll;
pub mod mqtt;
pub mod poll;
pub mod sse;
mod text_stream;
pub mod webhooks;
pub mod ws;

use axum::Router;

use crate::api::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(poll::router())
        .merge(long_poll::router())
        .merge(sse::router())
        .merge(ws::router())
        .merge(http_stream::router())
        .merge(webhooks::router())
        .merge(mqtt::router())
}
