//! The exporters' work, in one wasm chunk fetched at the first click that needs it: the lab page's first download
//! carries the toolbar's buttons, not the Mermaid, HAR and trace writers or the trace reader.

use leptos::prelude::*;

use crate::diagram::har::har;
use crate::diagram::mermaid;
use crate::diagram::trace_file::TraceFile;
use crate::diagram::TraceRecord;
use protocol::Transport;

pub type Lanes = Vec<(Transport, Vec<TraceRecord>)>;

/// A trace file's JSON, with how many records and lanes it holds.
pub type TraceText = Result<(String, usize, usize), String>;

/// What the chunk gives back: its functions, called once it has arrived (as the views' makers are).
struct Exporters {
    mermaid: fn(&str, &Lanes) -> String,
    har: fn(&str, &Lanes) -> (String, usize),
    trace: fn(TraceFile, Option<Vec<u8>>) -> TraceText,
    read_trace: fn(&str) -> Result<TraceFile, String>,
}

#[lazy]
fn exporters_code() -> Exporters {
    Exporters {
        mermaid: |caption, lanes| mermaid::sequence_diagram(caption, lanes),
        har: |caption, lanes| {
            let archive = har(caption, lanes);
            (archive.to_json(), archive.log.entries.len())
        },
        trace: |trace, pcapng| {
            let trace = match pcapng {
                Some(pcapng) => trace.with_capture(&pcapng),
                None => trace,
            };
            let json = trace.to_json().map_err(|problem| problem.to_string())?;
            Ok((json, trace.record_count(), trace.lanes.len()))
        },
        read_trace: |text| TraceFile::parse(text).map_err(|problem| problem.to_string()),
    }
}

/// The lanes as a Mermaid `sequenceDiagram`.
pub async fn mermaid_text(caption: String, lanes: Lanes) -> String {
    (exporters_code().await.mermaid)(&caption, &lanes)
}

/// The lanes' HTTP exchanges and WebSocket messages as HAR 1.2 JSON, and how many entries it has.
pub async fn har_text(caption: String, lanes: Lanes) -> (String, usize) {
    (exporters_code().await.har)(&caption, &lanes)
}

/// The trace as its file's JSON, with the page's capture inside when there is one.
pub async fn trace_text(trace: TraceFile, pcapng: Option<Vec<u8>>) -> TraceText {
    (exporters_code().await.trace)(trace, pcapng)
}

/// A trace file read and checked.
pub async fn parsed_trace(text: String) -> Result<TraceFile, String> {
    (exporters_code().await.read_trace)(&text)
}
