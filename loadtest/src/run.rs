//! One scenario from start to finish: connect N clients of one transport, run the generator, measure a window.

use std::sync::Arc;
use std::time::Duration;

use protocol::mqtt::Qos;
use protocol::routes::{self, PollQuery};
use protocol::{ClientSession, GeneratorUpdate, LoadTransport, PollResponse, ScaleRun, ScaleServer};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::{sleep, sleep_until, Instant};

use crate::clients::mqtt::MqttPlan;
use crate::clients::{drive, Client, Plan};
use crate::error::LoadError;
use crate::http::{ok_body, HttpClient, Target};
use crate::proc;
use crate::publisher::{Publisher, Schedule};
use crate::stats::{Metrics, Totals};

/// Clients in the middle of connecting at once: enough to keep the connect rate, few enough that a server that
/// refuses does not face a retry storm.
const CONNECTS_IN_FLIGHT: usize = 256;
/// Time allowed beyond `clients / connect_rate` for the stragglers.
const CONNECT_GRACE: Duration = Duration::from_secs(20);
/// Lets the server settle (buffers allocated, first long polls held) before its memory is read.
const SETTLE: Duration = Duration::from_secs(1);
const LONG_POLL_TIMEOUT_SECONDS: u64 = 25;
/// Time clients get to close their connections at the end.
const CLOSE_GRACE: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
pub struct RunOptions {
    pub url: String,
    /// More instances sharing the server's log: clients are spread over `url` and these, one each in turn.
    pub spread_urls: Vec<String>,
    pub server: ScaleServer,
    pub transport: LoadTransport,
    pub clients: u32,
    pub rate: f64,
    pub payload_bytes: u32,
    pub poll_interval: Duration,
    pub connect_rate: f64,
    pub warmup: Duration,
    pub measure: Duration,
    /// The server's processes (one, or its instances, engine and balancer), whose CPU and memory are summed.
    pub server_pids: Vec<u32>,
    pub mqtt: MqttOptions,
    /// Native gRPC: `host:port` of a gRPC server apart from `url` (a Node peer's grpc-js listener); the lab serves
    /// gRPC on its one port, so `url`'s.
    pub grpc_addr: Option<String>,
    /// The lab's teacher key, for setting the generator on a lab that asks for it (one not on loopback alone).
    pub teacher_key: Option<String>,
}

/// What the MQTT transports need besides the URL.
#[derive(Clone, Debug)]
pub struct MqttOptions {
    /// The QoS every client subscribes with. 0 or 1: the Mosquitto publisher publishes at QoS 1, so a QoS 2
    /// subscription would get QoS 1 from Mosquitto and QoS 2 from the lab, and the two would not be the same load.
    pub qos: Qos,
    /// `host:port` of the broker's MQTT-over-TCP listener (the lab's `--mqtt-addr`, Mosquitto's `listener`).
    pub tcp_addr: Option<String>,
}

impl Default for MqttOptions {
    fn default() -> Self {
        Self { qos: Qos::AtMostOnce, tcp_addr: None }
    }
}

impl RunOptions {
    /// Combinations that cannot run: Mosquitto speaks only MQTT, socket.io only itself, and MQTT over TCP needs
    /// the listener's address.
    pub fn check(&self) -> Result<(), String> {
        let transport = self.transport;
        let fits = match self.server {
            ScaleServer::Lab | ScaleServer::LabNats | ScaleServer::LabRedis | ScaleServer::LabClusterNats => {
                transport != LoadTransport::SocketIo
            }
            ScaleServer::NodeExpressWs | ScaleServer::Floor => {
                !transport.is_mqtt() && !matches!(transport, LoadTransport::SocketIo | LoadTransport::Grpc)
            }
            ScaleServer::NodeGrpcJs => transport == LoadTransport::Grpc,
            ScaleServer::SocketIo => transport == LoadTransport::SocketIo,
            ScaleServer::Mosquitto => transport.is_mqtt(),
        };
        if self.server == ScaleServer::NodeGrpcJs && self.grpc_addr.is_none() {
            return Err("the grpc-js peer serves gRPC apart from its HTTP API: give --grpc-addr HOST:PORT".into());
        }
        if !fits {
            return Err(format!("{} does not serve {}", self.server.title(), transport.title()));
        }
        if transport == LoadTransport::MqttTcp && self.mqtt.tcp_addr.is_none() {
            return Err("MQTT over TCP needs --mqtt-addr HOST:PORT".into());
        }
        if transport.is_mqtt() && self.mqtt.qos == Qos::ExactlyOnce {
            return Err("--qos must be 0 or 1".into());
        }
        Ok(())
    }
}

