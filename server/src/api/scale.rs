//! `GET /api/scale`: the scale suite's latest report (see [`crate::core::scale_results`]).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use protocol::routes;
use protocol::ScaleReport;

use crate::api::error::ApiError;
use crate::api::extract::{NoParameters, ValidQuery};
use crate::api::state::AppState;
use crate::core::scale_results::ScaleResults;

pub fn router() -> Router<AppState> {
    Router::new().route(routes::SCALE, get(get_scale))
}

async fn get_scale(
    State(results): State<ScaleResults>,
    ValidQuery(NoParameters {}): ValidQuery<NoParameters>,
) -> Result<Json<ScaleReport>, ApiError> {
    Ok(Json(results.latest().await?))
}
