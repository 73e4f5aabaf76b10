//! What the MQTT lane's own controls share with its hook: the knobs the next connection uses, the "drop after
//! PUBREC" fault, the messages in flight, and a way to tell the running connection to apply new knobs.

use std::collections::VecDeque;

use futures::channel::mpsc::UnboundedSender;
use leptos::prelude::*;
use protocol::mqtt::{ClientSettings, InFlight, SettingsError};

use crate::round_trip::Ticket;

/// Something the lane's controls ask of the running connection.
#[derive(Clone, Copy, Debug)]
pub(super) enum Command {
    /// New knobs: DISCONNECT and connect again with them.
    Apply,
}

/// A QoS 2 message whose PUBREC was sent just before the page dropped its socket on purpose: the lane watches for
/// the broker to finish it after the reconnect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct DroppedAfterPubrec {
    pub packet_id: u16,
    pub seq: Option<u64>,
}

#[derive(Clone, Copy)]
pub struct MqttControls {
    pub settings: RwSignal<ClientSettings>,
    /// Armed: the next QoS 2 delivery is answered with PUBREC, then the socket is dropped at once.
    pub drop_after_pubrec: RwSignal<bool>,
    pub in_flight: RwSignal<InFlight>,
    /// What the lane said last about the fault (armed, fired, resolved), for the controls to show.
    pub fault_outcome: RwSignal<String>,
    pub(super) commands: StoredValue<Option<UnboundedSender<Command>>, LocalStorage>,
    pub(super) dropped: StoredValue<Option<DroppedAfterPubrec>>,
    /// Round trips sent as chat PUBLISHes, by their text: a PUBACK names no event, so the trip is matched when
    /// its message comes back.
    pub(super) chats: StoredValue<VecDeque<(String, Ticket)>>,
}

impl MqttControls {
    pub(super) fn new() -> Self {
        Self {
            settings: RwSignal::new(ClientSettings::default()),
            drop_after_pubrec: RwSignal::new(false),
            in_flight: RwSignal::new(InFlight::default()),
            fault_outcome: RwSignal::new(String::new()),
            commands: StoredValue::new_local(None),
            dropped: StoredValue::new(None),
            chats: StoredValue::new(VecDeque::new()),
        }
    }

    /// Checks new knobs and, if they are sound, has the lane reconnect with them (or use them when it next
    /// connects). Nothing is sent for knobs that fail the check.
    pub fn apply(&self, settings: ClientSettings) -> Result<(), SettingsError> {
        settings.check()?;
        self.settings.set(settings);
        if let Some(Some(commands)) = self.commands.try_get_value() {
            // A closed channel is a connection that has just ended: the next one reads the new knobs anyway.
            let _ = commands.unbounded_send(Command::Apply);
        }
        Ok(())
    }

    pub(super) fn remember_chat(&self, text: String, ticket: Ticket) {
        self.chats.update_value(|chats| {
            // Bounded like the lane's pending round trips; an older one has timed out by then.
            if chats.len() >= crate::round_trip::PendingRoundTrips::MAX_PENDING {
                chats.pop_front();
            }
            chats.push_back((text, ticket));
        });
    }

    /// The round trip whose message this is, if any (forgotten once found).
    pub(super) fn chat_returned(&self, text: &str) -> Option<Ticket> {
        self.chats
            .try_update_value(|chats| {
                let index = chats.iter().position(|(sent, _)| sent == text)?;
                chats.remove(index).map(|(_, ticket)| ticket)
            })
            .flatten()
    }
}
