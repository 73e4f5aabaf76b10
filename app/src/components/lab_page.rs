use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::StaticSegment;

use super::controls::{Controls, LaneToggles};
use super::diagram_clock::{use_diagram_clock, utc_offset_minutes};
use super::explainer::Explainer;
use super::lane::{HighlightedEvent, Lane};
use super::time_axis::TimeAxis;
use crate::client::{use_event_source, use_long_poll, use_short_poll, use_websocket, LaneOptions, LaneStart};
use crate::diagram::DiagramLayout;
use crate::model::LabSnapshot;
use crate::server_fns::load_lab_snapshot;

#[component]
pub fn App() -> AnyView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/transport-lab.css" />
        <Title text="Transport Lab" />
        <Router>
            <Routes fallback=|| "Page not found.".into_view()>
                <Route path=StaticSegment("") view=LabPage />
            </Routes>
        </Router>
    }
    .into_any()
}

#[component]
fn LabPage() -> AnyView {
    let snapshot = Resource::new(|| (), |_| load_lab_snapshot());
    view! {
        <main class="lab">
            <Explainer />
            <Suspense fallback=|| view! { <p class="loading">"Connecting to the lab…"</p> }>
                {move || Suspend::new(async move {
                    match snapshot.await {
                        Ok(snapshot) => view! { <Lab snapshot /> }.into_any(),
                        Err(error) => view! { <p class="error">"The lab could not start: " {error.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
    .into_any()
}

/// The live part: controls and one lane per transport, all sharing one time axis.
#[component]
fn Lab(snapshot: LabSnapshot) -> AnyView {
    let start = LaneStart { after: snapshot.head_seq, epoch: snapshot.epoch.clone() };
    let toggles = LaneToggles::all_on();
    let poll_interval_ms = RwSignal::new(1000u32);
    let options = |enabled: RwSignal<bool>| LaneOptions {
        start: start.clone(),
        enabled: enabled.into(),
        poll_interval_ms: poll_interval_ms.into(),
    };
    let lanes = [
        (use_short_poll(options(toggles.short_poll)), toggles.short_poll),
        (use_long_poll(options(toggles.long_poll)), toggles.long_poll),
        (use_event_source(options(toggles.sse)), toggles.sse),
        (use_websocket(options(toggles.web_socket)), toggles.web_socket),
    ];
    provide_context(HighlightedEvent::default());
    let clock = use_diagram_clock();
    // Any fixed instant near now works as the origin; the server's render time is one both sides agree on.
    let layout = RwSignal::new(DiagramLayout::new(snapshot.server_time as f64 / 1000.0));
    Effect::new(move |_| layout.update(|layout| layout.utc_offset_minutes = utc_offset_minutes()));

    view! {
        <Controls generator=snapshot.generator toggles poll_interval_ms />
        <div class="lanes" data-testid="lanes">
            <TimeAxis layout=layout.read_only() clock />
            {lanes
                .into_iter()
                .map(|(handle, enabled)| view! { <Lane handle enabled layout=layout.read_only() clock /> })
                .collect_view()}
        </div>
    }
    .into_any()
}
