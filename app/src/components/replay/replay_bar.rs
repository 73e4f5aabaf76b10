use leptos::prelude::*;

use crate::diagram::replay::{ReplayClock, ReplaySpeed};

/// The banner that says a replay is not live, and its controls: speed, pause and resume, play again, back to live.
#[component]
pub fn ReplayBar(
    file_name: String,
    #[prop(into)] summary: Signal<String>,
    clock: RwSignal<ReplayClock>,
    on_exit: Callback<()>,
) -> impl IntoView {
    let state = move || {
        clock.with(|clock| {
            let (played, total) = clock.progress_seconds();
            let doing = if clock.finished() {
                "finished: this is the view that was exported".to_owned()
            } else if clock.paused {
                "paused".to_owned()
            } else {
                format!("playing at {}", clock.speed.label())
            };
            format!("{played:.1} s of {total:.1} s · {doing}")
        })
    };
    let pause_label = move || {
        clock.with(|clock| match (clock.finished(), clock.paused) {
            (true, _) => "Play again",
            (false, true) => "Resume",
            (false, false) => "Pause",
        })
    };
    view! {
        <div class="replay-bar">
            <p class="replay-banner" role="status" data-testid="replay-banner">
                "Replaying " <strong>{file_name}</strong> " — not live. "
                <span class="replay-summary" data-testid="replay-summary">{move || summary.get()}</span>
            </p>
            <div class="replay-controls">
                <label>
                    "speed "
                    <select
                        data-testid="replay-speed"
                        on:change:target=move |event| {
                            if let Some(speed) = ReplaySpeed::from_id(&event.target().value()) {
                                clock.update(|clock| clock.set_speed(speed));
                            }
                        }
                    >
                        {ReplaySpeed::ALL
                            .into_iter()
                            .map(|speed| view! {
                                <option value=speed.id() selected=move || clock.with(|clock| clock.speed == speed)>
                                    {speed.label()}
                                </option>
                            })
                            .collect_view()}
                    </select>
                </label>
                <button type="button" data-testid="replay-pause" on:click=move |_| clock.update(ReplayClock::toggle_pause)>
                    {pause_label}
                </button>
                <button type="button" data-testid="replay-restart" on:click=move |_| clock.update(ReplayClock::restart)>
                    "From the start"
                </button>
                <output data-testid="replay-position">{state}</output>
                <button type="button" class="back-to-live" data-testid="replay-exit" on:click=move |_| on_exit.run(())>
                    "Back to live"
                </button>
            </div>
        </div>
    }
}
