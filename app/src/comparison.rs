//! The lanes side by side: the rows of the metrics panel, the same figures as CSV, and the geometry of its small
//! charts. Plain Rust; the component only renders it.

use crate::metrics::{LaneMetrics, LatencyWindow};
use protocol::Transport;

/// One figure across every lane.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Stable id, for `data-testid` and the CSV.
    pub id: &'static str,
    pub label: &'static str,
    pub values: Vec<String>,
}

fn millis(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |value| format!("{value:.1}"))
}

/// A share as a whole percentage, or a dash before there is one (used by each lane's figures too).
pub fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "–".to_owned(), |share| format!("{:.0} %", share * 100.0))
}

/// The panel's rows for `lanes`, in their order.
pub fn rows(lanes: &[(Transport, LaneMetrics)]) -> Vec<Row> {
    let row = |id, label, value: &dyn Fn(&LaneMetrics) -> String| Row {
        id,
        label,
        values: lanes.iter().map(|(_, metrics)| value(metrics)).collect(),
    };
    let both = |metrics: &LaneMetrics| {
        let mut total = metrics.wire.to_server;
        total.add(metrics.wire.to_client);
        total
    };
    vec![
        row("events", "events delivered", &|m| m.events_received.to_string()),
        row("latency_p50", "latency p50 (ms)", &|m| millis(m.latency.quantile(0.5))),
        row("latency_p95", "latency p95 (ms)", &|m| millis(m.latency.quantile(0.95))),
        row("latency_p99", "latency p99 (ms)", &|m| millis(m.latency.quantile(0.99))),
        row("latency_max", "latency max (ms)", &|m| millis(m.latency.max())),
        row("requests", "requests", &|m| m.requests.to_string()),
        row("empty", "empty responses", &|m| match m.requests {
            0 => m.empty_responses.to_string(),
            requests => format!("{} ({:.0} %)", m.empty_responses, m.empty_responses as f64 * 100.0 / requests as f64),
        }),
        row("connections", "TCP connections used", &|m| m.connections.len().to_string()),
        row("bytes_head", "bytes: headers", &|m| both(m).head.to_string()),
        row("bytes_framing", "bytes: framing", &|m| both(m).framing.to_string()),
        row("bytes_payload", "bytes: payload", &|m| both(m).payload.to_string()),
        row("efficiency", "efficiency (payload ÷ all)", &|m| percent(m.efficiency())),
        row("bytes_per_event", "bytes per event", &|m| m.bytes_per_event().map_or("–".into(), |b| format!("{b:.0}"))),
        row("missed", "missed / duplicated / out of order", &|m| {
            format!("{} / {} / {}", m.silently_missed, m.duplicates, m.out_of_order)
        }),
        row("recoveries", "recoveries (last took, ms)", &|m| {
            format!("{} ({})", m.recoveries, millis(m.last_recovery_ms))
        }),
    ]
}

/// The same figures as CSV: a header of transport ids, then a line per figure.
pub fn csv(lanes: &[(Transport, LaneMetrics)]) -> String {
    let quote = |text: &str| {
        if text.contains([',', '"', '\n']) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text.to_owned()
        }
    };
    let mut out = String::from("figure");
    for (transport, _) in lanes {
        out.push(',');
        out.push_str(transport.id());
    }
    out.push('\n');
    for row in rows(lanes) {
        out.push_str(row.id);
        for value in &row.values {
            out.push(',');
            out.push_str(&quote(value));
        }
        out.push('\n');
    }
    out
}

/// One bar of a small chart, in the chart's own coordinates (origin top left).
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    /// What it shows, for its tooltip and style.
    pub label: String,
    pub class: &'static str,
}

/// Upper edges of the latency buckets, in ms: roughly ×2 and ×2.5 steps, so loopback's fractions of a millisecond
/// and a polling interval's seconds both show.
pub const LATENCY_BUCKETS_MS: [f64; 11] = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, f64::INFINITY];

/// How many of the recent latency samples fall in each bucket.
pub fn latency_counts(window: &LatencyWindow) -> [u64; LATENCY_BUCKETS_MS.len()] {
    let mut counts = [0; LATENCY_BUCKETS_MS.len()];
    for sample in window.samples() {
        let bucket = LATENCY_BUCKETS_MS.iter().position(|edge| sample < *edge).unwrap_or(LATENCY_BUCKETS_MS.len() - 1);
        counts[bucket] += 1;
    }
    counts
}

