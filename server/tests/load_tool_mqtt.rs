//! The load tool's MQTT clients against real brokers: the lab's (over its WebSocket door and over TCP, at QoS 0 and
//! 1), and Debian's Mosquitto, started here on free ports of its own, fed by the load tool's publisher. 20 clients,
//! 20 events/s, a 2 s window: every client must get every event of the window, in order, once. Nothing is timed.

use crate::common;

use std::time::Duration;

use common::mosquitto::{find_program, Mosquitto};
use common::{TestServer, LOAD_POLL_INTERVAL, LOAD_RATE};
use protocol::mqtt::Qos;
use protocol::{LoadTransport, ScaleServer};
use transport_load::{MqttOptions, RunOptions, RunOutcome};

const CLIENTS: u32 = 20;
const MEASURE: Duration = Duration::from_secs(2);

async fn against_the_lab(transport: LoadTransport, qos: Qos) -> RunOutcome {
    let server = TestServer::start().await;
    let mut options = server.load_options(transport, CLIENTS, MEASURE);
    let tcp_addr = match transport {
        LoadTransport::MqttTcp => Some(server.start_mqtt_tcp().await.to_string()),
        _ => None,
    };
    options.mqtt = MqttOptions { qos, tcp_addr };
    transport_load::run(&options).await.unwrap_or_else(|error| panic!("{transport:?} QoS {}: {error}", qos.level()))
}

/// Every client connected, got every event of the window once and in order, and nothing failed.
fn check(outcome: &RunOutcome, qos: Qos, why: &str) {
    let run = &outcome.run;
    println!("{}", transport_load::report::summary_line(run));
    let why = format!("{why}: {run:#?}");
    assert_eq!(run.connected, CLIENTS, "{why}");
    assert_eq!((run.missed, run.errors, outcome.duplicates, outcome.out_of_order), (0, 0, 0, 0), "{why}");
    assert_eq!(run.mqtt_qos, Some(qos.level()), "{why}");
    let (first, last) = outcome.seq_span.unwrap_or_else(|| panic!("nothing delivered: {why}"));
    let span = last - first + 1;
    // 2 s at 20/s is 40 events; the generator's own timing may stretch that, but not halve it.
    assert!(span >= 20, "only {span} events in the window: {why}");
    // An event in flight at either edge of the window may reach some clients just outside it.
    let (least, most) = (CLIENTS as u64 * (span - 2), CLIENTS as u64 * span);
    assert!(
        (least..=most).contains(&run.deliveries),
        "{} deliveries, expected {least}..={most}: {why}",
        run.deliveries
    );
    assert_eq!(run.latency.samples, run.deliveries, "{why}");
    assert!(run.latency.p50_us > 0 && run.latency.max_us < 2_000_000, "{why}");
    assert!(run.bytes_per_second_down > 0.0 && run.server_rss_connected_bytes > 0, "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mqtt_client_of_the_lab_gets_every_event_over_web_socket_and_tcp() {
    let _alone = crate::alone().await;
    let runs = [
        (LoadTransport::Mqtt, Qos::AtMostOnce),
        (LoadTransport::MqttTcp, Qos::AtLeastOnce),
        (LoadTransport::Mqtt, Qos::AtLeastOnce),
        (LoadTransport::MqttTcp, Qos::AtMostOnce),
    ];
    // Two at a time, each against a lab of its own: four at once would starve the generators on two cores.
    for batch in runs.chunks(2) {
        let outcomes = futures::future::join_all(batch.iter().map(|&(transport, qos)| against_the_lab(transport, qos)));
        for ((transport, qos), outcome) in batch.iter().zip(outcomes.await) {
            check(&outcome, *qos, &format!("lab, {transport:?}, QoS {}", qos.level()));
        }
    }
}

/// The load tool's run against `mosquitto`: the same load as against the lab.
fn mosquitto_load_options(mosquitto: &Mosquitto, transport: LoadTransport, qos: Qos) -> RunOptions {
    RunOptions {
        url: format!("http://{}", mosquitto.ws),
        spread_urls: Vec::new(),
        server: ScaleServer::Mosquitto,
        transport,
        clients: CLIENTS,
        rate: LOAD_RATE,
        payload_bytes: 64,
        poll_interval: LOAD_POLL_INTERVAL,
        connect_rate: 2000.0,
        warmup: Duration::from_millis(500),
        measure: MEASURE,
        server_pids: vec![mosquitto.pid()],
        mqtt: MqttOptions { qos, tcp_addr: Some(mosquitto.tcp.to_string()) },
        grpc_addr: None,
        teacher_key: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_of_mosquitto_gets_every_event_the_load_tool_publishes() {
    let _alone = crate::alone().await;
    let Some(binary) = find_program("mosquitto") else {
        eprintln!(
            "SKIPPED: mosquitto is not installed (./lab setup installs it), so the load tool was not run against it"
        );
        return;
    };
    for (transport, qos) in [(LoadTransport::MqttTcp, Qos::AtLeastOnce), (LoadTransport::Mqtt, Qos::AtMostOnce)] {
        let mosquitto = Mosquitto::start(&binary);
        let options = mosquitto_load_options(&mosquitto, transport, qos);
        let outcome = transport_load::run(&options)
            .await
            .unwrap_or_else(|error| panic!("Mosquitto, {transport:?} QoS {}: {error}", qos.level()));
        check(&outcome, qos, &format!("Mosquitto, {transport:?}, QoS {}", qos.level()));
        assert_eq!(outcome.run.server, ScaleServer::Mosquitto);
    }
}
