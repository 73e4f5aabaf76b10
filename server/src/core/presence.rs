//! Who is in the class: for the presenter's live counts (`GET /api/class`).
//!
//! Long-lived connections are read from the fault switches' registry of open connections (one registry, not two);
//! this module remembers only when each page last made a request, because short polls and the gaps between long
//! polls hold nothing open. It is bounded: entries expire after the presence window, and at most
//! [`MAX_TRACKED_PAGES`] are kept (the oldest is forgotten first), so a script inventing client ids costs a
//! bounded amount of memory.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use protocol::{ClientId, PerTransport, Transport, TransportPresence, PRESENCE_WINDOW_SECONDS};
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
        self.count_at(open, Instant::now())
    }

    fn count_at(&self, open: &[Peer], now: Instant) -> PresenceCount {
        let window = self.window;
        let recent = |at: Instant| now.saturating_duration_since(at) < window;
        let mut seen = self.locked();
        seen.retain(|_, last| recent(last.page));
        let mut pages: HashSet<&ClientId> = seen.keys().collect();
        // Per transport: the pages on it, and its open connections (a page may hold several).
        let mut per_transport = PerTransport::<(HashSet<&ClientId>, u64)>::default();
        for transport in Transport::ALL.into_iter().filter(|transport| counts_recent_requests(*transport)) {
            let on_it = seen.iter().filter(|(_, last)| last.transports[transport].is_some_and(recent));
            per_transport[transport].0.extend(on_it.map(|(client, _)| client));
        }
        for peer in open {
            let (clients, open_connections) = &mut per_transport[peer.transport];
            *open_connections += 1;
            if let Some(client) = &peer.client {
                clients.insert(client);
                pages.insert(client);
            }
        }
        PresenceCount {
            pages: pages.len() as u64,
            transports: per_transport.map(|_, (clients, open_connections)| TransportPresence {
                pages: clients.len() as u64,
                open_connections: *open_connections,
            }),
        }
    }

    /// Pages remembered now (expired ones included until the next count prunes them).
    pub fn tracked(&self) -> usize {
        self.locked().len()
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
        let count = presence.count_at(&open, now);
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
        let count = presence.count_at(&[], now);
        assert_eq!(pages_on(&count, Transport::Sse), 0);
        assert_eq!(count.pages, 1, "the page itself was heard from just now");
    }

    #[test]
    fn entries_expire_after_the_window() {
        let presence = Presence::new(Duration::from_secs(6), 100);
        let start = Instant::now();
        presence.seen_at(&client("a"), Some(Transport::ShortPoll), start);
        assert_eq!(presence.count_at(&[], start + Duration::from_secs(5)).pages, 1);
        let later = presence.count_at(&[], start + Duration::from_secs(7));
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
        let count = presence.count_at(&[], start + Duration::from_millis(10));
        assert_eq!(count.pages, 3);
        // Expired entries make room before any live one is forgotten.
        presence.seen_at(&client("e"), None, start + Duration::from_secs(10));
        assert_eq!(presence.tracked(), 1);
    }
}
