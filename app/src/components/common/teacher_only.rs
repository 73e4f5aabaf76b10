//! The note beside controls that act on the whole class, on a page the teacher did not open.

use leptos::prelude::*;

/// Says, on a student's page, that only the teacher can do `what`, and how a teacher becomes one. Nothing on the
/// teacher's page.
#[component]
pub fn TeacherOnly(teacher: bool, what: &'static str) -> impl IntoView {
    (!teacher).then(|| {
        view! {
            <p class="teacher-only" data-testid="teacher-only">
                {format!("Only the teacher can {what}: open the teacher link the server printed when it started.")}
            </p>
        }
    })
}
