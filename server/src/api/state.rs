//! Everything the app holds, built once from the [`Config`]. Handlers never take all of it: each asks for the part
//! it uses (`State<FaultSwitches>`, `State<Lanes>`…), which axum cuts out of [`AppState`] through `FromRef`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::api::admission::{Admission, ConnectionCaps};
use crate::api::rate_limit::{RequestRateLimit, ToneLimit};
use crate::api::readings::Readings;
use crate::api::teacher::TeacherGate;
use crate::config::{Config, Timing};
use crate::core::cluster::Membership;
use crate::core::faults::FaultSwitches;
use crate::core::generator::Generator;
use crate::core::hub::{random_epoch, EventHub, HubSlot};
use crate::core::join_link::JoinLinks;
use crate::core::leadership::Leadership;
use crate::core::lessons::LessonFolder;
use crate::core::log::EventLog;
use crate::core::presence::Presence;
use crate::core::replica;
use crate::core::scale_results::ScaleResults;
use crate::core::stats::LabCounters;
use crate::mqtt::MqttHost;
use crate::webhooks::{WebhookSettings, Webhooks};
use crate::wire::ledger::WireLedger;

/// The whole of the app's state, cheap to clone.
/// Everything the handlers share, behind one reference count: axum clones the state for every request (and
/// every layer that holds it), so a clone must be one increment, not twenty fields' worth. Field by field,
/// cloning and dropping it (the Leptos options' strings among them) took 7 % of the lab's CPU under 10,000 long
/// polls.
#[derive(Clone)]
pub struct AppState(Arc<SharedState>);

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

pub struct SharedState {
    /// Read it through [`AppState::hub`]: the hub in service can be replaced by a restart.
    pub hub_slot: Arc<HubSlot>,
    /// Where every event is appended: the hub, or the shared log it replicates.
    pub log: EventLog,
    /// Set when this is one of several instances on a shared log (`--backplane`).
    pub cluster: Option<Membership>,
    pub generator: Generator,
    pub counters: LabCounters,
    pub admission: Admission,
    /// Who may act on the whole class.
    pub teacher: TeacherGate,
    pub faults: FaultSwitches,
    pub rate_limit: RequestRateLimit,
    pub tone_limit: ToneLimit,
    /// Bytes measured at every socket, per transport and per page.
    pub wire: Arc<WireLedger>,
    pub timing: Timing,
    pub started: Instant,
    pub leptos_options: LeptosOptions,
    pub scale_results: ScaleResults,
    pub lessons: LessonFolder,
    /// When each page last made a request, for the classroom's presence count.
    pub presence: Presence,
    /// The URL students open (`--public-url`, or derived from where the server listens).
    pub join: Arc<JoinLinks>,
    /// Registered webhook endpoints, their senders' logs and the lab's receivers.
    pub webhooks: Webhooks,
    /// The MQTT broker, fed by the hub; its sockets are `GET /api/mqtt` and `--mqtt-addr`.
    pub mqtt: MqttHost,
}

impl AppState {
    /// A fresh hub with a new random epoch, and its generator running: the log is this process's memory, whatever
    /// `--backplane` says (see [`AppState::connect`]).
    pub fn new(config: &Config, leptos_options: LeptosOptions) -> Self {
        let hub_slot = Arc::new(HubSlot::new(EventHub::new(random_epoch(), config.history as usize)));
        Self::around(config, leptos_options, EventLog::in_memory(hub_slot), Leadership::sole(), None)
    }

    /// As [`AppState::new`], or with `--backplane` one instance of several: connects to the engine (an error names
    /// its URL), replicates its log into the hub and contends for the generator. `listening_port` names the
    /// instance when `--instance` does not.
    pub async fn connect(
        config: &Config,
        leptos_options: LeptosOptions,
        listening_port: u16,
    ) -> Result<Self, backplane::BackplaneError> {
        let Some(url) = &config.backplane else {
            return Ok(Self::new(config, leptos_options));
        };
        let instance = config.instance_name(listening_port);
        let backplane = backplane::Backplane::connect(url, config.history).await?;
        let epoch = backplane.epoch().await?;
        let hub_slot = Arc::new(HubSlot::new(EventHub::new(epoch, config.history as usize)));
        let health = replica::spawn(backplane.clone(), hub_slot.clone());
        let leadership = Leadership::contend(backplane.clone(), instance.clone());
        let membership = Membership {
            instance: instance.into(),
            engine: backplane.to_string(),
            health,
            leadership: leadership.clone(),
            backplane: backplane.clone(),
        };
        let log = EventLog::shared(hub_slot, backplane);
        let state = Self::around(config, leptos_options, log, leadership, Some(membership.clone()));
        membership.share_presence(state.presence.clone(), state.faults.clone());
        Ok(state)
    }

