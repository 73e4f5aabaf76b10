use leptos::prelude::*;

use crate::comparison::percent;
use crate::metrics::LaneMetrics;

fn millis(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |value| format!("{value:.1} ms"))
}

/// A lane's figures, measured in this browser from what the lane received: the three a comparison starts from,
/// and the rest folded, so the diagrams keep the screen.
#[component]
pub fn LaneMetricsView(metrics: ReadSignal<LaneMetrics>) -> impl IntoView {
    let figure = move |read: fn(&LaneMetrics) -> String| move || metrics.with(read);
    view! {
        <dl class="lane-metrics">
            <dt>"events"</dt>
            <dd data-testid="metric-events">{figure(|m| m.events_received.to_string())}</dd>
            <dt>"requests"</dt>
            <dd data-testid="metric-requests">{figure(|m| m.requests.to_string())}</dd>
            <dt>"empty responses"</dt>
            <dd data-testid="metric-empty">{figure(|m| m.empty_responses.to_string())}</dd>
            <dt title="receive time − emitted_at, corrected by the estimated clock offset shown above the lanes">
                "latency last / p50 / max"
            </dt>
            <dd data-testid="metric-latency">
                <span data-testid="metric-latency-last">{figure(|m| millis(m.latency.last()))}</span>
                " / "
                <span data-testid="metric-latency-p50">{figure(|m| millis(m.latency.quantile(0.5)))}</span>
                " / "
                <span data-testid="metric-latency-max">{figure(|m| millis(m.latency.max()))}</span>
            </dd>
            <dt title="every byte of this lane's connections, both ways, measured at the server's sockets">
                "wire bytes: head / framing / payload"
            </dt>
            <dd data-testid="metric-wire">
                {figure(|m| {
                    let (up, down) = (m.wire.to_server, m.wire.to_client);
                    format!("{} / {} / {}", up.head + down.head, up.framing + down.framing, up.payload + down.payload)
                })}
            </dd>
        </dl>
        <details class="more-figures">
            <summary>"more figures"</summary>
            <dl class="lane-metrics">
            <dt title="a message this lane sent upstream (Round trip button) until this lane received it back: browser \
                       clock at send → browser clock at receipt; one clock, so no offset correction is needed">
                "round trip last / p50"
            </dt>
            <dd data-testid="metric-round-trip">
                <span data-testid="metric-round-trip-last">{figure(|m| millis(m.round_trip.last()))}</span>
                " / "
                <span data-testid="metric-round-trip-p50">{figure(|m| millis(m.round_trip.quantile(0.5)))}</span>
            </dd>
            <dt title="events that never arrived and no gap marker explained; should be 0">"missed / duplicated"</dt>
            <dd>
                <span data-testid="metric-missed">{figure(|m| m.silently_missed.to_string())}</span>
                " / "
                <span data-testid="metric-duplicates">{figure(|m| m.duplicates.to_string())}</span>
            </dd>
            <dt title="arrived after a later event, though never received before">"out of order"</dt>
            <dd data-testid="metric-out-of-order">{figure(|m| m.out_of_order.to_string())}</dd>
            <dt title="events the server's history no longer held when asked (explicit gap markers)">"lost in gaps"</dt>
            <dd data-testid="metric-gaps">{figure(|m| m.lost_in_gaps.to_string())}</dd>
            <dt title="connection lost → next event received">"recoveries / last took"</dt>
            <dd>
                <span data-testid="metric-recoveries">{figure(|m| m.recoveries.to_string())}</span>
                " / "
                <span data-testid="metric-last-recovery">{figure(|m| millis(m.last_recovery_ms))}</span>
            </dd>
            <dt title="since the latest connection loss: each must stay 0 where the server's history covers the outage">
                "since last fault: missed / dup. / out of order"
            </dt>
            <dd data-testid="scoreboard">
                {figure(|m| {
                    m.score_since_last_fault()
                        .map_or_else(
                            || "no fault yet".to_owned(),
                            |score| format!("{} / {} / {}", score.missed, score.duplicated, score.out_of_order),
                        )
                })}
            </dd>
            <dt title="payload ÷ every byte, both ways">"efficiency · bytes per event"</dt>
            <dd>
                <span data-testid="metric-efficiency">
                    {figure(|m| percent(m.efficiency()))}
                </span>
                " · "
                <span data-testid="metric-bytes-per-event">
                    {figure(|m| m.bytes_per_event().map_or("–".into(), |bytes| format!("{bytes:.0} B")))}
                </span>
            </dd>
            <dt title="the latest audio event as this lane received it: JSON with the clip in base64 (polling, SSE), or \
                       the binary frame's payload (WebSocket)">
                "audio bytes"
            </dt>
            <dd data-testid="metric-audio-bytes">{figure(|m| m.audio_bytes.map_or("–".into(), |bytes| bytes.to_string()))}</dd>
            <dt>"body bytes received"</dt>
            <dd data-testid="metric-bytes">{figure(|m| m.body_bytes_received.to_string())}</dd>
            <dt>"last seq"</dt>
            <dd data-testid="metric-last-seq">{figure(|m| m.last_seq.map_or("–".into(), |seq| seq.to_string()))}</dd>
            </dl>
        </details>
    }
}
