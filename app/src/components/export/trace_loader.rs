use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::client::read_text;
use crate::components::export::exporters::parsed_trace;
use crate::diagram::trace_file::TraceFile;

/// Largest trace file read: a full four-lane trace with every wire record is a few megabytes.
pub const MAX_TRACE_FILE_BYTES: f64 = 64.0 * 1024.0 * 1024.0;

/// A trace file read and checked, with the name it was chosen by (shown in the replay banner).
#[derive(Clone, Debug, PartialEq)]
pub struct LoadedTrace {
    pub file_name: String,
    pub trace: Arc<TraceFile>,
}

/// "Load trace…": a file picker. A good file goes to `on_load`; a bad one is refused with what is wrong with it,
/// and the page carries on as it was.
#[component]
pub fn TraceLoader(on_load: Callback<LoadedTrace>) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let read = move |input: web_sys::HtmlInputElement| {
        let Some(file) = input.files().and_then(|files| files.get(0)) else { return };
        // Cleared so that choosing the same file again (after fixing it) is a change too.
        input.set_value("");
        let file_name = file.name();
        if file.size() > MAX_TRACE_FILE_BYTES {
            error.set(Some(format!("{file_name}: {:.0} MB is more than a trace can be", file.size() / 1e6)));
            return;
        }
        spawn_local(async move {
            let checked = match read_text(&file).await {
                Ok(text) => parsed_trace(text).await,
                Err(problem) => Err(problem.to_string()),
            };
            match checked {
                Ok(trace) => {
                    // Before `on_load`, which switches to the replay and may remove this picker.
                    error.try_set(None);
                    on_load.run(LoadedTrace { file_name, trace: Arc::new(trace) });
                }
                Err(problem) => {
                    error.try_set(Some(format!("{file_name}: {problem}")));
                }
            }
        });
    };
    view! {
        <label class="trace-loader" title="Replay a trace saved with “Trace .json”, here or on another machine">
            "Load trace…"
            <input
                type="file"
                accept=".json,application/json"
                data-testid="trace-file"
                on:change:target=move |event| read(event.target())
            />
        </label>
        <p class="error trace-error" role="alert" data-testid="trace-error">{move || error.get()}</p>
    }
}
