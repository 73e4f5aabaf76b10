use leptos::prelude::*;

use super::lane_metrics::LaneMetricsView;
use super::sequence_diagram::SequenceDiagram;
use crate::client::{drop_connections, LaneHandle};
use crate::diagram::{DiagramLayout, Millis};
use crate::model::Transport;

/// The event a learner points at or pinned, highlighted in every lane at once.
#[derive(Clone, Copy)]
pub struct HighlightedEvent {
    pub hovered: RwSignal<Option<u64>>,
    pub pinned: RwSignal<Option<u64>>,
}

impl Default for HighlightedEvent {
    fn default() -> Self {
        Self { hovered: RwSignal::new(None), pinned: RwSignal::new(None) }
    }
}

impl HighlightedEvent {
    pub fn is(&self, seq: u64) -> bool {
        self.pinned.get().or(self.hovered.get()) == Some(seq)
    }
}

#[component]
pub fn Lane(
    handle: LaneHandle,
    enabled: RwSignal<bool>,
    layout: ReadSignal<DiagramLayout>,
    clock: ReadSignal<Millis>,
) -> impl IntoView {
    let transport = handle.transport;
    view! {
        <section
            class="lane"
            class:off=move || !enabled.get()
            data-testid=format!("lane-{}", transport.id())
            aria-label=transport.title()
        >
            <header class="lane-header">
                <h2>{transport.title()}</h2>
                <span class="status" data-testid="lane-status">
                    {move || handle.status.get().text()}
                </span>
                <DropButton transport />
                <p class="summary">{transport.summary()}</p>
            </header>
            <SequenceDiagram handle layout clock />
            <LaneMetricsView metrics=handle.metrics />
        </section>
    }
}

/// Makes the server drop this transport's connections (everyone's), so the lane shows how it recovers.
#[component]
fn DropButton(transport: Transport) -> impl IntoView {
    let outcome = RwSignal::new(String::new());
    let drop_now = move |_| {
        leptos::task::spawn_local(async move {
            let text = match drop_connections(transport).await {
                Ok(report) if report.dropped_connections == 0 => "nothing held open to drop".to_owned(),
                Ok(report) => format!("server dropped {} connection(s)", report.dropped_connections),
                Err(error) => error.to_string(),
            };
            outcome.set(text);
        });
    };
    view! {
        <button
            type="button"
            class="drop"
            data-testid="drop"
            title="The server drops every open connection of this transport, for everyone connected"
            on:click=drop_now
        >
            "drop"
        </button>
        <span class="drop-outcome" data-testid="drop-outcome">{move || outcome.get()}</span>
    }
}
