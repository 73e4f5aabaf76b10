//! Webhooks: the lab POSTs every hub event to each registered endpoint, signed the Standard Webhooks way, retried on
//! the providers' schedule (sped up by the class clock), with every attempt logged as its socket measured it.
//!
//! A layer of its own between `core` and `api`: it speaks HTTP as a client (so it is not `core`), and the app's
//! state holds it (so it cannot live under `transports`, which imports that state). The routes are in
//! `transports::webhooks`.

mod client;
mod counting;
pub mod guard;
mod idle;
mod log;
pub mod receiver;
mod sender;
pub mod sign;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use protocol::webhook::{DeliveryPage, EndpointCreated, EndpointRequest, WebhookSecret, KEY_BYTES, LAB_RECEIVER};
use protocol::{routes, ClientId};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::{Config, WebhookAllow};
use crate::core::hub::HubSlot;
use crate::core::join_link::JoinLinks;
use crate::core::refusal::Refusal;
use crate::core::stats::TransportCounters;
use guard::Target;
use log::{DeliveryLog, MAX_ATTEMPTS_PER_PAGE};
use receiver::LabReceiver;

/// Endpoints one page (or, without a `client`, one address) may have, and all pages together: each is a task and
/// up to [`sender::MAX_OUTSTANDING`] pending deliveries.
pub const MAX_ENDPOINTS_PER_CLIENT: usize = 4;
pub const MAX_ENDPOINTS: usize = 64;

#[derive(Clone, Debug)]
pub struct WebhookSettings {
    pub class_clock: f64,
    pub allow: Vec<WebhookAllow>,
    pub attempt_timeout: Duration,
    /// An endpoint whose deliveries and receiver nobody has read for this long is removed.
    pub idle: Duration,
}

impl WebhookSettings {
    pub fn from_config(config: &Config) -> Self {
        Self {
            class_clock: config.webhook_class_clock,
            allow: config.webhook_allow.clone(),
            attempt_timeout: Duration::from_secs(config.webhook_timeout_seconds),
            idle: Duration::from_secs(config.webhook_idle_seconds),
        }
    }
}

/// One registered endpoint: where it delivers, with what secret, what happened, and the lab's receiver for it.
pub struct Endpoint {
    pub id: String,
    pub secret: WebhookSecret,
    target: Target,
    /// Whose it is, for the per-client cap.
    owner: String,
    /// The page that registered it, if one did: that page is on the webhook lane while it watches.
    pub client: Option<ClientId>,
    log: DeliveryLog,
    pub receiver: LabReceiver,
    /// Set once deliveries stop for good, with the reason (`"410 Gone from receiver"`).
    disabled: Mutex<Option<String>>,
    /// Anything but `Delivering` stops the endpoint's reader and every pending delivery; `Removed` also ends its
    /// idle timer (a disabled endpoint still counts against the caps, so it must still go when unwatched).
    phase: watch::Sender<Phase>,
    /// When its deliveries or its receiver were last read (registration counts).
    watched: Mutex<Instant>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Delivering,
    Disabled,
    Removed,
}

impl Endpoint {
    fn disable(&self, reason: &str) {
        self.disabled.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert_with(|| reason.to_owned());
        self.phase.send_if_modified(|phase| {
            let delivering = *phase == Phase::Delivering;
            if delivering {
                *phase = Phase::Disabled;
            }
            delivering
        });
    }

    fn last_watched(&self) -> Instant {
        *self.watched.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn touch(&self) {
        *self.watched.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }

    pub fn deliveries(&self, after: u64) -> DeliveryPage {
        let disabled = self.disabled.lock().unwrap_or_else(PoisonError::into_inner).clone();
        self.log.page(after, MAX_ATTEMPTS_PER_PAGE, disabled)
    }
}

#[derive(Clone)]
pub struct Webhooks {
    settings: Arc<WebhookSettings>,
    hub_slot: Arc<HubSlot>,
    /// Where the lab listens, for endpoints registered as [`LAB_RECEIVER`].
    join: Arc<JoinLinks>,
    endpoints: Arc<Mutex<HashMap<String, Arc<Endpoint>>>>,
    /// The webhook lane's figures in `/api/stats`: attempts as requests, acknowledged deliveries as events.
    counters: Arc<TransportCounters>,
}

impl Webhooks {
    pub fn new(
        settings: WebhookSettings,
        hub_slot: Arc<HubSlot>,
        join: Arc<JoinLinks>,
        counters: Arc<TransportCounters>,
    ) -> Self {
        Self { settings: Arc::new(settings), hub_slot, join, endpoints: Arc::default(), counters }
    }

