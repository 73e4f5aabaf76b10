//! The lab's state at render time travels inside the HTML, so the server and the hydrating browser start the
//! lanes from the same sequence number without a second request.

use protocol::LabSnapshot;

pub const SNAPSHOT_ELEMENT_ID: &str = "lab-snapshot";

/// JSON safe inside `<script>`: `<` is escaped so no text can close the element early.
pub fn to_script_text(snapshot: &LabSnapshot) -> String {
    serde_json::to_string(snapshot).unwrap_or_default().replace('<', "\\u003c")
}

/// The snapshot the server wrote into this page; `None` outside a browser (leptos_axum renders the app once at
/// startup, without a request, to list its routes).
pub fn read_from_page() -> Option<LabSnapshot> {
    if !cfg!(target_arch = "wasm32") {
        return None;
    }
    let text = web_sys::window()?.document()?.get_element_by_id(SNAPSHOT_ELEMENT_ID)?.text_content()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{Epoch, GeneratorSettings};

    #[test]
    fn script_text_round_trips_and_cannot_close_the_script() {
        let snapshot = LabSnapshot {
            epoch: Epoch("</script><b>".into()),
            head_seq: 4,
            history_capacity: 10,
            generator: GeneratorSettings::default(),
            server_time: 1,
            client: protocol::ClientId::try_from("c1".to_owned()).unwrap(),
            teacher: true,
        };
        let text = to_script_text(&snapshot);
        assert!(!text.contains('<'));
        assert_eq!(serde_json::from_str::<LabSnapshot>(&text).unwrap(), snapshot);
    }
}
