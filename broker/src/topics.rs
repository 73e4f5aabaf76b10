//! Who subscribed to what, and the retained messages. Subscriptions live in a tree with one level of a filter
//! per node, so matching a topic walks its levels (plus the `+` and `#` branches) instead of testing every
//! filter. Retained messages are few (at most `max_retained`) and are only scanned when a client subscribes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use mqtt5_protocol::packet::subscribe_options::SubscriptionOptions;
use mqtt5_protocol::topic_matches_filter;

use crate::message::Message;
use crate::session::SessionId;

#[derive(Debug, Default)]
struct Node {
    children: HashMap<String, Node>,
    subscribers: HashMap<SessionId, SubscriptionOptions>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.children.is_empty() && self.subscribers.is_empty()
    }
}

#[derive(Debug, Default)]
pub(crate) struct SubscriptionTree {
    root: Node,
    count: usize,
}

impl SubscriptionTree {
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Adds or replaces the session's subscription to `filter`.
    pub(crate) fn insert(&mut self, filter: &str, session: SessionId, options: SubscriptionOptions) {
        let node =
            filter.split('/').fold(&mut self.root, |node, level| node.children.entry(level.to_owned()).or_default());
        if node.subscribers.insert(session, options).is_none() {
            self.count += 1;
        }
    }

    pub(crate) fn remove(&mut self, filter: &str, session: SessionId) -> bool {
        let levels: Vec<&str> = filter.split('/').collect();
        let removed = remove_from(&mut self.root, &levels, session);
        if removed {
            self.count -= 1;
        }
        removed
    }

    /// Every subscription whose filter matches `topic`; a session appears once per matching filter.
    pub(crate) fn matches(&self, topic: &str) -> Vec<(SessionId, SubscriptionOptions)> {
        let levels: Vec<&str> = topic.split('/').collect();
        let mut found = Vec::new();
        // Wildcards at the first level never match a `$` topic [MQTT-4.7.2-1].
        let wildcards_at_root = !topic.starts_with('$');
        collect(&self.root, &levels, wildcards_at_root, &mut found);
        found
    }
}

fn remove_from(node: &mut Node, levels: &[&str], session: SessionId) -> bool {
    let Some((level, rest)) = levels.split_first() else {
        return node.subscribers.remove(&session).is_some();
    };
    let Some(child) = node.children.get_mut(*level) else {
        return false;
    };
    let removed = remove_from(child, rest, session);
    if child.is_empty() {
        node.children.remove(*level);
    }
    removed
}

fn collect(node: &Node, levels: &[&str], wildcards: bool, found: &mut Vec<(SessionId, SubscriptionOptions)>) {
    let multi_level = if wildcards { node.children.get("#") } else { None };
    if let Some(hash) = multi_level {
        // `a/#` matches `a` itself as well as everything below it [MQTT-4.7.1-2].
        found.extend(hash.subscribers.iter().map(|(session, options)| (*session, *options)));
    }
    let Some((level, rest)) = levels.split_first() else {
        found.extend(node.subscribers.iter().map(|(session, options)| (*session, *options)));
        return;
    };
    if wildcards {
        if let Some(plus) = node.children.get("+") {
            collect(plus, rest, true, found);
        }
    }
    if let Some(exact) = node.children.get(*level) {
        collect(exact, rest, true, found);
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct RetainedFull;

#[derive(Debug, Default)]
pub(crate) struct RetainedStore {
    messages: HashMap<String, Arc<Message>>,
}

impl RetainedStore {
    pub(crate) fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether storing a retained message on `topic` would stay within `max`.
    pub(crate) fn has_room(&self, topic: &str, payload_empty: bool, max: usize) -> bool {
        payload_empty || self.messages.contains_key(topic) || self.messages.len() < max
    }

    /// Sets, replaces or (empty payload) deletes the topic's retained message [MQTT-3.3.1-5, -6, -7].
    pub(crate) fn store(&mut self, message: &Arc<Message>, max: usize) -> Result<(), RetainedFull> {
        if message.payload.is_empty() {
            self.messages.remove(&message.topic);
            return Ok(());
        }
        if !self.has_room(&message.topic, false, max) {
            return Err(RetainedFull);
        }
        self.messages.insert(message.topic.clone(), Arc::clone(message));
        Ok(())
    }

    /// The live retained messages matching `filter`; expired ones are dropped on the way.
    pub(crate) fn matching(&mut self, filter: &str, now: Instant) -> Vec<Arc<Message>> {
        self.messages.retain(|_, message| !message.is_expired(now));
        let mut found: Vec<Arc<Message>> =
            self.messages.values().filter(|message| topic_matches_filter(&message.topic, filter)).cloned().collect();
        found.sort_by(|a, b| a.topic.cmp(&b.topic));
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt5_protocol::QoS;

    #[test]
    fn matches_like_the_spec_examples() {
        let filters =
            ["sport/tennis/player1/#", "sport/#", "#", "+", "+/+", "/+", "sport/+", "+/tennis/#", "$SYS/#", "a//b"];
        let cases: [(&str, &[&str]); 7] = [
            ("sport", &["sport/#", "#", "+"]),
            ("sport/tennis/player1", &["sport/tennis/player1/#", "sport/#", "#", "+/tennis/#"]),
            ("sport/tennis", &["sport/#", "#", "+/+", "sport/+", "+/tennis/#"]),
            ("/finance", &["#", "+/+", "/+"]),
            ("$SYS/broker", &["$SYS/#"]),
            ("$SYS", &["$SYS/#"]),
            ("a//b", &["#", "a//b"]),
        ];
        let mut tree = SubscriptionTree::default();
        for (index, filter) in filters.iter().enumerate() {
            tree.insert(filter, index as u64, SubscriptionOptions::new(QoS::AtMostOnce));
        }
        for (topic, expected) in cases {
            let mut got: Vec<&str> = tree.matches(topic).iter().map(|(id, _)| filters[*id as usize]).collect();
            let mut expected = expected.to_vec();
            got.sort_unstable();
            expected.sort_unstable();
            assert_eq!(got, expected, "{topic}");
            for filter in filters {
                assert_eq!(expected.contains(&filter), topic_matches_filter(topic, filter), "{topic} vs {filter}");
            }
        }
    }

    #[test]
    fn removing_prunes_and_counts() {
        let mut tree = SubscriptionTree::default();
        tree.insert("a/b", 1, SubscriptionOptions::new(QoS::AtMostOnce));
        tree.insert("a/b", 1, SubscriptionOptions::new(QoS::AtLeastOnce));
        tree.insert("a/+", 2, SubscriptionOptions::new(QoS::AtMostOnce));
        assert_eq!(tree.len(), 2);
        assert!(tree.remove("a/b", 1));
        assert!(!tree.remove("a/b", 1));
        assert!(tree.remove("a/+", 2));
        assert_eq!(tree.len(), 0);
        assert!(tree.root.is_empty());
    }
}