/// The latency distribution as bars, tallest bucket full height.
pub fn latency_histogram(window: &LatencyWindow, width: f64, height: f64) -> Vec<Bar> {
    let counts = latency_counts(window);
    let tallest = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let slot = width / counts.len() as f64;
    let mut lower = 0.0;
    counts
        .iter()
        .zip(LATENCY_BUCKETS_MS)
        .enumerate()
        .map(|(index, (count, upper))| {
            let bar_height = height * *count as f64 / tallest;
            let label = if upper.is_finite() {
                format!("{lower}–{upper} ms: {count}")
            } else {
                format!("≥ {lower} ms: {count}")
            };
            lower = upper;
            Bar {
                x: index as f64 * slot + 1.0,
                y: height - bar_height,
                width: slot - 2.0,
                height: bar_height,
                label,
                class: "latency",
            }
        })
        .collect()
}

/// Bytes per delivered event as one bar stacked head / framing / payload, scaled to `max_bytes` across `width`.
pub fn bytes_per_event_stack(metrics: &LaneMetrics, max_bytes: f64, width: f64, height: f64) -> Vec<Bar> {
    let events = metrics.events_received.max(1) as f64;
    let mut total = metrics.wire.to_server;
    total.add(metrics.wire.to_client);
    let parts = [("head", total.head), ("framing", total.framing), ("payload", total.payload)];
    let mut x = 0.0;
    parts
        .into_iter()
        .map(|(class, bytes)| {
            let per_event = bytes as f64 / events;
            let bar_width = if max_bytes > 0.0 { width * per_event / max_bytes } else { 0.0 };
            let bar = Bar {
                x,
                y: 0.0,
                width: bar_width,
                height,
                label: format!("{class}: {per_event:.0} B per event"),
                class,
            };
            x += bar_width;
            bar
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{WireBytes, WireTotals};

    fn lane(events: u64, head: u64, payload: u64) -> LaneMetrics {
        LaneMetrics {
            events_received: events,
            requests: 4,
            empty_responses: 1,
            wire: WireTotals {
                to_server: WireBytes { head, framing: 0, payload: 0 },
                to_client: WireBytes { head: 0, framing: 10, payload },
            },
            ..LaneMetrics::default()
        }
    }

    #[test]
    fn rows_put_every_lane_side_by_side() {
        let lanes = [(Transport::ShortPoll, lane(2, 900, 100)), (Transport::WebSocket, lane(2, 0, 100))];
        let rows = rows(&lanes);
        let find = |id: &str| rows.iter().find(|row| row.id == id).unwrap().values.clone();
        assert_eq!(find("empty"), ["1 (25 %)", "1 (25 %)"]);
        assert_eq!(find("efficiency"), ["10 %", "91 %"]);
        assert_eq!(find("bytes_per_event"), ["505", "55"]);
    }

    #[test]
    fn csv_has_a_column_per_lane_and_quotes_what_needs_it() {
        let lanes = [(Transport::Sse, lane(1, 5, 5))];
        let text = csv(&lanes);
        assert!(text.starts_with("figure,sse\nevents,1\n"));
        assert!(text.contains("\nempty,1 (25 %)\n"));
        assert!(text.lines().all(|line| line.split(',').count() == 2), "{text}");
    }

    #[test]
    fn latencies_fall_in_their_buckets_and_the_tallest_bar_is_full_height() {
        let mut window = LatencyWindow::default();
        for millis in [0.4, 0.9, 1.5, 250.0, 5000.0] {
            window.record(millis);
        }
        assert_eq!(latency_counts(&window), [2, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1]);
        let bars = latency_histogram(&window, 110.0, 40.0);
        assert_eq!((bars[0].height, bars[0].y, bars[1].height), (40.0, 0.0, 20.0));
        assert_eq!(bars[10].label, "≥ 1000 ms: 1");
    }

    #[test]
    fn bytes_per_event_stack_in_proportion() {
        let bars = bytes_per_event_stack(&lane(2, 100, 100), 110.0, 220.0, 10.0);
        let widths: Vec<f64> = bars.iter().map(|bar| bar.width).collect();
        assert_eq!(widths, [100.0, 10.0, 100.0]);
        assert_eq!((bars[1].x, bars[2].x), (100.0, 110.0));
    }
}
