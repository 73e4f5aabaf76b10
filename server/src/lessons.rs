//! `GET /api/lessons` and `GET /api/lessons/{id}`: the guided lessons, one TOML file each in the lessons folder,
//! read on every request (a few KB) so a teacher's new or edited lesson shows on the next page load.

use std::path::{Path, PathBuf};

use axum::extract::{Path as UrlPath, State};
use axum::routing::get;
use axum::{Json, Router};
use protocol::{is_lesson_id, Lesson, LessonSummary};

use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/lessons", get(list)).route("/api/lessons/{id}", get(one))
}

async fn list(State(state): State<AppState>) -> Result<Json<Vec<LessonSummary>>, ApiError> {
    let lessons = read_all(&state.lessons).await?;
    Ok(Json(lessons.iter().map(LessonSummary::from).collect()))
}

async fn one(State(state): State<AppState>, UrlPath(id): UrlPath<String>) -> Result<Json<Lesson>, ApiError> {
    if !is_lesson_id(&id) {
        return Err(ApiError::invalid_parameter("id", "lowercase letters, digits and dashes only"));
    }
    let path = state.lessons.join(format!("{id}.toml"));
    match tokio::fs::read_to_string(&path).await {
        Ok(text) => parse(&path, &text).map(Json),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Err(ApiError::NoSuchLesson { id }),
        Err(error) => Err(unusable(&path, error.to_string())),
    }
}

/// Every lesson in `folder`, in lesson order. One broken file makes the whole list an error that names it, rather
/// than a list that silently lacks a lesson.
pub async fn read_all(folder: &Path) -> Result<Vec<Lesson>, ApiError> {
    let mut entries = tokio::fs::read_dir(folder)
        .await
        .map_err(|error| unusable(folder, format!("cannot list the folder: {error}")))?;
    let mut lessons = Vec::new();
    while let Some(entry) = entries.next_entry().await.map_err(|error| unusable(folder, error.to_string()))? {
        let path: PathBuf = entry.path();
        if path.extension().is_none_or(|extension| extension != "toml") {
            continue;
        }
        let text = tokio::fs::read_to_string(&path).await.map_err(|error| unusable(&path, error.to_string()))?;
        lessons.push(parse(&path, &text)?);
    }
    lessons.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.id.cmp(&b.id)));
    Ok(lessons)
}

/// A lesson file, parsed and checked: its shape by serde (unknown fields refused, so a typo is an error, not an
/// ignored line), its content by [`Lesson::problems`], and its `id` against its file name.
pub fn parse(path: &Path, text: &str) -> Result<Lesson, ApiError> {
    let lesson: Lesson = toml::from_str(text).map_err(|error| unusable(path, error.to_string()))?;
    let mut problems = lesson.problems();
    let stem = path.file_stem().and_then(|stem| stem.to_str()).unwrap_or_default();
    if lesson.id != stem {
        problems.push(format!("id `{}` differs from the file name `{stem}.toml`", lesson.id));
    }
    if problems.is_empty() {
        Ok(lesson)
    } else {
        Err(unusable(path, problems.join("; ")))
    }
}

fn unusable(path: &Path, reason: String) -> ApiError {
    ApiError::LessonUnusable { path: path.display().to_string(), reason }
}
