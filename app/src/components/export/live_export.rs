//! What the toolbar exports from the live lanes: the records in view with a caption, and the whole trace.

use leptos::html::Div;
use leptos::prelude::*;

use crate::client::LaneHandle;
use crate::clock_offset::ClockOffset;
use crate::components::export::diagram_toolbar::ShownDiagram;
use crate::diagram::trace_file::{LaneTrace, TraceFile, TraceSettings};
use crate::diagram::{DiagramLayout, Millis};
use protocol::ClientId;

/// The live diagram as the toolbar exports it: the records each lane shows at the diagram's clock.
pub fn live_diagram(
    lanes: &[LaneHandle],
    layout: ReadSignal<DiagramLayout>,
    clock: ReadSignal<Millis>,
    container: NodeRef<Div>,
) -> ShownDiagram {
    let lanes = lanes.to_vec();
    let every_lane = lanes.clone();
    ShownDiagram {
        session: Callback::new(move |()| {
            every_lane
                .iter()
                .map(|lane| {
                    (lane.transport, lane.trace.with_untracked(|trace| trace.records().iter().cloned().collect()))
                })
                .collect()
        }),
        records: Callback::new(move |()| {
            let now = DiagramLayout::placement_time(clock.get_untracked());
            layout.with_untracked(|layout| {
                lanes
                    .iter()
                    .map(|lane| {
                        let shown = lane.trace.with_untracked(|trace| {
                            trace.records().iter().filter(|record| layout.is_visible(record, now)).cloned().collect()
                        });
                        (lane.transport, shown)
                    })
                    .collect()
            })
        }),
        caption: Callback::new(move |()| {
            let window = layout.with_untracked(|layout| layout.window_text(clock.get_untracked()));
            format!("Transport Lab · live · {window}")
        }),
        container,
    }
}

/// Makes the trace file of every live lane: all each has recorded, the page's own knobs added to the server's.
pub fn live_trace(
    lanes: Vec<(LaneHandle, RwSignal<bool>)>,
    layout: ReadSignal<DiagramLayout>,
    clock: ReadSignal<Millis>,
    poll_interval_ms: RwSignal<u32>,
    clock_offset: ReadSignal<Option<ClockOffset>>,
    client: ClientId,
) -> Callback<TraceSettings, TraceFile> {
    Callback::new(move |mut settings: TraceSettings| {
        // The server lists every page's rules; only those that reached this page shaped its lanes.
        settings.delay_rules.retain(|rule| rule.client.as_ref().is_none_or(|whose| *whose == client));
        settings.poll_interval_ms = Some(poll_interval_ms.get_untracked());
        settings.clock_offset = clock_offset.get_untracked();
        let lanes = lanes
            .iter()
            .map(|(lane, enabled)| LaneTrace {
                transport: lane.transport,
                enabled: enabled.get_untracked(),
                records: lane.trace.with_untracked(|trace| trace.records().iter().cloned().collect()),
            })
            .collect();
        let origin = layout.with_untracked(|layout| layout.origin);
        TraceFile::new(crate::client::now(), clock.get_untracked(), origin, settings, lanes)
    })
}