/// The run's figures, plus what a test needs to check them against the log itself.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    pub run: ScaleRun,
    /// Lowest and highest sequence number any client received in the window.
    pub seq_span: Option<(u64, u64)>,
    pub duplicates: u64,
    /// Events that arrived after a later one (not counted in `missed`).
    pub out_of_order: u64,
    /// New server runs the clients saw, one per client per restart.
    pub restarts: u64,
}

impl RunOutcome {
    /// The order figures a [`ScaleRun`] has no field for, as one line for the terminal.
    pub fn order_line(&self) -> String {
        format!(
            "duplicates {}, out of order {}, server restarts seen {}",
            self.duplicates, self.out_of_order, self.restarts
        )
    }
}

pub async fn run(options: &RunOptions) -> Result<RunOutcome, LoadError> {
    options.check().map_err(LoadError::Protocol)?;
    let target = Target::resolve(&options.url).await?;
    let mut targets = vec![target.clone()];
    for url in &options.spread_urls {
        targets.push(Target::resolve(url).await?);
    }
    if let (LoadTransport::Grpc, Some(addr)) = (options.transport, &options.grpc_addr) {
        targets = vec![Target::resolve_host_port(addr).await?];
    }
    let server = ServerProcesses { pids: options.server_pids.clone() };
    let rss_baseline = server.rss()?;
    let metrics = Metrics::new();
    let mqtt = match options.transport {
        LoadTransport::Mqtt => Some(MqttPlan::new(options.server, &target, None, options.mqtt.qos)),
        LoadTransport::MqttTcp => {
            let addr = options.mqtt.tcp_addr.as_deref().unwrap_or_default();
            let tcp = Target::resolve_host_port(addr).await?;
            Some(MqttPlan::new(options.server, &target, Some(tcp), options.mqtt.qos))
        }
        _ => None,
    };
    let mut events = match (options.server, &mqtt) {
        (ScaleServer::Mosquitto, Some(plan)) => Events::Publisher { plan: plan.clone(), running: None },
        _ => Events::Generator(Control {
            target: target.clone(),
            metrics: Metrics::new(),
            teacher_key: options.teacher_key.clone(),
        }),
    };
    events.prepare(options).await?;
    let start = match &events {
        Events::Generator(control)
            if matches!(options.transport, LoadTransport::ShortPoll | LoadTransport::LongPoll) =>
        {
            control.start_at_head().await?
        }
        _ => ClientSession::new(),
    };
    let plan = Arc::new(Plan {
        transport: options.transport,
        targets,
        start,
        poll_interval: options.poll_interval,
        long_poll_timeout_seconds: LONG_POLL_TIMEOUT_SECONDS,
        mqtt,
    });

    let (stop, stopped) = watch::channel(false);
    let spawner = tokio::spawn(spawn_clients(plan, options.clients, options.connect_rate, metrics.clone(), stopped));
    let deadline =
        Instant::now() + Duration::from_secs_f64(options.clients as f64 / options.connect_rate) + CONNECT_GRACE;
    while metrics.connected() + metrics.gave_up() < options.clients as u64 && Instant::now() < deadline {
        sleep(Duration::from_millis(100)).await;
    }
    sleep(SETTLE).await;
    let connected = metrics.connected();
    let rss_connected = server.rss_or_zero(&metrics);

    events.start(options, &metrics).await?;
    // The generator ticks from the moment it is unpaused, so a window of whole seconds starting a whole number of
    // seconds later would open and close just as an event is being delivered, and count it at both edges for some
    // clients and neither for others. Half a period later, the edges fall between events.
    sleep(options.warmup + Duration::from_secs_f64(0.5 / options.rate)).await;
    let cpu_start = server.cpu_or_zero(&metrics);
    let window_start = Instant::now();
    metrics.set_measuring(true);
    sleep(options.measure).await;
    metrics.set_measuring(false);
    let measured_seconds = window_start.elapsed().as_secs_f64();
    let cpu_seconds = (server.cpu_or_zero(&metrics) - cpu_start).max(0.0);

    // Pause first, so what the clients still receive while closing cannot be mistaken for a loss.
    let paused = events.pause().await;
    let rss_end = server.rss_or_zero(&metrics);
    let _ = stop.send(true);
    close_clients(spawner, &metrics).await;
    paused?;

    let totals = metrics.totals();
    let run =
        scale_run(options, connected, measured_seconds, cpu_seconds, [rss_baseline, rss_connected, rss_end], &totals);
    Ok(RunOutcome {
        run,
        seq_span: totals.seq_span,
        duplicates: totals.duplicates,
        out_of_order: totals.out_of_order,
        restarts: totals.restarts,
    })
}

