use std::sync::Arc;
use std::time::{Duration, Instant};

use std::net::IpAddr;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use protocol::{ClientId, LabSnapshot, LabStats, Transport, TransportStats};

use crate::admission::{AddressPermit, Admission, ConnectionCaps};
use crate::config::Config;
use crate::error::ApiError;
use crate::faults::{FaultSwitches, Peer};
use crate::generator::Generator;
use crate::hub::{random_epoch, EventHub, HubSlot};
use crate::join_link::JoinLinks;
use crate::presence::Presence;
use crate::rate_limit::RequestRateLimit;
use crate::stats::LabCounters;
use crate::wire::WireLedger;

/// Everything a handler may need, cheap to clone.
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
    /// Where `./lab bench` wrote its latest report; read on each request so a new run shows without a restart.
    pub scale_results: Arc<std::path::PathBuf>,
    /// The folder of lesson files, read on each request like the scale results.
    pub lessons: Arc<std::path::PathBuf>,
    /// When each page last made a request, for the classroom's presence count.
    pub presence: Presence,
    /// The URL students open (`--public-url`, or derived from where the server listens).
    pub join: Arc<JoinLinks>,
}

/// Heartbeat intervals and timeouts, taken from [`Config`] once.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub ws_ping_interval: Duration,
    pub sse_keep_alive: Duration,
    pub handshake_timeout: Duration,
    pub write_stall_timeout: Duration,
}

impl AppState {
    /// A fresh hub with a new random epoch, and its generator running.
    pub fn new(config: &Config, leptos_options: LeptosOptions) -> Self {
        let hub_slot = Arc::new(HubSlot::new(EventHub::new(random_epoch(), config.history as usize)));
        let generator = Generator::spawn(hub_slot.clone(), config.generator());
        Self {
            hub_slot,
            generator,
            counters: LabCounters::default(),
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
            timing: Timing {
                ws_ping_interval: Duration::from_secs(config.ws_ping_seconds),
                sse_keep_alive: Duration::from_secs(config.sse_keep_alive_seconds),
                handshake_timeout: Duration::from_secs(config.handshake_timeout_seconds),
                write_stall_timeout: Duration::from_secs(config.write_stall_timeout_seconds),
            },
            started: Instant::now(),
            leptos_options,
            scale_results: Arc::new(config.scale_results.clone()),
            lessons: Arc::new(config.lessons.clone()),
            presence: Presence::default(),
            join: Arc::new(JoinLinks::new(config.public_url.clone(), config.addr)),
        }
    }

    /// Lets in one more long-lived connection (held long poll, SSE stream, WebSocket) of `transport` from `client`
    /// at `address`: refused while an offline fault covers it, or past the connection caps. Returns whose it is
    /// and its share of the address's cap, held for as long as the connection lasts.
    pub fn admit_long_lived(
        &self,
        transport: Transport,
        client: Option<ClientId>,
        address: IpAddr,
    ) -> Result<(Peer, AddressPermit), ApiError> {
        let peer = Peer::new(transport, client);
        self.faults.check_online(&peer)?;
        let permit = self.admission.admit(&self.counters, transport, address)?;
        self.presence.seen(peer.client.as_ref(), Some(transport));
        Ok((peer, permit))
    }

    /// The hub in service now.
    pub fn hub(&self) -> Arc<EventHub> {
        self.hub_slot.current()
    }

    pub fn snapshot(&self) -> LabSnapshot {
        let hub = self.hub();
        LabSnapshot {
            epoch: hub.epoch().clone(),
            head_seq: hub.head_seq(),
            history_capacity: hub.capacity(),
            generator: self.generator.settings(),
            server_time: crate::hub::unix_micros_now(),
            client: new_client_id(),
        }
    }

    pub fn stats(&self) -> LabStats {
        let hub = self.hub();
        LabStats {
            epoch: hub.epoch().clone(),
            uptime_seconds: self.started.elapsed().as_secs_f64(),
            head_seq: hub.head_seq(),
            history_len: hub.history_len(),
            history_capacity: hub.capacity(),
            generator: self.generator.settings(),
            transports: self
                .counters
                .snapshot()
                .into_iter()
                .map(|(transport, stats)| {
                    (transport, TransportStats { wire: self.wire.totals(Some(transport)), ..stats })
                })
                .collect(),
            other_wire: self.wire.totals(None),
        }
    }
}

/// A fresh page id: 10 random letters and digits, short enough to read in a URL, long enough never to collide in
/// a class.
fn new_client_id() -> ClientId {
    let text: String = rand::distr::SampleString::sample_string(&rand::distr::Alphanumeric, &mut rand::rng(), 10);
    ClientId::try_from(text).expect("alphanumeric text is a valid client id")
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
