//! The page's one server function: the lab's state when the page is rendered, so every lane starts from the same
//! point in the log.

use leptos::prelude::*;

use crate::model::LabSnapshot;

#[server(prefix = "/fn", endpoint = "lab_snapshot")]
pub async fn load_lab_snapshot() -> Result<LabSnapshot, ServerFnError> {
    let source = use_context::<ssr::SnapshotSource>().ok_or_else(|| ServerFnError::new("the lab state is not available"))?;
    Ok((source.0)())
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use std::sync::Arc;

    use crate::model::LabSnapshot;

    /// Provided as context by the server, which owns the hub this crate cannot see.
    #[derive(Clone)]
    pub struct SnapshotSource(pub Arc<dyn Fn() -> LabSnapshot + Send + Sync>);
}
