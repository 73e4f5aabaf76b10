use serde::{Deserialize, Serialize};

/// The ways the lab delivers the hub's events. The order is the order of the lanes on the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    ShortPoll,
    LongPoll,
    Sse,
    WebSocket,
    HttpStream,
    Webhook,
    Mqtt,
    Grpc,
}

impl Transport {
    pub const COUNT: usize = 8;
    pub const ALL: [Transport; Self::COUNT] = [
        Transport::ShortPoll,
        Transport::LongPoll,
        Transport::Sse,
        Transport::WebSocket,
        Transport::HttpStream,
        Transport::Webhook,
        Transport::Mqtt,
        Transport::Grpc,
    ];

    /// Its place in [`Transport::ALL`] (the lane order).
    pub fn index(self) -> usize {
        self as usize
    }

    /// Stable identifier used in JSON keys, CSS classes and `data-testid`s.
    pub fn id(self) -> &'static str {
        match self {
            Transport::ShortPoll => "short_poll",
            Transport::LongPoll => "long_poll",
            Transport::Sse => "sse",
            Transport::WebSocket => "web_socket",
            Transport::HttpStream => "http_stream",
            Transport::Webhook => "webhook",
            Transport::Mqtt => "mqtt",
            Transport::Grpc => "grpc",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Transport::ShortPoll => "Short polling",
            Transport::LongPoll => "Long polling",
            Transport::Sse => "Server-Sent Events",
            Transport::WebSocket => "WebSocket",
            Transport::HttpStream => "HTTP streaming",
            Transport::Webhook => "Webhooks",
            Transport::Mqtt => "MQTT",
            Transport::Grpc => "gRPC-web",
        }
    }

    /// One sentence for the lane header: what the browser does on this transport. Short enough for two lines in a
    /// lane five share at 1280 px (a third would push the header's fault buttons below its edge).
    pub fn summary(self) -> &'static str {
        match self {
            Transport::ShortPoll => "asks every interval, answered at once, often with nothing",
            Transport::LongPoll => "asks once; the server holds the answer until an event exists",
            Transport::Sse => "one long HTTP response; the server writes each event as text",
            Transport::WebSocket => "one upgraded TCP connection; a frame per event, both ways",
            Transport::HttpStream => "one fetch whose response never ends; a JSON line per event",
            Transport::Webhook => "server to server: a signed POST per event, retried until a 2xx",
            Transport::Mqtt => "a broker between publishers and subscribers, in one WebSocket",
            Transport::Grpc => "protobuf messages behind 5-byte prefixes, in one fetch: gRPC-web",
        }
    }

    /// The two parties the lane's diagram draws, left then right. Every lane but one is a browser and this server;
    /// a webhook goes from the lab's sender to a receiver, both servers, and the browser only watches.
    pub fn lifelines(self) -> (&'static str, &'static str) {
        match self {
            Transport::Webhook => ("Receiver", "Sender"),
            Transport::Mqtt => ("Browser", "Broker"),
            _ => ("Browser", "Server"),
        }
    }

    /// Whether a page turns this lane on when it opens. The webhook lane registers an endpoint with the lab's
    /// sender, which a page should do only when someone wants to watch webhooks; the MQTT lane is a broker's
    /// protocol on top of a WebSocket, and gRPC-web a protocol on top of a fetch, so the first view compares the
    /// browser's own transports and a lesson (or keys 7 and 8) brings them in.
    pub fn on_at_start(self) -> bool {
        !matches!(self, Transport::Webhook | Transport::Mqtt | Transport::Grpc)
    }

    /// Whether the browser is one of the parties. For a webhook it is not: the page learns of each delivery over
    /// a side channel, after the fact.
    pub fn browser_takes_part(self) -> bool {
        self != Transport::Webhook
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_summary_fits_two_lines_of_a_narrow_lane() {
        for transport in Transport::ALL {
            assert!(transport.summary().chars().count() <= 66, "{transport:?}: {}", transport.summary());
        }
    }

    #[test]
    fn id_matches_serde_name() {
        for transport in Transport::ALL {
            assert_eq!(serde_json::to_value(transport).unwrap(), transport.id());
        }
    }
}
