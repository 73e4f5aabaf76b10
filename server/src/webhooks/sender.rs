//! One endpoint's sender: a task reads the hub from the moment of registration (as every transport does) and
//! starts a delivery per event. Deliveries run at most [`MAX_IN_FLIGHT`] at once, and at most
//! [`MAX_OUTSTANDING`] are pending (in flight or waiting to retry); an event beyond that is logged as a failed
//! attempt, `"queue full"`, never dropped silently.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use protocol::webhook::{retry_delay, webhook_id, AttemptOutcome, DeliveryAttempt, MAX_ATTEMPTS};
use protocol::{Epoch, Gap};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use super::client::{self, Signed};
use super::{sign, Endpoint, Phase, WebhookSettings};
use crate::core::hub::HubSlot;
use crate::core::hub_event::HubEvent;
use crate::core::stats::TransportCounters;

pub const MAX_IN_FLIGHT: usize = 4;
pub const MAX_OUTSTANDING: usize = 256;
pub const GONE: &str = "410 Gone from receiver";

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis() as u64)
}

/// Resolves once the endpoint is stopped (deleted, disabled or idle) or gone.
async fn stopped(stop: &mut watch::Receiver<Phase>) {
    let _ = stop.wait_for(|phase| *phase != Phase::Delivering).await;
}

struct Sender {
    endpoint: Arc<Endpoint>,
    settings: Arc<WebhookSettings>,
    in_flight: Arc<Semaphore>,
    outstanding: Arc<Semaphore>,
    counters: Arc<TransportCounters>,
}

/// Subscribes now, so the endpoint gets exactly the events published after registration: those of the run
/// returned after the sequence number returned.
pub fn spawn(
    endpoint: Arc<Endpoint>,
    hub_slot: Arc<HubSlot>,
    settings: Arc<WebhookSettings>,
    counters: Arc<TransportCounters>,
) -> (u64, Epoch) {
    let hub = hub_slot.current();
    let subscription = hub.subscribe(None, 0);
    let start = (subscription.head_seq, hub.epoch().clone());
    let sender = Arc::new(Sender {
        endpoint,
        settings,
        in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        outstanding: Arc::new(Semaphore::new(MAX_OUTSTANDING)),
        counters,
    });
    tokio::spawn(async move {
        let mut stop = sender.endpoint.phase.subscribe();
        let mut hub = hub;
        let mut live = subscription.live;
        let mut last = subscription.head_seq;
        loop {
            let received = tokio::select! {
                received = live.recv() => received,
                () = stopped(&mut stop) => return,
            };
            let events = match received {
                Ok(event) if event.seq <= last => continue,
                Ok(event) if event.seq == last + 1 => vec![event],
                // Behind (or a skip): the history is the source of truth, as for every streaming transport.
                Ok(_) | Err(RecvError::Lagged(_)) => {
                    let backlog = hub.events_after(last, usize::MAX);
                    if let Some(gap) = backlog.gap {
                        sender.missed(hub.epoch().0.as_str(), gap);
                    }
                    backlog.events
                }
                // A restart fault swapped the hub: deliver the new run's events from its start. The same hub
                // still in the slot means the lab is shutting down.
                Err(RecvError::Closed) => {
                    let current = hub_slot.current();
                    if Arc::ptr_eq(&current, &hub) {
                        return;
                    }
                    hub = current;
                    let subscription = hub.subscribe(Some(0), usize::MAX);
                    live = subscription.live;
                    last = 0;
                    subscription.backlog.events
                }
            };
            for event in events {
                last = event.seq;
                sender.dispatch(hub.epoch().0.as_str(), event);
            }
        }
    });
    start
}

