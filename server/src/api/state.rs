//! Everything the app holds, built once from the [`Config`]. Handlers never take all of it: each asks for the part
//! it uses (`State<FaultSwitches>`, `State<Lanes>`…), which axum cuts out of [`AppState`] through `FromRef`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::api::admission::{Admission, ConnectionCaps};
use crate::api::lanes::Lanes;
use crate::api::rate_limit::RequestRateLimit;
use crate::api::readings::Readings;
use crate::config::{Config, Timing};
use crate::core::faults::FaultSwitches;
use crate::core::generator::Generator;
use crate::core::hub::{random_epoch, EventHub, HubSlot};
use crate::core::join_link::JoinLinks;
use crate::core::lessons::LessonFolder;
use crate::core::presence::Presence;
use crate::core::scale_results::ScaleResults;
use crate::core::stats::LabCounters;
use crate::mqtt::MqttHost;
use crate::webhooks::{WebhookSettings, Webhooks};
use crate::wire::ledger::WireLedger;

/// The whole of the app's state, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Read it through [`AppState::hub`]: the hub in service can be replaced by a restart.
    pub hub_slot: Arc<HubSlot>,
    pub generator: Generator,
    pub counters: LabCounters,
    pub admission: Admission,
    pub faults: FaultSwitches,
    pub rate_limit: RequestRateLimit,
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
    /// A fresh hub with a new random epoch, and its generator running.
    pub fn new(config: &Config, leptos_options: LeptosOptions) -> Self {
        let hub_slot = Arc::new(HubSlot::new(EventHub::new(random_epoch(), config.history as usize)));
        let generator = Generator::spawn(hub_slot.clone(), config.generator());
        let join = Arc::new(JoinLinks::new(config.public_url.clone(), config.addr));
        let counters = LabCounters::default();
        let webhook_counters = counters.of(protocol::Transport::Webhook).clone();
        let webhooks =
            Webhooks::new(WebhookSettings::from_config(config), hub_slot.clone(), join.clone(), webhook_counters);
        let mqtt = MqttHost::spawn(config.broker(), hub_slot.clone(), counters.of(protocol::Transport::Mqtt).clone());
        Self {
            hub_slot,
            generator,
            counters,
            admission: Admission::new(
                ConnectionCaps {
                    per_transport: config.max_connections_per_transport,
                    per_address: config.max_connections_per_address as usize,
                },
                config.allowed_origins.clone(),
            ),
            faults: FaultSwitches::default(),
            rate_limit: RequestRateLimit::new(config.max_requests_per_second, config.request_burst),
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
        }
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
    hub_slot: Arc<HubSlot>,
    generator: Generator,
    faults: FaultSwitches,
    rate_limit: RequestRateLimit,
    wire: Arc<WireLedger>,
    leptos_options: LeptosOptions,
    scale_results: ScaleResults,
    lessons: LessonFolder,
    presence: Presence,
    join: Arc<JoinLinks>,
    webhooks: Webhooks,
    mqtt: MqttHost,
}

impl FromRef<AppState> for Lanes {
    fn from_ref(state: &AppState) -> Self {
        Lanes {
            hub_slot: state.hub_slot.clone(),
            counters: state.counters.clone(),
            faults: state.faults.clone(),
            presence: state.presence.clone(),
            admission: state.admission.clone(),
            timing: state.timing,
        }
    }
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
        }
    }
}
