//! `GET /api/lessons` and `GET /api/lessons/{id}`: the guided lessons (see [`crate::core::lessons`]).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use protocol::routes;
use protocol::{Lesson, LessonSummary};

use crate::api::error::ApiError;
use crate::api::extract::{NoParameters, PathId, ValidQuery};
use crate::api::state::AppState;
use crate::core::lessons::LessonFolder;

pub fn router() -> Router<AppState> {
    Router::new().route(routes::LESSONS, get(get_lessons)).route(routes::LESSON_PATTERN, get(get_lesson))
}

async fn get_lessons(
    State(folder): State<LessonFolder>,
    ValidQuery(NoParameters {}): ValidQuery<NoParameters>,
) -> Result<Json<Vec<LessonSummary>>, ApiError> {
    let lessons = folder.all().await?;
    Ok(Json(lessons.iter().map(LessonSummary::from).collect()))
}

async fn get_lesson(
    State(folder): State<LessonFolder>,
    PathId(id): PathId,
    ValidQuery(NoParameters {}): ValidQuery<NoParameters>,
) -> Result<Json<Lesson>, ApiError> {
    Ok(Json(folder.one(id).await?))
}
