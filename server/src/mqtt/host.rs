//! The broker in service: one sans-IO [`Broker`] behind a lock, the sockets it writes to, and the two tasks that
//! feed it time and the hub's events. Every socket, WebSocket or TCP, goes through a [`Link`]; the broker itself
//! never sees a socket.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use broker::{
    Broker, BrokerConfig, BrokerStats, ConnectionId, LabPublish, LabRefusal, LabTicket, Output, PacketSummary,
    Publication,
};
use bytes::Bytes;
use mqtt5_protocol::QoS;
use protocol::mqtt::{self, EPOCH_PROPERTY, SEQ_PROPERTY};
use protocol::{BrokerFigures, EventBody};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use crate::core::hub::{EventHub, HubSlot};
use crate::core::hub_event::HubEvent;
use crate::core::log::EventLog;
use crate::core::message::validated_message;
use crate::core::stats::TransportCounters;

/// Packets one socket may have waiting to be written. A client that falls this far behind is disconnected (its
/// kept session, if any, holds its QoS 1 and 2 messages for its return) rather than buffered without end.
pub const MAX_PACKETS_WAITING_PER_SOCKET: usize = 1024;
/// Chat messages waiting to be appended to the log (at once in one process; a round trip to the engine with a
/// shared log). Past this a message is refused (0x97 Quota exceeded to a QoS 1 or 2 publisher) rather than queued
/// without end.
const MAX_CHAT_WAITING: usize = 256;
/// How often the broker's clocks (keep-alive, will delay, expiry) are looked at.
const TICK_EVERY: Duration = Duration::from_millis(100);

/// What a socket's writer is told to do.
#[derive(Debug)]
pub enum ToSocket {
    Packet {
        bytes: Bytes,
        packet: PacketSummary,
    },
    /// Close once everything before has been written.
    Close {
        reason: String,
    },
}

#[derive(Clone)]
pub struct MqttHost {
    shared: Arc<Shared>,
}

struct Shared {
    core: Mutex<Core>,
    hub_slot: Arc<HubSlot>,
    counters: Arc<TransportCounters>,
    /// Clients' `lab/chat` messages, in the order they arrived, on their way to the log.
    chat: mpsc::Sender<ChatMessage>,
    /// The one request rate per address, which a chat message counts against as a `POST /api/publish` does.
    allowance: PublishAllowance,
}

/// Asks whether an address may publish once more; `Err` says why not. The API's rate limit, handed in, so the
/// broker's host does not reach up into the API.
pub type PublishAllowance = Arc<dyn Fn(IpAddr) -> Result<(), String> + Send + Sync>;

struct ChatMessage {
    client_id: String,
    body: EventBody,
    /// The publisher's acknowledgement, held by the broker until the log has the message.
    ticket: Option<LabTicket>,
}

struct Core {
    broker: Broker,
    sockets: HashMap<ConnectionId, mpsc::Sender<ToSocket>>,
    /// Whose address each socket is.
    addresses: HashMap<ConnectionId, IpAddr>,
    /// Sockets cut for falling behind, since start.
    slow_sockets_closed: u64,
}

/// One socket's place in the broker. Dropping it tells the broker the socket is gone.
pub struct Link {
    pub id: ConnectionId,
    pub outgoing: mpsc::Receiver<ToSocket>,
    host: MqttHost,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.host.closed(self.id);
    }
}

impl MqttHost {
    /// The broker, fed every event of whichever hub is in service and ticked by its own clock.
    pub fn spawn(
        config: BrokerConfig,
        log: EventLog,
        counters: Arc<TransportCounters>,
        allowance: PublishAllowance,
    ) -> Self {
        let broker = Broker::new(config, vec![mqtt::CHAT_TOPIC.to_owned()]);
        let core = Core { broker, sockets: HashMap::new(), addresses: HashMap::new(), slow_sockets_closed: 0 };
        let (chat, chat_waiting) = mpsc::channel(MAX_CHAT_WAITING);
        let hub_slot = log.hub_slot().clone();
        let shared = Shared { core: Mutex::new(core), hub_slot, counters, chat, allowance };
        let host = Self { shared: Arc::new(shared) };
        tokio::spawn(append_chat(host.clone(), log, chat_waiting));
        tokio::spawn(feed_hub_events(host.clone()));
        tokio::spawn(tick(host.clone()));
        host
    }

    pub fn counters(&self) -> &Arc<TransportCounters> {
        &self.shared.counters
    }

    /// Largest packet the broker accepts: the sockets size their frames by it.
    pub fn max_packet_size(&self) -> usize {
        self.lock().broker.config().max_packet_size as usize
    }

