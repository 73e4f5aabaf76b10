//! Export and replay buttons over the diagram: Mermaid text (copy or download), an SVG or PNG picture, the whole
//! trace as JSON, the session as HAR, the page's connections as pcapng, and "Load trace…". The same toolbar serves the live lanes and a replay; what it exports is the
//! diagram on screen, captioned with what it is.

use std::sync::Arc;

use leptos::html::Div;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::client::{
    copy_text, download_blob, download_bytes, download_text, export_file_name, fetch_delay_rules, fetch_generator,
    fetch_pcapng, picture_of, png_of,
};
use crate::components::context::FaultScope;
use crate::components::export::exporters::{har_text, mermaid_text, trace_text};
use crate::components::export::trace_loader::{LoadedTrace, TraceLoader};
use crate::diagram::trace_file::{TraceFile, TraceSettings};
use crate::diagram::TraceRecord;
use protocol::Transport;

/// PNG pixels per diagram unit: sharp on a projector and on a high-density screen.
const PNG_SCALE: f64 = 2.0;

/// The diagram on screen, as the toolbar exports it.
#[derive(Clone, Copy)]
pub struct ShownDiagram {
    /// Each lane's records in view, in recording order.
    pub records: Callback<(), Vec<(Transport, Vec<TraceRecord>)>>,
    /// Each lane's every record (in view or scrolled past), for the HAR export of the whole session.
    pub session: Callback<(), Vec<(Transport, Vec<TraceRecord>)>>,
    /// What it shows (live or a replay of which file, and when), written on every export.
    pub caption: Callback<(), String>,
    /// The element holding the time axis and the lanes' drawings.
    pub container: NodeRef<Div>,
}