    fn around(
        config: &Config,
        leptos_options: LeptosOptions,
        log: EventLog,
        leadership: Leadership,
        cluster: Option<Membership>,
    ) -> Self {
        let hub_slot = log.hub_slot().clone();
        let generator = Generator::spawn(log.clone(), &leadership, config.generator());
        let join = Arc::new(JoinLinks::new(config.public_url.clone(), config.addr));
        let counters = LabCounters::default();
        let webhook_counters = counters.of(protocol::Transport::Webhook).clone();
        let webhooks =
            Webhooks::new(WebhookSettings::from_config(config), hub_slot.clone(), join.clone(), webhook_counters);
        let rate_limit = RequestRateLimit::new(config.max_requests_per_second, config.request_burst);
        let mqtt_counters = counters.of(protocol::Transport::Mqtt).clone();
        let limit = rate_limit.clone();
        let allowance = Arc::new(move |address| limit.check(address).map_err(|over| over.to_string()));
        let mqtt = MqttHost::spawn(config.broker(), log.clone(), mqtt_counters, allowance);
        let faults = match &cluster {
            Some(member) => FaultSwitches::for_class(member.backplane.clone(), member.instance.clone()),
            None => FaultSwitches::default(),
        };
        Self(Arc::new(SharedState {
            hub_slot,
            log,
            cluster,
            generator,
            counters,
            admission: Admission::new(
                ConnectionCaps {
                    per_transport: config.max_connections_per_transport,
                    per_address: config.max_connections_per_address as usize,
                },
                config.allowed_origins.clone(),
            ),
            teacher: TeacherGate::new(config.teacher_key.clone(), config.everyone_is_teacher()),
            faults,
            rate_limit,
            // Tests and the scale suite turn the request limit off (0); tones go with it.
            tone_limit: ToneLimit(RequestRateLimit::tones(config.max_requests_per_second == 0)),
            wire: Arc::default(),
            timing: config.timing(),
            started: Instant::now(),
            leptos_options,
            scale_results: ScaleResults::new(config.scale_results.clone()),
            lessons: LessonFolder::new(config.lessons.clone()),
            presence: Presence::default(),
            join,
            webhooks,
            mqtt,
        }))
    }

    /// The hub in service now.
    pub fn hub(&self) -> Arc<EventHub> {
        self.hub_slot.current()
    }

    /// Serves MQTT over plain TCP on `listener` (`--mqtt-addr`), until the process ends.
    pub fn serve_mqtt_tcp(&self, listener: tokio::net::TcpListener) -> impl std::future::Future<Output = ()> {
        crate::mqtt::serve_tcp(listener, self.mqtt.clone(), self.admission.clone(), self.counters.clone())
    }
}

/// The parts a handler may take on its own, each a field of [`AppState`].
macro_rules! sub_states {
    ($($field:ident: $part:ty),* $(,)?) => {$(
        impl FromRef<AppState> for $part {
            fn from_ref(state: &AppState) -> Self {
                state.$field.clone()
            }
        }
    )*};
}

sub_states! {
    cluster: Option<Membership>,
    hub_slot: Arc<HubSlot>,
    log: EventLog,
    generator: Generator,
    faults: FaultSwitches,
    teacher: TeacherGate,
    rate_limit: RequestRateLimit,
    tone_limit: ToneLimit,
    wire: Arc<WireLedger>,
    leptos_options: LeptosOptions,
    scale_results: ScaleResults,
    lessons: LessonFolder,
    presence: Presence,
    join: Arc<JoinLinks>,
    webhooks: Webhooks,
    mqtt: MqttHost,
}

impl FromRef<AppState> for Readings {
    fn from_ref(state: &AppState) -> Self {
        Readings {
            hub_slot: state.hub_slot.clone(),
            generator: state.generator.clone(),
            counters: state.counters.clone(),
            wire: state.wire.clone(),
            started: state.started,
            mqtt: state.mqtt.clone(),
            cluster: state.cluster.clone(),
        }
    }
}
