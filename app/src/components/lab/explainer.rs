use leptos::prelude::*;

/// What the lab is and how to read it. Server-rendered, so it explains itself with JavaScript off too.
#[component]
pub fn Explainer() -> impl IntoView {
    view! {
        <header class="explainer" data-testid="explainer">
            <h1>"Transport Lab"</h1>
            <p>
                "One server produces one stream of numbered events and delivers the same events, at the same time, over "
                <strong>"short polling"</strong>", "<strong>"long polling"</strong>", "
                <strong>"Server-Sent Events"</strong>" and "<strong>"WebSocket"</strong>
                ". Each lane below is a live sequence diagram of one real connection from this browser: time flows down, "
                "the Browser is on the left, the Server on the right. A dot on the Server line is where an event was emitted; "
                "its arrow ends where this browser received it, so the slope is the delay. All lanes share one time axis: "
                "point at an event to highlight it in every lane, click to pin it."
            </p>
            <noscript>
                <p class="noscript" data-testid="noscript">
                    "JavaScript is off, so the live lanes cannot run: they are real connections made by this page. "
                    "The API below works from any HTTP client, e.g. "<code>"curl -N http://HOST/api/sse"</code>"."
                </p>
            </noscript>
            // Folded, so the lanes start within a 720-pixel-high projector screen.
            <details class="api">
                <summary>"How latency is measured · the HTTP and WebSocket API"</summary>
                <p class="model-note">
                    "Latency is receive time − "<code>"emitted_at"</code>
                    ", corrected by the measured difference between the server's clock and this browser's (shown above the lanes, with its uncertainty: half the quickest round trip). On one machine the correction is about zero; across a classroom's machines it can be many milliseconds. The clock-offset estimate is a model (NTP's: equal delay both ways); the receive and emit times are measured."
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
