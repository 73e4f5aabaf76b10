//! The upstream path for transports that have none of their own: `POST /api/publish`.

use protocol::{ClientId, EventBody, PublishAck, PublishRequest, Transport, MAX_MESSAGE_BYTES};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::{ValidJson, ValidQuery};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/publish", post(publish))
}

/// What the address may say: a lane's round trip names its lane (so its bytes are filed as that lane's, see
/// `wire::connection`) and its page. Read here only to be checked: a misspelt lane is a 400, not quietly a message
/// from no lane.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishParameters {
    #[serde(default)]
    #[allow(dead_code)]
    lane: Option<Transport>,
    #[serde(default)]
    #[allow(dead_code)]
    client: Option<ClientId>,
}

async fn publish(
    State(state): State<AppState>,
    ValidQuery(_): ValidQuery<PublishParameters>,
    ValidJson(request): ValidJson<PublishRequest>,
) -> Result<(StatusCode, Json<PublishAck>), ApiError> {
    let body = validated_message(request.text)?;
    let event = state.hub().publish(body);
    Ok((StatusCode::ACCEPTED, Json(PublishAck { seq: event.seq })))
}

/// The checks every upstream path applies to a person's message.
pub fn validated_message(text: String) -> Result<EventBody, ApiError> {
    validated_text(text).map(|text| EventBody::Message { text })
}

/// A message's text, checked: not blank and at most [`MAX_MESSAGE_BYTES`]. Shared with the teacher's broadcast.
pub fn validated_text(text: String) -> Result<String, ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::invalid_field("text", "must not be empty"));
    }
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(ApiError::invalid_field(
            "text",
            format!("is {} bytes; at most {MAX_MESSAGE_BYTES} bytes (UTF-8) are allowed", text.len()),
        ));
    }
    Ok(text)
}
