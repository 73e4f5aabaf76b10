//! The scale suite's targets, each a ratio of two rows of one report: the lab against the floor (the least this
//! machine can do for the same job, `bench/floor`) and against the Node.js peer, at the same load. Computed here,
//! once, for the report's Markdown and the Scale page alike.

use serde::{Deserialize, Serialize};

use super::{LoadTransport, ScaleRun, ScaleServer};

/// Whether a target was met in the report's runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Met,
    Missed,
    /// A row it needs is not in the report (a smoke run, a failed run).
    NotMeasured,
}

impl Verdict {
    pub fn title(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Missed => "missed",
            Verdict::NotMeasured => "not measured",
        }
    }
}

/// One target checked against the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetCheck {
    /// What is asked, e.g. "CPU per delivery ≤ 1.3× the floor".
    pub target: String,
    /// The load it is asked at, e.g. "WebSocket · 10,000 clients · 10 events/s".
    pub load: String,
    /// The figures it was judged on, e.g. "6.20 µs against 4.10 µs: 1.51×".
    pub measured: String,
    /// The ratio (or, for memory, KiB per connection) that decided it.
    pub value: Option<f64>,
    pub limit: f64,
    pub verdict: Verdict,
}

#[derive(Clone, Copy)]
enum Figure {
    CpuPerDelivery,
    P99,
}

impl Figure {
    fn of(self, run: &ScaleRun) -> Option<f64> {
        match self {
            Figure::CpuPerDelivery => (run.deliveries > 0).then_some(run.server_cpu_us_per_delivery),
            Figure::P99 => (run.latency.samples > 0).then_some(run.latency.p99_us as f64),
        }
        .filter(|value| value.is_finite() && *value > 0.0)
    }

    fn name(self) -> &'static str {
        match self {
            Figure::CpuPerDelivery => "CPU per delivery",
            Figure::P99 => "p99 emit → receive",
        }
    }

    fn format(self, value: f64) -> String {
        match self {
            Figure::CpuPerDelivery => format!("{value:.2} µs"),
            Figure::P99 if value >= 1000.0 => format!("{:.1} ms", value / 1000.0),
            Figure::P99 => format!("{value:.0} µs"),
        }
    }
}

/// The load: a transport at a client count and rate (any payload, as long as both rows have the same).
#[derive(Clone, Copy)]
struct Load {
    transport: LoadTransport,
    clients: u32,
    rate: f64,
}

impl Load {
    fn title(self) -> String {
        let clients = match (self.clients / 1000, self.clients % 1000) {
            (0, units) => units.to_string(),
            (thousands, units) => format!("{thousands},{units:03}"),
        };
        let rate = if self.rate == 1.0 { "1 event/s".to_string() } else { format!("{} events/s", self.rate) };
        format!("{} · {clients} clients · {rate}", self.transport.title())
    }

    fn matches(self, run: &ScaleRun) -> bool {
        run.transport == self.transport
            && run.clients == self.clients
            && run.rate_per_second == self.rate
            && run.mqtt_qos.is_none()
            && run.poll_interval_ms.is_none()
    }

    /// The lab's row and the reference's at this load with the same payload, the largest payload first.
    fn pair(self, runs: &[ScaleRun], reference: ScaleServer) -> Option<(&ScaleRun, &ScaleRun)> {
        let mut labs: Vec<&ScaleRun> =
            runs.iter().filter(|run| run.server == ScaleServer::Lab && self.matches(run)).collect();
        labs.sort_by_key(|run| std::cmp::Reverse(run.payload_bytes));
        labs.into_iter().find_map(|lab| {
            runs.iter()
                .find(|run| run.server == reference && self.matches(run) && run.payload_bytes == lab.payload_bytes)
                .map(|other| (lab, other))
        })
    }
}

fn delivered_percent(run: &ScaleRun) -> f64 {
    100.0 * run.deliveries_per_second / run.expected_deliveries_per_second.max(f64::EPSILON)
}

