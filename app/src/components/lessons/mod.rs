//! The guided lessons: their list, the step panel above the lanes, and the question at the end.

pub mod lesson_answer;
pub mod lesson_panel;
pub mod lessons_page;

use leptos::prelude::*;

use crate::components::common::lazily::ViewMaker;
use lesson_panel::{LessonPanel, LessonPanelProps};

/// The list, in its own wasm chunk: only /learn fetches it.
#[lazy]
pub fn lessons_page_code() -> ViewMaker<()> {
    |()| view! { <lessons_page::LessonsPage /> }.into_any()
}

/// The step panel, in its own wasm chunk: only a lesson's page (/learn/<id>) fetches it.
#[lazy]
pub fn lesson_panel_code() -> ViewMaker<LessonPanelProps> {
    |props| LessonPanel(props).into_any()
}
