//! The lab's MQTT broker against real peers it did not write: the same paho-mqtt scenarios run against Debian's
//! Mosquitto and against the lab, and the packets every client sent and received must be the same
//! (`tests/peers/mqtt_scenarios.py` says what is normalized away); then Mosquitto's own command-line clients,
//! `mosquitto_sub` and `mosquitto_pub`, against the lab over TCP. Mosquitto runs on free ports of its own, started
//! and killed by the test (never as the system's service). Every wait has a generous deadline; nothing is timed.

use crate::common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::mosquitto::{find_program, Mosquitto};
use common::TestServer;
use protocol::{routes, Event, EventBody, PollResponse};
use tokio::time::{sleep, timeout, Instant};

/// How long one run of every scenario may take (about 10 s against Mosquitto; a hang fails inside the script first).
const SCRIPT_DEADLINE: Duration = Duration::from_secs(300);
const DEADLINE: Duration = Duration::from_secs(30);

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn program(name: &str) -> PathBuf {
    find_program(name).unwrap_or_else(|| {
        panic!("{name} is missing: run ./lab setup (it installs Debian's mosquitto and mosquitto-clients)")
    })
}

#[derive(Clone, Copy, Debug)]
enum Over {
    Tcp,
    WebSocket,
}

/// One broker for the script: where it listens and the WebSocket path it serves MQTT on.
struct Target {
    name: &'static str,
    tcp: SocketAddr,
    ws: SocketAddr,
    ws_path: &'static str,
}

/// One scenario's line from the script.
#[derive(Debug)]
struct Outcome {
    packets: Vec<String>,
    ok: bool,
    detail: serde_json::Value,
}

/// Runs every scenario of `tests/peers/mqtt_scenarios.py` against `target`; one [`Outcome`] per scenario name.
async fn run_scenarios(target: &Target, over: Over, protocol: &str) -> BTreeMap<String, Outcome> {
    let python = manifest().join("../.venv/bin/python");
    assert!(python.exists(), "{} is missing: run ./lab setup (it installs paho-mqtt there)", python.display());
    let (addr, transport) = match over {
        Over::Tcp => (target.tcp, "tcp"),
        Over::WebSocket => (target.ws, "websockets"),
    };
    let mut command = tokio::process::Command::new(python);
    command
        .arg(manifest().join("tests/peers/mqtt_scenarios.py"))
        .args(["--host", &addr.ip().to_string(), "--port", &addr.port().to_string()])
        .args(["--transport", transport, "--ws-path", target.ws_path, "--protocol", protocol, "all"])
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = timeout(SCRIPT_DEADLINE, command.output())
        .await
        .unwrap_or_else(|_| panic!("the scenarios against {} did not finish in {SCRIPT_DEADLINE:?}", target.name))
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut outcomes = BTreeMap::new();
    for line in stdout.lines() {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("a line from the script that is not JSON ({error}): {line}\n{stderr}"));
        let packets = value["packets"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_owned()).collect();
        let outcome = Outcome { packets, ok: value["ok"] == true, detail: value["detail"].clone() };
        outcomes.insert(value["scenario"].as_str().unwrap().to_owned(), outcome);
    }
    assert!(!outcomes.is_empty(), "no scenario ran against {} ({}):\n{stderr}", target.name, output.status);
    outcomes
}

