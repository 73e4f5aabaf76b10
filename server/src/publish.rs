//! The upstream path for transports that have none of their own: `POST /api/publish`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use protocol::routes::{self, PublishQuery};
use protocol::{EventBody, PublishAck, PublishRequest, MAX_MESSAGE_BYTES};

use crate::error::ApiError;
use crate::extract::{ValidJson, ValidQuery};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route(routes::PUBLISH, post(publish))
}

/// The address is checked here, so a misspelt lane or a malformed client is a 400 naming it and nothing is
/// published. What it says is for the socket tap, which has already filed this request's bytes as the named lane's
/// (see `wire::connection`) by the same [`PublishQuery`]; the handler itself has no use for it. Spelt out field by
/// field so that a new parameter must be placed: used here, or only filed.
async fn publish(
    State(state): State<AppState>,
    ValidQuery(PublishQuery { lane: _, client: _ }): ValidQuery<PublishQuery>,
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
