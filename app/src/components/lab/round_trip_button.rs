use leptos::prelude::*;

/// The two-way lesson's action: every lane that is on sends one message upstream its own way and times it until the
/// same lane receives it back.
#[component]
pub fn RoundTripButton(round_trip: Callback<()>) -> impl IntoView {
    view! {
        <button
                type="button"
                class="round-trip"
                data-testid="round-trip"
                title="Each lane that is on sends one message to the server and times it until that lane receives it \
                       back: short polling, long polling and SSE with POST /api/publish (they have no way up of their \
                       own), WebSocket as a frame on its open socket."
                on:click=move |_| round_trip.run(())
            >
                "Round trip"
            </button>
    }
}