    pub fn attempt_timeout(&self) -> Duration {
        self.settings.attempt_timeout
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Endpoint>>> {
        self.endpoints.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn check_caps(endpoints: &HashMap<String, Arc<Endpoint>>, owner: &str) -> Result<(), Refusal> {
        if endpoints.len() >= MAX_ENDPOINTS {
            return Err(Refusal::TooManyWebhookEndpoints {
                message: format!("the lab has {MAX_ENDPOINTS} webhook endpoints already; delete one first"),
            });
        }
        if endpoints.values().filter(|endpoint| endpoint.owner == owner).count() >= MAX_ENDPOINTS_PER_CLIENT {
            return Err(Refusal::TooManyWebhookEndpoints {
                message: format!("{owner} has {MAX_ENDPOINTS_PER_CLIENT} webhook endpoints already; delete one first"),
            });
        }
        Ok(())
    }

    /// Registers an endpoint and starts delivering every event published from now on.
    pub async fn register(&self, request: EndpointRequest, address: IpAddr) -> Result<EndpointCreated, Refusal> {
        let owner = owner(request.client.as_ref(), address);
        Self::check_caps(&self.lock(), &owner)?;
        let id = format!("ep_{:016x}", rand::random::<u64>());
        let target = if request.url == LAB_RECEIVER {
            self.lab_receiver(&id)
        } else {
            guard::vet(&request.url, &self.settings.allow).await?
        };
        let secret = WebhookSecret::from_key(rand::random::<[u8; KEY_BYTES]>().to_vec())
            .map_err(|error| Refusal::invalid_field("url", error.to_string()))?;
        let endpoint = Arc::new(Endpoint {
            id: id.clone(),
            secret,
            target,
            owner,
            client: request.client.clone(),
            log: DeliveryLog::default(),
            receiver: LabReceiver::default(),
            disabled: Mutex::new(None),
            phase: watch::Sender::new(Phase::Delivering),
            watched: Mutex::new(Instant::now()),
        });
        {
            let mut endpoints = self.lock();
            // Checked again: others may have registered while the name resolved.
            Self::check_caps(&endpoints, &endpoint.owner)?;
            endpoints.insert(id.clone(), endpoint.clone());
        }
        let (after, epoch) =
            sender::spawn(endpoint.clone(), self.hub_slot.clone(), self.settings.clone(), self.counters.clone());
        idle::spawn(endpoint.clone(), Arc::downgrade(&self.endpoints), self.settings.idle);
        Ok(EndpointCreated { id, secret: endpoint.secret.to_string(), url: endpoint.target.url.clone(), after, epoch })
    }

    /// The lab's own receiver for endpoint `id`, at the address the server is bound to (loopback when it listens
    /// on every interface).
    fn lab_receiver(&self, id: &str) -> Target {
        let listening = self.join.listening();
        let ip = match listening.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let addr = SocketAddr::new(ip, listening.port());
        let path = routes::webhook_receiver(id);
        Target { addr, host: addr.to_string(), url: format!("http://{addr}{path}"), path }
    }

    fn no_such(&self, id: &str) -> Refusal {
        Refusal::NoSuchWebhookEndpoint { id: id.to_owned(), idle_seconds: self.settings.idle.as_secs() }
    }

    /// Endpoint `id`, for its sender's side (the receiver being delivered to): this does not count as watching it.
    pub fn endpoint(&self, id: &str) -> Result<Arc<Endpoint>, Refusal> {
        self.lock().get(id).cloned().ok_or_else(|| self.no_such(id))
    }

    /// Endpoint `id`, for someone reading its deliveries or its receiver: that keeps it from going idle.
    pub fn watch(&self, id: &str) -> Result<Arc<Endpoint>, Refusal> {
        let endpoint = self.endpoint(id)?;
        endpoint.touch();
        Ok(endpoint)
    }

    /// Stops deliveries to `id` and forgets it.
    pub fn remove(&self, id: &str) -> Result<(), Refusal> {
        let endpoint = self.lock().remove(id).ok_or_else(|| self.no_such(id))?;
        endpoint.phase.send_replace(Phase::Removed);
        Ok(())
    }
}

fn owner(client: Option<&ClientId>, address: IpAddr) -> String {
    match client {
        Some(client) => format!("page `{}`", client.as_str()),
        None => format!("address {address}"),
    }
}
