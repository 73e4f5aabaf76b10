//! The Scale page's charts as plain data: which runs sit side by side, and how long each bar is. The component only
//! draws what this computes.

use protocol::{LoadTransport, ScaleRun, ScaleServer};

/// A figure the Scale page charts, each with the direction that is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScaleMetric {
    DeliveriesPerCpuSecond,
    P99Latency,
    RssPerConnection,
    ServerCpuPerDelivery,
}

impl ScaleMetric {
    pub const ALL: [ScaleMetric; 4] = [
        ScaleMetric::DeliveriesPerCpuSecond,
        ScaleMetric::ServerCpuPerDelivery,
        ScaleMetric::P99Latency,
        ScaleMetric::RssPerConnection,
    ];

    pub fn id(self) -> &'static str {
        match self {
            ScaleMetric::DeliveriesPerCpuSecond => "deliveries-per-cpu-second",
            ScaleMetric::P99Latency => "p99-latency",
            ScaleMetric::RssPerConnection => "rss-per-connection",
            ScaleMetric::ServerCpuPerDelivery => "cpu-per-delivery",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            ScaleMetric::DeliveriesPerCpuSecond => "Events delivered per second of server CPU (longer is better)",
            ScaleMetric::P99Latency => "p99 emit → receive latency (shorter is better)",
            ScaleMetric::RssPerConnection => "Server memory per idle connection (shorter is better)",
            ScaleMetric::ServerCpuPerDelivery => "Server CPU per delivered event (shorter is better)",
        }
    }

    /// The run's value, or `None` where it means nothing (no deliveries, no memory reading).
    pub fn value(self, run: &ScaleRun) -> Option<f64> {
        let positive = |value: f64| (value.is_finite() && value > 0.0).then_some(value);
        match self {
            ScaleMetric::DeliveriesPerCpuSecond => (run.server_cpu_seconds > 0.0)
                .then(|| run.deliveries as f64 / run.server_cpu_seconds)
                .and_then(positive),
            ScaleMetric::P99Latency => (run.latency.samples > 0).then_some(run.latency.p99_us as f64),
            ScaleMetric::RssPerConnection => positive(run.rss_per_connection_bytes),
            ScaleMetric::ServerCpuPerDelivery => (run.deliveries > 0).then_some(run.server_cpu_us_per_delivery),
        }
    }

    pub fn format(self, value: f64) -> String {
        match self {
            ScaleMetric::DeliveriesPerCpuSecond => format!("{} /CPU-s", thousands(value.round() as u64)),
            ScaleMetric::P99Latency => format_micros(value),
            ScaleMetric::RssPerConnection => format!("{:.1} KiB", value / 1024.0),
            ScaleMetric::ServerCpuPerDelivery => format!("{value:.2} µs"),
        }
    }
}

/// Runs under the same load, one bar per server.
#[derive(Clone, Debug, PartialEq)]
pub struct BarGroup {
    pub label: String,
    pub bars: Vec<Bar>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    pub server: ScaleServer,
    /// socket.io's runs sit in the WebSocket groups; the bar says which protocol it spoke.
    pub transport: LoadTransport,
    pub value: f64,
    pub text: String,
    /// Share of the longest bar in the whole chart, so groups compare with each other too.
    pub percent_of_longest: f64,
}

/// Groups comparable runs (same transport family, clients, rate and payload) in the order they appear.
pub fn bar_groups(runs: &[ScaleRun], metric: ScaleMetric) -> Vec<BarGroup> {
    let mut keyed: Vec<(GroupKey, BarGroup)> = Vec::new();
    for run in runs {
        let Some(value) = metric.value(run) else { continue };
        let key = GroupKey::of(run);
        let bar = Bar {
            server: run.server,
            transport: run.transport,
            value,
            text: metric.format(value),
            percent_of_longest: 0.0,
        };
        match keyed.iter_mut().find(|(existing, _)| *existing == key) {
            Some((_, group)) => group.bars.push(bar),
            None => keyed.push((key, BarGroup { label: group_label(run), bars: vec![bar] })),
        }
    }
    let longest = keyed.iter().flat_map(|(_, group)| &group.bars).map(|bar| bar.value).fold(0.0, f64::max);
    keyed
        .into_iter()
        .map(|(_, mut group)| {
            for bar in &mut group.bars {
                bar.percent_of_longest = if longest > 0.0 { 100.0 * bar.value / longest } else { 0.0 };
            }
            group
        })
        .collect()
}

