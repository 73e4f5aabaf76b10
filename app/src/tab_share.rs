//! Lab tabs of one browser share its connections to the server.
//!
//! A browser opens at most [`CONNECTIONS_PER_SERVER`] HTTP/1.1 connections to one server, shared by all its tabs,
//! and a lab tab keeps [`CONNECTIONS_HELD_PER_TAB`] of them open for as long as it runs: one per lane in
//! [`HELD_LANES`] that is on: its long poll, its SSE stream, its HTTP stream and its gRPC-web call (a WebSocket is
//! not counted among the six).
//! With two lab tabs all six are held, and every short poll, side-channel request and page load then waits inside
//! the browser, without an error, until a long poll happens to return. So at most [`MAX_HOLDING_TABS`] tab runs its
//! held lanes; another tab pauses its own, says why, and can take over.
//!
//! The tabs find each other over a `BroadcastChannel` (same origin, same browser profile: exactly the tabs that
//! share a connection pool). This file is the decision logic, as plain Rust with tests; `client::tab_share` only
//! carries its messages and timers. Web Locks would be simpler, but browsers offer them only on https and
//! localhost, and a classroom uses plain http on the teacher's address.

use std::collections::{BTreeMap, BTreeSet};

use protocol::{TabId, TabMessage, TabRole, Transport};

/// What Chromium, Firefox and Safari allow per server over HTTP/1.1.
pub const CONNECTIONS_PER_SERVER: usize = 6;
/// The lanes that keep an HTTP connection open for as long as they run, and so are paused in a tab that may not
/// hold. Short polls come and go; a WebSocket is not among the six.
pub const HELD_LANES: [Transport; 4] = [Transport::LongPoll, Transport::Sse, Transport::HttpStream, Transport::Grpc];
/// A running lab tab's long poll, SSE stream, HTTP stream and gRPC-web call, when all are on.
pub const CONNECTIONS_HELD_PER_TAB: usize = HELD_LANES.len();
/// One tab holds at most four connections and leaves two for everything that comes and goes; a second would take
/// all six.
pub const MAX_HOLDING_TABS: usize = 1;

const _: () = assert!(MAX_HOLDING_TABS * CONNECTIONS_HELD_PER_TAB < CONNECTIONS_PER_SERVER);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PauseReason {
    /// Other tabs already hold every connection that can be spared.
    Crowded,
    /// Another tab took over this one's share.
    TakenOver,
}

/// What the page shows about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TabShareStatus {
    /// Counting the other lab tabs before opening any held connection.
    Checking,
    Holding {
        other_holders: usize,
    },
    Paused {
        holders: usize,
        reason: PauseReason,
    },
}

pub struct TabShare {
    me: TabId,
    role: TabRole,
    reason: PauseReason,
    /// Other lab tabs and their latest known roles.
    peers: BTreeMap<TabId, TabRole>,
    /// During a count: who has answered. Tabs that do not answer (closed or crashed without a word) are forgotten
    /// when it ends.
    answered: Option<BTreeSet<TabId>>,
}

impl TabShare {
    /// A tab that has just opened: it holds nothing until its first count is over.
    pub fn new(me: TabId) -> Self {
        Self { me, role: TabRole::Deciding, reason: PauseReason::Crowded, peers: BTreeMap::new(), answered: None }
    }

    pub fn role(&self) -> TabRole {
        self.role
    }

    pub fn status(&self) -> TabShareStatus {
        match self.role {
            TabRole::Deciding => TabShareStatus::Checking,
            TabRole::Holding => TabShareStatus::Holding { other_holders: self.holders_elsewhere() },
            TabRole::Paused => TabShareStatus::Paused { holders: self.holders_elsewhere(), reason: self.reason },
        }
    }

    /// Asks every other lab tab for its role. Until [`finish_count`](Self::finish_count) nothing is decided.
    pub fn start_count(&mut self) -> TabMessage {
        self.answered = Some(BTreeSet::new());
        TabMessage::Census { from: self.me.clone(), role: self.role }
    }

