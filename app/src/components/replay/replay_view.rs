use std::sync::Arc;

use leptos::html::Div;
use leptos::prelude::*;

use crate::components::context::ControlMarks;
use crate::components::context::HighlightedEvent;
use crate::components::context::Inspection;
use crate::components::diagram::diagram_clock::{use_diagram_clock, utc_offset_minutes};
use crate::components::diagram::inspector::Inspector;
use crate::components::diagram::time_axis::TimeAxis;
use crate::components::export::diagram_toolbar::{DiagramToolbar, ShownDiagram};
use crate::components::export::trace_loader::LoadedTrace;
use crate::components::replay::replay_bar::ReplayBar;
use crate::components::replay::replay_lane::ReplayLane;
use crate::diagram::replay::{arrived_by, ReplayClock};
use crate::diagram::{DiagramLayout, Millis, TraceLog};
use protocol::Transport;

/// A saved trace replayed on its own clock, in place of the live lanes, under a banner saying it is not live.
#[component]
pub fn ReplayView(loaded: LoadedTrace, on_load: Callback<LoadedTrace>, on_exit: Callback<()>) -> impl IntoView {
    // Its own highlight and inspector: a replayed arrow and a live one may share an id.
    provide_context(HighlightedEvent::default());
    provide_context(Inspection(RwSignal::new(None)));
    let LoadedTrace { file_name, trace } = loaded;
    let clock = RwSignal::new(ReplayClock::new(&trace));
    use_replay_ticks(clock);
    let position = Memo::new(move |_| clock.with(|clock| clock.position));
    let layout = RwSignal::new(DiagramLayout::new(trace.origin));
    Effect::new(move |_| layout.update(|layout| layout.utc_offset_minutes = utc_offset_minutes()));
    if let Some(control_marks) = use_context::<ControlMarks>() {
        control_marks.follow(layout);
    }
    let summary = Memo::new({
        let trace = trace.clone();
        move |_| layout.with(|layout| trace.summary(layout))
    });
    let lanes: Vec<(Transport, bool, Signal<TraceLog>)> = trace
        .replayed_lanes()
        .map(|lane| (lane.transport, lane.enabled, Signal::stored(TraceLog::from_records(lane.records.clone()))))
        .collect();
    let traces: Vec<(Transport, Signal<TraceLog>)> =
        lanes.iter().map(|(transport, _, trace)| (*transport, *trace)).collect();
    let container = NodeRef::<Div>::new();
    let saved_capture = trace.capture().map(Arc::new);
    let shown = ShownDiagram {
        session: Callback::new({
            let trace = trace.clone();
            move |()| trace.lanes.iter().map(|lane| (lane.transport, lane.records.clone())).collect()
        }),
        records: Callback::new({
            let traces = traces.clone();
            move |()| {
                let position = position.get_untracked();
                let now = DiagramLayout::placement_time(position);
                layout.with_untracked(|layout| {
                    let in_view = |trace: &TraceLog| {
                        arrived_by(trace.records(), position)
                            .filter(|record| layout.is_visible(record, now))
                            .cloned()
                            .collect()
                    };
                    traces.iter().map(|(transport, trace)| (*transport, trace.with_untracked(in_view))).collect()
                })
            }
        }),
        caption: Callback::new({
            let file_name = file_name.clone();
            move |()| {
                let window = layout.with_untracked(|layout| layout.window_text(position.get_untracked()));
                format!("Transport Lab · replay of {file_name}, not live · {window}")
            }
        }),
        container,
    };
    view! {
        <section class="replay" data-testid="replay" aria-label="replay of a saved trace">
            <ReplayBar file_name summary clock on_exit />
            {match saved_capture {
                Some(saved_capture) => view! { <DiagramToolbar shown on_load saved_capture /> }.into_any(),
                None => view! { <DiagramToolbar shown on_load /> }.into_any(),
            }}
            <div class="lanes" data-testid="replay-lanes" node_ref=container>
                <TimeAxis layout=layout.read_only() clock=position />
                {lanes
                    .into_iter()
                    .map(|(transport, enabled, trace)| view! {
                        <ReplayLane transport enabled trace layout=layout.read_only() position />
                    })
                    .collect_view()}
            </div>
            <Inspector lanes=traces />
        </section>
    }
}

/// Moves the replay on once per animation frame by the wall-clock time since the last one.
fn use_replay_ticks(clock: RwSignal<ReplayClock>) {
    let wall = use_diagram_clock(Signal::stored(false));
    let last = StoredValue::new(None::<Millis>);
    Effect::new(move |_| {
        let now = wall.get();
        // 0 until the first frame.
        if now == 0.0 {
            return;
        }
        if let Some(last) = last.get_value() {
            clock.maybe_update(|clock| clock.advance(now - last));
        }
        last.set_value(Some(now));
    });
}
