//! `/api/faults/*`: the switches of [`crate::core::faults`], and the restart fault, which replaces the hub.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use protocol::routes;
use protocol::routes::ClientQuery;
use protocol::{DelayRule, FaultReport, FaultTarget, OfflineRequest, RestartReport};

use crate::api::error::ApiError;
use crate::api::extract::{NoBody, NoParameters, ValidJson, ValidQuery};
use crate::api::state::AppState;
use crate::api::teacher::Role;
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

/// Back to a healthy network: for one page (`?client=`), or for everyone (the teacher's).
async fn delete_faults(
    State(faults): State<FaultSwitches>,
    role: Role,
    ValidQuery(query): ValidQuery<ClientQuery>,
) -> Result<StatusCode, ApiError> {
    if query.client.is_none() {
        role.require_teacher("clear everyone's faults")?;
    }
    faults.clear_for(query.client.as_ref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A fault aimed at everyone, or at a transport of everyone, is the teacher's; one page's id is its own
/// capability (unguessable, and never listed to anyone but the teacher).
fn require_aim(role: Role, target: &FaultTarget) -> Result<(), ApiError> {
    match target.client {
        Some(_) => Ok(()),
        None => role.require_teacher("aim a fault at everyone (name your page's `client`)"),
    }
}

/// Drops the target's open connections, as a network failure or server crash would.
async fn post_drop(
    State(faults): State<FaultSwitches>,
    role: Role,
    ValidJson(target): ValidJson<FaultTarget>,
) -> Result<Json<FaultReport>, ApiError> {
    require_aim(role, &target)?;
    Ok(Json(FaultReport { dropped_connections: faults.drop_connections(target).await? }))
}

async fn post_offline(
    State(faults): State<FaultSwitches>,
    role: Role,
    ValidJson(request): ValidJson<OfflineRequest>,
) -> Result<Json<FaultReport>, ApiError> {
    require_aim(role, &request.target())?;
    Ok(Json(FaultReport { dropped_connections: faults.take_offline(&request).await? }))
}

/// Starts a new server run in place: a new epoch and an empty log numbered from 1, with every connection to the
/// old run ended as a real restart would end it (WebSockets 1001, SSE streams finished, held long polls 204). With
/// a shared log, every instance starts the new run.
///
/// It takes nothing: a parameter or a field sent anyway (a webhook aimed here delivers its event as a body) is a
/// 400, and nothing restarts.
async fn post_restart(
    State(log): State<EventLog>,
    role: Role,
    ValidQuery(NoParameters {}): ValidQuery<NoParameters>,
    NoBody: NoBody,
) -> Result<Json<RestartReport>, ApiError> {
    role.require_teacher("restart the stream")?;
    Ok(Json(log.restart().await?))
}

/// The rules in force. The teacher sees them all; anyone else the rules for everyone and those for the page it
/// names, so no page learns another's id.
async fn get_delay(
    State(faults): State<FaultSwitches>,
    role: Role,
    ValidQuery(query): ValidQuery<ClientQuery>,
) -> Json<Vec<DelayRule>> {
    let mut rules = faults.delays();
    if !role.teacher {
        rules.retain(|rule| rule.client.is_none() || rule.client == query.client);
    }
    Json(rules)
}

async fn post_delay(
    State(faults): State<FaultSwitches>,
    role: Role,
    ValidJson(rule): ValidJson<DelayRule>,
) -> Result<Json<DelayRule>, ApiError> {
    require_aim(role, &rule.target())?;
    Ok(Json(faults.set_delay(rule).await?))
}
