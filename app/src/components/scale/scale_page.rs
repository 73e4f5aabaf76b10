use leptos::prelude::*;

use crate::client::latest_scale_report;
use crate::components::common::fetched::fetched;
use crate::scale_chart::{bar_groups, format_micros, peer_ratios, thousands, BarGroup, PeerRatio, ScaleMetric};
use protocol::{target_checks, ScaleReport, ScaleRun, TargetCheck, Verdict};

/// The scale suite's latest results: every transport at 1,000 and 10,000 clients, the lab beside the Node.js
/// servers people would pick. Fetched from `/api/scale`, which reads what `./lab bench` last wrote.
#[component]
pub fn ScalePage() -> impl IntoView {
    let report = fetched(latest_scale_report);
    let body = move || match report.get() {
        None => view! { <p data-testid="scale-loading">"Loading the latest results…"</p> }.into_any(),
        Some(Err(error)) => view! { <p class="error" data-testid="scale-error">{error}</p> }.into_any(),
        Some(Ok(report)) => view! { <Report report /> }.into_any(),
    };
    view! {
        <main class="scale" data-testid="scale-page">
            <header class="explainer">
                <h1>"Scale lab"</h1>
                <p>
                    "The study notes this lab grew from quote figures for \"1,000 users, 1 message per second\" without measuring them. "
                    "These were measured: a load tool (" <code>"loadtest/"</code> ") opens N real clients of one transport against a freshly "
                    "started server on this machine's loopback, while the server emits events at a fixed rate. Latency runs from the event's "
                    <code>"emitted_at"</code> " to its arrival (one machine, one clock); CPU time and memory come from the server process's "
                    <code>"/proc"</code> " entries; bytes are counted at the client's sockets. Peers are minimal Node.js servers written the way "
                    "their documentation shows, run with the same load in the same suite."
                </p>
            </header>
            {body}
        </main>
    }
}

#[component]
fn Report(report: ScaleReport) -> impl IntoView {
    let machine = &report.machine;
    let machine_text = format!(
        "{} · {} cores · {:.0} GiB RAM · Linux {}",
        machine.cpu_model,
        machine.cores,
        machine.memory_bytes as f64 / (1u64 << 30) as f64,
        machine.kernel
    );
    let finished = finished_text(report.finished_at);
    let floor = report.loopback_floor.clone().map(|floor| {
        view! {
            <p data-testid="scale-floor">
                "Loopback floor (" {floor.tool} ", one way, no server): p50 " {format!("{:.1}", floor.p50_us)} " µs, p99 "
                {format!("{:.1}", floor.p99_us)} " µs, max " {format!("{:.1}", floor.max_us)} " µs."
            </p>
        }
    });
    let charts = ScaleMetric::ALL
        .into_iter()
        .map(|metric| view! { <Chart metric groups=bar_groups(&report.runs, metric) /> })
        .collect_view();
    let ratios = peer_ratios(&report.runs);
    let targets = target_checks(&report.runs);
    view! {
        <section class="scale-report" data-testid="scale-report">
            <p data-testid="scale-machine">"Measured on " {machine_text} ", finished " {finished} "."</p>
            <p>"Rerun it all: " <code data-testid="scale-command">{report.command.clone()}</code></p>
            {floor}
            <div class="scale-charts">{charts}</div>
            <Targets targets />
            <Ratios ratios />
            <RunTable runs=report.runs.clone() />
        </section>
    }
}

#[component]
fn Chart(metric: ScaleMetric, groups: Vec<BarGroup>) -> impl IntoView {
    let groups = groups
        .into_iter()
        .map(|group| {
            let bars = group
                .bars
                .into_iter()
                .map(|bar| {
                    let server = format!("{:?}", bar.server);
                    // An SVG attribute, not a style: the page's Content-Security-Policy forbids inline styles.
                    let width = format!("{:.1}%", bar.percent_of_longest.max(0.5));
                    view! {
                        <div class="scale-bar-row" data-testid="scale-bar" data-server=server>
                            <span class="scale-bar-server">{bar.server.title()}</span>
                            <svg class="scale-bar-track" aria-hidden="true">
                                <rect class=format!("scale-bar server-{:?}", bar.server) width=width height="100%" rx="3" />
                            </svg>
                            <span class="scale-bar-value">{bar.text}</span>
                        </div>
                    }
                })
                .collect_view();
            view! {
                <div class="scale-group">
                    <h4>{group.label}</h4>
                    {bars}
                </div>
            }
        })
        .collect_view();
    view! {
        <figure class="scale-chart" data-testid=format!("scale-chart-{}", metric.id())>
            <figcaption>{metric.title()}</figcaption>
            {groups}
        </figure>
    }
}

