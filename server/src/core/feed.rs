//! The ordered stream of hub events one streaming client (SSE or WebSocket) receives: its backlog first, then live
//! events, each exactly once and in sequence order.

use std::collections::VecDeque;
use std::sync::Arc;

use protocol::Gap;
use tokio::sync::broadcast::error::RecvError;

use crate::core::faults::FaultSwitches;
use crate::core::hub::{EventHub, Subscription};
use crate::core::hub_event::HubEvent;
use crate::core::peer::Peer;
use crate::core::stats::TransportCounters;

#[derive(Debug, Clone)]
pub enum FeedItem {
    Event(Arc<HubEvent>),
    /// These sequence numbers are gone from the history; the client will never receive them.
    Gap(Gap),
}

pub struct Feed {
    hub: Arc<EventHub>,
    counters: Arc<TransportCounters>,
    faults: FaultSwitches,
    /// Whose feed this is, for the delay fault.
    peer: Peer,
    pending: VecDeque<FeedItem>,
    live: tokio::sync::broadcast::Receiver<Arc<HubEvent>>,
    /// Last sequence number handed out (or skipped by a gap); everything at or below it is a duplicate.
    delivered_up_to: u64,
}

impl Feed {
    pub fn new(
        hub: Arc<EventHub>,
        counters: Arc<TransportCounters>,
        faults: FaultSwitches,
        peer: Peer,
        subscription: Subscription,
        after: Option<u64>,
    ) -> Self {
        let mut pending = VecDeque::new();
        if let Some(gap) = subscription.backlog.gap {
            pending.push_back(FeedItem::Gap(gap));
        }
        pending.extend(subscription.backlog.events.into_iter().map(FeedItem::Event));
        let delivered_up_to = after.unwrap_or(subscription.head_seq).min(subscription.head_seq);
        Self { hub, counters, faults, peer, pending, live: subscription.live, delivered_up_to }
    }

    pub fn counters(&self) -> &TransportCounters {
        &self.counters
    }

    /// The next item, once due (see the delay fault), or `None` once the hub is gone (server shutting down).
    ///
    /// Cancel-safe, so callers can `select!` it against heartbeats and drops: an event waits out its injected delay
    /// while still at the front of the queue, and leaves the queue only when it is handed out.
    pub async fn next(&mut self) -> Option<FeedItem> {
        loop {
            if let Some(FeedItem::Event(event)) = self.pending.front() {
                let emitted_at = event.emitted_at;
                self.faults.hold_event(&self.peer, emitted_at).await;
            }
            if let Some(item) = self.pending.pop_front() {
                self.delivered_up_to = match &item {
                    FeedItem::Event(event) => event.seq,
                    FeedItem::Gap(gap) => gap.to,
                };
                return Some(item);
            }
            match self.live.recv().await {
                Ok(event) if event.seq <= self.delivered_up_to => continue,
                Ok(event) if event.seq == self.delivered_up_to + 1 => self.pending.push_back(FeedItem::Event(event)),
                // Either we lagged or skipped: take what is missing from the history, which is the source of truth.
                Ok(_) | Err(RecvError::Lagged(_)) => self.catch_up_from_history(),
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// A slow client whose live queue overflowed is caught up from the history rather than stalled or dropped; if
    /// even the history has moved past it, it gets an explicit gap.
    fn catch_up_from_history(&mut self) {
        self.counters.lag_recovered();
        let backlog = self.hub.events_after(self.delivered_up_to, usize::MAX);
        if let Some(gap) = backlog.gap {
            self.pending.push_back(FeedItem::Gap(gap));
        }
        self.pending.extend(backlog.events.into_iter().map(FeedItem::Event));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{Epoch, EventBody};

    fn peer() -> Peer {
        Peer::new(protocol::Transport::Sse, None)
    }

    fn message() -> EventBody {
        EventBody::Message { text: "x".into() }
    }

    async fn drain(feed: &mut Feed, count: usize) -> Vec<String> {
        let mut seen = Vec::new();
        for _ in 0..count {
            seen.push(match feed.next().await.unwrap() {
                FeedItem::Event(event) => event.seq.to_string(),
                FeedItem::Gap(gap) => format!("gap {}-{}", gap.from, gap.to),
            });
        }
        seen
    }

    #[tokio::test]
    async fn lagging_subscriber_is_caught_up_from_history_in_order() {
        let hub = Arc::new(EventHub::new(Epoch("t".into()), 10_000));
        let counters = Arc::new(TransportCounters::default());
        let mut feed =
            Feed::new(hub.clone(), counters.clone(), FaultSwitches::default(), peer(), hub.subscribe(None, 0), None);
        // Far more than the live queue holds, so the receiver reports Lagged.
        for _ in 0..3000 {
            hub.publish(message());
        }
        let seen = drain(&mut feed, 3000).await;
        assert_eq!(seen, (1..=3000).map(|seq| seq.to_string()).collect::<Vec<_>>());
        assert!(counters.snapshot().lag_recoveries >= 1);
    }

    #[tokio::test]
    async fn lag_beyond_history_becomes_a_gap() {
        let hub = Arc::new(EventHub::new(Epoch("t".into()), 100));
        let counters = Arc::new(TransportCounters::default());
        let mut feed = Feed::new(hub.clone(), counters, FaultSwitches::default(), peer(), hub.subscribe(None, 0), None);
        for _ in 0..3000 {
            hub.publish(message());
        }
        let seen = drain(&mut feed, 101).await;
        assert_eq!(seen[0], "gap 1-2900");
        assert_eq!(seen[1], "2901");
        assert_eq!(seen[100], "3000");
    }

    #[tokio::test]
    async fn resume_replays_backlog_then_goes_live() {
        let hub = Arc::new(EventHub::new(Epoch("t".into()), 100));
        for _ in 0..5 {
            hub.publish(message());
        }
        let counters = Arc::new(TransportCounters::default());
        let mut feed = Feed::new(
            hub.clone(),
            counters,
            FaultSwitches::default(),
            peer(),
            hub.subscribe(Some(3), usize::MAX),
            Some(3),
        );
        hub.publish(message());
        assert_eq!(drain(&mut feed, 3).await, ["4", "5", "6"]);
    }
}
