use leptos::prelude::*;

use crate::client::lesson_list;
use crate::components::common::fetched::fetched;

/// The guided lessons, in order, each opening the live lab with its panel. Fetched from `/api/lessons`, which reads
/// the lesson files on every request.
#[component]
pub fn LessonsPage() -> impl IntoView {
    let lessons = fetched(lesson_list);
    let body = move || match lessons.get() {
        None => view! { <p data-testid="lessons-loading">"Loading the lessons…"</p> }.into_any(),
        Some(Err(error)) => view! { <p class="error" data-testid="lessons-error">{error}</p> }.into_any(),
        Some(Ok(lessons)) => view! {
            <ol class="lesson-list" data-testid="lesson-list">
                {lessons
                    .into_iter()
                    .map(|lesson| view! {
                        <li>
                            <a href=format!("/learn/{}", lesson.id) data-testid=format!("lesson-link-{}", lesson.id)>
                                {lesson.title}
                            </a>
                            " — "
                            {lesson.summary}
                        </li>
                    })
                    .collect_view()}
            </ol>
        }
        .into_any(),
    };
    view! {
        <main class="lessons" data-testid="lessons-page">
            <header class="explainer">
                <h1>"Guided lessons"</h1>
                <p>
                    "Each lesson opens the live lab with only the lanes it needs, says what to watch, highlights the arrows "
                    "it talks about, and ends with a question you answer from the figures on your screen. Everything you see "
                    "is this browser's real traffic with this server: nothing is animated from a script, so your numbers will "
                    "differ from your neighbour's. Step through with Next and Back; pause or slow the diagram with the view "
                    "buttons above the lanes."
                </p>
                <p class="model-note">
                    "Lessons are plain TOML files in the server's " <code>"lessons/"</code>
                    " folder, one per lesson: add or edit one and reload this page."
                </p>
            </header>
            {body}
        </main>
    }
}
