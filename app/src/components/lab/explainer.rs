use leptos::prelude::*;

/// What the lab is and how to read it. Server-rendered, so it explains itself with JavaScript off too.
#[component]
pub fn Explainer() -> impl IntoView {
    view! {
        <header class="explainer" data-testid="explainer">
            <h1>"Transport Lab"</h1>
            <p class="tagline">"One stream of numbered events, delivered at once over every transport, drawn live."</p>
            // Folded, so the diagrams have the first screen; a newcomer opens it once.
            <details class="how-to-read">
                <summary>"How to read the lanes"</summary>
                <p>
                    "One server produces one stream of numbered events and delivers the same events, at the same time, "
                    "over every lane: " <strong>"short polling"</strong>", "<strong>"long polling"</strong>", "
                    <strong>"Server-Sent Events"</strong>", "<strong>"WebSocket"</strong>", "
                    <strong>"HTTP streaming"</strong>", "<strong>"webhooks"</strong>", "<strong>"MQTT"</strong>" and "
                    <strong>"gRPC"</strong>". Each lane is a live sequence diagram of one real connection from this "
                    "browser: time flows down, the Browser is on the left, the Server on the right. A dot on the Server "
                    "line is where an event was emitted; its arrow ends where this browser received it, so the slope is "
                    "the delay. All lanes share one time axis: point at an event to highlight it in every lane, click "
                    "(or tap) to pin it. The strip above the lanes switches each lane on or off and chooses which are "
                    "drawn side by side; a lane that is not drawn keeps recording, and its figures stay in the strip."
                </p>
            </details>
            <noscript>
                <p class="noscript" data-testid="noscript">
                    "JavaScript is off, so the live lanes cannot run: they are real connections made by this page. "
                    "The API below works from any HTTP client, e.g. "<code>"curl -N http://HOST/api/sse"</code>"."
                </p>
            </noscript>
            // Folded, so the lanes start within a 720-pixel-high projector screen.
            <details class="api">
                <summary>"Latency and the API"</summary>
                <p class="model-note">
                    "Latency is receive time − "<code>"emitted_at"</code>
                    ", corrected by the measured difference between the server's clock and this browser's (shown above the lanes, with its uncertainty: half the quickest round trip). On one machine the correction is about zero; across a classroom's machines it can be many milliseconds. The clock-offset estimate is a model (NTP's: equal delay both ways); the receive and emit times are measured."
                </p>
                <p>
                    "A lane switched off and on again asks for the events it missed (after=N, Last-Event-ID) and gets them at once: their latency includes the time it was off, so its max and p50 jump. That is the catch-up, measured, not a slow network. (gRPC-web, first switched on after the page loaded, starts from now instead: its call can ask for the present.)"
                </p>
                <ul>
                    <li><code>"GET /api/poll?after=N"</code>" — events after N, at once"</li>
                    <li><code>"GET /api/long-poll?after=N&timeout=S"</code>" — held until an event exists (200) or S seconds pass (204)"</li>
                    <li><code>"GET /api/sse?after=N"</code>" — text/event-stream; honours Last-Event-ID"</li>
                    <li><code>"GET /api/ws?after=N"</code>" — WebSocket; send {\"type\":\"publish\",\"text\":\"…\"}"</li>
                    <li><code>"POST /api/publish"</code>" {\"text\":\"…\"} — 202 {\"seq\":N}"</li>
                    <li><code>"GET|POST /api/generator"</code>" — rate_per_second, payload_bytes, paused"</li>
                    <li><code>"GET /api/stats"</code>" — per-transport connections, requests, events and bytes"</li>
                    <li><code>"GET /api/class"</code>" — who is connected now, per transport, and the join link (the presenter view is at /present)"</li>
                </ul>
            </details>
        </header>
    }
}
