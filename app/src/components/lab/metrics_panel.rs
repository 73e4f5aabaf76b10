//! The lanes compared side by side, refreshed once a second: latency percentiles, requests, empty answers,
//! connections, bytes by kind, efficiency; a latency histogram and a bytes-per-event bar per lane; reset and CSV.

use leptos::prelude::*;

use crate::client::LaneHandle;
use crate::comparison::{bytes_per_event_stack, csv, latency_histogram, rows, Bar};
use crate::metrics::LaneMetrics;
use protocol::Transport;

const CHART_WIDTH: f64 = 132.0;
const CHART_HEIGHT: f64 = 36.0;

#[component]
pub fn MetricsPanel(lanes: Vec<LaneHandle>) -> impl IntoView {
    let lanes = StoredValue::new(lanes);
    // A second's tick rather than every event: at 50 events/s the percentiles would be re-sorted 200 times a second.
    let tick = RwSignal::new(0u64);
    Effect::new(move |_| {
        let interval = gloo_timers::callback::Interval::new(1000, move || tick.update(|tick| *tick += 1));
        let interval = send_wrapper::SendWrapper::new(interval);
        on_cleanup(move || drop(interval));
    });
    // Taken once per tick and shared by the table, the charts and the CSV.
    let snapshot = Memo::new(move |_| -> Vec<(Transport, LaneMetrics)> {
        tick.track();
        lanes.with_value(|lanes| lanes.iter().map(|lane| (lane.transport, lane.metrics.get_untracked())).collect())
    });
    let reset = move |_| {
        lanes.with_value(|lanes| lanes.iter().for_each(|lane| lane.reset_metrics.run(())));
        tick.update(|tick| *tick += 1);
    };
    // Encoded by the browser (js_sys), so only ever computed there: effects do not run while rendering on the server.
    let csv_href = RwSignal::new(String::new());
    Effect::new(move |_| {
        let encoded = js_sys::encode_uri_component(&snapshot.with(|lanes| csv(lanes)));
        csv_href.set(format!("data:text/csv;charset=utf-8,{encoded}"));
    });
    view! {
        <section class="metrics-panel" data-testid="metrics-panel" aria-label="lanes compared">
            <h2>"Side by side"</h2>
            <p class="model-note">
                "Latencies are measured per event in this browser (clock-corrected); bytes are measured at the server's sockets. Refreshed every second."
            </p>
            <div class="metrics-actions">
                <button type="button" data-testid="metrics-reset" on:click=reset>"Reset figures"</button>
                <a data-testid="metrics-csv" download="transport-lab-metrics.csv" href=csv_href>"Export CSV"</a>
            </div>
            <table>
                <thead>
                    <tr>
                        <th>"figure"</th>
                        {lanes.with_value(|lanes| lanes.iter().map(|lane| view! { <th data-lane=lane.transport.id()>{lane.transport.title()}</th> }).collect_view())}
                    </tr>
                </thead>
                <tbody>
                    {move || {
                        let lanes = snapshot.get();
                        let max_bytes = lanes
                            .iter()
                            .filter_map(|(_, metrics)| metrics.bytes_per_event())
                            .fold(0.0, f64::max);
                        let charts = view! {
                            <tr>
                                <th title="how many recent events arrived within each latency band (log-spaced: <1, 1–2, 2–5 … ≥1000 ms)">"latency distribution"</th>
                                {lanes.iter().map(|(transport, metrics)| view! {
                                    <td data-testid=format!("latency-chart-{}", transport.id())>
                                        <Chart bars=latency_histogram(&metrics.latency, CHART_WIDTH, CHART_HEIGHT) />
                                    </td>
                                }).collect_view()}
                            </tr>
                            <tr>
                                <th title="bytes per delivered event: headers, framing, payload">"bytes per event"</th>
                                {lanes.iter().map(|(_, metrics)| view! {
                                    <td><Chart bars=bytes_per_event_stack(metrics, max_bytes, CHART_WIDTH, 10.0) /></td>
                                }).collect_view()}
                            </tr>
                        };
                        let figures = rows(&lanes)
                            .into_iter()
                            .map(|row| view! {
                                <tr data-testid=format!("row-{}", row.id)>
                                    <th>{row.label}</th>
                                    {row.values.into_iter().map(|value| view! { <td>{value}</td> }).collect_view()}
                                </tr>
                            })
                            .collect_view();
                        view! { {figures} {charts} }
                    }}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn Chart(bars: Vec<Bar>) -> impl IntoView {
    let height = bars.iter().map(|bar| bar.y + bar.height).fold(0.0, f64::max).max(1.0);
    // What a screen reader says for the picture: every bar's own tooltip, in order.
    let described = bars.iter().map(|bar| bar.label.as_str()).collect::<Vec<_>>().join("; ");
    view! {
        <svg
            class="mini-chart"
            width=CHART_WIDTH
            height=height
            viewBox=format!("0 0 {CHART_WIDTH} {height}")
            role="img"
            aria-label=described
        >
            {bars.into_iter().map(|bar| view! {
                <rect class=bar.class x=bar.x y=bar.y width=bar.width.max(0.0) height=bar.height.max(0.0)>
                    <title>{bar.label}</title>
                </rect>
            }).collect_view()}
        </svg>
    }
}