/// A ratio target: the lab's figure at most `limit` times the reference's.
fn ratio(runs: &[ScaleRun], figure: Figure, load: Load, reference: ScaleServer, limit: f64) -> TargetCheck {
    let reference_name = match reference {
        ScaleServer::Floor => "the floor".to_string(),
        other => other.title().to_string(),
    };
    let target = format!("{} ≤ {limit}× {reference_name}", figure.name());
    let unmeasured = |measured: String| TargetCheck {
        target: target.clone(),
        load: load.title(),
        measured,
        value: None,
        limit,
        verdict: Verdict::NotMeasured,
    };
    let Some((lab, other)) = load.pair(runs, reference) else {
        return unmeasured(format!("no pair of runs at this load in the report ({reference_name} and the lab)"));
    };
    let (Some(lab_value), Some(other_value)) = (figure.of(lab), figure.of(other)) else {
        return unmeasured("a run delivered nothing".into());
    };
    let value = lab_value / other_value;
    let mut measured = format!("{} against {}: {value:.2}×", figure.format(lab_value), figure.format(other_value));
    for (who, run) in [("the lab", lab), (reference_name.as_str(), other)] {
        let delivered = delivered_percent(run);
        if delivered < 98.0 {
            measured.push_str(&format!("; {who} delivered only {delivered:.0} %"));
        }
    }
    let verdict = if value <= limit { Verdict::Met } else { Verdict::Missed };
    TargetCheck { target, load: load.title(), measured, value: Some(value), limit, verdict }
}

/// A memory target: the lab's idle connection at most `limit_kib`, the floor's beside it for scale.
fn memory(runs: &[ScaleRun], load: Load, limit_kib: f64) -> TargetCheck {
    let target = format!("memory per idle connection ≤ {limit_kib} KiB");
    let lab = runs
        .iter()
        .filter(|run| run.server == ScaleServer::Lab && load.matches(run))
        .max_by_key(|run| run.payload_bytes);
    let Some(lab) = lab.filter(|run| run.rss_per_connection_bytes > 0.0) else {
        return TargetCheck {
            target,
            load: load.title(),
            measured: "no run of the lab at this load in the report".into(),
            value: None,
            limit: limit_kib,
            verdict: Verdict::NotMeasured,
        };
    };
    let kib = lab.rss_per_connection_bytes / 1024.0;
    let mut measured = format!("{kib:.1} KiB");
    if let Some((_, floor)) = load.pair(runs, ScaleServer::Floor) {
        measured.push_str(&format!(" (the floor: {:.1} KiB)", floor.rss_per_connection_bytes / 1024.0));
    }
    let verdict = if kib <= limit_kib { Verdict::Met } else { Verdict::Missed };
    TargetCheck { target, load: load.title(), measured, value: Some(kib), limit: limit_kib, verdict }
}

