//! The lab's own knobs and readings: generator settings and per-transport statistics.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use protocol::{GeneratorSettings, GeneratorUpdate, LabStats, ServerTime};

use crate::error::ApiError;
use crate::extract::ValidJson;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/generator", get(generator_settings).post(update_generator))
        .route("/api/stats", get(stats))
        .route("/api/time", get(server_time))
}

async fn generator_settings(State(state): State<AppState>) -> Json<GeneratorSettings> {
    Json(state.generator.settings())
}

async fn update_generator(
    State(state): State<AppState>,
    ValidJson(update): ValidJson<GeneratorUpdate>,
) -> Result<Json<GeneratorSettings>, ApiError> {
    state.generator.update(update).map(Json)
}

/// The server's wall clock, for the page's NTP-style clock-offset estimate. Read as late as possible: just before
/// the answer is written.
async fn server_time() -> Json<ServerTime> {
    Json(ServerTime { server_time: crate::hub::unix_micros_now() })
}

async fn stats(State(state): State<AppState>) -> Json<LabStats> {
    Json(state.stats())
}
