//! The upstream path for transports that have none of their own: `POST /api/publish`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use protocol::routes::{self, PublishQuery};
use protocol::{PublishAck, PublishRequest};

use crate::api::error::ApiError;
use crate::api::extract::{ValidJson, ValidQuery};
use crate::api::state::AppState;
use crate::core::log::EventLog;
use crate::core::message::validated_message;

pub fn router() -> Router<AppState> {
    Router::new().route(routes::PUBLISH, post(post_publish))
}

/// The address is checked here, so a misspelt lane or a malformed client is a 400 naming it and nothing is
/// published. What it says is for the socket tap, which has already filed this request's bytes as the named lane's
/// by the same [`PublishQuery`] (see `wire::connection`); publishing itself has no use for it. Spelt out field by
/// field so that a new parameter has to be placed: used here, or only filed.
async fn post_publish(
    State(log): State<EventLog>,
    ValidQuery(PublishQuery { lane: _, client: _ }): ValidQuery<PublishQuery>,
    ValidJson(request): ValidJson<PublishRequest>,
) -> Result<(StatusCode, Json<PublishAck>), ApiError> {
    let body = validated_message(request.text)?;
    let seq = log.append(body).await?;
    Ok((StatusCode::ACCEPTED, Json(PublishAck { seq })))
}
