use leptos::prelude::*;

use crate::components::diagram::sequence_diagram::SequenceDiagram;
use crate::diagram::replay::arrived_by;
use crate::diagram::{DiagramLayout, Millis, RecordKind, TraceLog};
use protocol::Transport;

/// One lane of a replay: the recorded records appear when they arrived, on the replay's clock.
#[component]
pub fn ReplayLane(
    transport: Transport,
    /// Whether the lane was on when the trace was exported.
    enabled: bool,
    trace: Signal<TraceLog>,
    layout: ReadSignal<DiagramLayout>,
    position: Memo<Millis>,
) -> impl IntoView {
    // Placement is redone when another record arrives or a second passes, not on every frame.
    let arrived = Memo::new(move |_| {
        let position = position.get();
        trace.with(|trace| arrived_by(trace.records(), position).count())
    });
    let now = Memo::new(move |_| DiagramLayout::placement_time(position.get()));
    let placed = Memo::new(move |_| {
        arrived.track();
        let position = position.get_untracked();
        layout.with(|layout| trace.with(|trace| layout.place_visible(arrived_by(trace.records(), position), now.get())))
    });
    let count = move |matches: fn(&RecordKind) -> bool| {
        move || {
            arrived.track();
            let position = position.get_untracked();
            trace.with(|trace| arrived_by(trace.records(), position).filter(|record| matches(&record.kind)).count())
        }
    };
    view! {
        <section
            class="lane replay-lane"
            data-lane=transport.id()
            data-testid=format!("replay-lane-{}", transport.id())
            aria-label=transport.title()
        >
            <header class="lane-header">
                <h2>{transport.title()}</h2>
                <span class="status" data-testid="lane-status">
                    {if enabled { "replay" } else { "replay · this lane was off at export" }}
                </span>
                <p class="summary">{transport.summary()}</p>
            </header>
            <SequenceDiagram transport placed layout clock=position />
            <dl class="lane-metrics">
                <dt>"events"</dt>
                <dd data-testid="replay-events">{count(|kind| matches!(kind, RecordKind::Event { .. }))}</dd>
                <dt>"requests"</dt>
                <dd data-testid="replay-requests">{count(|kind| matches!(kind, RecordKind::Request))}</dd>
                <dt>"responses"</dt>
                <dd data-testid="replay-responses">{count(|kind| matches!(kind, RecordKind::Response { .. }))}</dd>
                <dt title="errors, closes, reconnect waits, lost history">"notes and gaps"</dt>
                <dd data-testid="replay-notes">
                    {count(|kind| matches!(kind, RecordKind::Note { .. } | RecordKind::Gap { .. }))}
                </dd>
            </dl>
        </section>
    }
}