impl Sender {
    fn dispatch(self: &Arc<Self>, epoch: &str, event: Arc<HubEvent>) {
        let webhook_id = webhook_id(epoch, event.seq);
        let body = match serde_json::to_vec(&**event.event()) {
            Ok(body) => Bytes::from(body),
            Err(error) => return self.never_sent(webhook_id, event.seq, format!("could not encode: {error}")),
        };
        match self.outstanding.clone().try_acquire_owned() {
            Ok(permit) => {
                tokio::spawn(self.clone().deliver(webhook_id, event.seq, body, permit));
            }
            Err(_) => self.never_sent(webhook_id, event.seq, "queue full".into()),
        }
    }

    /// An event the history lost before this endpoint could queue it (it fell more than the history behind).
    fn missed(&self, epoch: &str, gap: Gap) {
        let error = format!("missed: events {} to {} left the history before they were queued", gap.from, gap.to);
        self.never_sent(webhook_id(epoch, gap.from), gap.from, error);
    }

    fn never_sent(&self, webhook_id: String, seq: u64, error: String) {
        let now = unix_ms();
        self.endpoint.log.push(DeliveryAttempt {
            n: 0,
            webhook_id,
            seq,
            attempt: 1,
            sent_at_ms: now,
            finished_at_ms: now,
            outcome: AttemptOutcome::Error { error },
            request_bytes: 0,
            response_bytes: 0,
            next_attempt_at_ms: None,
            gave_up: true,
            signature: String::new(),
            timestamp: now / 1000,
            body: String::new(),
        });
    }

    /// Every attempt at one event, until one succeeds, the receiver says 410, the schedule ends or the endpoint
    /// stops. Holds its `outstanding` permit throughout, an `in_flight` one only while an attempt is on the wire.
    async fn deliver(self: Arc<Self>, webhook_id: String, seq: u64, body: Bytes, _outstanding: OwnedSemaphorePermit) {
        let mut stop = self.endpoint.phase.subscribe();
        let text = String::from_utf8_lossy(&body).into_owned();
        for attempt in 1..=MAX_ATTEMPTS {
            let permit = tokio::select! {
                permit = self.in_flight.clone().acquire_owned() => permit,
                () = stopped(&mut stop) => return,
            };
            if *stop.borrow() != Phase::Delivering {
                return;
            }
            // A fresh timestamp, so a fresh signature, on every attempt; the id stays.
            let timestamp = unix_ms() / 1000;
            let Some(signature) = sign::sign(&self.endpoint.secret, &webhook_id, timestamp, &body) else {
                return self.never_sent(webhook_id, seq, "could not sign".into());
            };
            let signed = Signed { webhook_id: webhook_id.clone(), timestamp, signature, body: body.clone() };
            let sent_at_ms = unix_ms();
            let exchange = client::post(&self.endpoint.target, &signed, self.settings.attempt_timeout).await;
            drop(permit);
            let finished_at_ms = unix_ms();
            self.counters.requested();
            if exchange.outcome.is_success() {
                self.counters.delivered(1, body.len());
            }
            let gone = exchange.outcome == AttemptOutcome::Status { status: 410 };
            let done = exchange.outcome.is_success() || gone;
            let delay = if done { None } else { self.retry_delay(attempt) };
            self.endpoint.log.push(DeliveryAttempt {
                n: 0,
                webhook_id: webhook_id.clone(),
                seq,
                attempt,
                sent_at_ms,
                finished_at_ms,
                gave_up: !exchange.outcome.is_success() && delay.is_none(),
                outcome: exchange.outcome,
                request_bytes: exchange.request_bytes,
                response_bytes: exchange.response_bytes,
                next_attempt_at_ms: delay.map(|delay| finished_at_ms + delay.as_millis() as u64),
                signature: signed.signature,
                timestamp,
                body: text.clone(),
            });
            if gone {
                // The receiver says the endpoint no longer exists: stop everything, as providers do.
                return self.endpoint.disable(GONE);
            }
            let Some(delay) = delay else { return };
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = stopped(&mut stop) => return,
            }
        }
    }

    fn retry_delay(&self, failed: u32) -> Option<Duration> {
        retry_delay(failed, rand::random_range(-1.0..=1.0), self.settings.class_clock)
    }
}
