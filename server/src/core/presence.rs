//! Who is in the class: for the presenter's live counts (`GET /api/class`).
//!
//! Long-lived connections are read from the fault switches' registry of open connections (one registry, not two);
//! this module remembers only when each page last made a request, because short polls and the gaps between long
//! polls hold nothing open. It is bounded: entries expire after the presence window, and at most
//! [`MAX_TRACKED_PAGES`] are kept (the oldest is forgotten first), so a script inventing client ids costs a
//! bounded amount of memory.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use protocol::{ClientId, PerTransport, Transport, TransportPresence, PRESENCE_WINDOW_SECONDS};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::core::peer::Peer;

/// Most pages remembered at once; about 100 B each.
pub const MAX_TRACKED_PAGES: usize = 10_000;

#[derive(Clone)]
pub struct Presence {
    seen: Arc<Mutex<HashMap<ClientId, LastSeen>>>,
    window: Duration,
    capacity: usize,
}

/// When a page last made any request, and a request of each transport.
#[derive(Clone, Copy, Debug)]
struct LastSeen {
    page: Instant,
    transports: PerTransport<Option<Instant>>,
}

/// The presence count at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PresenceCount {
    pub pages: u64,
    pub transports: PerTransport<TransportPresence>,
}

impl Default for Presence {
    fn default() -> Self {
        Self::new(Duration::from_secs(PRESENCE_WINDOW_SECONDS), MAX_TRACKED_PAGES)
    }
}

/// Whether a recent request counts as being connected on `transport`. Polls hold nothing open between requests,
/// nor does a page watching its webhook endpoint's log; SSE, WebSocket and HTTP streams are connected exactly while
/// their connection is open, which the registry knows.
fn counts_recent_requests(transport: Transport) -> bool {
    matches!(transport, Transport::ShortPoll | Transport::LongPoll | Transport::Webhook)
}

impl Presence {
    pub fn new(window: Duration, capacity: usize) -> Self {
        Self { seen: Arc::default(), window, capacity: capacity.max(1) }
    }

    fn locked(&self) -> MutexGuard<'_, HashMap<ClientId, LastSeen>> {
        self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A request from `client` (on `transport`, or the page's own side channel when `None`) was served now.
    /// Requests that name no page are not anyone's presence.
    pub fn seen(&self, client: Option<&ClientId>, transport: Option<Transport>) {
        if let Some(client) = client {
            self.seen_at(client, transport, Instant::now());
        }
    }

    fn seen_at(&self, client: &ClientId, transport: Option<Transport>, now: Instant) {
        let mut seen = self.locked();
        if !seen.contains_key(client) && seen.len() >= self.capacity {
            let window = self.window;
            seen.retain(|_, last| now.saturating_duration_since(last.page) < window);
            if seen.len() >= self.capacity {
                // Full of live entries (someone is inventing ids): forget the page heard from longest ago.
                if let Some(oldest) = seen.iter().min_by_key(|(_, last)| last.page).map(|(id, _)| id.clone()) {
                    seen.remove(&oldest);
                }
            }
        }
        let last = seen.entry(client.clone()).or_insert(LastSeen { page: now, transports: PerTransport::default() });
        last.page = now;
        if let Some(transport) = transport {
            last.transports[transport] = Some(now);
        }
    }

    /// Distinct pages connected now, overall and per transport, given the long-lived connections open now.
    pub fn count(&self, open: &[Peer]) -> PresenceCount {
        self.snapshot(open).count()
    }

    /// Who this instance sees now, by page id, so that several instances' views can be merged without counting a
    /// page twice (its lanes may well be on different instances).
    pub fn snapshot(&self, open: &[Peer]) -> PresenceSnapshot {
        self.snapshot_at(open, Instant::now())
    }

    fn snapshot_at(&self, open: &[Peer], now: Instant) -> PresenceSnapshot {
        let window = self.window;
        let recent = |at: Instant| now.saturating_duration_since(at) < window;
        let mut seen = self.locked();
        seen.retain(|_, last| recent(last.page));
        let mut snapshot = PresenceSnapshot { pages: seen.keys().cloned().collect(), transports: BTreeMap::new() };
        // Per transport: the pages on it, and its open connections (a page may hold several).
        for transport in Transport::ALL.into_iter().filter(|transport| counts_recent_requests(*transport)) {
            let on_it = seen.iter().filter(|(_, last)| last.transports[transport].is_some_and(recent));
            snapshot.on(transport).pages.extend(on_it.map(|(client, _)| client.clone()));
        }
        for peer in open {
            let on_it = snapshot.on(peer.transport);
            on_it.open_connections += 1;
            if let Some(client) = &peer.client {
                on_it.pages.insert(client.clone());
                snapshot.pages.insert(client.clone());
            }
        }
        snapshot
    }

    /// Pages remembered now (expired ones included until the next count prunes them).
    pub fn tracked(&self) -> usize {
        self.locked().len()
    }
}

/// One instance's view of the class, by page id: what instances sharing one log exchange (through the engine) so
/// the presenter counts the whole class whichever instance answers it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PresenceSnapshot {
    pub pages: BTreeSet<ClientId>,
    pub transports: BTreeMap<Transport, TransportSnapshot>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TransportSnapshot {
    pub pages: BTreeSet<ClientId>,
    pub open_connections: u64,
}

impl PresenceSnapshot {
    fn on(&mut self, transport: Transport) -> &mut TransportSnapshot {
        self.transports.entry(transport).or_default()
    }

