//! Pause, step, slow motion and live for the lab's diagrams. Only the view changes: the lanes keep receiving and
//! recording traffic whatever the view shows.

use leptos::prelude::*;

use crate::diagram::view_clock::{arrivals_after, next_arrival, ViewMode, MAX_SLOW_MOTION_LAG_MS};
use crate::diagram::{DiagramLayout, Millis, TraceLog};
use protocol::Transport;

/// The view's mode and what a step last showed, over the lanes it steps through.
#[derive(Clone)]
pub struct ViewControl {
    pub mode: RwSignal<ViewMode>,
    /// The arrival the last step went to, in words.
    pub stepped_to: RwSignal<Option<String>>,
    lanes: Vec<(Transport, ReadSignal<TraceLog>)>,
}

impl ViewControl {
    pub fn new(lanes: Vec<(Transport, ReadSignal<TraceLog>)>) -> Self {
        Self { mode: RwSignal::new(ViewMode::Live), stepped_to: RwSignal::new(None), lanes }
    }

    pub fn toggle_pause(&self) {
        self.change(|mode, now| mode.toggle_pause(now));
    }

    pub fn slow_motion(&self) {
        self.change(|mode, now| mode.slow(now));
    }

    pub fn live(&self) {
        self.change(|_, _| ViewMode::Live);
    }

    /// Pauses at the next thing that arrived in any lane after the instant shown.
    pub fn step(&self) {
        let mut found = None;
        let next = self.mode.get_untracked().step(crate::client::now(), |after| {
            found = self.next_arrival(after);
            found.as_ref().map(|(at, _)| *at)
        });
        self.mode.set(next);
        self.stepped_to.set(Some(found.map_or_else(|| "nothing newer has arrived yet".to_owned(), |(_, what)| what)));
    }

    fn change(&self, to: impl FnOnce(ViewMode, Millis) -> ViewMode) {
        self.mode.set(to(self.mode.get_untracked(), crate::client::now()));
        self.stepped_to.set(None);
    }

    fn next_arrival(&self, after: Millis) -> Option<(Millis, String)> {
        self.lanes
            .iter()
            .filter_map(|(transport, trace)| {
                trace.with_untracked(|log| {
                    next_arrival(log.records(), after)
                        .map(|record| (record.arrived_at, format!("{}: {}", transport.title(), record.label)))
                })
            })
            .min_by(|a, b| a.0.total_cmp(&b.0))
    }

    /// Records that arrived after `at` in all lanes together.
    fn arrivals_after(&self, at: Millis) -> usize {
        self.lanes.iter().map(|(_, trace)| trace.with(|log| arrivals_after(log.records(), at))).sum()
    }
}

/// The view's buttons and the sentence saying what the view shows (`view-state`).
#[component]
pub fn ViewBar(
    control: ViewControl,
    /// The pointer is over a diagram, which holds the view still.
    held: RwSignal<bool>,
    clock: ReadSignal<Millis>,
    layout: ReadSignal<DiagramLayout>,
    help_open: RwSignal<bool>,
) -> impl IntoView {
    let mode = control.mode;
    let stepped_to = control.stepped_to;
    let is = move |id: &str| mode.with(|mode| mode.id() == id);
    let lag_seconds = Memo::new(move |_| (mode.get().lag_at(clock.get()) / 1000.0).round());
    let counter = control.clone();
    let state = move || match mode.get() {
        ViewMode::Paused { at, .. } => {
            let waiting = counter.arrivals_after(at);
            let step = stepped_to.get().map(|what| format!(" Stepped to {what}.")).unwrap_or_default();
            format!(
                "Paused at {}: traffic is still recorded ({waiting} arrivals not shown yet).{step} \
                 Step (.) walks through them; Live (l) catches up.",
                layout.with(|layout| layout.wall_clock_text(at)),
            )
        }
        _ if held.get() => "Held while you point at a diagram; still recording.".to_owned(),
        ViewMode::Slow { .. } => {
            let lag = lag_seconds.get();
            let limit = if lag >= MAX_SLOW_MOTION_LAG_MS / 1000.0 { " (as far behind as it goes)" } else { "" };
            format!("Slow motion — ¼ speed, {lag} s behind live{limit}. Live (l) catches up.")
        }
        ViewMode::Live => "Live. Point at a diagram to hold it still.".to_owned(),
    };
    let toggle = control.clone();
    let step = control.clone();
    let slow = control.clone();
    view! {
        <div class="view-bar" role="group" aria-label="view of the diagrams">
            <button
                type="button"
                data-testid="view-pause"
                aria-pressed=move || is("paused").to_string()
                title="Freeze the diagrams; traffic keeps being recorded (p or Space)"
                on:click=move |_| toggle.toggle_pause()
            >
                {move || if is("paused") { "Resume" } else { "Pause" }}
            </button>
            <button
                type="button"
                data-testid="view-step"
                title="Show the next arrival in any lane (. or →)"
                on:click=move |_| step.step()
            >
                "Step"
            </button>
            <button
                type="button"
                data-testid="view-slow"
                aria-pressed=move || is("slow").to_string()
                title="Run the view at a quarter of real speed (s)"
                on:click=move |_| slow.slow_motion()
            >
                "Slow ¼×"
            </button>
            <button
                type="button"
                data-testid="view-live"
                aria-pressed=move || is("live").to_string()
                title="Back to now (l)"
                on:click=move |_| control.live()
            >
                "Live"
            </button>
            <p
                class="view-state"
                data-testid="view-state"
                data-mode=move || mode.with(|mode| mode.id())
                class:held=move || held.get()
                class:paused=move || is("paused")
                class:slow=move || is("slow")
            >
                {state}
            </p>
            <button
                type="button"
                class="shortcuts-button"
                data-testid="shortcuts-open"
                aria-expanded=move || help_open.get().to_string()
                title="Keyboard shortcuts (?)"
                aria-label="keyboard shortcuts"
                on:click=move |_| help_open.update(|open| *open = !*open)
            >
                "?"
            </button>
        </div>
    }
}