    /// The answers are in: a new tab decides whether to hold; any other tab settles on what it now knows.
    pub fn finish_count(&mut self) -> Vec<TabMessage> {
        if let Some(answered) = self.answered.take() {
            self.peers.retain(|tab, _| answered.contains(tab));
        }
        if self.role != TabRole::Deciding {
            return self.settle();
        }
        let older_deciders =
            self.peers.iter().filter(|(tab, role)| **role == TabRole::Deciding && **tab < self.me).count();
        if self.holders_elsewhere() + older_deciders < MAX_HOLDING_TABS {
            self.role = TabRole::Holding;
        } else {
            self.pause(PauseReason::Crowded);
        }
        vec![self.announce()]
    }

    /// A message from another tab; returns what this tab says in answer (to every tab).
    pub fn receive(&mut self, message: TabMessage) -> Vec<TabMessage> {
        match message {
            TabMessage::Census { from, role } if from != self.me => {
                self.heard(from, role);
                vec![self.announce()]
            }
            TabMessage::Role { from, role } if from != self.me => {
                self.heard(from, role);
                self.settle()
            }
            TabMessage::TakeOver { from, evict } if from != self.me => {
                self.heard(from, TabRole::Holding);
                if evict == self.me {
                    self.pause(PauseReason::TakenOver);
                    return vec![self.announce()];
                }
                self.peers.insert(evict, TabRole::Paused);
                self.settle()
            }
            TabMessage::Gone { from } => {
                self.peers.remove(&from);
                self.settle()
            }
            _ => Vec::new(),
        }
    }

    /// The person wants this tab's held lanes running: the tab that has held longest pauses instead.
    pub fn take_over(&mut self) -> Vec<TabMessage> {
        if self.role == TabRole::Holding {
            return Vec::new();
        }
        self.role = TabRole::Holding;
        let oldest_holder = self.holders().into_iter().find(|tab| *tab != &self.me).cloned();
        match oldest_holder {
            Some(evict) if self.holders_elsewhere() >= MAX_HOLDING_TABS => {
                self.peers.insert(evict.clone(), TabRole::Paused);
                vec![TabMessage::TakeOver { from: self.me.clone(), evict }]
            }
            _ => vec![self.announce()],
        }
    }

    /// Said when the page goes away.
    pub fn leave(&self) -> TabMessage {
        TabMessage::Gone { from: self.me.clone() }
    }

    fn heard(&mut self, from: TabId, role: TabRole) {
        if let Some(answered) = &mut self.answered {
            answered.insert(from.clone());
        }
        self.peers.insert(from, role);
    }

    fn announce(&self) -> TabMessage {
        TabMessage::Role { from: self.me.clone(), role: self.role }
    }

    fn pause(&mut self, reason: PauseReason) {
        self.role = TabRole::Paused;
        self.reason = reason;
    }

    fn holders_elsewhere(&self) -> usize {
        self.peers.values().filter(|role| **role == TabRole::Holding).count()
    }

    /// Every holding tab, this one included, oldest first.
    fn holders(&self) -> Vec<&TabId> {
        let mut holders: Vec<&TabId> =
            self.peers.iter().filter(|(_, role)| **role == TabRole::Holding).map(|(tab, _)| tab).collect();
        if self.role == TabRole::Holding {
            holders.push(&self.me);
        }
        holders.sort();
        holders
    }