/// How the lab compares with one peer under the same load: each figure is "times better than the peer" (above 1:
/// the lab wins), `None` where either side has no value.
#[derive(Clone, Debug, PartialEq)]
pub struct PeerRatio {
    pub label: String,
    pub peer: ScaleServer,
    pub deliveries_per_cpu_second: Option<f64>,
    pub rss_per_connection: Option<f64>,
    pub p99_latency: Option<f64>,
}

pub fn peer_ratios(runs: &[ScaleRun]) -> Vec<PeerRatio> {
    let ratio = |metric: ScaleMetric, lab: &ScaleRun, peer: &ScaleRun, higher_is_better: bool| {
        let (lab, peer) = (metric.value(lab)?, metric.value(peer)?);
        Some(if higher_is_better { lab / peer } else { peer / lab })
    };
    let mut ratios = Vec::new();
    for lab in runs.iter().filter(|run| run.server == ScaleServer::Lab) {
        let key = GroupKey::of(lab);
        for peer in runs.iter().filter(|run| run.server != ScaleServer::Lab && GroupKey::of(run) == key) {
            ratios.push(PeerRatio {
                label: group_label(lab),
                peer: peer.server,
                deliveries_per_cpu_second: ratio(ScaleMetric::DeliveriesPerCpuSecond, lab, peer, true),
                rss_per_connection: ratio(ScaleMetric::RssPerConnection, lab, peer, false),
                p99_latency: ratio(ScaleMetric::P99Latency, lab, peer, false),
            });
        }
    }
    ratios
}

#[derive(Debug, PartialEq)]
struct GroupKey {
    family: LoadTransport,
    clients: u32,
    rate_millis: u64,
    payload_bytes: u32,
    /// MQTT runs at QoS 0 and QoS 1 cost different packets per event: never one group.
    mqtt_qos: Option<u8>,
}

impl GroupKey {
    fn of(run: &ScaleRun) -> Self {
        Self {
            family: family(run.transport),
            clients: run.clients,
            rate_millis: (run.rate_per_second * 1000.0).round() as u64,
            payload_bytes: run.payload_bytes,
            mqtt_qos: run.mqtt_qos,
        }
    }
}

/// socket.io is a protocol on top of a WebSocket; it is compared with plain WebSockets.
fn family(transport: LoadTransport) -> LoadTransport {
    match transport {
        LoadTransport::SocketIo => LoadTransport::WebSocket,
        other => other,
    }
}

fn group_label(run: &ScaleRun) -> String {
    let mut label = format!(
        "{} · {} clients · {} event/s",
        family(run.transport).title(),
        thousands(run.clients as u64),
        trim_number(run.rate_per_second)
    );
    if let Some(interval) = run.poll_interval_ms.filter(|_| run.transport == LoadTransport::ShortPoll) {
        label.push_str(&format!(" · every {} s", trim_number(interval as f64 / 1000.0)));
    }
    if run.payload_bytes > 0 {
        label.push_str(&format!(" · {} B payload", run.payload_bytes));
    }
    if let Some(qos) = run.mqtt_qos {
        label.push_str(&format!(" · QoS {qos}"));
    }
    label
}

pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

pub fn format_micros(micros: f64) -> String {
    if micros >= 1000.0 {
        format!("{:.1} ms", micros / 1000.0)
    } else {
        format!("{micros:.0} µs")
    }
}