/// Every target of the issue "Performance at the floor", in the order its text gives them.
pub fn target_checks(runs: &[ScaleRun]) -> Vec<TargetCheck> {
    let load = |transport, clients, rate| Load { transport, clients, rate };
    let streams = [LoadTransport::WebSocket, LoadTransport::Sse];
    let mut checks = Vec::new();
    for rate in [1.0, 10.0] {
        for transport in streams {
            let at = load(transport, 10_000, rate);
            checks.push(ratio(runs, Figure::CpuPerDelivery, at, ScaleServer::Floor, 1.3));
            checks.push(ratio(runs, Figure::CpuPerDelivery, at, ScaleServer::NodeExpressWs, 0.75));
        }
    }
    for (clients, rate) in [(10_000, 1.0), (10_000, 10.0), (1_000, 1.0)] {
        for transport in streams {
            checks.push(ratio(runs, Figure::P99, load(transport, clients, rate), ScaleServer::Floor, 1.5));
        }
    }
    for transport in streams {
        checks.push(memory(runs, load(transport, 10_000, 1.0), 8.0));
    }
    checks.push(ratio(
        runs,
        Figure::CpuPerDelivery,
        load(LoadTransport::LongPoll, 10_000, 1.0),
        ScaleServer::Floor,
        1.5,
    ));
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LatencySummary;

    fn run(
        server: ScaleServer,
        transport: LoadTransport,
        clients: u32,
        rate: f64,
        cpu_us: f64,
        p99_us: u64,
    ) -> ScaleRun {
        let expected = clients as f64 * rate;
        ScaleRun {
            server,
            transport,
            clients,
            connected: clients,
            rate_per_second: rate,
            payload_bytes: 100,
            deliveries: (expected * 20.0) as u64,
            deliveries_per_second: expected,
            expected_deliveries_per_second: expected,
            latency: LatencySummary { samples: 10, p50_us: p99_us / 2, p99_us, max_us: p99_us },
            server_cpu_us_per_delivery: cpu_us,
            rss_per_connection_bytes: 6.0 * 1024.0,
            ..Default::default()
        }
    }

    #[test]
    fn a_ratio_is_met_or_missed_against_the_row_of_the_same_load() {
        let runs = vec![
            run(ScaleServer::Lab, LoadTransport::WebSocket, 10_000, 10.0, 6.0, 60_000),
            run(ScaleServer::Floor, LoadTransport::WebSocket, 10_000, 10.0, 5.0, 30_000),
            run(ScaleServer::NodeExpressWs, LoadTransport::WebSocket, 10_000, 10.0, 10.0, 90_000),
            // Another load of the floor's, which must not be picked.
            run(ScaleServer::Floor, LoadTransport::WebSocket, 10_000, 1.0, 1.0, 1_000),
        ];
        let checks = target_checks(&runs);
        let find = |target: &str, load: &str| {
            checks.iter().find(|check| check.target.starts_with(target) && check.load == load).unwrap()
        };
        let cpu = find("CPU per delivery ≤ 1.3× the floor", "WebSocket · 10,000 clients · 10 events/s");
        assert_eq!((cpu.verdict, cpu.value), (Verdict::Met, Some(1.2)));
        assert_eq!(cpu.measured, "6.00 µs against 5.00 µs: 1.20×");
        let node = find("CPU per delivery ≤ 0.75×", "WebSocket · 10,000 clients · 10 events/s");
        assert_eq!((node.verdict, node.value), (Verdict::Met, Some(0.6)));
        let p99 = find("p99 emit → receive ≤ 1.5× the floor", "WebSocket · 10,000 clients · 10 events/s");
        assert_eq!((p99.verdict, p99.value), (Verdict::Missed, Some(2.0)));
        // The lab has no row at 1 event/s: not measured, not met.
        let absent = find("CPU per delivery ≤ 1.3× the floor", "WebSocket · 10,000 clients · 1 event/s");
        assert_eq!(absent.verdict, Verdict::NotMeasured);
        assert_eq!(checks.len(), 8 + 6 + 2 + 1);
    }

    #[test]
    fn a_short_delivery_is_said_and_memory_is_judged_in_kib() {
        let mut floor = run(ScaleServer::Floor, LoadTransport::Sse, 10_000, 1.0, 2.0, 10_000);
        floor.deliveries_per_second = 9_000.0;
        let mut lab = run(ScaleServer::Lab, LoadTransport::Sse, 10_000, 1.0, 2.0, 10_000);
        lab.rss_per_connection_bytes = 20.0 * 1024.0;
        let checks = target_checks(&[lab, floor]);
        let cpu = checks
            .iter()
            .find(|check| check.target.ends_with("1.3× the floor") && check.load.starts_with("Server"))
            .unwrap();
        assert!(cpu.measured.ends_with("the floor delivered only 90 %"), "{}", cpu.measured);
        let memory =
            checks.iter().find(|check| check.target.starts_with("memory") && check.load.starts_with("Server")).unwrap();
        assert_eq!((memory.verdict, memory.measured.as_str()), (Verdict::Missed, "20.0 KiB (the floor: 6.0 KiB)"));
    }
}
