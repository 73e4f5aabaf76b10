//! Faults the lab can inject so learners (and tests) can watch each transport recover. Browser network emulation
//! cannot cut an open WebSocket and Playwright has no hooks into SSE, so faults are made here, by the server.

use std::collections::BTreeMap;
use std::sync::Arc;

use std::time::Duration;

use app::model::{DeliveryDelay, DropReport, DropRequest, RestartReport, Transport, MAX_INJECTED_DELAY_MS};
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::sync::watch;

use crate::error::ApiError;
use crate::extract::ValidJson;
use crate::hub::{random_epoch, unix_micros_now};
use crate::state::AppState;

/// One drop switch per transport (each long-lived connection watches its transport's switch and drops when it
/// flips), and the delivery delay every transport applies.
#[derive(Clone)]
pub struct FaultSwitches {
    drops: Arc<BTreeMap<Transport, watch::Sender<u64>>>,
    delay: Arc<watch::Sender<DeliveryDelay>>,
}

impl Default for FaultSwitches {
    fn default() -> Self {
        Self {
            drops: Arc::new(Transport::ALL.into_iter().map(|transport| (transport, watch::channel(0).0)).collect()),
            delay: Arc::new(watch::channel(DeliveryDelay::default()).0),
        }
    }
}

impl FaultSwitches {
    /// What a connection of `transport` waits on: it changes when that transport's connections must drop.
    pub fn watch(&self, transport: Transport) -> watch::Receiver<u64> {
        self.drops[&transport].subscribe()
    }

    pub fn drop_connections(&self, transport: Transport) {
        self.drops[&transport].send_modify(|generation| *generation += 1);
    }

    fn sampled_delay(&self) -> Duration {
        let DeliveryDelay { delay_ms, jitter_ms } = *self.delay.borrow();
        let jitter = if jitter_ms == 0 { 0 } else { rand::random_range(0..=jitter_ms) };
        Duration::from_millis(u64::from(delay_ms) + u64::from(jitter))
    }

    /// Holds an event until its due time: `emitted_at` plus the injected delay. Scheduling from `emitted_at`, not
    /// from now, keeps a stream's delay constant instead of piling up behind earlier events.
    pub async fn hold_event(&self, emitted_at_micros: u64) {
        let due = emitted_at_micros + self.sampled_delay().as_micros() as u64;
        let now = unix_micros_now();
        if due > now {
            tokio::time::sleep(Duration::from_micros(due - now)).await;
        }
    }

    /// Holds a poll response for the injected delay, as a slow network would.
    pub async fn hold_response(&self) {
        let delay = self.sampled_delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/faults/drop", post(drop_connections))
        .route("/api/faults/restart", post(restart_stream))
        .route("/api/faults/delay", get(delivery_delay).post(set_delivery_delay))
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

async fn delivery_delay(State(state): State<AppState>) -> Json<DeliveryDelay> {
    Json(*state.faults.delay.borrow())
}

async fn set_delivery_delay(
    State(state): State<AppState>,
    ValidJson(delay): ValidJson<DeliveryDelay>,
) -> Result<Json<DeliveryDelay>, ApiError> {
    for (field, value) in [("delay_ms", delay.delay_ms), ("jitter_ms", delay.jitter_ms)] {
        if value > MAX_INJECTED_DELAY_MS {
            return Err(ApiError::invalid_field(field, format!("must be at most {MAX_INJECTED_DELAY_MS} ms")));
        }
    }
    state.faults.delay.send_replace(delay);
    Ok(Json(delay))
}

/// Resolves when `switch` flips; never, if the lab is shutting down (the switch's sender is gone).
pub async fn dropped(switch: &mut watch::Receiver<u64>) {
    if switch.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}