/// Each target as a ratio of two rows of this report: the lab against the floor (`bench/floor`, the least this
/// machine can do for the job) or against Node.js, at the same load.
#[component]
fn Targets(targets: Vec<TargetCheck>) -> impl IntoView {
    let rows = targets
        .into_iter()
        .map(|check| {
            let verdict_class = match check.verdict {
                Verdict::Met => "verdict-met",
                Verdict::Missed => "verdict-missed",
                Verdict::NotMeasured => "verdict-unmeasured",
            };
            view! {
                <tr data-testid="scale-target" data-verdict=check.verdict.title()>
                    <td>{check.target}</td>
                    <td>{check.load}</td>
                    <td>{check.measured}</td>
                    <td class=verdict_class>{check.verdict.title()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <h2>"Against the floor"</h2>
        <p>
            "The floor is a server that does the least this machine can do for the same job: one epoll loop that writes each "
            "event's bytes once per socket, and nothing else (" <code>"bench/floor"</code> "). It runs under the same load "
            "tool in the same suite, so every target below is the ratio of two rows of this report."
        </p>
        <WideTable label="targets" testid="scale-targets" headings=&["Target", "Load", "Measured", "Verdict"]>
            {rows}
        </WideTable>
    }
}

#[component]
fn Ratios(ratios: Vec<PeerRatio>) -> impl IntoView {
    let times = |ratio: Option<f64>| ratio.map(|ratio| format!("{ratio:.1}×")).unwrap_or_else(|| "—".into());
    let rows = ratios
        .into_iter()
        .map(|ratio| {
            view! {
                <tr data-testid="scale-ratio">
                    <td>{ratio.label}</td>
                    <td>{ratio.peer.title()}</td>
                    <td>{times(ratio.deliveries_per_cpu_second)}</td>
                    <td>{times(ratio.rss_per_connection)}</td>
                    <td>{times(ratio.p99_latency)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <h2>"The lab against its peers, same load, same run"</h2>
        <p>"How many times better the lab did (above 1×: the lab wins; below: the peer does)."</p>
        <WideTable
            label="the lab against its peers"
            testid="scale-ratios"
            headings=&["Load", "Peer", "Deliveries per CPU-second", "Memory per connection", "p99 latency"]
        >
            {rows}
        </WideTable>
    }
}

#[component]
fn RunTable(runs: Vec<ScaleRun>) -> impl IntoView {
    let rows = runs
        .into_iter()
        .map(|run| {
            let delivered = format!(
                "{} / {}",
                thousands(run.deliveries_per_second.round() as u64),
                thousands(run.expected_deliveries_per_second.round() as u64)
            );
            let short_of_full = run.deliveries_per_second < 0.98 * run.expected_deliveries_per_second;
            view! {
                <tr data-testid="scale-row">
                    <td>{run.server.title()}</td>
                    <td>{run.transport.title()}</td>
                    <td class="number">{thousands(run.clients as u64)}</td>
                    <td class="number">{thousands(run.connected as u64)}</td>
                    <td class="number">{format!("{}", run.rate_per_second)}</td>
                    <td class="number" class:short=short_of_full>{delivered}</td>
                    <td class="number">{format_micros(run.latency.p50_us as f64)}</td>
                    <td class="number">{format_micros(run.latency.p99_us as f64)}</td>
                    <td class="number">{format_micros(run.latency.max_us as f64)}</td>
                    <td class="number">{format!("{:.0}", run.requests_per_second)}</td>
                    <td class="number">{format!("{:.1}", run.bytes_per_second_down / 1024.0)}</td>
                    <td class="number">{format!("{:.1}", run.bytes_per_second_up / 1024.0)}</td>
                    <td class="number">{format!("{:.0} %", 100.0 * run.server_cpu_seconds / run.measured_seconds.max(f64::EPSILON))}</td>
                    <td class="number">{format!("{:.2}", run.server_cpu_us_per_delivery)}</td>
                    <td class="number">{format!("{:.1}", run.rss_per_connection_bytes / 1024.0)}</td>
                    <td class="number">{run.missed}</td>
                    <td class="number" title=run.error_samples.join("\n")>{run.errors}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <h2>"Every run"</h2>
        <WideTable
            label="every run"
            testid="scale-table"
            headings=&[
                "Server", "Transport", "Clients", "Connected", "Events/s", "Delivered/s (of full)", "p50", "p99", "max",
                "Requests/s", "KiB/s down", "KiB/s up", "Server CPU", "µs CPU/event", "KiB/conn", "Missed", "Errors",
            ]
        >
            {rows}
        </WideTable>
    }
}

/// A table wider than a phone: it scrolls inside itself, never the page, and is focusable so a keyboard can
/// scroll it too.
#[component]
fn WideTable(
    label: &'static str,
    testid: &'static str,
    headings: &'static [&'static str],
    children: Children,
) -> impl IntoView {
    view! {
        <div class="table-scroll" tabindex="0" role="region" aria-label=format!("{label}, scrollable")>
            <table class="scale-table" data-testid=testid>
                <thead>
                    <tr>{headings.iter().map(|heading| view! { <th>{*heading}</th> }).collect_view()}</tr>
                </thead>
                <tbody>{children()}</tbody>
            </table>
        </div>
    }
}

/// The report's finish time in UTC; only ever called in the browser (the report is fetched there).
fn finished_text(unix_seconds: u64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(unix_seconds as f64 * 1000.0));
    String::from(date.to_iso_string()).replace('T', " ").chars().take(16).collect::<String>() + " UTC"
}
