use leptos::prelude::*;

use crate::components::context::HighlightedEvent;
use crate::components::context::Inspection;
use crate::components::context::LessonFocus;
use crate::components::diagram::time_axis::visible_ticks;
use crate::diagram::describe::{note_marker, InView};
use crate::diagram::{DiagramLayout, Millis, PlacedRecord, Shape, TraceLog};
use protocol::Transport;

/// What a live lane draws: its records in view, recomputed when the trace changes or once a second as records
/// scroll out, never every frame.
pub fn live_placement(
    trace: ReadSignal<TraceLog>,
    layout: ReadSignal<DiagramLayout>,
    clock: ReadSignal<Millis>,
) -> Signal<Vec<PlacedRecord>> {
    let now = Memo::new(move |_| DiagramLayout::placement_time(clock.get()));
    Signal::derive(move || layout.with(|layout| trace.with(|trace| layout.place_visible(trace.records(), now.get()))))
}

/// One lane's sequence diagram, live or replayed: Browser and Server lifelines, time flowing down, `clock` at the
/// bottom edge.
#[component]
pub fn SequenceDiagram(
    transport: Transport,
    #[prop(into)] placed: Signal<Vec<PlacedRecord>>,
    layout: ReadSignal<DiagramLayout>,
    #[prop(into)] clock: Signal<Millis>,
) -> impl IntoView {
    let ticks = visible_ticks(layout, clock);
    let geometry = layout.get_untracked();
    // The height follows the window (see `fitted_height`); the width and the lifelines' places are fixed.
    let height = move || layout.with(|layout| layout.height);
    let scroll = move || format!("translate(0 {:.2})", -layout.with(|layout| layout.scroll_offset(clock.get())));
    let title = format!("{} sequence diagram", transport.title());
    let name = title.clone();
    let second = Memo::new(move |_| (clock.get() / 1000.0).floor() * 1000.0);
    let description = move || {
        let in_view = layout.with(|layout| placed.with(|placed| InView::count(layout, placed, second.get())));
        format!(
            "Time flows down; the {}'s lifeline is on the left, the {}'s on the right. {}",
            transport.lifelines().0.to_lowercase(),
            transport.lifelines().1.to_lowercase(),
            in_view.sentence()
        )
    };
    view! {
        <svg
            class="sequence-diagram"
            data-testid="diagram"
            viewBox=move || format!("0 0 {} {}", geometry.width, height())
            width=geometry.width
            height=height
            role="img"
            aria-label=name
        >
            <title>{title}</title>
            <desc data-testid="diagram-desc">{description}</desc>
            <defs>
                // Sized in the drawing's units: sized by stroke width, a highlighted arrow's head grew to 20 px.
                <marker id=format!("head-{}", transport.id()) class="arrowhead" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="8" markerHeight="8" orient="auto-start-reverse">
                    <path d="M 0 0 L 10 5 L 0 10 z" />
                </marker>
            </defs>
            <g class="lifelines">
                <line x1=geometry.browser_x y1="0" x2=geometry.browser_x y2=height />
                <line x1=geometry.server_x y1="0" x2=geometry.server_x y2=height />
            </g>
            <g transform=scroll>
                <g class="grid">
                    <For each=move || ticks.get() key=|tick| tick.y.to_bits() let:tick>
                        <line class:major=tick.label.is_some() x1="0" y1=tick.y x2=geometry.width y2=tick.y />
                    </For>
                </g>
                <For each=move || placed.get() key=|record| (record.id, record.measured) let:record>
                    <Record record transport marker=format!("url(#head-{})", transport.id()) width=geometry.width />
                </For>
            </g>
            <g class="lifeline-names">
                <rect x="0" y="0" width=geometry.width height="16" />
                <text x=geometry.browser_x y="12" text-anchor="middle">{transport.lifelines().0}</text>
                <text x=geometry.server_x y="12" text-anchor="middle">{transport.lifelines().1}</text>
            </g>
        </svg>
    }
}

#[component]
fn Record(record: PlacedRecord, transport: Transport, marker: String, width: f64) -> impl IntoView {
    let highlight = expect_context::<HighlightedEvent>();
    let lesson_focus = use_context::<LessonFocus>();
    let inspection = expect_context::<Inspection>();
    let id = record.id;
    let seq = record.seq;
    let strokes = record.shape.strokes(width);
    let (x1, y1, x2, y2) = strokes.line;
    view! {
        <g
            class=format!("record {} to-{}", record.class, record.direction)
            class:highlighted=move || seq.is_some_and(|seq| highlight.is(seq))
            class:lesson-focus=move || lesson_focus.is_some_and(|focus| focus.covers(transport, record.class))
            data-testid="record"
            data-kind=record.class
            data-seq=seq
            on:mouseenter=move |_| highlight.hovered.set(seq)
            on:mouseleave=move |_| highlight.hovered.set(None)
            on:click=move |_| {
                inspection.0.set(Some((transport, id)));
                if seq.is_some() {
                    highlight.pinned.update(|pinned| *pinned = if *pinned == seq { None } else { seq });
                }
            }
        >
            <title>{record.title}</title>
            {strokes.bar.map(|(x, y, height)| view! { <rect class="held" x=x y=y width="6" height=height /> })}
            {strokes.dot.map(|(cx, cy)| view! { <circle class="emitted" cx=cx cy=cy r="2.5" /> })}
            {record.opens_connection.map(|(x, y)| view! {
                <rect class="tcp-open" data-testid="tcp-open" x=x - 3.5 y=y - 3.5 width="7" height="7" />
            })}
            {matches!(record.shape, Shape::Point { .. }).then(|| view! {
                <rect class="tcp-close-mark" data-testid="tcp-close" x=x1 - 3.5 y=y1 - 3.5 width="7" height="7" />
            })}
            // An arrow a pixel wide is hard to point at; this invisible wider stroke takes the pointer for it.
            <line class="hit" x1=x1 y1=y1 x2=x2 y2=y2 />
            <line x1=x1 y1=y1 x2=x2 y2=y2 marker-end=strokes.arrowhead.then_some(marker) />
            {record.label.map(|label| view! { <text x=label.x y=label.y text-anchor="middle">{label.text}</text> })}
            {note_marker(record.class).map(|glyph| view! { <text class="note-marker" x="3" y=y1 - 3.0>{glyph}</text> })}
        </g>
    }
}