#[component]
pub fn DiagramToolbar(
    shown: ShownDiagram,
    /// Makes the trace file from the knobs the server reports; live lanes only (a replay already is one).
    #[prop(optional)]
    make_trace: Option<Callback<TraceSettings, TraceFile>>,
    /// A replayed trace's own capture of its page's connections, exported in place of the server's.
    #[prop(optional)]
    saved_capture: Option<Arc<Vec<u8>>>,
    on_load: Callback<LoadedTrace>,
) -> impl IntoView {
    let status = RwSignal::new(None::<Result<String, String>>);
    // Shown when the clipboard is out of reach, so the text can still be copied by hand.
    let manual_copy = RwSignal::new(None::<String>);
    let report = move |outcome: Result<String, String>| {
        status.try_set(Some(outcome));
    };
    let mermaid = move || mermaid_text(shown.caption.run(()), shown.records.run(()));
    let copy_mermaid = move |_| {
        let text = mermaid();
        spawn_local(async move {
            let text = text.await;
            match copy_text(&text).await {
                Ok(()) => {
                    manual_copy.try_set(None);
                    report(Ok(format!("copied {} lines of Mermaid text", text.lines().count())));
                }
                Err(problem) => {
                    manual_copy.try_set(Some(text));
                    report(Err(problem.to_string()));
                }
            }
        });
    };
    let download_mermaid = move |_| {
        let text = mermaid();
        spawn_local(async move {
            let text = text.await;
            let saved = download_text(&export_file_name("diagram", "mmd"), "text/vnd.mermaid;charset=utf-8", &text);
            report(saved.map(|()| "saved the Mermaid text".into()).map_err(|problem| problem.to_string()));
        });
    };
    let picture = move || {
        let container = shown.container.get_untracked().ok_or_else(|| "the diagram is not on the page".to_owned())?;
        picture_of(&container, &shown.caption.run(())).map_err(|problem| problem.to_string())
    };
    let download_svg = move |_| {
        let saved = picture().and_then(|picture| {
            download_text(&export_file_name("diagram", "svg"), "image/svg+xml", &picture.svg)
                .map_err(|problem| problem.to_string())
        });
        report(saved.map(|()| "saved the diagram as SVG".into()));
    };
    let download_png = move |_| {
        let picture = picture();
        spawn_local(async move {
            let saved = match picture {
                Ok(picture) => match png_of(&picture, PNG_SCALE).await {
                    Ok(png) => {
                        download_blob(&export_file_name("diagram", "png"), &png).map_err(|problem| problem.to_string())
                    }
                    Err(problem) => Err(problem.to_string()),
                },
                Err(problem) => Err(problem),
            };
            report(saved.map(|()| "saved the diagram as PNG".into()));
        });
    };
    // The live lab's page (a replay has none): a student's page is shown only its own delay rules and everyone's.
    let page = StoredValue::new(use_context::<FaultScope>().map(|scope| scope.client()));
    let download_trace = move |make_trace: Callback<TraceSettings, TraceFile>| {
        report(Ok("asking the server for its settings and this page's connections…".into()));
        let client = page.get_value();
        spawn_local(async move {
            // A trace is still worth saving when the server cannot be asked; its knobs are then unknown.
            let settings = TraceSettings {
                generator: fetch_generator().await.ok(),
                delay_rules: fetch_delay_rules(client.clone()).await.unwrap_or_default(),
                ..TraceSettings::default()
            };
            let capture = match client {
                Some(client) => fetch_pcapng(&client).await.ok(),
                None => None,
            };
            let saved = trace_text(make_trace.run(settings), capture).await.and_then(|(json, records, lanes)| {
                download_text(&export_file_name("trace", "json"), "application/json", &json)
                    .map(|()| format!("saved a trace of {records} records from {lanes} lanes"))
                    .map_err(|problem| problem.to_string())
            });
            report(saved);
        });
    };
    let save_pcapng = move |file: &[u8]| {
        download_bytes(&export_file_name("connections", "pcapng"), "application/x-pcapng", file)
            .map(|()| format!("saved {} bytes of capture: open it in Wireshark", file.len()))
            .map_err(|problem| problem.to_string())
    };
    let saved_capture = StoredValue::new(saved_capture);
    let download_pcapng = move || {
        if let Some(file) = saved_capture.get_value() {
            report(save_pcapng(&file));
            return;
        }
        let Some(client) = page.get_value() else { return };
        report(Ok("asking the server for this page's connections…".into()));
        spawn_local(async move {
            let saved = match fetch_pcapng(&client).await {
                Ok(file) => save_pcapng(&file),
                Err(problem) => Err(problem.to_string()),
            };
            report(saved);
        });
    };
    let has_capture = page.get_value().is_some() || saved_capture.with_value(Option::is_some);
    // "every lane" or one lane's transport id.
    let har_lane = RwSignal::new(String::new());
    let lane_choices: Vec<Transport> = shown.session.run(()).into_iter().map(|(transport, _)| transport).collect();
    let download_har = move |_| {
        let chosen = har_lane.get_untracked();
        let lanes: Vec<_> = shown
            .session
            .run(())
            .into_iter()
            .filter(|(transport, _)| chosen.is_empty() || transport.id() == chosen)
            .collect();
        let archive = har_text(shown.caption.run(()), lanes);
        spawn_local(async move {
            let (json, entries) = archive.await;
            let saved = download_text(&export_file_name("session", "har"), "application/json", &json);
            report(
                saved
                    .map(|()| format!("saved {entries} HTTP exchanges as HAR: import it in DevTools' Network panel"))
                    .map_err(|problem| problem.to_string()),
            );
        });
    };
    view! {
        <section class="diagram-toolbar" aria-label="export and replay" data-testid="diagram-toolbar">
            <span class="toolbar-label">"Export the diagram:"</span>
            <button type="button" data-testid="export-mermaid-copy" title="Mermaid sequenceDiagram text, to paste into notes or slides" on:click=copy_mermaid>
                "Copy Mermaid"
            </button>
            <button type="button" data-testid="export-mermaid" on:click=download_mermaid>"Mermaid .mmd"</button>
            <button type="button" data-testid="export-svg" on:click=download_svg>"SVG"</button>
            <button type="button" data-testid="export-png" on:click=download_png>"PNG"</button>
            {make_trace.map(|make_trace| view! {
                <button
                    type="button"
                    data-testid="export-trace"
                    title="Everything every lane recorded, to replay later (offline, at any speed)"
                    on:click=move |_| download_trace(make_trace)
                >
                    "Trace .json"
                </button>
            })}
            <span class="har-export">
                <button
                    type="button"
                    data-testid="export-har"
                    title="Every HTTP exchange and WebSocket message the server measured for these lanes, as an HTTP \
                           Archive (HAR 1.2) for Chrome DevTools: Network → Import HAR"
                    on:click=download_har
                >
                    "HAR"
                </button>
                <select
                    data-testid="har-lane"
                    aria-label="which lanes the HAR holds"
                    on:change:target=move |event| har_lane.set(event.target().value())
                >
                    <option value="">"every lane"</option>
                    {lane_choices
                        .into_iter()
                        .map(|transport| view! { <option value=transport.id()>{transport.title()}</option> })
                        .collect_view()}
                </select>
            </span>
            {has_capture.then(|| view! {
                <button
                    type="button"
                    data-testid="export-pcapng"
                    title="This page's connections byte for byte, as the server's socket saw them, to open in Wireshark \
                           (the bytes and times are measured; the Ethernet, IP and TCP headers around them are made up)"
                    on:click=move |_| download_pcapng()
                >
                    "pcapng"
                </button>
            })}
            <TraceLoader on_load />
            <output data-testid="export-status" class:error=move || matches!(status.get(), Some(Err(_)))>
                {move || status.get().map(|outcome| outcome.unwrap_or_else(|problem| problem))}
            </output>
            {move || manual_copy.get().map(|text| view! {
                <textarea class="manual-copy" readonly data-testid="mermaid-text" rows="6" prop:value=text></textarea>
            })}
        </section>
    }
}