    /// Adds another instance's view: a page seen by both counts once; connections are each instance's own.
    pub fn merge(&mut self, other: PresenceSnapshot) {
        self.pages.extend(other.pages);
        for (transport, theirs) in other.transports {
            let ours = self.on(transport);
            ours.pages.extend(theirs.pages);
            ours.open_connections += theirs.open_connections;
        }
    }

    pub fn count(&self) -> PresenceCount {
        PresenceCount {
            pages: self.pages.len() as u64,
            transports: PerTransport::from_fn(|transport| {
                self.transports.get(&transport).map_or_else(TransportPresence::default, |on_it| TransportPresence {
                    pages: on_it.pages.len() as u64,
                    open_connections: on_it.open_connections,
                })
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(text: &str) -> ClientId {
        ClientId::try_from(text.to_owned()).unwrap()
    }

    fn pages_on(count: &PresenceCount, transport: Transport) -> u64 {
        count.transports[transport].pages
    }

    #[test]
    fn open_connections_and_recent_polls_count_each_page_once() {
        let presence = Presence::new(Duration::from_secs(6), 100);
        let now = Instant::now();
        presence.seen_at(&client("a"), Some(Transport::ShortPoll), now);
        presence.seen_at(&client("a"), None, now);
        presence.seen_at(&client("b"), Some(Transport::LongPoll), now);
        let open = [
            Peer::new(Transport::Sse, Some(client("a"))),
            Peer::new(Transport::Sse, Some(client("a"))),
            Peer::new(Transport::WebSocket, Some(client("c"))),
            Peer::new(Transport::WebSocket, None),
        ];
        let count = presence.snapshot_at(&open, now).count();
        assert_eq!(count.pages, 3);
        assert_eq!(pages_on(&count, Transport::ShortPoll), 1);
        assert_eq!(pages_on(&count, Transport::LongPoll), 1);
        assert_eq!(pages_on(&count, Transport::Sse), 1, "two streams of one page are one page");
        assert_eq!(count.transports[Transport::Sse].open_connections, 2);
        assert_eq!(pages_on(&count, Transport::WebSocket), 1, "a connection without a client id is no page");
        assert_eq!(count.transports[Transport::WebSocket].open_connections, 2);
    }

    #[test]
    fn a_streaming_request_alone_does_not_count_once_its_connection_is_gone() {
        let presence = Presence::new(Duration::from_secs(6), 100);
        let now = Instant::now();
        presence.seen_at(&client("a"), Some(Transport::Sse), now);
        let count = presence.snapshot_at(&[], now).count();
        assert_eq!(pages_on(&count, Transport::Sse), 0);
        assert_eq!(count.pages, 1, "the page itself was heard from just now");
    }

    #[test]
    fn entries_expire_after_the_window() {
        let presence = Presence::new(Duration::from_secs(6), 100);
        let start = Instant::now();
        presence.seen_at(&client("a"), Some(Transport::ShortPoll), start);
        assert_eq!(presence.snapshot_at(&[], start + Duration::from_secs(5)).count().pages, 1);
        let later = presence.snapshot_at(&[], start + Duration::from_secs(7)).count();
        assert_eq!(later.pages, 0);
        assert_eq!(pages_on(&later, Transport::ShortPoll), 0);
        assert_eq!(presence.tracked(), 0, "counting prunes what expired");
    }

    #[test]
    fn the_map_is_capped_forgetting_the_oldest_live_page() {
        let presence = Presence::new(Duration::from_secs(6), 3);
        let start = Instant::now();
        for (i, name) in ["a", "b", "c", "d"].into_iter().enumerate() {
            presence.seen_at(&client(name), None, start + Duration::from_millis(i as u64));
        }
        assert_eq!(presence.tracked(), 3);
        let count = presence.snapshot_at(&[], start + Duration::from_millis(10)).count();
        assert_eq!(count.pages, 3);
        // Expired entries make room before any live one is forgotten.
        presence.seen_at(&client("e"), None, start + Duration::from_secs(10));
        assert_eq!(presence.tracked(), 1);
    }

    #[test]
    fn views_of_several_instances_merge_without_counting_a_page_twice() {
        let now = Instant::now();
        let (first, second) = (Presence::new(Duration::from_secs(6), 100), Presence::new(Duration::from_secs(6), 100));
        first.seen_at(&client("a"), Some(Transport::ShortPoll), now);
        second.seen_at(&client("a"), Some(Transport::ShortPoll), now);
        second.seen_at(&client("b"), Some(Transport::ShortPoll), now);
        let mut merged = first.snapshot_at(&[Peer::new(Transport::Sse, Some(client("a")))], now);
        let theirs = second.snapshot_at(&[Peer::new(Transport::Sse, Some(client("b")))], now);
        let json = serde_json::to_string(&theirs).unwrap();
        merged.merge(serde_json::from_str(&json).unwrap());
        let count = merged.count();
        assert_eq!(count.pages, 2, "page a polled both instances and is one page");
        assert_eq!(pages_on(&count, Transport::ShortPoll), 2);
        assert_eq!(pages_on(&count, Transport::Sse), 2);
        assert_eq!(count.transports[Transport::Sse].open_connections, 2);
    }
}