    /// Acts on what this tab knows: a holder beyond the limit (tabs that decided at the same moment) pauses, the
    /// newest first; a paused tab takes a free share, the longest-waiting first. Every tab applies the same rule
    /// to the same messages, so they agree without a leader.
    fn settle(&mut self) -> Vec<TabMessage> {
        if self.answered.is_some() {
            return Vec::new();
        }
        match self.role {
            TabRole::Deciding => Vec::new(),
            TabRole::Holding => {
                let rank = self.holders().iter().position(|tab| **tab == self.me).unwrap_or(0);
                if rank < MAX_HOLDING_TABS {
                    return Vec::new();
                }
                self.pause(PauseReason::Crowded);
                vec![self.announce()]
            }
            TabRole::Paused => {
                let free = MAX_HOLDING_TABS.saturating_sub(self.holders_elsewhere());
                let mut waiting: Vec<&TabId> =
                    self.peers.iter().filter(|(_, role)| **role == TabRole::Paused).map(|(tab, _)| tab).collect();
                waiting.push(&self.me);
                waiting.sort();
                let rank = waiting.iter().position(|tab| **tab == self.me).unwrap_or(usize::MAX);
                if rank >= free {
                    return Vec::new();
                }
                self.role = TabRole::Holding;
                vec![self.announce()]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    /// Tabs of one browser and the channel between them: every message reaches every other open tab, in order.
    #[derive(Default)]
    struct Browser {
        tabs: Vec<Option<TabShare>>,
        queue: VecDeque<(usize, TabMessage)>,
    }

    impl Browser {
        fn open(&mut self) -> usize {
            let index = self.tabs.len();
            let id = TabId { opened_at: 1000 + index as u64, page: format!("page{index}") };
            self.tabs.push(Some(TabShare::new(id)));
            index
        }

        fn tab(&mut self, index: usize) -> &mut TabShare {
            self.tabs[index].as_mut().expect("tab is open")
        }

        fn send(&mut self, from: usize, messages: Vec<TabMessage>) {
            self.queue.extend(messages.into_iter().map(|message| (from, message)));
        }

        fn deliver(&mut self) {
            while let Some((from, message)) = self.queue.pop_front() {
                for index in 0..self.tabs.len() {
                    if index == from {
                        continue;
                    }
                    if let Some(tab) = self.tabs[index].as_mut() {
                        let answers = tab.receive(message.clone());
                        self.send(index, answers);
                    }
                }
            }
        }

        /// One tab counts the others, hears every answer, and decides.
        fn count(&mut self, index: usize) {
            let census = self.tab(index).start_count();
            self.send(index, vec![census]);
            self.deliver();
            let decision = self.tab(index).finish_count();
            self.send(index, decision);
            self.deliver();
        }

        fn roles(&self) -> Vec<Option<TabRole>> {
            self.tabs.iter().map(|tab| tab.as_ref().map(TabShare::role)).collect()
        }

        fn holding(&self) -> usize {
            self.roles().into_iter().filter(|role| *role == Some(TabRole::Holding)).count()
        }
    }

    use TabRole::{Holding, Paused};

    #[test]
    fn a_lone_tab_holds_after_counting_nobody() {
        let mut browser = Browser::default();
        let tab = browser.open();
        assert_eq!(browser.tab(tab).status(), TabShareStatus::Checking);
        browser.count(tab);
        assert_eq!(browser.tab(tab).status(), TabShareStatus::Holding { other_holders: 0 });
    }

    /// The oldest [`MAX_HOLDING_TABS`] of `open` tabs hold, the rest are paused.
    fn oldest_hold(open: usize) -> Vec<Option<TabRole>> {
        (0..open).map(|index| Some(if index < MAX_HOLDING_TABS { Holding } else { Paused })).collect()
    }

    #[test]
    fn held_connections_leave_some_free_and_one_more_tab_would_not() {
        assert_eq!(CONNECTIONS_HELD_PER_TAB, 4, "long poll, SSE, HTTP stream and gRPC-web");
        const { assert!(MAX_HOLDING_TABS * CONNECTIONS_HELD_PER_TAB < CONNECTIONS_PER_SERVER) };
        const { assert!((MAX_HOLDING_TABS + 1) * CONNECTIONS_HELD_PER_TAB >= CONNECTIONS_PER_SERVER) };
    }

    #[test]
    fn the_tab_past_the_limit_pauses_and_knows_who_holds() {
        let mut browser = Browser::default();
        for _ in 0..=MAX_HOLDING_TABS {
            let tab = browser.open();
            browser.count(tab);
        }
        assert_eq!(browser.roles(), oldest_hold(MAX_HOLDING_TABS + 1));
        assert_eq!(
            browser.tab(MAX_HOLDING_TABS).status(),
            TabShareStatus::Paused { holders: MAX_HOLDING_TABS, reason: PauseReason::Crowded }
        );
        assert_eq!(browser.tab(0).status(), TabShareStatus::Holding { other_holders: MAX_HOLDING_TABS - 1 });
    }

    #[test]
    fn tabs_opened_at_the_same_moment_agree_that_the_oldest_hold() {
        let mut browser = Browser::default();
        let tabs: Vec<usize> = (0..4).map(|_| browser.open()).collect();
        for &tab in &tabs {
            let census = browser.tab(tab).start_count();
            browser.send(tab, vec![census]);
        }
        browser.deliver();
        for &tab in &tabs {
            let decision = browser.tab(tab).finish_count();
            browser.send(tab, decision);
        }
        browser.deliver();
        assert_eq!(browser.roles(), oldest_hold(4));
    }

    #[test]
    fn taking_over_pauses_the_tab_that_held_longest() {
        let mut browser = Browser::default();
        for _ in 0..3 {
            let tab = browser.open();
            browser.count(tab);
        }
        assert_eq!(browser.roles(), [Some(Holding), Some(Paused), Some(Paused)]);
        let take_over = browser.tab(2).take_over();
        browser.send(2, take_over);
        browser.deliver();
        assert_eq!(browser.roles(), [Some(Paused), Some(Paused), Some(Holding)]);
        assert_eq!(browser.tab(0).status(), TabShareStatus::Paused { holders: 1, reason: PauseReason::TakenOver });
        // And back: each click moves one share, never more.
        let take_back = browser.tab(0).take_over();
        browser.send(0, take_back);
        browser.deliver();
        assert_eq!(browser.roles(), [Some(Holding), Some(Paused), Some(Paused)]);
    }

    #[test]
    fn a_closing_holder_hands_its_share_to_the_tab_waiting_longest() {
        let mut browser = Browser::default();
        for _ in 0..4 {
            let tab = browser.open();
            browser.count(tab);
        }
        let gone = browser.tab(0).leave();
        browser.tabs[0] = None;
        browser.send(0, vec![gone]);
        browser.deliver();
        assert_eq!(browser.roles(), [None, Some(Holding), Some(Paused), Some(Paused)]);
    }

    #[test]
    fn a_holder_that_vanished_without_a_word_is_forgotten_at_the_next_count() {
        let mut browser = Browser::default();
        for _ in 0..3 {
            let tab = browser.open();
            browser.count(tab);
        }
        browser.tabs[0] = None; // crashed: no goodbye
        browser.count(1);
        assert_eq!(browser.roles(), [None, Some(Holding), Some(Paused)]);
    }

    #[test]
    fn one_holder_too_many_pauses_the_newest() {
        let mut browser = Browser::default();
        let tabs: Vec<usize> = (0..3).map(|_| browser.open()).collect();
        // Each decided alone, before hearing of the others (as if their messages crossed).
        for &tab in &tabs {
            browser.tab(tab).start_count();
            browser.tab(tab).finish_count();
        }
        assert_eq!(browser.holding(), 3);
        for &tab in &tabs {
            let census = browser.tab(tab).start_count();
            browser.send(tab, vec![census]);
            browser.deliver();
            let settled = browser.tab(tab).finish_count();
            browser.send(tab, settled);
            browser.deliver();
        }
        assert_eq!(browser.roles(), oldest_hold(3));
    }
}
