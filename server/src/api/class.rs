//! Classroom mode: `GET /api/class` (who is connected, per transport, and the join link), `GET
//! /api/class/qr.svg` (the join link as a QR code), `POST /api/class/broadcast` (the teacher's message to every
//! student's lanes) and `GET /teacher?key=…` (the teacher link; see [`crate::api::teacher`]).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use protocol::routes;
use protocol::{BroadcastRequest, ClassPresence, EventBody, PublishAck, PRESENCE_WINDOW_SECONDS};
use serde::Deserialize;

use crate::api::error::ApiError;
use crate::api::extract::{NoParameters, ValidJson, ValidQuery};
use crate::api::state::AppState;
use crate::api::teacher::{Role, TeacherGate, TEACHER_COOKIE};
use crate::core::cluster::Membership;
use crate::core::faults::FaultSwitches;
use crate::core::generator::Generator;
use crate::core::join_link::{qr_svg, JoinLinks};
use crate::core::log::EventLog;
use crate::core::message::validated_text;
use crate::core::presence::Presence;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(routes::CLASS, get(get_class))
        .route(routes::CLASS_QR, get(get_class_qr))
        .route(routes::CLASS_BROADCAST, post(post_broadcast))
        .route(routes::TEACHER, get(open_teacher_link))
}

#[derive(Deserialize)]
struct LinkQuery {
    #[serde(default)]
    key: String,
}

/// The teacher link: with the right key, the cookie, and on to the presenter view.
async fn open_teacher_link(
    State(gate): State<TeacherGate>,
    ValidQuery(LinkQuery { key }): ValidQuery<LinkQuery>,
) -> Response {
    if !gate.matches(&key) {
        return ApiError::TeacherKeyWrong.into_response();
    }
    let cookie = format!("{TEACHER_COOKIE}={key}; Path=/; HttpOnly; SameSite=Strict");
    let mut response =
        (StatusCode::SEE_OTHER, [(header::LOCATION, HeaderValue::from_static(routes::PRESENT))]).into_response();
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// Long-lived connections are counted from the fault switches' registry of open connections (one registry, not
/// two); recent polls from the presence log.
async fn get_class(
    State(cluster): State<Option<Membership>>,
    State(presence): State<Presence>,
    State(faults): State<FaultSwitches>,
    State(join): State<Arc<JoinLinks>>,
    State(generator): State<Generator>,
    ValidQuery(NoParameters {}): ValidQuery<NoParameters>,
) -> Json<ClassPresence> {
    let mut view = presence.snapshot(&faults.open_peers());
    // With several instances, the class is everyone's, whichever instance the presenter's request reached.
    if let Some(cluster) = &cluster {
        view = cluster.whole_class(view).await;
    }
    let count = view.count();
    Json(ClassPresence {
        pages: count.pages,
        transports: count.transports.iter().map(|(transport, presence)| (transport, *presence)).collect(),
        join: join.current(),
        window_seconds: PRESENCE_WINDOW_SECONDS,
        generator: generator.settings(),
    })
}

async fn get_class_qr(
    State(join): State<Arc<JoinLinks>>,
    ValidQuery(NoParameters {}): ValidQuery<NoParameters>,
) -> Result<impl IntoResponse, ApiError> {
    let url = join.current().url;
    let svg = qr_svg(&url).map_err(|error| ApiError::JoinCodeUnavailable { reason: error.to_string() })?;
    // The address can change (another network), so the image is asked for again rather than cached.
    Ok(([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "no-cache")], svg))
}

/// The teacher's message: a `broadcast` event in the one stream, so every lane of every student receives it.
async fn post_broadcast(
    State(log): State<EventLog>,
    role: Role,
    ValidJson(request): ValidJson<BroadcastRequest>,
) -> Result<(StatusCode, Json<PublishAck>), ApiError> {
    role.require_teacher("broadcast to the class")?;
    let text = validated_text(request.text)?;
    let seq = log.append(EventBody::Broadcast { text }).await?;
    Ok((StatusCode::ACCEPTED, Json(PublishAck { seq })))
}
