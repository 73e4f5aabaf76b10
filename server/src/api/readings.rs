//! What the lab reads out about itself: the snapshot a page is rendered with, and `GET /api/stats`.

use std::sync::Arc;
use std::time::Instant;

use protocol::{ClientId, LabSnapshot, LabStats, TransportStats};

use crate::core::clock::unix_micros_now;
use crate::core::cluster::Membership;
use crate::core::generator::Generator;
use crate::core::hub::HubSlot;
use crate::core::stats::LabCounters;
use crate::mqtt::MqttHost;
use crate::wire::ledger::WireLedger;

#[derive(Clone)]
pub struct Readings {
    pub hub_slot: Arc<HubSlot>,
    pub generator: Generator,
    pub counters: LabCounters,
    pub wire: Arc<WireLedger>,
    pub started: Instant,
    pub mqtt: MqttHost,
    pub cluster: Option<Membership>,
}

impl Readings {
    /// What a page is rendered with, including the fresh id it will name itself by.
    pub fn snapshot(&self) -> LabSnapshot {
        let hub = self.hub_slot.current();
        LabSnapshot {
            epoch: hub.epoch().clone(),
            head_seq: hub.head_seq(),
            history_capacity: hub.capacity(),
            generator: self.generator.settings(),
            server_time: unix_micros_now(),
            client: new_client_id(),
            teacher: false,
        }
    }

    pub fn stats(&self) -> LabStats {
        let hub = self.hub_slot.current();
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
                .iter()
                .map(|(transport, stats)| {
                    (transport, TransportStats { wire: self.wire.totals(Some(transport)), ..*stats })
                })
                .collect(),
            other_wire: self.wire.totals(None),
            mqtt: self.mqtt.figures(),
            cluster: self.cluster.as_ref().map(Membership::figures),
        }
    }
}

/// A fresh page id: 16 random letters and digits (95 bits). It is the page's capability (its faults and its wire
/// records are reached through it), so it must not be guessable, and is never listed to anyone but the teacher.
fn new_client_id() -> ClientId {
    let text: String = rand::distr::SampleString::sample_string(&rand::distr::Alphanumeric, &mut rand::rng(), 16);
    ClientId::try_from(text).expect("alphanumeric text is a valid client id")
}
