use leptos::prelude::*;

use crate::client::ReceivedClip;

/// The latest clip this lane received, playable from the bytes this lane got: decoded from base64 on polling and
/// SSE, the binary frame's own bytes on the WebSocket. Nothing is shown until a clip arrives.
#[component]
pub fn LaneAudio(clip: ReadSignal<Option<ReceivedClip>>) -> impl IntoView {
    let url = move || clip.with(|clip| clip.as_ref().map(|clip| clip.url.as_str().to_owned()));
    let caption = move || {
        clip.with(|clip| {
            clip.as_ref().map(|clip| {
                format!(
                    "audio #{} · {} Hz, {} ms · {} B as this lane received it, {} B of WAV",
                    clip.seq, clip.frequency_hz, clip.duration_ms, clip.received_bytes, clip.file_bytes
                )
            })
        })
    };
    view! {
        <Show when=move || clip.with(Option::is_some)>
            <figure class="lane-audio">
                <audio controls=true preload="auto" data-testid="audio-player" src=url></audio>
                <figcaption data-testid="audio-caption">{caption}</figcaption>
            </figure>
        </Show>
    }
}