    /// A socket from `address` was accepted. `connack_properties`: MQTT 5 user properties its CONNACK should carry.
    pub fn connect(&self, address: IpAddr, connack_properties: Vec<(String, String)>) -> Link {
        let (sender, outgoing) = mpsc::channel(MAX_PACKETS_WAITING_PER_SOCKET);
        let id = self.run(|core, now| {
            let id = core.broker.open_with(now, connack_properties);
            core.sockets.insert(id, sender);
            core.addresses.insert(id, address);
            id
        });
        Link { id, outgoing, host: self.clone() }
    }

    /// Bytes read from the socket.
    pub fn receive(&self, id: ConnectionId, bytes: &[u8]) {
        self.run(|core, now| core.broker.receive(id, bytes, now));
    }

    fn closed(&self, id: ConnectionId) {
        self.run(|core, now| {
            core.sockets.remove(&id);
            core.addresses.remove(&id);
            core.broker.closed(id, now);
        });
    }

    /// The broker's figures for `GET /api/stats`.
    pub fn figures(&self) -> BrokerFigures {
        let core = self.lock();
        let BrokerStats {
            connections,
            sessions_away,
            subscriptions,
            retained,
            in_flight_qos1,
            in_flight_qos2,
            queued,
            discarded,
            refused,
            protocol_errors,
        } = core.broker.stats();
        let count = |value: usize| value as u64;
        BrokerFigures {
            connections: count(connections),
            sessions_away: count(sessions_away),
            subscriptions: count(subscriptions),
            retained: count(retained),
            in_flight_qos1: count(in_flight_qos1),
            in_flight_qos2: count(in_flight_qos2),
            queued: count(queued),
            discarded,
            refused,
            protocol_errors,
            slow_sockets_closed: core.slow_sockets_closed,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Core> {
        // The broker's state machines never leave a half-done step behind a panic that matters more than the
        // class staying up, so a poisoned lock is used as it is.
        self.shared.core.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `step` on the broker, then carries out what it asked for: packets to their sockets (never waiting:
    /// a full socket is cut instead), and a client's chat message to the hub, after the lock is released so the
    /// hub's own delivery back into the broker cannot deadlock.
    fn run<T>(&self, step: impl FnOnce(&mut Core, Instant) -> T) -> T {
        let mut for_the_lab = Vec::new();
        let value = {
            let mut core = self.lock();
            let mut cut = Vec::new();
            let value = step(&mut core, Instant::now());
            let outputs = core.broker.take_outputs();
            core.dispatch(outputs, &mut cut, &mut for_the_lab);
            // Cutting a socket fires its will, which is more output: keep going until nothing is cut.
            while let Some(id) = cut.pop() {
                core.slow_sockets_closed += 1;
                core.sockets.remove(&id);
                core.addresses.remove(&id);
                core.broker.closed(id, Instant::now());
                let outputs = core.broker.take_outputs();
                core.dispatch(outputs, &mut cut, &mut for_the_lab);
            }
            value
        };
        for publish in for_the_lab {
            self.publish_to_hub(publish);
        }
        value
    }

    /// A client's message on `lab/chat` becomes a `message` event, held to the same rules as `POST /api/publish`.
    fn publish_to_hub(&self, publish: LabPublish) {
        let LabPublish { connection, client_id, payload, ticket, .. } = publish;
        let address = self.lock().addresses.get(&connection).copied();
        if let Some(Err(over)) = address.map(|address| (self.shared.allowance)(address)) {
            // QoS 0 cannot be told; QoS 1 and 2 get 0x97 Quota exceeded with the reason (a v3.1.1 client is
            // disconnected).
            tracing::info!(client = %client_id, "MQTT chat message refused: {over}");
            return self.settle(ticket, Err(LabRefusal::RateTooHigh(over)));
        }
        // The broker checked the payload with the same rule (`BrokerConfig::lab_payload_check`); this is the
        // second line, should the two ever differ.
        let body = match String::from_utf8(payload.to_vec()).map_err(|_| "not UTF-8 text".to_owned()) {
            Ok(text) => validated_message(text).map_err(|refusal| refusal.to_string()),
            Err(error) => Err(error),
        };
        let body = match body {
            Ok(body) => body,
            Err(why) => {
                tracing::info!(client = %client_id, "MQTT chat message refused: {why}");
                return self.settle(ticket, Err(LabRefusal::Invalid(why)));
            }
        };
        if let Err(full) = self.shared.chat.try_send(ChatMessage { client_id, body, ticket }) {
            let ChatMessage { client_id, ticket, .. } = full.into_inner();
            tracing::warn!(client = %client_id, "MQTT chat message refused: {MAX_CHAT_WAITING} are already waiting for the log");
            self.settle(ticket, Err(LabRefusal::Busy));
        }
    }

    /// Gives a held publisher the lab's answer (nothing to give for QoS 0).
    fn settle(&self, ticket: Option<LabTicket>, outcome: Result<(), LabRefusal>) {
        if let Some(ticket) = ticket {
            self.run(|core, now| core.broker.settle_lab(ticket, outcome, now));
        }
    }
}

/// Appends the clients' chat messages one at a time, so they keep the order they arrived in, and answers each
/// publisher once the log has its message, or could not take it.
async fn append_chat(host: MqttHost, log: EventLog, mut waiting: mpsc::Receiver<ChatMessage>) {
    while let Some(ChatMessage { client_id, body, ticket }) = waiting.recv().await {
        let outcome = log.append(body).await.map(drop).map_err(|refusal| {
            tracing::warn!(client = %client_id, "MQTT chat message not published: {refusal}");
            LabRefusal::Unavailable(refusal.to_string())
        });
        host.settle(ticket, outcome);
    }
}

impl Core {
    fn dispatch(&mut self, outputs: Vec<Output>, cut: &mut Vec<ConnectionId>, for_the_lab: &mut Vec<LabPublish>) {
        for output in outputs {
            let (id, message) = match output {
                Output::Send { connection, bytes, packet } => (connection, ToSocket::Packet { bytes, packet }),
                Output::Close { connection, reason } => (connection, ToSocket::Close { reason }),
                Output::Received { .. } => continue,
                Output::Lab(publish) => {
                    for_the_lab.push(publish);
                    continue;
                }
            };
            let Some(socket) = self.sockets.get(&id) else { continue };
            match socket.try_send(message) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::info!(
                        connection = id,
                        "MQTT client fell {MAX_PACKETS_WAITING_PER_SOCKET} packets behind; disconnecting it"
                    );
                    if !cut.contains(&id) {
                        cut.push(id);
                    }
                }
                // The socket's task has ended; its `Link` drop tells the broker.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }
}

/// The hub's events, each published to `lab/events/<kind>` at QoS 2 (every subscriber gets the QoS it asked for,
/// up to that). Follows the hub across restarts; catches up from the history if it ever falls behind.
async fn feed_hub_events(host: MqttHost) {
    loop {
        let hub = host.shared.hub_slot.current();
        let mut live = hub.subscribe(None, 0).live;
        let mut last_seq = hub.head_seq();
        loop {
            match live.recv().await {
                Ok(event) => {
                    if event.seq > last_seq {
                        last_seq = event.seq;
                        host.publish_event(&hub, &event);
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    host.counters().lag_recovered();
                    for event in hub.events_after(last_seq, usize::MAX).events {
                        last_seq = event.seq;
                        host.publish_event(&hub, &event);
                    }
                }
                Err(RecvError::Closed) => break,
            }
        }
        // A restart swaps in a new hub; a shutdown closes the one in service and leaves it there.
        if Arc::ptr_eq(&hub, &host.shared.hub_slot.current()) {
            return;
        }
    }
}

impl MqttHost {
    fn publish_event(&self, hub: &EventHub, event: &HubEvent) {
        let publication = publication_of(hub, event);
        self.run(|core, now| core.broker.publish(publication, now));
    }
}

/// An event as MQTT carries it: the event's JSON (the same bytes as the WebSocket lane's text frame), or for an
/// audio clip the bare WAV file, binary as MQTT payloads may be. The sequence number and run ride as user
/// properties, so even a clip's bare bytes can be checked for order and loss.
fn publication_of(hub: &EventHub, event: &HubEvent) -> Publication {
    let (payload, utf8) = match &event.body {
        EventBody::Audio(clip) => (Bytes::from(clip.data.clone()), false),
        _ => (event.web_socket_text(), true),
    };
    Publication {
        topic: mqtt::event_topic(&event.body),
        payload,
        qos: QoS::ExactlyOnce,
        retain: false,
        user_properties: vec![
            (SEQ_PROPERTY.to_owned(), event.seq.to_string()),
            (EPOCH_PROPERTY.to_owned(), hub.epoch().to_string()),
        ],
        utf8,
    }
}

/// Keep-alive, will delays and expiry need only a coarse clock: a tenth of a second against seconds-long timers.
async fn tick(host: MqttHost) {
    let mut clock = tokio::time::interval(TICK_EVERY);
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        clock.tick().await;
        host.run(|core, now| {
            if core.broker.next_deadline().is_some_and(|deadline| deadline <= now) {
                core.broker.tick(now);
            }
        });
    }
}
