//! The guided lessons: their list, the step panel above the lanes, and the question at the end.

pub mod lesson_answer;
pub mod lesson_panel;
pub mod lessons_page;
