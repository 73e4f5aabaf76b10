//! The report as Markdown: one table row per run, then each peer's figures divided by the lab's.

use std::fmt::Write;

use protocol::{target_checks, LoadTransport, ScaleReport, ScaleRun, ScaleServer, Verdict};

pub fn markdown(report: &ScaleReport) -> String {
    let mut out = String::new();
    let machine = &report.machine;
    let _ = writeln!(out, "# Scale results\n");
    let _ = writeln!(out, "Produced by `{}`, finished {}.\n", report.command, utc(report.finished_at));
    let _ = writeln!(
        out,
        "Machine: {} ({} cores), {:.1} GiB memory, Linux {}. Clients and server share it.\n",
        or_unknown(&machine.cpu_model),
        machine.cores,
        machine.memory_bytes as f64 / (1u64 << 30) as f64,
        or_unknown(&machine.kernel),
    );
    if let Some(floor) = &report.loopback_floor {
        let _ = writeln!(
            out,
            "Loopback floor ({}, one way, no server in the way): p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs.\n",
            floor.tool, floor.p50_us, floor.p99_us, floor.max_us
        );
    }
    out.push_str(
        "| server | transport | clients (connected) | events/s · payload | delivered/s (expected) | p50 ms | p99 ms \
         | max ms | req/s | KiB/s down | KiB/s up | server CPU % | CPU µs/delivery | RSS/conn KiB | missed | errors |\n",
    );
    out.push_str("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for run in &report.runs {
        let _ = writeln!(
            out,
            "| {} | {} | {} ({}) | {} · {} B | {:.0} ({:.0}) | {} | {} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} |",
            run.server.title(),
            transport_label(run),
            run.clients,
            run.connected,
            trim_float(run.rate_per_second),
            run.payload_bytes,
            run.deliveries_per_second,
            run.expected_deliveries_per_second,
            millis(run.latency.p50_us),
            millis(run.latency.p99_us),
            millis(run.latency.max_us),
            run.requests_per_second,
            run.bytes_per_second_down / 1024.0,
            run.bytes_per_second_up / 1024.0,
            cpu_percent(run),
            run.server_cpu_us_per_delivery,
            run.rss_per_connection_bytes / 1024.0,
            run.missed,
            run.errors,
        );
    }
    out.push('\n');
    targets(report, &mut out);
    ratios(report, &mut out);
    let with_errors: Vec<_> = report.runs.iter().filter(|run| !run.error_samples.is_empty()).collect();
    if !with_errors.is_empty() {
        out.push_str("\n## Error samples\n\n");
        for run in with_errors {
            let _ = writeln!(out, "- {} · {} · {} clients:", run.server.title(), transport_label(run), run.clients);
            for sample in &run.error_samples {
                let _ = writeln!(out, "  - `{}`", sample.replace('`', "'"));
            }
        }
    }
    out
}

/// The targets, each a ratio of two rows above (see `protocol::scale_targets`).
fn targets(report: &ScaleReport, out: &mut String) {
    out.push_str("## Targets against the floor and the peer\n\n");
    out.push_str(
        "The floor is `bench/floor`: one epoll loop writing each event's bytes once per socket and nothing else. Each \
         target compares two rows of this report at the same load.\n\n",
    );
    out.push_str("| target | load | measured | verdict |\n|---|---|---|---|\n");
    for check in target_checks(&report.runs) {
        let verdict = match check.verdict {
            Verdict::Met => "met".to_string(),
            other => format!("**{}**", other.title()),
        };
        let _ = writeln!(out, "| {} | {} | {} | {verdict} |", check.target, check.load, check.measured);
    }
    out.push('\n');
}

/// Each peer against the lab at the same transport, clients, rate and payload.
fn ratios(report: &ScaleReport, out: &mut String) {
    out.push_str("## Ratios vs lab\n\n");
    out.push_str(
        "Each peer's figure, the lab's, and peer ÷ lab, at the same transport, clients, rate and payload (and QoS, for \
         MQTT). socket.io is set against the lab's plain WebSocket, which it runs over.\n\n",
    );
    out.push_str("| transport | clients | peer | deliveries per CPU-second | RSS per connection KiB | p99 ms |\n");
    out.push_str("|---|--:|---|--:|--:|--:|\n");
    let mut rows = 0;
    for peer in report.runs.iter().filter(|run| run.server != ScaleServer::Lab) {
        let Some(lab) = report.runs.iter().find(|lab| lab.server == ScaleServer::Lab && comparable(lab, peer)) else {
            continue;
        };
        rows += 1;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            transport_label(peer),
            peer.clients,
            peer.server.title(),
            compare(deliveries_per_cpu_second(peer), deliveries_per_cpu_second(lab), 0),
            compare(peer.rss_per_connection_bytes / 1024.0, lab.rss_per_connection_bytes / 1024.0, 1),
            compare(peer.latency.p99_us as f64 / 1000.0, lab.latency.p99_us as f64 / 1000.0, 2),
        );
    }
    if rows == 0 {
        out.push_str("| – | – | no peer run has a lab run to compare with | | | |\n");
    }
}

