//! The inspector: click any arrow and see what crossed the wire for it, as the server measured it at its socket:
//! HTTP heads exactly as sent, SSE text with its line ends, WebSocket frames decoded, each part explained.

use leptos::prelude::*;

use crate::components::common::lazily::{lazily, ViewMaker};
use crate::components::context::Inspection;
use leptos::task::spawn_local;

use crate::client::expected_accept;
use crate::components::diagram::hex_dump::HexDump;
use crate::diagram::{RecordKind, TraceLog, TraceRecord, WireKey};
use crate::hex_view::hex_view;
use crate::inspect::{explain, websocket_key_and_accept};
use protocol::{Transport, WireDirection, WireRecord, WireUnit};

/// The drawer for the arrow clicked in one of `lanes` (live, or a replay's).
#[component]
pub fn Inspector(lanes: Vec<(Transport, Signal<TraceLog>)>) -> impl IntoView {
    let inspection = expect_context::<Inspection>();
    let lanes = StoredValue::new(lanes);
    // The inspected arrow, read again whenever its lane changes, so bytes measured after the click appear.
    let inspected = move || {
        let (transport, id) = inspection.0.get()?;
        let trace =
            lanes.with_value(|lanes| lanes.iter().find(|(lane, _)| *lane == transport).map(|(_, trace)| *trace))?;
        trace.with(|trace| {
            let record = trace.records().iter().find(|record| record.id == id)?.clone();
            // A WebSocket's 101 answer is checked against its request's key.
            let request_head = match record.key {
                Some(WireKey::Response(exchange)) => trace
                    .records()
                    .iter()
                    .find(|other| other.key == Some(WireKey::Request(exchange)))
                    .and_then(|other| other.wire.first().map(|wire| wire.raw.clone())),
                _ => None,
            };
            Some((transport, record, request_head))
        })
    };
    move || {
        inspected().map(|(transport, record, request_head)| {
            view! {
                <aside class="inspector" data-testid="inspector" aria-label="wire inspector">
                    <button
                        type="button"
                        class="close"
                        data-testid="inspector-close"
                        on:click=move |_| inspection.0.set(None)
                    >
                        "close"
                    </button>
                    {lazily(inspected_arrow_code(), InspectedArrowProps { transport, record, request_head })}
                </aside>
            }
        })
    }
}

/// The arrow's detail, in its own wasm chunk (with the hex view and the explainers): fetched at the first click.
#[lazy]
fn inspected_arrow_code() -> ViewMaker<InspectedArrowProps> {
    |props| InspectedArrow(props).into_any()
}

#[component]
fn InspectedArrow(transport: Transport, record: TraceRecord, request_head: Option<String>) -> impl IntoView {
    let bytes = record.bytes();
    let summary = match bytes {
        Some(bytes) => format!(
            "{} B on the wire: head {} · framing {} · payload {}",
            bytes.total(),
            bytes.head,
            bytes.framing,
            bytes.payload
        ),
        None if matches!(record.kind, RecordKind::Event { .. }) && record.key.is_none() => {
            "this event travelled inside a poll response: inspect that response's arrow for its bytes".into()
        }
        None if record.key.is_none() => {
            "no wire record belongs to this arrow (a note, or a step the browser took on its own)".into()
        }
        None => "waiting for the server's measurement (the page fetches it once a second)".into(),
    };
    let handshake = request_head.zip(
        record
            .wire
            .iter()
            .find(|wire| wire.unit == WireUnit::ResponseHead { status: 101 })
            .map(|wire| wire.raw.clone()),
    );
    view! {
        <h2>{transport.title()} ": " {record.label.clone()}</h2>
        <p class="inspector-detail">{record.detail.clone()}</p>
        <p class="inspector-bytes" data-testid="inspector-bytes">{summary}</p>
        {handshake.and_then(|(request, response)| websocket_key_and_accept(&request, &response)).map(|(key, accept)| view! { <AcceptCheck key accept /> })}
        {record.wire.into_iter().map(|wire| view! { <WireUnitView wire /> }).collect_view()}
        {record.body.map(|body| view! {
            <section class="wire-unit" data-testid="inspector-event-json">
                <h3>"as this browser received it"</h3>
                <pre class="event-json">{body}</pre>
            </section>
        })}
    }
}

