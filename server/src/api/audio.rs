//! The binary lesson: `POST /api/audio` publishes a short tone as an `audio` event (see [`crate::core::audio`]).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use protocol::routes;
use protocol::{AudioRequest, EventBody, PublishAck};

use crate::api::error::ApiError;
use crate::api::extract::{ClientAddress, ValidJson};
use crate::api::rate_limit::ToneLimit;
use crate::api::state::AppState;
use crate::core::audio::tone;
use crate::core::log::EventLog;

pub fn router() -> Router<AppState> {
    Router::new().route(routes::AUDIO, post(post_audio))
}

async fn post_audio(
    State(log): State<EventLog>,
    State(ToneLimit(tones)): State<ToneLimit>,
    ClientAddress(address): ClientAddress,
    ValidJson(request): ValidJson<AudioRequest>,
) -> Result<(StatusCode, Json<PublishAck>), ApiError> {
    tones.check(address)?;
    let clip = tone(&request)?;
    let seq = log.append(EventBody::Audio(clip)).await?;
    Ok((StatusCode::ACCEPTED, Json(PublishAck { seq })))
}
