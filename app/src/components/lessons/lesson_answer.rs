//! A lesson's "try this": the task, the question, and the learner's answer checked against the lanes' figures at
//! the moment they answer.

use leptos::prelude::*;

use crate::lesson::{check, paragraphs, Given, Verdict};
use crate::metrics::LaneMetrics;
use protocol::{Answer, LessonSummary, Transport, TryThis};

#[component]
pub fn LessonAnswer(
    try_this: TryThis,
    /// The lesson's lanes and their live figures.
    lanes: Vec<(Transport, ReadSignal<LaneMetrics>)>,
    following: RwSignal<Option<LessonSummary>>,
) -> impl IntoView {
    let verdict = RwSignal::new(None::<Verdict>);
    let answer = try_this.answer.clone();
    let choices: Vec<Transport> = lanes.iter().map(|(lane, _)| *lane).collect();
    let judge = {
        let answer = answer.clone();
        move |given: Given| {
            let figures: Vec<(Transport, LaneMetrics)> =
                lanes.iter().map(|(lane, metrics)| (*lane, metrics.get_untracked())).collect();
            verdict.set(Some(check(&answer, &given, &figures)));
        }
    };
    let typed = RwSignal::new(String::new());
    let controls = match answer {
        Answer::Number { .. } => {
            let judge = judge.clone();
            view! {
                <form
                    class="lesson-number"
                    on:submit=move |event| {
                        event.prevent_default();
                        judge(Given::Number(typed.get_untracked()));
                    }
                >
                    <input
                        type="text"
                        inputmode="decimal"
                        aria-label="your answer"
                        data-testid="lesson-answer-number"
                        prop:value=move || typed.get()
                        on:input:target=move |event| typed.set(event.target().value())
                    />
                    <button type="submit" data-testid="lesson-check">"Check"</button>
                </form>
            }
            .into_any()
        }
        Answer::LaneWithMost { .. } | Answer::LaneWithLeast { .. } => view! {
            <div class="lesson-choices" role="group" aria-label="choose a lane">
                {choices
                    .into_iter()
                    .map(|lane| {
                        let judge = judge.clone();
                        view! {
                            <button
                                type="button"
                                data-testid=format!("lesson-answer-{}", lane.id())
                                on:click=move |_| judge(Given::Lane(lane))
                            >
                                {lane.title()}
                            </button>
                        }
                    })
                    .collect_view()}
            </div>
        }
        .into_any(),
    };
    let explanation = try_this.explanation.clone();
    let outcome = move || {
        verdict.get().map(|verdict| {
            let (class, text) = match verdict {
                Verdict::Right => ("right", "Right.".to_owned()),
                Verdict::Wrong(hint) => ("wrong", hint),
                Verdict::NotYet(hint) => ("not-yet", hint),
            };
            let right = class == "right";
            view! {
                <div class="lesson-verdict" data-testid="lesson-verdict" data-verdict=class aria-live="polite">
                    <p><strong>{text}</strong></p>
                    {right.then(|| view! {
                        <div data-testid="lesson-explanation">
                            {paragraphs(&explanation).into_iter().map(|p| view! { <p>{p}</p> }).collect_view()}
                        </div>
                        {move || following.get().map(|next| view! {
                            <a class="lesson-following" href=format!("/learn/{}", next.id) data-testid="lesson-following">
                                {format!("Next lesson: {} →", next.title)}
                            </a>
                        })}
                    })}
                </div>
            }
        })
    };
    view! {
        <div class="lesson-try" data-testid="lesson-try">
            <h3>"Try this"</h3>
            <div class="lesson-text">
                {paragraphs(&try_this.task).into_iter().map(|p| view! { <p>{p}</p> }).collect_view()}
            </div>
            <p class="lesson-question" data-testid="lesson-question"><strong>{try_this.question}</strong></p>
            {controls}
            {outcome}
        </div>
    }
}
