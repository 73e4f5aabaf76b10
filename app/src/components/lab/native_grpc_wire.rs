//! Native gRPC as the server saw it: the HTTP/2 frames (and the gRPC messages cut out of DATA frames) of other
//! programs' calls to this lab, which a browser cannot make. Loaded on demand from `GET /api/wire/http2`.

use std::collections::HashMap;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::client::{fetch_http2_wire, ClientError};
use crate::components::common::lazily::{lazily, ViewMaker};
use crate::inspect::explain;
use protocol::{WireBytes, WireDirection, WirePage, WireRecord, WireUnit};

/// The table shows the newest calls only: this many records at most.
pub const MAX_ROWS: usize = 200;

/// The names of the flags set in an HTTP/2 frame's flag byte, for the types that define flags; undefined bits as
/// hex (`0x40`).
pub fn http2_flag_names(frame_type: &str, flags: u8) -> Vec<String> {
    let defined = crate::inspect::http2_flags(frame_type);
    let mut names: Vec<String> =
        defined.iter().filter(|(bit, _, _)| flags & bit != 0).map(|(_, name, _)| (*name).to_owned()).collect();
    let undefined = flags & !defined.iter().fold(0, |all, (bit, _, _)| all | bit);
    if undefined != 0 {
        names.push(format!("0x{undefined:02x}"));
    }
    names
}

/// The line of a decoded header list (`name: value` per line) that says most about it: the request's `:path`,
/// else the call's `grpc-status` (trailers), else the response's `:status`.
pub fn header_detail(raw: &str) -> Option<String> {
    [":path", "grpc-status", ":status"]
        .iter()
        .find_map(|wanted| raw.lines().map(str::trim_end).find(|line| header_name(line) == *wanted).map(str::to_owned))
}

/// A header line's name: pseudo-headers keep their leading `:`.
fn header_name(line: &str) -> &str {
    let (prefix, rest) = if let Some(rest) = line.strip_prefix(':') { (1, rest) } else { (0, line) };
    match rest.find(':') {
        Some(at) => &line[..prefix + at],
        None => line,
    }
}

/// The "what" column: a frame's type and named flags, or a gRPC message with its seq and label.
pub fn what_text(unit: &WireUnit, raw: &str) -> String {
    match unit {
        WireUnit::Http2Frame { frame_type, flags, .. } => {
            let mut text = frame_type.to_string();
            for name in http2_flag_names(frame_type, *flags) {
                text.push(' ');
                text.push_str(&name);
            }
            if frame_type == "HEADERS" && raw.lines().any(|line| header_name(line) == "grpc-status") {
                text.push_str(" (trailers)");
            }
            text
        }
        WireUnit::GrpcMessage { flags, .. } if flags & 0x80 != 0 => "trailers".into(),
        WireUnit::GrpcMessage { seq, event, .. } => {
            let mut text = "gRPC message".to_owned();
            if let Some(seq) = seq {
                text.push_str(&format!(" #{seq}"));
            }
            if let Some(event) = event {
                text.push(' ');
                text.push_str(event.as_str());
            }
            text
        }
        _ => "other".into(),
    }
}

/// The detail column: the telling header line of a HEADERS frame, a message's seq.
pub fn detail_text(unit: &WireUnit, raw: &str) -> String {
    match unit {
        WireUnit::Http2Frame { frame_type, .. } if frame_type == "HEADERS" => header_detail(raw).unwrap_or_default(),
        WireUnit::GrpcMessage { seq: Some(seq), .. } => format!("seq {seq}"),
        _ => String::new(),
    }
}

pub fn direction_arrow(direction: WireDirection) -> &'static str {
    match direction {
        WireDirection::ToServer => "client → server",
        WireDirection::ToClient => "server → client",
    }
}

/// Milliseconds from `first` to `at` (both Unix microseconds), one decimal.
pub fn relative_ms(at: u64, first: u64) -> String {
    format!("{:.1}", at.saturating_sub(first) as f64 / 1000.0)
}

/// Pages of `/api/wire/http2` fetched at most: the server keeps 2,000 records and pages 1,000 at a time, so the
/// newest are on the second or third page; more pages only while a busy client keeps adding records.
const MAX_PAGES: usize = 4;

/// Every record the server still holds, oldest first (the table keeps the newest of them).
async fn newest_records() -> Result<WirePage, ClientError> {
    let mut page = fetch_http2_wire(0).await?;
    for _ in 1..MAX_PAGES {
        let more = fetch_http2_wire(page.next).await?;
        if more.records.is_empty() {
            break;
        }
        page.next = more.next;
        page.dropped = more.dropped;
        page.records.extend(more.records);
    }
    Ok(page)
}

