//! `GET /api/scale`: the scale suite's latest report, read from disk on every request (a few KB), so rerunning
//! `./lab bench` updates the Scale page without restarting the lab.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use protocol::ScaleReport;

use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/scale", get(latest_report))
}

async fn latest_report(State(state): State<AppState>) -> Result<Json<ScaleReport>, ApiError> {
    let path = state.scale_results.display().to_string();
    let text = match tokio::fs::read(state.scale_results.as_ref()).await {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Err(ApiError::NoScaleResults { path }),
        Err(error) => return Err(ApiError::ScaleResultsUnreadable { path, reason: error.to_string() }),
    };
    // Parsed rather than passed through, so the page never receives a report it cannot draw.
    serde_json::from_slice(&text)
        .map(Json)
        .map_err(|error| ApiError::ScaleResultsUnreadable { path, reason: error.to_string() })
}
