//! The guided lessons: one TOML file each in the lessons folder, read on every request (a few KB) so a teacher's
//! new or edited lesson shows on the next page load.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use protocol::{is_lesson_id, Lesson};

use crate::core::refusal::Refusal;

/// The folder of lesson files (`--lessons`).
#[derive(Clone, Debug)]
pub struct LessonFolder(Arc<PathBuf>);

impl LessonFolder {
    pub fn new(folder: PathBuf) -> Self {
        Self(Arc::new(folder))
    }

    /// Every lesson, in lesson order (see [`read_all`]).
    pub async fn all(&self) -> Result<Vec<Lesson>, Refusal> {
        read_all(&self.0).await
    }

    /// The lesson `id`. The id is checked first, so it can only ever name a file inside the folder.
    pub async fn one(&self, id: String) -> Result<Lesson, Refusal> {
        if !is_lesson_id(&id) {
            return Err(Refusal::InvalidParameter {
                parameter: "id",
                message: "lowercase letters, digits and dashes only".into(),
            });
        }
        let path = self.0.join(format!("{id}.toml"));
        match tokio::fs::read_to_string(&path).await {
            Ok(text) => parse(&path, &text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Err(Refusal::NoSuchLesson { id }),
            Err(error) => Err(unusable(&path, error.to_string())),
        }
    }
}

/// Every lesson in `folder`, in lesson order. One broken file makes the whole list an error that names it, rather
/// than a list that silently lacks a lesson.
pub async fn read_all(folder: &Path) -> Result<Vec<Lesson>, Refusal> {
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
pub fn parse(path: &Path, text: &str) -> Result<Lesson, Refusal> {
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

fn unusable(path: &Path, reason: String) -> Refusal {
    Refusal::LessonUnusable { path: path.display().to_string(), reason }
}
