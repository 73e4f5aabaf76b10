//! Faults the lab can inject so learners (and tests) can watch each transport recover. Browser network emulation
//! cannot cut an open WebSocket and Playwright has no hooks into SSE, so faults are made here, by the server.

use std::collections::BTreeMap;
use std::sync::Arc;

use app::model::{DropReport, DropRequest, RestartReport, Transport};
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use tokio::sync::watch;

use crate::error::ApiError;
use crate::extract::ValidJson;
use crate::hub::random_epoch;
use crate::state::AppState;

/// One switch per transport; each long-lived connection watches its transport's switch and drops when it flips.
#[derive(Clone)]
pub struct FaultSwitches(Arc<BTreeMap<Transport, watch::Sender<u64>>>);

impl Default for FaultSwitches {
    fn default() -> Self {
        Self(Arc::new(Transport::ALL.into_iter().map(|transport| (transport, watch::channel(0).0)).collect()))
    }
}

impl FaultSwitches {
    /// What a connection of `transport` waits on: it changes when that transport's connections must drop.
    pub fn watch(&self, transport: Transport) -> watch::Receiver<u64> {
        self.0[&transport].subscribe()
    }

    pub fn drop_connections(&self, transport: Transport) {
        self.0[&transport].send_modify(|generation| *generation += 1);
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/faults/drop", post(drop_connections))
        .route("/api/faults/restart", post(restart_stream))
}

/// Drops every open connection of one transport (or all), as a network failure or server crash would.
async fn drop_connections(
    State(state): State<AppState>,
    ValidJson(request): ValidJson<DropRequest>,
) -> Result<Json<DropReport>, ApiError> {
    let transports = request.transport.map_or_else(|| Transport::ALL.to_vec(), |transport| vec![transport]);
    let stats = state.counters.snapshot();
    let dropped_connections = transports.iter().map(|transport| stats[transport].open_connections).sum();
    for transport in &transports {
        state.faults.drop_connections(*transport);
    }
    Ok(Json(DropReport { transports, dropped_connections }))
}

/// Starts a new server run in place: a new epoch and an empty log numbered from 1, with every connection to the
/// old run ended as a real restart would end it (WebSockets 1001, SSE streams finished, held long polls 204).
async fn restart_stream(State(state): State<AppState>) -> Json<RestartReport> {
    let previous_epoch = state.hub().epoch().clone();
    let hub = state.hub_slot.restart(random_epoch());
    Json(RestartReport { previous_epoch, epoch: hub.epoch().clone() })
}

/// Resolves when `switch` flips; never, if the lab is shutting down (the switch's sender is gone).
pub async fn dropped(switch: &mut watch::Receiver<u64>) {
    if switch.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}