fn comparable(lab: &ScaleRun, peer: &ScaleRun) -> bool {
    let plain = |transport| if transport == LoadTransport::SocketIo { LoadTransport::WebSocket } else { transport };
    plain(lab.transport) == plain(peer.transport)
        && lab.clients == peer.clients
        && lab.rate_per_second == peer.rate_per_second
        && lab.payload_bytes == peer.payload_bytes
        && lab.poll_interval_ms == peer.poll_interval_ms
        && lab.mqtt_qos == peer.mqtt_qos
}

fn compare(peer: f64, lab: f64, decimals: usize) -> String {
    let ratio = if lab > 0.0 { format!("{:.2}×", peer / lab) } else { "–".into() };
    format!("{peer:.decimals$} vs {lab:.decimals$} ({ratio})")
}

fn deliveries_per_cpu_second(run: &ScaleRun) -> f64 {
    if run.server_cpu_seconds > 0.0 {
        run.deliveries as f64 / run.server_cpu_seconds
    } else {
        0.0
    }
}

fn cpu_percent(run: &ScaleRun) -> f64 {
    if run.measured_seconds > 0.0 {
        100.0 * run.server_cpu_seconds / run.measured_seconds
    } else {
        0.0
    }
}

fn transport_label(run: &ScaleRun) -> String {
    match (run.poll_interval_ms, run.mqtt_qos) {
        (Some(interval), _) => format!("{} (every {} s)", run.transport.title(), trim_float(interval as f64 / 1000.0)),
        (None, Some(qos)) => format!("{} (QoS {qos})", run.transport.title()),
        (None, None) => run.transport.title().to_string(),
    }
}

/// One line per run for the terminal, with the same figures as the table.
pub fn summary_line(run: &ScaleRun) -> String {
    format!(
        "{} · {} · {}/{} clients · {} events/s: delivered {:.0}/s of {:.0}/s, latency p50 {} ms p99 {} ms max {} ms, \
         {:.0} req/s, {:.1} KiB/s down {:.1} KiB/s up, server CPU {:.1} % ({:.1} µs/delivery), RSS {:.1} KiB/conn, \
         missed {}, errors {}",
        run.server.title(),
        transport_label(run),
        run.connected,
        run.clients,
        trim_float(run.rate_per_second),
        run.deliveries_per_second,
        run.expected_deliveries_per_second,
        millis(run.latency.p50_us),
        millis(run.latency.p99_us),
        millis(run.latency.max_us),
        run.requests_per_second,
        run.bytes_per_second_down / 1024.0,
        run.bytes_per_second_up / 1024.0,
        cpu_percent(run),
        run.server_cpu_us_per_delivery,
        run.rss_per_connection_bytes / 1024.0,
        run.missed,
        run.errors,
    )
}

fn millis(micros: u64) -> String {
    format!("{:.2}", micros as f64 / 1000.0)
}

