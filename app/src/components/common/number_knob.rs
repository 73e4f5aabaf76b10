use leptos::prelude::*;

/// A labelled number input for one server-side knob. It shows `value` and reports the typed text when the learner
/// commits it (Enter or leaving the field); the caller parses it and says what is wrong.
#[component]
pub fn NumberKnob(
    label: &'static str,
    testid: &'static str,
    min: f64,
    max: f64,
    step: f64,
    #[prop(into)] value: Signal<f64>,
    #[prop(into)] on_commit: Callback<String>,
) -> impl IntoView {
    view! {
        <label>
            {label}
            " "
            <input
                type="number"
                data-testid=testid
                min=min
                max=max
                step=step
                prop:value=move || value.get()
                on:change:target=move |event| on_commit.run(event.target().value())
            />
        </label>
    }
}