/// Where a run's events come from: the server's own generator, set through its API (the lab, the Node peers), or
/// the load tool's publisher (Mosquitto has no generator).
enum Events {
    Generator(Control),
    Publisher { plan: MqttPlan, running: Option<Publisher> },
}

impl Events {
    /// The generator set to the run's rate and payload, paused; the publisher has nothing to set before it starts.
    async fn prepare(&self, options: &RunOptions) -> Result<(), LoadError> {
        match self {
            Events::Generator(control) => {
                control
                    .set_generator(GeneratorUpdate {
                        rate_per_second: Some(options.rate),
                        payload_bytes: Some(options.payload_bytes as usize),
                        paused: Some(true),
                    })
                    .await
            }
            Events::Publisher { .. } => Ok(()),
        }
    }

    async fn start(&mut self, options: &RunOptions, metrics: &Arc<Metrics>) -> Result<(), LoadError> {
        match self {
            Events::Generator(control) => {
                control.set_generator(GeneratorUpdate { paused: Some(false), ..Default::default() }).await
            }
            Events::Publisher { plan, running } => {
                let schedule = Schedule { rate: options.rate, payload_bytes: options.payload_bytes };
                *running = Some(Publisher::start(plan, schedule, metrics.clone()).await?);
                Ok(())
            }
        }
    }

    async fn pause(&mut self) -> Result<(), LoadError> {
        match self {
            Events::Generator(control) => {
                control.set_generator(GeneratorUpdate { paused: Some(true), ..Default::default() }).await
            }
            Events::Publisher { running, .. } => match running.take() {
                Some(publisher) => publisher.stop().await.map(drop),
                None => Ok(()),
            },
        }
    }
}

/// Starts a task per client at `connect_rate` per second, at most [`CONNECTS_IN_FLIGHT`] connecting at once.
async fn spawn_clients(
    plan: Arc<Plan>,
    clients: u32,
    connect_rate: f64,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let connecting = Arc::new(Semaphore::new(CONNECTS_IN_FLIGHT));
    let start = Instant::now();
    let mut handles = Vec::with_capacity(clients as usize);
    for id in 0..clients as usize {
        let Ok(permit) = connecting.clone().acquire_owned().await else { break };
        sleep_until(start + Duration::from_secs_f64(id as f64 / connect_rate)).await;
        if *stop.borrow() {
            break;
        }
        let client = Client::new(id, plan.clone(), metrics.recorder(id), permit);
        handles.push(tokio::spawn(drive(client, stop.clone())));
    }
    handles
}

async fn close_clients(spawner: JoinHandle<Vec<JoinHandle<()>>>, metrics: &Metrics) {
    let closing = async {
        for client in spawner.await.unwrap_or_default() {
            let _ = client.await;
        }
    };
    if tokio::time::timeout(CLOSE_GRACE, closing).await.is_err() {
        metrics.error(format!("clients still closing after {CLOSE_GRACE:?}"));
    }
}

/// The controller's requests, each on a fresh connection: between them the connection would sit idle for the
/// whole warm-up and window, longer than servers keep an idle keep-alive connection (the lab: 10 s).
struct Control {
    target: Target,
    /// Kept apart from the clients' metrics, so the controller's bytes are not counted as theirs.
    metrics: Arc<Metrics>,
    teacher_key: Option<String>,
}

