//! What the four transports share: the hub they deliver from, their counters, the faults and presence that watch
//! them, and who may hold a connection open. One sub-state, so a transport handler takes nothing else.

use std::net::IpAddr;
use std::sync::Arc;

use protocol::{ClientId, Transport};

use crate::api::admission::{AddressPermit, Admission};
use crate::api::error::ApiError;
use crate::api::rate_limit::RequestRateLimit;
use crate::api::state::AppState;
use crate::config::Timing;
use crate::core::faults::FaultSwitches;
use crate::core::hub::EventHub;
use crate::core::log::EventLog;
use crate::core::peer::Peer;
use crate::core::presence::Presence;
use crate::core::stats::LabCounters;
use axum::extract::FromRef;

/// A handle on the app's state that shows only these parts: one `Arc`, so a connection that keeps it (each
/// WebSocket's task does) holds 8 bytes rather than a copy of every part (896 B measured, per idle socket).
#[derive(Clone)]
pub struct Lanes(AppState);

impl FromRef<AppState> for Lanes {
    fn from_ref(state: &AppState) -> Self {
        Lanes(state.clone())
    }
}

impl Lanes {
    /// Where a WebSocket client's messages are appended.
    pub fn log(&self) -> &EventLog {
        &self.0.log
    }

    pub fn counters(&self) -> &LabCounters {
        &self.0.counters
    }

    pub fn faults(&self) -> &FaultSwitches {
        &self.0.faults
    }

    pub fn presence(&self) -> &Presence {
        &self.0.presence
    }

    pub fn admission(&self) -> &Admission {
        &self.0.admission
    }

    /// The one request rate limit, which a WebSocket's publish frames count against too.
    pub fn rate_limit(&self) -> &RequestRateLimit {
        &self.0.rate_limit
    }

    pub fn timing(&self) -> Timing {
        self.0.timing
    }

    /// The hub in service now: a restart fault can replace it between two requests.
    pub fn hub(&self) -> Arc<EventHub> {
        self.0.hub_slot.current()
    }

    /// This instance's name for a stream's `hello`, when several share one log.
    pub fn instance(&self) -> Option<String> {
        self.0.cluster.as_ref().map(|cluster| cluster.instance.to_string())
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
        self.0.faults.check_online(&peer)?;
        let permit = self.0.admission.admit(&self.0.counters, transport, address)?;
        self.0.presence.seen(peer.client.as_ref(), Some(transport));
        Ok((peer, permit))
    }
}
