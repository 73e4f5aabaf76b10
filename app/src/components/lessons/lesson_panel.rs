//! A guided lesson above the live lanes: it switches on the lanes it needs, walks through its steps (each saying
//! what to watch, dimming the arrows it does not talk about and outlining the controls it names) and ends with a
//! question answered from the lanes' own figures.

use leptos::prelude::*;

use crate::components::context::LessonFocus;
use crate::components::diagram::fitted_height::bounds;
use leptos::task::spawn_local;

use crate::client::{lesson, lesson_list, LaneHandle};
use crate::components::context::{KnobsDrawer, LaneToggles, ShownLanes};
use crate::components::lessons::lesson_answer::LessonAnswer;
use crate::lesson::paragraphs;
use protocol::{Answer, Lesson, LessonStep, LessonSummary, PerTransport, Reference, ScreenTarget, Transport};

/// Which step of the lesson is shown, shared with the keyboard shortcuts (`n`, `b`). `last` is the question's
/// step, 0 until a lesson is loaded (and on the lab without one), so the keys do nothing there.
#[derive(Clone, Copy)]
pub struct LessonNavigation {
    pub step: RwSignal<usize>,
    pub last: RwSignal<usize>,
}

impl Default for LessonNavigation {
    fn default() -> Self {
        Self { step: RwSignal::new(0), last: RwSignal::new(0) }
    }
}

impl LessonNavigation {
    pub fn next(&self) {
        let last = self.last.get_untracked();
        self.step.update(|step| *step = (*step + 1).min(last));
    }

    pub fn back(&self) {
        self.step.update(|step| *step = step.saturating_sub(1));
    }
}

/// The attribute that outlines a control or figure a step names (see `style/main.css`).
const POINTER_ATTRIBUTE: &str = "data-lesson-pointer";

#[component]
pub fn LessonPanel(
    toggles: LaneToggles,
    shown: ShownLanes,
    poll_interval_ms: RwSignal<u32>,
    lanes: Vec<LaneHandle>,
    navigation: LessonNavigation,
) -> impl IntoView {
    let focus = expect_context::<LessonFocus>();
    let knobs = use_context::<KnobsDrawer>();
    let loaded = RwSignal::new(None::<Result<Lesson, String>>);
    let following = RwSignal::new(None::<LessonSummary>);
    let step = navigation.step;
    let drawer_opened_by_lesson = StoredValue::new(false);
    Effect::new(move |_| {
        let Some(id) = id_from_address() else {
            loaded.set(Some(Err("This address names no lesson; the lessons are listed at /learn.".into())));
            return;
        };
        spawn_local(async move {
            let result = lesson(&id).await.map_err(|error| error.to_string());
            if let Ok(lesson) = &result {
                let in_lesson = PerTransport::from_fn(|transport| lesson.setup.lanes.contains(&transport));
                shown.set_states(in_lesson);
                toggles.set_states(in_lesson);
                navigation.last.set(lesson.steps.len());
                if let Some(interval) = lesson.setup.poll_interval_ms {
                    poll_interval_ms.set(interval);
                }
            }
            loaded.set(Some(result));
            if let Ok(list) = lesson_list().await {
                let next = list.iter().skip_while(|summary| summary.id != id).nth(1).cloned();
                following.set(next);
            }
        });
    });
    // What the current step highlights and outlines, kept in step with the page.
    Effect::new(move |_| {
        let index = step.get();
        loaded.with(|loaded| {
            let Some(Ok(lesson)) = loaded else { return };
            let (highlight, targets) = match lesson.steps.get(index) {
                Some(step) => (step.highlight.clone(), step.point_at.clone()),
                None => (None, answer_targets(lesson)),
            };
            let lanes_in_view =
                highlight.as_ref().and_then(|highlight| highlight.lanes.first()).or(lesson.setup.lanes.first());
            let diagram = lanes_in_view.map(|lane| ScreenTarget { testid: "diagram".into(), lane: Some(*lane) });
            focus.0.set(highlight);
            // A control the step names may wait in the closed knobs drawer: open it, so the outline is seen. A
            // later step that needs nothing in it closes it again, if the lesson was what opened it: the drawer
            // narrows the lanes the step is about.
            let in_drawer = outline(&targets);
            if let Some(knobs) = knobs {
                if in_drawer && !knobs.0.get_untracked() {
                    knobs.0.set(true);
                    drawer_opened_by_lesson.set_value(true);
                } else if !in_drawer && drawer_opened_by_lesson.get_value() {
                    knobs.0.set(false);
                    drawer_opened_by_lesson.set_value(false);
                }
            }
            // Bring what the step is about on screen: the first thing it points at, else the diagram it highlights.
            if let Some(target) = targets.first().or(diagram.as_ref()) {
                bring_into_view(target);
            }
        });
    });
    on_cleanup(move || {
        outline(&[]);
    });

    let body = move || match loaded.get() {
        None => view! { <p data-testid="lesson-loading">"Loading the lesson…"</p> }.into_any(),
        Some(Err(error)) => view! { <p class="error" data-testid="lesson-error">{error}</p> }.into_any(),
        Some(Ok(lesson)) => view! { <LessonSteps lesson navigation following lanes=lanes.clone() /> }.into_any(),
    };
    view! {
        <section class="lesson" data-testid="lesson" aria-label="lesson">
            {body}
        </section>
    }
}

