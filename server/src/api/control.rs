//! The lab's own knobs and readings: `GET`/`POST /api/generator`, `GET /api/stats` and `GET /api/time`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use protocol::routes;
use protocol::{GeneratorSettings, GeneratorUpdate, LabStats, ServerTime};

use crate::api::error::ApiError;
use crate::api::extract::{NoParameters, ValidJson, ValidQuery};
use crate::api::readings::Readings;
use crate::api::state::AppState;
use crate::api::teacher::Role;
use crate::core::clock::unix_micros_now;
use crate::core::generator::Generator;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(routes::GENERATOR, get(get_generator).post(post_generator))
        .route(routes::STATS, get(get_stats))
        .route(routes::TIME, get(get_time))
}

async fn get_generator(
    State(generator): State<Generator>,
    ValidQuery(NoParameters {}): ValidQuery<NoParameters>,
) -> Json<GeneratorSettings> {
    Json(generator.settings())
}

async fn post_generator(
    State(generator): State<Generator>,
    role: Role,
    ValidJson(update): ValidJson<GeneratorUpdate>,
) -> Result<Json<GeneratorSettings>, ApiError> {
    role.require_teacher("change the generator")?;
    Ok(Json(generator.update(update).await?))
}

/// The server's wall clock, for the page's NTP-style clock-offset estimate. Read as late as possible: just before
/// the answer is written.
async fn get_time(ValidQuery(NoParameters {}): ValidQuery<NoParameters>) -> Json<ServerTime> {
    Json(ServerTime { server_time: unix_micros_now() })
}

async fn get_stats(
    State(readings): State<Readings>,
    ValidQuery(NoParameters {}): ValidQuery<NoParameters>,
) -> Json<LabStats> {
    Json(readings.stats())
}