/// One row of the table, as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireRow {
    pub id: u64,
    pub time: String,
    pub arrow: &'static str,
    pub connection: String,
    pub stream: String,
    pub what: String,
    pub bytes: WireBytes,
    pub detail: String,
}

/// The last `limit` records in order (newest call last), as rows, with the bytes summed. A gRPC message carries no
/// connection or stream number of its own: it is on those of the frames that share its exchange.
pub fn table_rows(records: &[WireRecord], limit: usize) -> (Vec<WireRow>, WireBytes) {
    let mut shown: Vec<&WireRecord> = records.iter().collect();
    shown.sort_by_key(|record| record.id);
    let shown = &shown[shown.len().saturating_sub(limit)..];
    let carriers: HashMap<u64, (u64, u32)> = records
        .iter()
        .filter_map(|record| match record.unit {
            WireUnit::Http2Frame { stream, connection, .. } if stream != 0 => {
                Some((record.exchange, (connection, stream)))
            }
            _ => None,
        })
        .collect();
    let first = shown.first().map(|record| record.at).unwrap_or_default();
    let mut totals = WireBytes::default();
    let rows = shown
        .iter()
        .map(|record| {
            totals.add(record.bytes);
            let carrier = match record.unit {
                WireUnit::Http2Frame { stream, connection, .. } => Some((connection, stream)),
                _ => carriers.get(&record.exchange).copied(),
            };
            WireRow {
                id: record.id,
                time: relative_ms(record.at, first),
                arrow: direction_arrow(record.direction),
                // 0: a trace from a lab that did not number HTTP/2 connections.
                connection: match carrier {
                    Some((connection, _)) if connection != 0 => connection.to_string(),
                    _ => "–".into(),
                },
                stream: carrier.map(|(_, stream)| stream.to_string()).unwrap_or_else(|| "–".into()),
                what: what_text(&record.unit, &record.raw),
                bytes: record.bytes,
                detail: detail_text(&record.unit, &record.raw),
            }
        })
        .collect();
    (rows, totals)
}

#[derive(Clone, Debug, PartialEq)]
enum Loaded {
    NotYet,
    Loading,
    Failed(String),
    Page(WirePage),
}

#[component]
pub fn NativeGrpcWire() -> impl IntoView {
    let state = RwSignal::new(Loaded::NotYet);
    let expanded = RwSignal::new(None::<u64>);
    // The commands name this lab's own address, which only the browser knows for sure (the server may sit behind
    // a name or a forwarded port); until it has hydrated they show a placeholder.
    let address = RwSignal::new("HOST:PORT".to_owned());
    Effect::new(move |_| {
        if let Some(host) = web_sys::window().and_then(|window| window.location().host().ok()) {
            address.set(host);
        }
    });
    let load = move |_| {
        state.set(Loaded::Loading);
        spawn_local(async move {
            state.set(match newest_records().await {
                Ok(page) => Loaded::Page(page),
                Err(error) => Loaded::Failed(error.to_string()),
            });
        });
    };
    view! {
        <details class="metrics-panel http2-wire" data-testid="http2-wire">
            <summary>"Native gRPC on the wire: HTTP/2 frames recorded by the server"</summary>
            <p class="model-note">
                "Browsers cannot speak native gRPC (fetch gives no access to HTTP/2 frames or trailers), so the gRPC lane uses gRPC-web. This shows what other programs' calls to this lab looked like on the wire. Make one, e.g. "
                <code data-testid="grpcurl-command">
                    {move || format!("grpcurl -plaintext {} lab.v1.Events/Subscribe", address.get())}
                </code>
                " or, from a checkout after "<code>"./lab test"</code>" set up the virtualenv, "
                <code>
                    {move || {
                        format!(".venv/bin/python server/tests/peers/grpc_client.py subscribe {} --count 3", address.get())
                    }}
                </code>
                "."
            </p>
            <div class="metrics-actions">
                <button
                    type="button"
                    data-testid="http2-wire-load"
                    on:click=load
                    disabled=move || state.with(|state| *state == Loaded::Loading)
                >
                    "Load the latest frames"
                </button>
            </div>
            {move || match state.get() {
                Loaded::NotYet => ().into_any(),
                Loaded::Loading => view! { <p class="model-note">"Loading…"</p> }.into_any(),
                Loaded::Failed(error) => {
                    view! { <p class="error" data-testid="http2-wire-error">{error}</p> }.into_any()
                }
                Loaded::Page(page) if page.records.is_empty() => {
                    view! {
                        <p class="model-note" data-testid="http2-wire-empty">
                            "No HTTP/2 connection yet: run one of the commands above, then load."
                        </p>
                    }
                        .into_any()
                }
                Loaded::Page(page) => lazily(wire_table_code(), (page, expanded)).into_any(),
            }}
        </details>
    }
}

