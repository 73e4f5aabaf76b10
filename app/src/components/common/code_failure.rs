//! What the page says when its own code stops. A panic in wasm aborts the module: every button and lane after it
//! is dead, with nothing on screen to say so. The likeliest cause is not a bug but a fetch: a part of the page whose
//! code is a chunk of its own (`lazily`) is fetched when first used, and a phone on a crowded Wi-Fi can lose that
//! request, or the teacher may have restarted the lab with a newer build whose chunks no longer fit this page.
//! Either way a reload is the answer, so the notice offers one. The notice is in the server's HTML from the start,
//! hidden; the panic hook only shows it, touching the document directly because the reactive system may be the
//! part that failed.

use leptos::prelude::*;

const NOTICE_ID: &str = "code-failed";
const REASON_ID: &str = "code-failed-reason";
/// Set on `<html>` once the page's wasm runs: from then on the panic hook speaks for it.
const RUNNING_ATTRIBUTE: &str = "data-code-running";

/// Watches the page's first fetches, before any of its wasm runs: the loader (`HydrationScripts`) imports the main
/// module and then its wasm, and leaves a failure of either as an unhandled rejection. Without this the page would
/// sit with every lane "off" and nothing to say why. A script of the shell's own, with its nonce, since the panic
/// hook cannot run when the code it lives in never arrived.
pub const LOAD_WATCH_SCRIPT: &str = r#"addEventListener("unhandledrejection", function (event) {
  if (document.documentElement.hasAttribute("data-code-running")) return;
  var reason = document.getElementById("code-failed-reason"), notice = document.getElementById("code-failed");
  if (!reason || !notice) return;
  var detail = event.reason && event.reason.message ? event.reason.message : String(event.reason);
  reason.textContent = "The lab's code could not be fetched, so this page cannot start (" + detail + "). The network "
    + "lost it, or the lab is restarting.";
  notice.removeAttribute("hidden");
});"#;

/// What the panic hook's message (`PanicHookInfo`'s text) means to the person in front of the page.
pub fn failure_text(panic_message: &str) -> String {
    // The message `#[lazy]` code panics with when its chunk's load failed (wasm_split's generated wrapper).
    if panic_message.contains("load callback should succeed") {
        return "A part of the lab's code could not be fetched: the network lost it, or the lab was restarted with \
                a newer build since this page loaded."
            .to_owned();
    }
    let detail = panic_message.lines().skip_while(|line| line.starts_with("panicked at")).collect::<Vec<_>>().join(" ");
    let detail = if detail.is_empty() { panic_message.trim() } else { detail.trim() };
    format!("The lab's code stopped with an error: {detail}")
}

/// The notice, hidden until [`show_code_failure`]. A plain link reloads: the page's scripts are the part that
/// failed, and its Content-Security-Policy allows no inline handler anyway.
#[component]
pub fn CodeFailureNotice() -> impl IntoView {
    view! {
        <div id=NOTICE_ID class="code-failed" role="alert" data-testid="code-failed" hidden>
            <p id=REASON_ID data-testid="code-failed-reason"></p>
            <p>"Nothing on this page responds any more. " <a href="">"Reload the page"</a> " to start again."</p>
        </div>
    }
}

/// Tells the load watch ([`LOAD_WATCH_SCRIPT`]) that the wasm arrived and runs; failures are the panic hook's now.
pub fn mark_code_running() {
    if let Some(root) =
        web_sys::window().and_then(|window| window.document()).and_then(|document| document.document_element())
    {
        let _ = root.set_attribute(RUNNING_ATTRIBUTE, "");
    }
}

/// Shows the notice with the panic's meaning. Called from the panic hook, so it must not panic itself: anything
/// missing (no document, no notice on this page) is skipped.
pub fn show_code_failure(panic_message: &str) {
    let Some(document) = web_sys::window().and_then(|window| window.document()) else { return };
    if let Some(reason) = document.get_element_by_id(REASON_ID) {
        reason.set_text_content(Some(&failure_text(panic_message)));
    }
    if let Some(notice) = document.get_element_by_id(NOTICE_ID) {
        let _ = notice.remove_attribute("hidden");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_that_did_not_load_is_explained_as_a_fetch_not_as_a_bug() {
        let message = "panicked at wasm_split_helpers/src/rt.rs:1:1:\nload callback should succeed: failed to load \
                       split module";
        let text = failure_text(message);
        assert!(text.contains("could not be fetched"), "{text}");
        assert!(!text.contains("rt.rs"), "no source location for a reader: {text}");
    }

    #[test]
    fn the_load_watch_finds_the_notice_and_the_mark_this_module_names() {
        for name in [NOTICE_ID, REASON_ID, RUNNING_ATTRIBUTE] {
            assert!(LOAD_WATCH_SCRIPT.contains(&format!("\"{name}\"")), "{name}");
        }
    }

    #[test]
    fn any_other_panic_shows_its_message_without_the_location() {
        let text = failure_text("panicked at app/src/x.rs:3:9:\nindex out of bounds");
        assert_eq!(text, "The lab's code stopped with an error: index out of bounds");
        assert_eq!(failure_text("  odd  "), "The lab's code stopped with an error: odd");
    }
}