fn trim_float(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn or_unknown(text: &str) -> &str {
    if text.is_empty() {
        "unknown"
    } else {
        text
    }
}

/// `YYYY-MM-DD HH:MM UTC` from Unix seconds.
fn utc(unix_seconds: u64) -> String {
    let (year, month, day) = protocol::civil_date::civil_date(unix_seconds);
    let minutes_of_day = (unix_seconds % 86_400) / 60;
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", minutes_of_day / 60, minutes_of_day % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{LatencySummary, LoopbackFloor, MachineInfo};

    fn run(server: ScaleServer, transport: LoadTransport, cpu_seconds: f64, p99_us: u64) -> ScaleRun {
        ScaleRun {
            server,
            transport,
            clients: 1000,
            connected: 1000,
            rate_per_second: 10.0,
            measured_seconds: 10.0,
            deliveries: 100_000,
            deliveries_per_second: 10_000.0,
            expected_deliveries_per_second: 10_000.0,
            latency: LatencySummary { samples: 100_000, p50_us: 800, p99_us, max_us: 9000 },
            server_cpu_seconds: cpu_seconds,
            server_cpu_us_per_delivery: cpu_seconds * 10.0,
            rss_per_connection_bytes: 10_240.0,
            ..Default::default()
        }
    }

    #[test]
    fn table_and_ratios() {
        let report = ScaleReport {
            finished_at: 1_700_000_000,
            command: "./lab bench".into(),
            machine: MachineInfo {
                cpu_model: "Test CPU".into(),
                cores: 2,
                memory_bytes: 1 << 30,
                kernel: "6.1".into(),
            },
            loopback_floor: Some(LoopbackFloor {
                tool: "sockperf ping-pong".into(),
                p50_us: 11.0,
                p99_us: 19.5,
                max_us: 61.4,
            }),
            runs: vec![
                run(ScaleServer::Lab, LoadTransport::WebSocket, 1.0, 2000),
                run(ScaleServer::NodeExpressWs, LoadTransport::WebSocket, 4.0, 3000),
                run(ScaleServer::SocketIo, LoadTransport::SocketIo, 5.0, 5000),
                run(ScaleServer::NodeExpressWs, LoadTransport::Sse, 2.0, 1000),
            ],
        };
        let text = markdown(&report);
        assert!(text.contains("finished 2023-11-14 22:13 UTC"), "{text}");
        assert!(text.contains("p50 11.0 µs, p99 19.5 µs, max 61.4 µs"));
        assert!(text.contains(
            "| Transport Lab (Rust, axum) | WebSocket | 1000 (1000) | 10 · 0 B | 10000 (10000) | 0.80 | 2.00 | 9.00 |"
        ));
        assert!(text.contains("| 0 | 0.0 | 0.0 | 10.0 | 10.0 | 10.0 | 0 | 0 |"), "{text}");
        // Node does a quarter of the lab's deliveries per CPU-second; socket.io is set against the lab's WebSocket.
        assert!(text.contains("| WebSocket | 1000 | Node.js (Express + ws) | 25000 vs 100000 (0.25×) | 10.0 vs 10.0 (1.00×) | 3.00 vs 2.00 (1.50×) |"), "{text}");
        assert!(text.contains("| socket.io | 1000 | Node.js (socket.io) | 20000 vs 100000 (0.20×)"), "{text}");
        // The SSE peer run has no lab run to compare with, so it gets no ratio row.
        assert_eq!(text.matches("| Server-Sent Events | 1000 | Node.js").count(), 0);
    }

    #[test]
    fn mosquitto_is_set_against_the_lab_at_the_same_mqtt_transport_and_qos() {
        let mqtt = |server, transport, qos, cpu_seconds| ScaleRun {
            mqtt_qos: Some(qos),
            ..run(server, transport, cpu_seconds, 2000)
        };
        let report = ScaleReport {
            runs: vec![
                mqtt(ScaleServer::Lab, LoadTransport::MqttTcp, 0, 1.0),
                mqtt(ScaleServer::Lab, LoadTransport::MqttTcp, 1, 2.0),
                mqtt(ScaleServer::Mosquitto, LoadTransport::MqttTcp, 1, 1.0),
                mqtt(ScaleServer::Mosquitto, LoadTransport::Mqtt, 0, 1.0),
            ],
            ..Default::default()
        };
        let text = markdown(&report);
        assert!(text.contains("| Mosquitto (C) | MQTT over TCP (QoS 1) | 1000 (1000) |"), "{text}");
        // Against the lab's QoS 1 run (2 CPU-seconds), not its QoS 0 one.
        assert!(text.contains("| MQTT over TCP (QoS 1) | 1000 | Mosquitto (C) | 100000 vs 50000 (2.00×) |"), "{text}");
        // No lab run over WebSocket: no ratio for that one.
        assert_eq!(text.matches("| MQTT over WebSocket (QoS 0) | 1000 | Mosquitto").count(), 0, "{text}");
    }

    #[test]
    fn short_polling_names_its_interval_and_errors_are_listed() {
        let mut short = run(ScaleServer::Lab, LoadTransport::ShortPoll, 1.0, 2000);
        short.poll_interval_ms = Some(5000);
        short.error_samples = vec!["client 3: http: `boom`".into()];
        let text = markdown(&ScaleReport { runs: vec![short], ..Default::default() });
        assert!(text.contains("| Short polling (every 5 s) |"));
        assert!(text.contains("no peer run has a lab run to compare with"));
        assert!(text.contains("  - `client 3: http: 'boom'`"));
        assert!(summary_line(&ScaleRun::default()).contains("missed 0, errors 0"));
    }
}