/// The table and its explanations, in their own wasm chunk: fetched when the frames are first loaded.
#[lazy]
fn wire_table_code() -> ViewMaker<(WirePage, RwSignal<Option<u64>>)> {
    |(page, expanded)| wire_table(page, expanded).into_any()
}

fn wire_table(page: WirePage, expanded: RwSignal<Option<u64>>) -> impl IntoView {
    let (rows, totals) = table_rows(&page.records, MAX_ROWS);
    let records: HashMap<u64, WireRecord> = page.records.into_iter().map(|record| (record.id, record)).collect();
    let count = format!(
        "{} of {} records shown{}; click a row for its bytes explained.",
        rows.len(),
        records.len(),
        if page.dropped > 0 { format!(" ({} older ones dropped by the server)", page.dropped) } else { String::new() },
    );
    let body = rows
        .into_iter()
        .map(|row| {
            let id = row.id;
            let record = records.get(&id).cloned();
            let toggle = move |_| expanded.update(|open| *open = if *open == Some(id) { None } else { Some(id) });
            view! {
                <tr data-testid="http2-wire-row" class="http2-wire-row" on:click=toggle>
                    <td>{row.time}</td>
                    <td class="text">{row.arrow}</td>
                    <td>{row.connection}</td>
                    <td>{row.stream}</td>
                    <td class="text">{row.what}</td>
                    <td>{row.bytes.head}</td>
                    <td>{row.bytes.framing}</td>
                    <td>{row.bytes.payload}</td>
                    <td class="text"><code>{row.detail}</code></td>
                </tr>
                {move || {
                    (expanded.get() == Some(id))
                        .then(|| record.as_ref().map(explained))
                        .flatten()
                }}
            }
        })
        .collect_view();
    view! {
        <p class="model-note">{count}</p>
        <table data-testid="http2-wire-table">
            <thead>
                <tr>
                    <th title="milliseconds after the first record shown">"ms"</th>
                    <th class="text">"direction"</th>
                    <th title="the TCP connection, numbered as the lanes number theirs: HTTP/2 carries many calls on one">
                        "conn"
                    </th>
                    <th>"stream"</th>
                    <th class="text">"what"</th>
                    <th>"head B"</th>
                    <th>"framing B"</th>
                    <th>"payload B"</th>
                    <th class="text">"detail"</th>
                </tr>
            </thead>
            <tbody>
                {body}
                <tr class="http2-wire-totals" data-testid="http2-wire-totals">
                    <td></td>
                    <td class="text" colspan="4">"total"</td>
                    <td>{totals.head}</td>
                    <td>{totals.framing}</td>
                    <td>{totals.payload}</td>
                    <td></td>
                </tr>
            </tbody>
        </table>
        <p class="model-note">
            "the 5-byte prefixes and the 9-byte frame headers are framing; HPACK-compressed headers are head"
        </p>
    }
}

