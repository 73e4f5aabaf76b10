//! What a measured chunk or frame carried, as the server labels it in its wire record and the browser matches it.
//! One enum instead of bare strings on both sides, so a label cannot be misspelt on one side only.

use serde::{Deserialize, Serialize};

use super::EventBody;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WireLabel {
    /// A stream's first message: its epoch, the log's head, the exchange that opened it.
    Hello,
    Tick,
    Message,
    Broadcast,
    Audio,
    /// Events the client asked for that the history no longer holds.
    Gap,
    /// An SSE comment that keeps proxies and NAT tables from closing an idle stream.
    KeepAlive,
    /// The sequence number a WebSocket `publish` was given.
    Ack,
    /// A WebSocket frame the server could not act on.
    Error,
    /// An MQTT control packet (CONNACK, SUBACK, PUBREL…); a PUBLISH of a hub event carries the event's label.
    Mqtt,
    /// A label this build does not know (a trace from a newer lab): kept readable, never an error.
    #[serde(other)]
    Other,
}

impl WireLabel {
    /// The label of an event of this kind.
    pub fn of_event(body: &EventBody) -> Self {
        match body {
            EventBody::Tick { .. } => WireLabel::Tick,
            EventBody::Message { .. } => WireLabel::Message,
            EventBody::Broadcast { .. } => WireLabel::Broadcast,
            EventBody::Audio(_) => WireLabel::Audio,
        }
    }

    /// The name on the wire: the SSE `event:` field, and the label in wire records.
    pub fn as_str(self) -> &'static str {
        match self {
            WireLabel::Hello => "hello",
            WireLabel::Tick => "tick",
            WireLabel::Message => "message",
            WireLabel::Broadcast => "broadcast",
            WireLabel::Audio => "audio",
            WireLabel::Gap => "gap",
            WireLabel::KeepAlive => "keep-alive",
            WireLabel::Ack => "ack",
            WireLabel::Error => "error",
            WireLabel::Mqtt => "mqtt",
            WireLabel::Other => "other",
        }
    }
}

impl std::fmt::Display for WireLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_name_is_the_wire_name() {
        use WireLabel::*;
        for label in [Hello, Tick, Message, Broadcast, Audio, Gap, KeepAlive, Ack, Error, Mqtt, Other] {
            assert_eq!(serde_json::to_value(label).unwrap(), label.as_str());
        }
        assert_eq!(serde_json::from_str::<WireLabel>(r#""publish-ack-v9""#).unwrap(), Other);
    }

    #[test]
    fn event_labels_are_the_event_kind_names() {
        let body = EventBody::Message { text: String::new() };
        assert_eq!(WireLabel::of_event(&body).as_str(), body.kind_name());
    }
}