#[component]
fn LessonSteps(
    lesson: Lesson,
    navigation: LessonNavigation,
    following: RwSignal<Option<LessonSummary>>,
    lanes: Vec<LaneHandle>,
) -> impl IntoView {
    let total = lesson.steps.len() + 1;
    let step = navigation.step;
    let steps = StoredValue::new(lesson.steps.clone());
    let at_question = move || step.get() >= total - 1;
    let lesson_lanes = lesson.setup.lanes.clone();
    let figures: Vec<_> = lanes
        .iter()
        .filter(|handle| lesson_lanes.contains(&handle.transport))
        .map(|handle| (handle.transport, handle.metrics))
        .collect();
    let try_this = lesson.try_this.clone();
    let references = lesson.references.clone();
    let current = move || {
        let index = step.get();
        match steps.with_value(|steps| steps.get(index).cloned()) {
            Some(shown) => view! { <StepText step=shown /> }.into_any(),
            None => view! {
                <LessonAnswer try_this=try_this.clone() lanes=figures.clone() following />
            }
            .into_any(),
        }
    };
    let progress = move || {
        let index = step.get();
        let title = steps.with_value(|steps| steps.get(index).map(|step| step.title.clone()));
        format!("Step {} of {total}: {}", index + 1, title.unwrap_or_else(|| "Try this".into()))
    };
    view! {
        <header class="lesson-head">
            <span class="lesson-number">{format!("Lesson {}", lesson.order)}</span>
            <h2 data-testid="lesson-title">{lesson.title}</h2>
            <a href="/learn" data-testid="lesson-all">"All lessons"</a>
        </header>
        <p class="lesson-progress" data-testid="lesson-step" aria-live="polite">{progress}</p>
        <div class="lesson-body">{current}</div>
        <nav class="lesson-nav" aria-label="lesson steps">
            <button
                type="button"
                data-testid="lesson-back"
                disabled=move || step.get() == 0
                aria-keyshortcuts="b"
                on:click=move |_| navigation.back()
            >
                "← Back"
            </button>
            <button
                type="button"
                data-testid="lesson-next"
                disabled=at_question
                aria-keyshortcuts="n"
                on:click=move |_| navigation.next()
            >
                "Next →"
            </button>
            {(!references.is_empty()).then(|| view! {
                <details class="lesson-references">
                    <summary>"Sources"</summary>
                    <ul>
                        {references
                            .into_iter()
                            .map(|reference| view! { <li><Source reference /></li> })
                            .collect_view()}
                    </ul>
                </details>
            })}
        </nav>
    }
}