fn trim_number(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::LatencySummary;

    fn run(server: ScaleServer, transport: LoadTransport, clients: u32, cpu_seconds: f64, p99_us: u64) -> ScaleRun {
        ScaleRun {
            server,
            transport,
            clients,
            rate_per_second: 1.0,
            deliveries: 20_000,
            server_cpu_seconds: cpu_seconds,
            latency: LatencySummary { samples: 20_000, p50_us: 1, p99_us, max_us: p99_us },
            ..Default::default()
        }
    }

    #[test]
    fn same_load_groups_together_and_socket_io_sits_with_websocket() {
        let runs = [
            run(ScaleServer::Lab, LoadTransport::WebSocket, 1000, 0.5, 900),
            run(ScaleServer::Lab, LoadTransport::Sse, 1000, 0.5, 900),
            run(ScaleServer::NodeExpressWs, LoadTransport::WebSocket, 1000, 1.0, 1800),
            run(ScaleServer::SocketIo, LoadTransport::SocketIo, 1000, 2.0, 3600),
            run(ScaleServer::Lab, LoadTransport::WebSocket, 10_000, 0.5, 900),
        ];
        let groups = bar_groups(&runs, ScaleMetric::DeliveriesPerCpuSecond);
        let labels: Vec<_> = groups.iter().map(|group| group.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "WebSocket · 1,000 clients · 1 event/s",
                "Server-Sent Events · 1,000 clients · 1 event/s",
                "WebSocket · 10,000 clients · 1 event/s"
            ]
        );
        let servers: Vec<_> = groups[0].bars.iter().map(|bar| bar.server).collect();
        assert_eq!(servers, [ScaleServer::Lab, ScaleServer::NodeExpressWs, ScaleServer::SocketIo]);
    }

    #[test]
    fn mqtt_at_each_qos_is_its_own_group_with_mosquitto_beside_the_lab() {
        let at = |server, qos| ScaleRun { mqtt_qos: Some(qos), ..run(server, LoadTransport::MqttTcp, 1000, 0.5, 900) };
        let runs = [at(ScaleServer::Lab, 0), at(ScaleServer::Mosquitto, 0), at(ScaleServer::Lab, 1)];
        let groups = bar_groups(&runs, ScaleMetric::DeliveriesPerCpuSecond);
        let sizes: Vec<_> = groups.iter().map(|group| (group.label.ends_with("QoS 0"), group.bars.len())).collect();
        assert_eq!(sizes, [(true, 2), (false, 1)], "{:?}", groups.iter().map(|g| &g.label).collect::<Vec<_>>());
    }

    #[test]
    fn bars_scale_against_the_longest_in_the_chart() {
        let runs = [
            run(ScaleServer::Lab, LoadTransport::WebSocket, 1000, 0.5, 900),
            run(ScaleServer::NodeExpressWs, LoadTransport::WebSocket, 1000, 2.0, 1800),
        ];
        let groups = bar_groups(&runs, ScaleMetric::DeliveriesPerCpuSecond);
        let percents: Vec<_> = groups[0].bars.iter().map(|bar| bar.percent_of_longest).collect();
        assert_eq!(percents, [100.0, 25.0]);
        assert_eq!(groups[0].bars[0].text, "40,000 /CPU-s");
    }

    #[test]
    fn ratios_say_how_many_times_better_the_lab_is() {
        let mut lab = run(ScaleServer::Lab, LoadTransport::WebSocket, 1000, 0.5, 900);
        lab.rss_per_connection_bytes = 4096.0;
        let mut node = run(ScaleServer::NodeExpressWs, LoadTransport::WebSocket, 1000, 2.0, 1800);
        node.rss_per_connection_bytes = 8192.0;
        let elsewhere = run(ScaleServer::SocketIo, LoadTransport::SocketIo, 10_000, 2.0, 1800);
        let ratios = peer_ratios(&[lab, node, elsewhere]);
        assert_eq!(ratios.len(), 1, "only runs under the same load compare");
        assert_eq!(ratios[0].peer, ScaleServer::NodeExpressWs);
        assert_eq!(ratios[0].deliveries_per_cpu_second, Some(4.0));
        assert_eq!(ratios[0].rss_per_connection, Some(2.0));
        assert_eq!(ratios[0].p99_latency, Some(2.0));
    }

    #[test]
    fn runs_without_a_meaningful_value_are_left_out() {
        let mut idle = run(ScaleServer::Lab, LoadTransport::Sse, 1000, 0.0, 0);
        idle.latency.samples = 0;
        assert!(bar_groups(&[idle.clone()], ScaleMetric::DeliveriesPerCpuSecond).is_empty());
        assert!(bar_groups(&[idle], ScaleMetric::P99Latency).is_empty());
    }

    #[test]
    fn numbers_read_like_a_person_wrote_them() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(format_micros(2500.0), "2.5 ms");
        assert_eq!(format_micros(250.0), "250 µs");
        assert_eq!(trim_number(0.5), "0.5");
        assert_eq!(trim_number(10.0), "10");
    }
}
