use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::client::send_audio;
use protocol::{AudioRequest, DEFAULT_TONE_DURATION_MS, DEFAULT_TONE_FREQUENCY_HZ};

/// The binary lesson's action: the server makes a short tone and every lane receives it, as base64 inside JSON or
/// as a WebSocket binary frame.
#[component]
pub fn SendToneButton() -> impl IntoView {
    let outcome = RwSignal::new(String::new());
    let send = move |_| {
        spawn_local(async move {
            outcome.set(match send_audio(&AudioRequest::default()).await {
                Ok(ack) => format!("sent as #{}", ack.seq),
                Err(error) => error.to_string(),
            });
        });
    };
    view! {
        <span class="send-tone">
            <button
                type="button"
                data-testid="send-tone"
                title=format!(
                    "The server makes a {DEFAULT_TONE_FREQUENCY_HZ} Hz tone of {DEFAULT_TONE_DURATION_MS} ms as a WAV \
                     file (POST /api/audio) and every lane receives it: base64 inside JSON on polling and SSE, one \
                     binary frame on the WebSocket. Compare the sizes, then play each lane's copy."
                )
                on:click=send
            >
                "Send a tone"
            </button>
            <output data-testid="send-tone-result">{move || outcome.get()}</output>
        </span>
    }
}
