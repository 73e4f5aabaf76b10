//! What the four transports share: the hub they deliver from, their counters, the faults and presence that watch
//! them, and who may hold a connection open. One sub-state, so a transport handler takes nothing else.

use std::net::IpAddr;
use std::sync::Arc;

use protocol::{ClientId, Transport};

use crate::api::admission::{AddressPermit, Admission};
use crate::api::error::ApiError;
use crate::api::rate_limit::RequestRateLimit;
use crate::config::Timing;
use crate::core::faults::FaultSwitches;
use crate::core::hub::{EventHub, HubSlot};
use crate::core::log::EventLog;
use crate::core::peer::Peer;
use crate::core::presence::Presence;
use crate::core::stats::LabCounters;

#[derive(Clone)]
pub struct Lanes {
    pub hub_slot: Arc<HubSlot>,
    /// Where a WebSocket client's messages are appended.
    pub log: EventLog,
    pub counters: LabCounters,
    pub faults: FaultSwitches,
    pub presence: Presence,
    pub admission: Admission,
    /// The one request rate limit, which a WebSocket's publish frames count against too.
    pub rate_limit: RequestRateLimit,
    pub timing: Timing,
    /// This instance's name, when several share one log.
    pub instance: Option<Arc<str>>,
}

impl Lanes {
    /// The hub in service now: a restart fault can replace it between two requests.
    pub fn hub(&self) -> Arc<EventHub> {
        self.hub_slot.current()
    }

    /// This instance's name for a stream's `hello`, when several share one log.
    pub fn instance(&self) -> Option<String> {
        self.instance.as_deref().map(str::to_owned)
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
}
