use leptos::prelude::*;

use crate::diagram::{DiagramLayout, Millis};

/// Wall-clock labels beside the lanes; the lanes draw the matching grid lines.
#[component]
pub fn TimeAxis(layout: ReadSignal<DiagramLayout>, #[prop(into)] clock: Signal<Millis>) -> impl IntoView {
    let ticks = visible_ticks(layout, clock);
    let height = move || layout.with(|layout| layout.height);
    let scroll = move || format!("translate(0 {:.2})", -layout.with(|layout| layout.scroll_offset(clock.get())));
    view! {
        // The viewBox lets the axis shrink with the lanes on a narrow screen, keeping its ticks beside theirs. On a
        // phone its box is stretched to the lanes' height, to hide the lane swiped past it, so its drawing keeps to
        // the top.
        <svg
            class="time-axis"
            width="64"
            height=height
            viewBox=move || format!("0 0 64 {}", height())
            preserveAspectRatio="xMidYMin meet"
            aria-label="time axis"
        >
            <g transform=scroll>
                <For each=move || ticks.get() key=|tick| tick.y.to_bits() let:tick>
                    {tick.label.map(|label| view! { <text x="60" y=tick.y + 4.0 text-anchor="end">{label}</text> })}
                </For>
            </g>
        </svg>
    }
}

/// Ticks for the visible window, recomputed once a second rather than every frame.
pub fn visible_ticks(layout: ReadSignal<DiagramLayout>, clock: Signal<Millis>) -> Memo<Vec<crate::diagram::Tick>> {
    let second = Memo::new(move |_| (clock.get() / 1000.0).floor());
    Memo::new(move |_| {
        let now = second.get() * 1000.0;
        if now <= 0.0 {
            return Vec::new();
        }
        layout.with(|layout| layout.ticks(now - layout.window_seconds() * 1000.0 - 1000.0, now + 1000.0))
    })
}