fn explained(record: &WireRecord) -> impl IntoView {
    let lines = explain(record);
    view! {
        <tr class="http2-wire-explained" data-testid="http2-wire-explained">
            <td class="text" colspan="9">
                <dl class="wire-lines">
                    {lines
                        .into_iter()
                        .map(|line| view! {
                            <dt><code>{line.text}</code></dt>
                            <dd>{line.note.unwrap_or_default()}</dd>
                        })
                        .collect_view()}
                </dl>
            </td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::WireLabel;

    fn record(id: u64, exchange: u64, at: u64, direction: WireDirection, unit: WireUnit, raw: &str) -> WireRecord {
        WireRecord {
            id,
            exchange,
            transport: None,
            direction,
            at,
            unit,
            bytes: WireBytes { head: id, framing: 9, payload: 1 },
            raw: raw.into(),
        }
    }

    fn frame(frame_type: &'static str, flags: u8, stream: u32) -> WireUnit {
        WireUnit::Http2Frame { frame_type: frame_type.into(), flags, stream, length: 0, connection: 3 }
    }

    #[test]
    fn flags_are_named_per_frame_type() {
        assert_eq!(http2_flag_names("HEADERS", 0x05), ["END_STREAM", "END_HEADERS"]);
        assert_eq!(http2_flag_names("HEADERS", 0x04), ["END_HEADERS"]);
        assert_eq!(http2_flag_names("SETTINGS", 0x01), ["ACK"]);
        assert_eq!(http2_flag_names("DATA", 0x01), ["END_STREAM"]);
        assert!(http2_flag_names("WINDOW_UPDATE", 0).is_empty());
        assert_eq!(http2_flag_names("GOAWAY", 0x01), ["0x01"]);
        assert_eq!(http2_flag_names("DATA", 0x41), ["END_STREAM", "0x40"]);
    }

    #[test]
    fn header_detail_picks_the_path_then_the_grpc_status_then_the_status() {
        let request = ":method: POST\n:scheme: http\n:path: /lab.v1.Events/Subscribe\ncontent-type: application/grpc\n";
        assert_eq!(header_detail(request).as_deref(), Some(":path: /lab.v1.Events/Subscribe"));
        let response = ":status: 200\ncontent-type: application/grpc\n";
        assert_eq!(header_detail(response).as_deref(), Some(":status: 200"));
        let trailers_only = ":status: 200\ngrpc-status: 14\ngrpc-message: dropped\n";
        assert_eq!(header_detail(trailers_only).as_deref(), Some("grpc-status: 14"));
        assert_eq!(header_detail("x-path: /nope\n"), None);
        assert_eq!(header_detail(""), None);
    }

    #[test]
    fn what_names_frames_messages_and_trailers() {
        assert_eq!(what_text(&frame("HEADERS", 0x04, 1), ":path: /a/B\n"), "HEADERS END_HEADERS");
        assert_eq!(
            what_text(&frame("HEADERS", 0x05, 1), "grpc-status: 0\n"),
            "HEADERS END_STREAM END_HEADERS (trailers)"
        );
        assert_eq!(what_text(&frame("PREFACE", 0, 0), ""), "PREFACE");
        let tick = WireUnit::GrpcMessage { flags: 0, length: 12, seq: Some(42), event: Some(WireLabel::Tick) };
        assert_eq!(what_text(&tick, "08 2a"), "gRPC message #42 tick");
        let request = WireUnit::GrpcMessage { flags: 0, length: 0, seq: None, event: None };
        assert_eq!(what_text(&request, ""), "gRPC message");
        let web_trailers = WireUnit::GrpcMessage { flags: 0x80, length: 14, seq: None, event: None };
        assert_eq!(what_text(&web_trailers, "grpc-status:0\r\n"), "trailers");
        assert_eq!(detail_text(&tick, ""), "seq 42");
        assert_eq!(detail_text(&frame("DATA", 0, 1), ""), "");
    }

    #[test]
    fn rows_keep_the_newest_in_order_with_streams_times_and_totals() {
        let tick = WireUnit::GrpcMessage { flags: 0, length: 3, seq: Some(7), event: Some(WireLabel::Tick) };
        let records = vec![
            record(4, 2, 1_004_500, WireDirection::ToClient, tick, "08 07"),
            record(1, 1, 1_000_000, WireDirection::ToServer, frame("PREFACE", 0, 0), ""),
            record(2, 1, 1_001_000, WireDirection::ToServer, frame("SETTINGS", 0, 0), ""),
            record(
                3,
                2,
                1_002_000,
                WireDirection::ToServer,
                frame("HEADERS", 0x04, 1),
                ":path: /lab.v1.Events/Subscribe\n",
            ),
        ];
        let (rows, totals) = table_rows(&records, 3);
        assert_eq!(rows.iter().map(|row| row.id).collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!(rows[0].time, "0.0");
        assert_eq!(rows[2].time, "3.5");
        assert_eq!(rows[0].stream, "0");
        assert_eq!(rows[1].stream, "1");
        assert_eq!(rows[2].stream, "1", "a message is on the stream of its exchange's frames");
        assert_eq!([&rows[0].connection, &rows[1].connection, &rows[2].connection], ["3"; 3]);
        assert_eq!(rows[1].arrow, "client → server");
        assert_eq!(rows[2].arrow, "server → client");
        assert_eq!(rows[1].detail, ":path: /lab.v1.Events/Subscribe");
        assert_eq!(totals, WireBytes { head: 2 + 3 + 4, framing: 27, payload: 3 });
        // Two programs' calls, both on stream 1, told apart by their connections; an older trace numbered none.
        let other =
            WireUnit::Http2Frame { frame_type: "HEADERS".into(), flags: 4, stream: 1, length: 0, connection: 4 };
        let unnumbered =
            WireUnit::Http2Frame { frame_type: "HEADERS".into(), flags: 4, stream: 1, length: 0, connection: 0 };
        let more = [
            record(5, 9, 1_005_000, WireDirection::ToServer, other, ""),
            record(6, 10, 1_006_000, WireDirection::ToServer, unnumbered, ""),
        ];
        let (rows, _) = table_rows(&more, MAX_ROWS);
        assert_eq!((rows[0].connection.as_str(), rows[0].stream.as_str()), ("4", "1"));
        assert_eq!(rows[1].connection, "–");
        let (none, empty) = table_rows(&[], MAX_ROWS);
        assert!(none.is_empty());
        assert_eq!(empty, WireBytes::default());
    }

    #[test]
    fn relative_times_never_go_negative() {
        assert_eq!(relative_ms(1_000, 2_000), "0.0");
        assert_eq!(relative_ms(2_260, 1_000), "1.3");
    }
}
