//! The scale suite's latest report, read from disk on every request (a few KB), so rerunning `./lab bench` updates
//! the Scale page without restarting the lab.

use std::path::PathBuf;
use std::sync::Arc;

use protocol::ScaleReport;

use crate::core::refusal::Refusal;

/// Where `./lab bench` writes its latest report (`--scale-results`).
#[derive(Clone, Debug)]
pub struct ScaleResults(Arc<PathBuf>);

impl ScaleResults {
    pub fn new(path: PathBuf) -> Self {
        Self(Arc::new(path))
    }

    /// The report as it is on disk now: parsed rather than passed through, so the page never receives a report it
    /// cannot draw.
    pub async fn latest(&self) -> Result<ScaleReport, Refusal> {
        let path = self.0.display().to_string();
        let text = match tokio::fs::read(self.0.as_ref()).await {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(Refusal::NoScaleResults { path });
            }
            Err(error) => return Err(Refusal::ScaleResultsUnreadable { path, reason: error.to_string() }),
        };
        serde_json::from_slice(&text)
            .map_err(|error| Refusal::ScaleResultsUnreadable { path, reason: error.to_string() })
    }
}
