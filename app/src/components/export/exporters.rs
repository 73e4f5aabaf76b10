//! The exporters' work, each in a wasm chunk fetched at the first click that needs it: the lab page's first
//! download carries the toolbar's buttons, not the Mermaid, HAR and trace writers or the trace reader.

use leptos::prelude::*;

use crate::diagram::har::har;
use crate::diagram::mermaid;
use crate::diagram::trace_file::TraceFile;
use crate::diagram::TraceRecord;
use protocol::Transport;

pub type Lanes = Vec<(Transport, Vec<TraceRecord>)>;

/// The lanes as a Mermaid `sequenceDiagram`.
#[lazy]
pub fn mermaid_text(caption: String, lanes: Lanes) -> String {
    mermaid::sequence_diagram(&caption, &lanes)
}

/// The lanes' HTTP exchanges and WebSocket messages as HAR 1.2 JSON, and how many entries it has.
#[lazy]
pub fn har_text(caption: String, lanes: Lanes) -> (String, usize) {
    let archive = har(&caption, &lanes);
    (archive.to_json(), archive.log.entries.len())
}

/// The trace as its file's JSON, with the page's capture inside when there is one.
#[lazy]
pub fn trace_text(trace: TraceFile, pcapng: Option<Vec<u8>>) -> Result<(String, usize, usize), String> {
    let trace = match pcapng {
        Some(pcapng) => trace.with_capture(&pcapng),
        None => trace,
    };
    let json = trace.to_json().map_err(|problem| problem.to_string())?;
    Ok((json, trace.record_count(), trace.lanes.len()))
}

/// A trace file read and checked.
#[lazy]
pub fn parsed_trace(text: String) -> Result<TraceFile, String> {
    TraceFile::parse(&text).map_err(|problem| problem.to_string())
}
