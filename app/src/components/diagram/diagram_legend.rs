//! What each kind of mark in a lane means. Every kind differs by shape as well as colour (solid, dashed, a dot, a
//! bar, a dotted band with a glyph), and each sample here is drawn with the lanes' own classes, so it cannot drift
//! from what they show.

use leptos::prelude::*;

use crate::components::context::ControlMarks;
use crate::diagram::describe::note_marker;

const WIDTH: f64 = 44.0;
const HEIGHT: f64 = 14.0;

#[derive(Clone, Copy)]
enum Sample {
    Request,
    Response,
    HeldResponse,
    Event,
    TcpOpen,
    Note(&'static str),
    /// A control mark, by its class: flat, thin and dotted, each its own dash.
    Control(&'static str),
    TcpClose,
}

const ENTRIES: [(Sample, &str); 8] = [
    (Sample::Request, "request: solid"),
    (Sample::TcpOpen, "opens a TCP connection: square"),
    (Sample::Response, "response: dashed"),
    (Sample::HeldResponse, "held by the server: bar"),
    (Sample::Event, "event: dot where emitted"),
    (Sample::Note("gap"), "events lost"),
    (Sample::Note("error"), "error or close"),
    (Sample::Note("info"), "note"),
];

/// Connection upkeep, which the toggle hides.
const CONTROL_ENTRIES: [(Sample, &str); 6] = [
    (Sample::Control("ping"), "WebSocket ping"),
    (Sample::Control("pong"), "pong"),
    (Sample::Control("close-frame"), "close frame and code"),
    (Sample::Control("keep-alive"), "SSE keep-alive"),
    (Sample::Control("no-content"), "204: nothing in the hold time"),
    (Sample::TcpClose, "TCP closed: open square"),
];

#[component]
pub fn DiagramLegend(control_marks: ControlMarks) -> impl IntoView {
    let shown = control_marks.0;
    view! {
        <div class="diagram-legend" data-testid="diagram-legend">
            <ArrowheadDefinition />
            // One list, so the control marks flow on from the other marks' last line instead of taking lines of
            // their own above the diagrams.
            <ul aria-label="What the diagrams' marks mean">
                {ENTRIES.into_iter().map(|(sample, text)| view! { <li>{swatch(sample)}{text}</li> }).collect_view()}
                <li class="control-toggle">
                    <label title="Pings, pongs, close frames, keep-alives, 204s and TCP closes: how connections are kept \
                                  alive and ended. Hide them for a calm view.">
                        <input
                            type="checkbox"
                            data-testid="show-control-marks"
                            prop:checked=move || shown.get()
                            on:change:target=move |event| shown.set(event.target().checked())
                        />
                        "control marks:"
                    </label>
                </li>
                {CONTROL_ENTRIES
                    .into_iter()
                    .map(|(sample, text)| view! {
                        <li class="control-entry" class:hidden-marks=move || !shown.get()>{swatch(sample)}{text}</li>
                    })
                    .collect_view()}
            </ul>
        </div>
    }
}

fn swatch(sample: Sample) -> impl IntoView {
    let middle = HEIGHT / 2.0;
    let (class, line) = match sample {
        Sample::Request | Sample::TcpOpen => {
            ("record request to-server".to_owned(), (2.0, middle, WIDTH - 2.0, middle))
        }
        Sample::Response | Sample::HeldResponse => {
            ("record response to-browser".to_owned(), (WIDTH - 2.0, middle, 2.0, middle))
        }
        Sample::Event => ("record event to-browser".to_owned(), (WIDTH - 4.0, middle, 2.0, middle)),
        Sample::Note(kind) => (format!("record {kind} to-across"), (0.0, HEIGHT - 2.0, WIDTH, HEIGHT - 2.0)),
        Sample::Control(kind) => (format!("record {kind} to-browser"), (WIDTH - 2.0, middle, 2.0, middle)),
        Sample::TcpClose => ("record tcp-close to-across".to_owned(), (middle, middle, middle, middle)),
    };
    let (x1, y1, x2, y2) = line;
    let arrowhead = !matches!(sample, Sample::Note(_) | Sample::TcpClose);
    view! {
        <svg class="legend-swatch" width=WIDTH height=HEIGHT viewBox=format!("0 0 {WIDTH} {HEIGHT}") aria-hidden="true">
            <g class=class>
                {matches!(sample, Sample::HeldResponse)
                    .then(|| view! { <rect class="held" x=WIDTH - 6.0 y="0" width="5" height=middle /> })}
                {matches!(sample, Sample::Event)
                    .then(|| view! { <circle class="emitted" cx=x1 cy=y1 r="2.5" /> })}
                {matches!(sample, Sample::TcpOpen)
                    .then(|| view! { <rect class="tcp-open" x=x1 y=y1 - 3.5 width="7" height="7" /> })}
                {matches!(sample, Sample::TcpClose)
                    .then(|| view! { <rect class="tcp-close-mark" x=x1 - 3.5 y=y1 - 3.5 width="7" height="7" /> })}
                <line x1=x1 y1=y1 x2=x2 y2=y2 marker-end=arrowhead.then_some("url(#legend-head)") />
                {match sample {
                    Sample::Note(kind) => note_marker(kind)
                        .map(|glyph| view! { <text class="note-marker" x="2" y=HEIGHT - 4.0>{glyph}</text> }),
                    _ => None,
                }}
            </g>
        </svg>
    }
}

/// The arrowhead the samples share; defined once, in an empty SVG, so every swatch can point to it.
#[component]
fn ArrowheadDefinition() -> impl IntoView {
    view! {
        <svg class="legend-defs" width="0" height="0" aria-hidden="true">
            <defs>
                <marker id="legend-head" class="arrowhead" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                    <path d="M 0 0 L 10 5 L 0 10 z" />
                </marker>
            </defs>
        </svg>
    }
}
