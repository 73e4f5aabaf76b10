//! MQTT as the lab speaks it: where the hub's events are published, where a page may publish, and what the lab
//! adds to each message. The broker (`broker/`), the server and the browser's MQTT lane all read these, so a topic
//! cannot be renamed on one side only.
//!
//! Beside them, the page's side of MQTT with no I/O: [`MqttClient`] (the packets a page sends and what each packet
//! it receives means) and [`anatomy`] (one packet taken apart for the inspector).

pub mod anatomy;
mod client;
pub mod framing;

pub use client::{
    ClientError, ClientSettings, DeliveredEvent, Delivery, DeliveryError, InFlight, Incoming, MqttClient, Outgoing,
    PacketInfo, PacketKind, Qos, Received, SettingsError, DEFAULT_KEEP_ALIVE_SECS, KEEP_ALIVE_SECS, MAX_PACKET_BYTES,
    SESSION_EXPIRY_SECS,
};
pub use framing::FrameError;

use super::{EventBody, WireLabel};

/// The WebSocket subprotocol MQTT over WebSocket must negotiate (MQTT 5.0, section 6).
pub const SUBPROTOCOL: &str = "mqtt";

/// Every hub event is published under this prefix, by kind: `lab/events/tick`, `lab/events/message`…
/// Only the lab publishes here; a client's PUBLISH to it is refused (0x87 Not authorized).
pub const EVENTS_TOPIC_PREFIX: &str = "lab/events/";
/// The filter a lane subscribes to by default: every event, every kind.
pub const EVENTS_FILTER: &str = "lab/events/#";
/// A client's PUBLISH here becomes a `message` event on every lane, as `POST /api/publish` does.
pub const CHAT_TOPIC: &str = "lab/chat";
/// A page's will is published here when its connection dies (`lab/presence/<client id>`).
pub const PRESENCE_TOPIC_PREFIX: &str = "lab/presence/";

/// MQTT 5 user properties on each event's PUBLISH: the hub's sequence number and run, so a subscriber can check
/// order and loss exactly as the other lanes do (an audio clip's payload is bare WAV bytes with no JSON to read).
pub const SEQ_PROPERTY: &str = "seq";
pub const EPOCH_PROPERTY: &str = "epoch";
/// MQTT 5 user property on the CONNACK of a page's WebSocket: the HTTP exchange that upgraded it, whose measured
/// bytes (`GET /api/wire`) are the lane's.
pub const EXCHANGE_PROPERTY: &str = "exchange";

/// The topic an event of this kind is published to.
pub fn event_topic(body: &EventBody) -> String {
    format!("{EVENTS_TOPIC_PREFIX}{}", body.kind_name())
}

/// Whether a subscription to `filter` receives every kind of event the hub publishes. A narrower one leaves kinds
/// out by design: a subscriber must not count the events it skips as lost.
pub fn filter_takes_every_event(filter: &str) -> bool {
    crate::EVENT_KIND_NAMES
        .iter()
        .all(|kind| mqtt5_protocol::topic_matches_filter(&format!("{EVENTS_TOPIC_PREFIX}{kind}"), filter))
}

/// The label of what a PUBLISH on `topic` carries: the event kind under `lab/events/`, else an MQTT packet.
pub fn label_of_topic(topic: &str) -> WireLabel {
    match topic.strip_prefix(EVENTS_TOPIC_PREFIX) {
        Some("tick") => WireLabel::Tick,
        Some("message") => WireLabel::Message,
        Some("broadcast") => WireLabel::Broadcast,
        Some("audio") => WireLabel::Audio,
        _ => WireLabel::Mqtt,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_own_topic_under_the_default_filter() {
        let topic = event_topic(&EventBody::Message { text: "hi".into() });
        assert_eq!(topic, "lab/events/message");
        assert!(topic.starts_with(EVENTS_FILTER.trim_end_matches('#')));
        for kind in crate::EVENT_KIND_NAMES {
            assert_eq!(label_of_topic(&format!("{EVENTS_TOPIC_PREFIX}{kind}")).as_str(), kind);
        }
        assert_eq!(label_of_topic("lab/chat"), WireLabel::Mqtt);
    }

    #[test]
    fn only_a_filter_over_every_kind_takes_every_event() {
        for filter in [EVENTS_FILTER, "lab/#", "#", "lab/events/+", "+/events/+"] {
            assert!(filter_takes_every_event(filter), "{filter}");
        }
        for filter in ["lab/events/message", "lab/events/tick", "lab/chat", "lab/+", "other/#"] {
            assert!(!filter_takes_every_event(filter), "{filter}");
        }
    }
}