/// A source: a link when it is a web address or one of the lab's pages, else the name of a file in the lab's
/// repository (which the server does not serve).
#[component]
fn Source(reference: Reference) -> impl IntoView {
    let linkable = reference.url.starts_with("http") || reference.url.starts_with('/');
    if linkable {
        view! { <a href=reference.url>{reference.title}</a> }.into_any()
    } else {
        view! { <span>{reference.title} " (" <code>{reference.url}</code> ")"</span> }.into_any()
    }
}

#[component]
fn StepText(step: LessonStep) -> impl IntoView {
    view! {
        <div class="lesson-text" data-testid="lesson-text">
            {paragraphs(&step.text).into_iter().map(|paragraph| view! { <p>{paragraph}</p> }).collect_view()}
        </div>
        <p class="lesson-watch" data-testid="lesson-watch">
            <strong>"Watch: "</strong>
            {step.watch}
        </p>
    }
}

/// Where the question's answer is read and the controls its task uses, so the learner finds both.
fn answer_targets(lesson: &Lesson) -> Vec<ScreenTarget> {
    let metric = lesson.try_this.answer.metric().testid().to_owned();
    let lanes: Vec<Transport> = match lesson.try_this.answer {
        Answer::Number { lane, .. } => vec![lane],
        Answer::LaneWithMost { .. } | Answer::LaneWithLeast { .. } => lesson.setup.lanes.clone(),
    };
    let figures = lanes.into_iter().map(|lane| ScreenTarget { testid: metric.clone(), lane: Some(lane) });
    lesson.try_this.controls.iter().cloned().chain(figures).collect()
}

/// Scrolls so `target`'s bottom edge is at the bottom of the window (a diagram's newest arrows and a lane's figures
/// sit at the bottom of what they are part of), unless it already starts in the upper half of the window: the
/// diagrams fill the window from there, and scrolling would only push their top away.
fn bring_into_view(target: &ScreenTarget) {
    let Some(element) = elements(&target.selector()).into_iter().next() else { return };
    let window_height =
        web_sys::window().and_then(|window| window.inner_height().ok()).and_then(|height| height.as_f64());
    let starts_high = match (bounds(&element), window_height) {
        (Some((top, _)), Some(height)) => (0.0..height / 2.0).contains(&top),
        _ => false,
    };
    if !starts_high {
        element.scroll_into_view_with_bool(false);
    }
}

/// The lesson's id, from `/learn/<id>`. Browser only.
fn id_from_address() -> Option<String> {
    let path = web_sys::window()?.location().pathname().ok()?;
    let id = path.strip_prefix("/learn/")?.trim_end_matches('/');
    protocol::is_lesson_id(id).then(|| id.to_owned())
}

/// Outlines exactly `targets` (and nothing a previous step outlined), and says whether any of them is in the knobs
/// drawer. Browser only; quietly does nothing when an element is missing, e.g. a control another part of the page
/// has not drawn yet.
fn outline(targets: &[ScreenTarget]) -> bool {
    // Cleanup also runs when the server disposes of its render, where there is no DOM.
    if !cfg!(target_arch = "wasm32") {
        return false;
    }
    for element in elements(&format!("[{POINTER_ATTRIBUTE}]")) {
        let _ = element.remove_attribute(POINTER_ATTRIBUTE);
    }
    let mut in_drawer = false;
    for element in targets.iter().flat_map(|target| elements(&target.selector())) {
        let _ = element.set_attribute(POINTER_ATTRIBUTE, "");
        // A figure under a lane's folded "more figures" is unfolded to be seen.
        if let Ok(Some(folded)) = element.closest("details:not([open])") {
            let _ = folded.set_attribute("open", "");
        }
        in_drawer |= element.closest("#knobs-drawer").ok().flatten().is_some();
    }
    in_drawer
}

/// The page's elements matching `selector` (none for a selector the browser refuses). Browser only.
fn elements(selector: &str) -> Vec<web_sys::Element> {
    let Some(found) = web_sys::window()
        .and_then(|window| window.document())
        .and_then(|document| document.query_selector_all(selector).ok())
    else {
        return Vec::new();
    };
    (0..found.length())
        .filter_map(|index| found.item(index))
        .filter_map(|node| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(node).ok())
        .collect()
}
