//! `transport-load report`: merges run files into one [`ScaleReport`], written as JSON and as Markdown.

mod markdown;
mod sockperf;

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use protocol::{ScaleReport, ScaleRun};

pub use markdown::{markdown, summary_line};

use crate::cli::ReportArgs;
use crate::error::LoadError;
use crate::proc;

pub fn report(args: &ReportArgs) -> Result<ScaleReport, LoadError> {
    let mut runs = Vec::new();
    for path in &args.runs {
        runs.extend(read_runs(path)?);
    }
    // Grouped for reading: a transport's servers and client counts side by side.
    runs.sort_by(|a, b| {
        (a.transport, a.clients, a.poll_interval_ms, a.mqtt_qos, a.server)
            .cmp(&(b.transport, b.clients, b.poll_interval_ms, b.mqtt_qos, b.server))
            .then(a.rate_per_second.total_cmp(&b.rate_per_second))
    });
    let loopback_floor = match &args.sockperf {
        Some(path) => {
            let floor = sockperf::parse(&std::fs::read_to_string(path).map_err(|error| LoadError::file(path, error))?);
            if floor.is_none() {
                eprintln!("warning: no latency summary found in {}; the report has no loopback floor", path.display());
            }
            floor
        }
        None => None,
    };
    let report = ScaleReport {
        finished_at: SystemTime::now().duration_since(UNIX_EPOCH).map(|now| now.as_secs()).unwrap_or(0),
        command: args.command.clone(),
        machine: proc::machine_info(),
        loopback_floor,
        runs,
    };
    write(&args.out_json, &serde_json::to_vec_pretty(&report)?)?;
    write(&args.out_markdown, markdown(&report).as_bytes())?;
    Ok(report)
}

/// A run file holds one run; a whole report is accepted too, so an earlier report can be merged again.
fn read_runs(path: &Path) -> Result<Vec<ScaleRun>, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|error| LoadError::file(path, error))?;
    match serde_json::from_str::<ScaleRun>(&text) {
        Ok(run) => Ok(vec![run]),
        Err(as_run) => serde_json::from_str::<ScaleReport>(&text)
            .map(|report| report.runs)
            .map_err(|_| LoadError::Protocol(format!("{} is neither a run nor a report: {as_run}", path.display()))),
    }
}

/// Writes `bytes` to `path`, creating its directory.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), LoadError> {
    if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|error| LoadError::file(parent, error))?;
    }
    std::fs::write(path, bytes).map_err(|error| LoadError::file(path, error))
}
