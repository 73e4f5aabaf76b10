//! Classroom mode: `GET /api/class` (who is connected, per transport, and the join link), `GET
//! /api/class/qr.svg` (the join link as a QR code) and `POST /api/class/broadcast` (the teacher's message to every
//! student's lanes).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use protocol::{BroadcastRequest, ClassPresence, EventBody, PublishAck, PRESENCE_WINDOW_SECONDS};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::{ValidJson, ValidQuery};
use crate::join_link::qr_svg;
use crate::publish::validated_text;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/class", get(presence))
        .route("/api/class/qr.svg", get(join_qr_code))
        .route("/api/class/broadcast", post(broadcast))
}

/// These endpoints take no parameters; one sent anyway is a mistake worth naming (a 400), not ignoring.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParameters {}

async fn presence(
    State(state): State<AppState>,
    ValidQuery(NoParameters {}): ValidQuery<NoParameters>,
) -> Json<ClassPresence> {
    let count = state.presence.count(&state.faults.open_peers());
    Json(ClassPresence {
        pages: count.pages,
        transports: count.transports,
        join: state.join.current(),
        window_seconds: PRESENCE_WINDOW_SECONDS,
        generator: state.generator.settings(),
    })
}

async fn join_qr_code(
    State(state): State<AppState>,
    ValidQuery(NoParameters {}): ValidQuery<NoParameters>,
) -> Result<impl IntoResponse, ApiError> {
    let url = state.join.current().url;
    let svg = qr_svg(&url).map_err(|error| ApiError::JoinCodeUnavailable { reason: error.to_string() })?;
    // The address can change (another network), so the image is asked for again rather than cached.
    Ok(([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "no-cache")], svg))
}

/// The teacher's message: a `broadcast` event in the one stream, so every lane of every student receives it.
async fn broadcast(
    State(state): State<AppState>,
    ValidJson(request): ValidJson<BroadcastRequest>,
) -> Result<(StatusCode, Json<PublishAck>), ApiError> {
    let text = validated_text(request.text)?;
    let event = state.hub().publish(EventBody::Broadcast { text });
    Ok((StatusCode::ACCEPTED, Json(PublishAck { seq: event.seq })))
}