/// A line diff of two packet sequences (longest common subsequence: they are a few dozen lines), `-` for
/// Mosquitto's lines the lab lacks, `+` for the lab's that Mosquitto lacks.
fn diff(expected: &[String], got: &[String]) -> String {
    let (n, m) = (expected.len(), got.len());
    let mut common = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            common[i][j] =
                if expected[i] == got[j] { common[i + 1][j + 1] + 1 } else { common[i + 1][j].max(common[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < n || j < m {
        if i < n && j < m && expected[i] == got[j] {
            out += &format!("      {}\n", expected[i]);
            (i, j) = (i + 1, j + 1);
        } else if i < n && (j == m || common[i + 1][j] >= common[i][j + 1]) {
            out += &format!("    - {}\n", expected[i]);
            i += 1;
        } else {
            out += &format!("    + {}\n", got[j]);
            j += 1;
        }
    }
    out
}

/// Hostile packets are where Mosquitto 2.0.11 is vaguer than MQTT 5.0: it drops the connection without a word
/// on a 5-byte remaining length or a second CONNECT, and calls a wildcard in a topic name a protocol error (0x82).
/// The lab answers with the reason code the spec names for each (0x81 Malformed Packet, 0x82 Protocol Error,
/// 0x90 Topic Name invalid) before closing; MQTT 3.1.1 has no DISCONNECT from a server, so there both just close.
fn spec_answers_to_bad_input(protocol: &str) -> Vec<String> {
    let v5 = protocol == "5";
    let mut lines: Vec<String> = [
        "sub > CONNECT u0 p0 wr0 wq0 wf0 c1 k60",
        if v5 { "sub < CONNACK sp0 Success" } else { "sub < CONNACK sp0 0" },
        "sub > SUBSCRIBE c1 T/# q0",
        "sub < SUBACK c1 [0]",
        "sub > DISCONNECT",
        "before-connect > PUBLISH q0",
        "before-connect < closed",
    ]
    .map(String::from)
    .to_vec();
    let cases = [
        ("qos3", "PUBLISH q3", "0x81"),
        ("length5", "PUBLISH len=5 bytes", "0x81"),
        ("wildcard-topic", "PUBLISH T/+/x", "0x90"),
        ("second-connect", "CONNECT", "0x82"),
    ];
    for (case, hostile, reason) in cases {
        lines.extend([format!("{case} > CONNECT"), format!("{case} < CONNACK 0x00"), format!("{case} > {hostile}")]);
        if v5 {
            lines.push(format!("{case} < DISCONNECT {reason}"));
        }
        lines.push(format!("{case} < closed"));
    }
    lines
}

/// The differential test: every scenario against Mosquitto and against the lab, over `over` with MQTT `protocol`
/// (`5` or `311`); the normalized packets must be equal scenario by scenario. All differences are reported at once.
async fn lab_matches_mosquitto(over: Over, protocol: &str) {
    let mosquitto = Mosquitto::start(&program("mosquitto"));
    let server = TestServer::start().await;
    let lab_tcp = server.start_mqtt_tcp().await;
    let reference = Target { name: "Mosquitto", tcp: mosquitto.tcp, ws: mosquitto.ws, ws_path: "/mqtt" };
    // `server.ws_url(routes::MQTT)`, taken apart for the script's --host, --port and --ws-path.
    let lab = Target { name: "the lab", tcp: lab_tcp, ws: server.addr, ws_path: routes::MQTT };
    let (want, got) = tokio::join!(run_scenarios(&reference, over, protocol), run_scenarios(&lab, over, protocol));

    let combo = format!("{over:?}, MQTT {protocol}");
    let mut failures = Vec::new();
    for (scenario, reference_outcome) in &want {
        // Mosquitto failing a scenario is the harness's fault (or the machine's), not the lab's: say so.
        assert!(
            reference_outcome.ok,
            "scenario {scenario} ({combo}) fails against Mosquitto itself: {:#}\n{}",
            reference_outcome.detail,
            reference_outcome.packets.join("\n")
        );
        let Some(lab_outcome) = got.get(scenario) else {
            failures.push(format!("scenario {scenario}: no result from the lab"));
            continue;
        };
        if scenario == "bad_input" {
            let spec = spec_answers_to_bad_input(protocol);
            if lab_outcome.packets != spec {
                failures.push(format!(
                    "scenario bad_input: the lab's answers differ from the spec's (- spec, + the lab; Mosquitto \
                     said:\n{}):\n{}",
                    reference_outcome.packets.join("\n"),
                    diff(&spec, &lab_outcome.packets)
                ));
            }
        } else if lab_outcome.packets != reference_outcome.packets {
            failures.push(format!(
                "scenario {scenario}: the lab's packets differ from Mosquitto's (- Mosquitto, + the lab):\n{}",
                diff(&reference_outcome.packets, &lab_outcome.packets)
            ));
        }
        if !lab_outcome.ok {
            failures.push(format!("scenario {scenario}: not ok against the lab: {:#}", lab_outcome.detail));
        }
    }
    assert!(failures.is_empty(), "the lab's broker vs Mosquitto 2.0 ({combo}):\n\n{}", failures.join("\n\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lab_answers_paho_like_mosquitto_over_tcp_mqtt5() {
    lab_matches_mosquitto(Over::Tcp, "5").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lab_answers_paho_like_mosquitto_over_tcp_mqtt311() {
    lab_matches_mosquitto(Over::Tcp, "311").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lab_answers_paho_like_mosquitto_over_websocket_mqtt5() {
    lab_matches_mosquitto(Over::WebSocket, "5").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lab_answers_paho_like_mosquitto_over_websocket_mqtt311() {
    lab_matches_mosquitto(Over::WebSocket, "311").await;
}

/// `mosquitto_sub` subscribed to every hub event prints three of them, `topic payload` a line. It gives no sign of
/// having subscribed, so the test publishes one event every 200 ms until it has had its three and exits.
#[tokio::test]
async fn mosquitto_sub_receives_hub_events_as_json() {
    let server = TestServer::start().await;
    let mqtt = server.start_mqtt_tcp().await;
    for version in ["mqttv5", "mqttv311"] {
        let mut command = tokio::process::Command::new(program("mosquitto_sub"));
        command
            .args(["-h", &mqtt.ip().to_string(), "-p", &mqtt.port().to_string()])
            .args(["-t", protocol::mqtt::EVENTS_FILTER, "-C", "3", "-v", "-V", version])
            .args(["-i", &format!("lab-peers-sub-{version}")])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let subscriber = command.spawn().unwrap();
        let output = tokio::spawn(subscriber.wait_with_output());
        let deadline = Instant::now() + DEADLINE;
        let mut published = 0;
        while !output.is_finished() {
            assert!(Instant::now() < deadline, "mosquitto_sub ({version}) did not get 3 events in {DEADLINE:?}");
            published += 1;
            server.publish(&format!("hi {version} {published}")).await;
            sleep(Duration::from_millis(200)).await;
        }
        let output = output.await.unwrap().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "mosquitto_sub ({version}): {}\n{stdout}\n{stderr}", output.status);
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 3, "{stdout}");
        let mut seqs = Vec::new();
        for line in lines {
            let (topic, payload) = line.split_once(' ').unwrap_or_else(|| panic!("not `topic payload`: {line}"));
            assert_eq!(topic, "lab/events/message", "{line}");
            let event: Event = serde_json::from_str(payload).unwrap_or_else(|error| panic!("{error}: {payload}"));
            let EventBody::Message { text } = &event.body else { panic!("not a message event: {payload}") };
            // "hi": should the lab keep the last event retained, the first line may be one published before.
            assert!(text.starts_with("hi "), "{line}");
            seqs.push(event.seq);
        }
        assert!(seqs.windows(2).all(|pair| pair[1] == pair[0] + 1), "consecutive events, in order: {seqs:?}");
    }
}

/// `mosquitto_pub` at QoS 1 to `lab/chat` exits 0 only once the lab has acknowledged it; the message is then one
/// of the hub's events, as read back over plain HTTP polling.
#[tokio::test]
async fn mosquitto_pub_to_lab_chat_makes_a_hub_event() {
    let server = TestServer::start().await;
    let mqtt = server.start_mqtt_tcp().await;
    for version in ["mqttv5", "mqttv311"] {
        let text = format!("hello from mosquitto_pub ({version})");
        let mut command = tokio::process::Command::new(program("mosquitto_pub"));
        command
            .args(["-h", &mqtt.ip().to_string(), "-p", &mqtt.port().to_string()])
            .args(["-t", protocol::mqtt::CHAT_TOPIC, "-m", &text, "-q", "1", "-V", version])
            .args(["-i", &format!("lab-peers-pub-{version}")])
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let output = timeout(DEADLINE, command.output()).await.expect("mosquitto_pub finished in time").unwrap();
        assert!(
            output.status.success(),
            "mosquitto_pub ({version}): {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let deadline = Instant::now() + DEADLINE;
        loop {
            let response = server.http.get(server.url(&format!("{}?after=0", routes::POLL))).send().await.unwrap();
            assert_eq!(response.status(), 200);
            let page: PollResponse = response.json().await.unwrap();
            let texts: Vec<&str> = page
                .events
                .iter()
                .filter_map(|event| match &event.body {
                    EventBody::Message { text } => Some(text.as_str()),
                    _ => None,
                })
                .collect();
            if texts.contains(&text.as_str()) {
                assert_eq!(texts.iter().filter(|t| **t == text).count(), 1, "once: {texts:?}");
                break;
            }
            assert!(Instant::now() < deadline, "no message event {text:?} in {DEADLINE:?}: {texts:?}");
            sleep(Duration::from_millis(50)).await;
        }
    }
}
