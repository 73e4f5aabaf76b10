//! `/api/faults/*`: the switches of [`crate::core::faults`], and the restart fault, which replaces the hub.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use protocol::routes;
use protocol::{DelayRule, FaultReport, FaultTarget, OfflineRequest, RestartReport};

use crate::api::error::ApiError;
use crate::api::extract::ValidJson;
use crate::api::state::AppState;
use crate::core::faults::FaultSwitches;
use crate::core::log::EventLog;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(routes::FAULTS, delete(delete_faults))
        .route(routes::FAULTS_DROP, post(post_drop))
        .route(routes::FAULTS_OFFLINE, post(post_offline))
        .route(routes::FAULTS_RESTART, post(post_restart))
        .route(routes::FAULTS_DELAY, get(get_delay).post(post_delay))
}

/// Back to a healthy network for everyone: no delays, nobody offline.
async fn delete_faults(State(faults): State<FaultSwitches>) -> Result<StatusCode, ApiError> {
    faults.clear().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Drops the target's open connections, as a network failure or server crash would.
async fn post_drop(
    State(faults): State<FaultSwitches>,
    ValidJson(target): ValidJson<FaultTarget>,
) -> Result<Json<FaultReport>, ApiError> {
    Ok(Json(FaultReport { dropped_connections: faults.drop_connections(target).await? }))
}

async fn post_offline(
    State(faults): State<FaultSwitches>,
    ValidJson(request): ValidJson<OfflineRequest>,
) -> Result<Json<FaultReport>, ApiError> {
    Ok(Json(FaultReport { dropped_connections: faults.take_offline(&request).await? }))
}

/// Starts a new server run in place: a new epoch and an empty log numbered from 1, with every connection to the
/// old run ended as a real restart would end it (WebSockets 1001, SSE streams finished, held long polls 204). With
/// a shared log, every instance starts the new run.
async fn post_restart(State(log): State<EventLog>) -> Result<Json<RestartReport>, ApiError> {
    Ok(Json(log.restart().await?))
}

async fn get_delay(State(faults): State<FaultSwitches>) -> Json<Vec<DelayRule>> {
    Json(faults.delays())
}

async fn post_delay(
    State(faults): State<FaultSwitches>,
    ValidJson(rule): ValidJson<DelayRule>,
) -> Result<Json<DelayRule>, ApiError> {
    Ok(Json(faults.set_delay(rule).await?))
}