impl Control {
    async fn connect(&self) -> Result<HttpClient, LoadError> {
        HttpClient::connect(&self.target, self.metrics.recorder(0)).await
    }

    async fn set_generator(&self, update: GeneratorUpdate) -> Result<(), LoadError> {
        self.connect().await?.post_json(routes::GENERATOR, &update, self.teacher_key.as_deref()).await.map(drop)
    }

    /// A polling client's session starting at the log's head, in the server's current run: found by following
    /// `next` from 0 until an answer is empty (the generator is paused, so this ends). Only the poll API is
    /// assumed, so a peer without `/api/stats` works too.
    async fn start_at_head(&self) -> Result<ClientSession, LoadError> {
        let mut http = self.connect().await?;
        let mut after = 0;
        loop {
            let path = PollQuery { after, ..PollQuery::default() }.url();
            let answer: PollResponse = serde_json::from_slice(&ok_body(http.get(&path).await?, &path).await?)?;
            if answer.events.is_empty() && answer.gap.is_none() || answer.next <= after {
                return Ok(ClientSession::starting_after(answer.next.max(after), answer.epoch));
            }
            after = answer.next;
        }
    }
}

/// The server's processes, when their pids are known (every reading is 0 otherwise), read as one: a server made
/// of instances, an engine and a balancer costs what they all cost.
struct ServerProcesses {
    pids: Vec<u32>,
}

impl ServerProcesses {
    /// The first reading: a wrong pid should stop the run before it starts, not yield a report of zeros.
    fn rss(&self) -> Result<u64, LoadError> {
        self.pids.iter().try_fold(0, |sum, pid| Ok(sum + proc::rss_bytes(*pid)?))
    }

    fn rss_or_zero(&self, metrics: &Metrics) -> u64 {
        let read = |pid: &u32| {
            proc::rss_bytes(*pid).unwrap_or_else(|error| {
                metrics.error(format!("reading the memory of server process {pid}: {error}"));
                0
            })
        };
        self.pids.iter().map(read).sum()
    }

    fn cpu_or_zero(&self, metrics: &Metrics) -> f64 {
        let read = |pid: &u32| {
            proc::cpu_seconds(*pid).unwrap_or_else(|error| {
                metrics.error(format!("reading the CPU time of server process {pid}: {error}"));
                0.0
            })
        };
        self.pids.iter().map(read).sum()
    }
}

fn scale_run(
    options: &RunOptions,
    connected: u64,
    measured_seconds: f64,
    cpu_seconds: f64,
    [rss_baseline, rss_connected, rss_end]: [u64; 3],
    totals: &Totals,
) -> ScaleRun {
    let per_second = |count: u64| if measured_seconds > 0.0 { count as f64 / measured_seconds } else { 0.0 };
    ScaleRun {
        server: options.server,
        transport: options.transport,
        clients: options.clients,
        connected: connected as u32,
        rate_per_second: options.rate,
        payload_bytes: options.payload_bytes,
        poll_interval_ms: (options.transport == LoadTransport::ShortPoll)
            .then_some(options.poll_interval.as_millis() as u32),
        mqtt_qos: options.transport.is_mqtt().then_some(options.mqtt.qos.level()),
        measured_seconds,
        deliveries: totals.deliveries,
        deliveries_per_second: per_second(totals.deliveries),
        expected_deliveries_per_second: options.clients as f64 * options.rate,
        latency: totals.latency,
        requests_per_second: per_second(totals.requests),
        bytes_per_second_up: per_second(totals.bytes_up),
        bytes_per_second_down: per_second(totals.bytes_down),
        server_cpu_seconds: cpu_seconds,
        server_cpu_us_per_delivery: if totals.deliveries > 0 {
            cpu_seconds * 1e6 / totals.deliveries as f64
        } else {
            0.0
        },
        server_rss_baseline_bytes: rss_baseline,
        server_rss_connected_bytes: rss_connected,
        server_rss_end_bytes: rss_end,
        rss_per_connection_bytes: if connected > 0 && rss_connected > 0 {
            (rss_connected as f64 - rss_baseline as f64) / connected as f64
        } else {
            0.0
        },
        missed: totals.missed,
        errors: totals.errors,
        error_samples: totals.error_samples.clone(),
    }
}