#[component]
fn WireUnitView(wire: WireRecord) -> impl IntoView {
    let direction = match wire.direction {
        WireDirection::ToServer => "browser → server",
        WireDirection::ToClient => "server → browser",
    };
    let (unit, what) = match &wire.unit {
        WireUnit::Request { method, target, connection, new_connection } => (
            "request",
            format!(
                "request head: {method} {target} (TCP connection #{connection}, {})",
                if *new_connection { "new" } else { "reused: keep-alive" }
            ),
        ),
        WireUnit::ResponseHead { status } => ("response_head", format!("response head: {status}")),
        WireUnit::Body => ("body", "body".to_owned()),
        WireUnit::Chunk { event, seq } => (
            "chunk",
            format!(
                "chunk{}{}",
                event.as_ref().map(|event| format!(" · {event}")).unwrap_or_default(),
                seq.map(|seq| format!(" #{seq}")).unwrap_or_default()
            ),
        ),
        WireUnit::LastChunk => ("last_chunk", "last chunk".to_owned()),
        WireUnit::Frame { opcode, .. } => ("frame", format!("WebSocket frame · {opcode}")),
        WireUnit::GrpcMessage { flags, length, .. } if flags & 0x80 != 0 => {
            ("grpc_message", format!("gRPC-web trailers · {length} B"))
        }
        WireUnit::GrpcMessage { length, seq, event, .. } => (
            "grpc_message",
            format!(
                "gRPC message{}{} · {length} B",
                event.as_ref().map(|event| format!(" · {event}")).unwrap_or_default(),
                seq.map(|seq| format!(" #{seq}")).unwrap_or_default()
            ),
        ),
        WireUnit::Http2Frame { frame_type, .. } if frame_type == "PREFACE" => {
            ("http2_frame", "HTTP/2 connection preface".to_owned())
        }
        WireUnit::Http2Frame { frame_type, stream, .. } => {
            ("http2_frame", format!("HTTP/2 {frame_type} · stream {stream}"))
        }
        WireUnit::Unparsed => ("unparsed", "bytes the lab could not parse".to_owned()),
        WireUnit::ConnectionClosed { connection, .. } => {
            ("connection_closed", format!("TCP connection #{connection} closed"))
        }
    };
    let bytes = wire.bytes;
    let lines = explain(&wire);
    let hex = hex_view(&wire);
    view! {
        <section class="wire-unit" data-testid="inspector-unit" data-unit=unit>
            <h3>
                {what} " · " {direction} " · "
                {format!("{} B (head {} · framing {} · payload {})", bytes.total(), bytes.head, bytes.framing, bytes.payload)}
            </h3>
            <dl class="wire-lines">
                {lines
                    .into_iter()
                    .map(|line| view! {
                        <dt><code data-testid="inspector-raw">{line.text}</code></dt>
                        <dd>{line.note.unwrap_or_default()}</dd>
                    })
                    .collect_view()}
            </dl>
            {hex.map(|view| view! { <HexDump view /> })}
        </section>
    }
}

/// Recomputes `Sec-WebSocket-Accept` from the key with the browser's SHA-1 and says whether the server's matches.
#[component]
fn AcceptCheck(key: String, accept: String) -> impl IntoView {
    let verdict = RwSignal::new("checking with this browser's SHA-1…".to_owned());
    let (for_check, expected_from) = (accept.clone(), key.clone());
    spawn_local(async move {
        verdict.set(match expected_accept(&expected_from).await {
            Some(expected) if expected == for_check => format!("= {expected}: matches the server's ✓"),
            Some(expected) => format!("= {expected}: does NOT match the server's"),
            None => "this browser offers SHA-1 only to pages on https or localhost; not checked".into(),
        });
    });
    view! {
        <p class="accept-check" data-testid="accept-check">
            "Sec-WebSocket-Accept " <code>{accept}</code> " = base64(SHA-1(" <code>{key}</code>
            " + 258EAFA5-E914-47DA-95CA-C5AB0DC85B11)) " <span>{move || verdict.get()}</span>
        </p>
    }
}
