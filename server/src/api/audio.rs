//! The binary lesson: `POST /api/audio` publishes a short tone as an `audio` event (see [`crate::core::audio`]).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use protocol::routes;
use protocol::{AudioRequest, EventBody, PublishAck};

use crate::api::error::ApiError;
use crate::api::extract::ValidJson;
use crate::api::state::AppState;
use crate::core::audio::tone;
use crate::core::hub::HubSlot;

pub fn router() -> Router<AppState> {
    Router::new().route(routes::AUDIO, post(post_audio))
}

async fn post_audio(
    State(hub_slot): State<Arc<HubSlot>>,
    ValidJson(request): ValidJson<AudioRequest>,
) -> Result<(StatusCode, Json<PublishAck>), ApiError> {
    let clip = tone(&request)?;
    let event = hub_slot.current().publish(EventBody::Audio(clip));
    Ok((StatusCode::ACCEPTED, Json(PublishAck { seq: event.seq })))
}
