//! Where everything lives on the server, and what each address may say. The server parses requests with these
//! types; the browser and the load tool build their URLs with the same ones, so a parameter cannot be renamed on
//! one side only. Field order is the order on the wire (it is part of every request's measured size).

use std::time::Duration;

use std::fmt::Display;

use serde::Deserialize;

use super::{
    ClientId, Transport, DEFAULT_LONG_POLL_TIMEOUT_SECONDS, DEFAULT_POLL_LIMIT, MAX_LONG_POLL_TIMEOUT_SECONDS,
    MAX_POLL_LIMIT, MIN_LONG_POLL_TIMEOUT_SECONDS,
};

pub const POLL: &str = "/api/poll";
/// The teacher link: `/teacher?key=…` sets the teacher's cookie and goes on to [`PRESENT`].
pub const TEACHER: &str = "/teacher";
/// The presenter view (a page).
pub const PRESENT: &str = "/present";
pub const LONG_POLL: &str = "/api/long-poll";
pub const SSE: &str = "/api/sse";
pub const WEB_SOCKET: &str = "/api/ws";
pub const HTTP_STREAM: &str = "/api/stream";
/// MQTT over WebSocket (subprotocol `mqtt`): the lab's broker (`docs/src/api/mqtt.md`).
pub const MQTT: &str = "/api/mqtt";
pub const PUBLISH: &str = "/api/publish";
pub const AUDIO: &str = "/api/audio";
pub const CLASS: &str = "/api/class";
pub const CLASS_QR: &str = "/api/class/qr.svg";
pub const CLASS_BROADCAST: &str = "/api/class/broadcast";
pub const GENERATOR: &str = "/api/generator";
pub const FAULTS: &str = "/api/faults";
pub const FAULTS_DROP: &str = "/api/faults/drop";
pub const FAULTS_OFFLINE: &str = "/api/faults/offline";
pub const FAULTS_RESTART: &str = "/api/faults/restart";
pub const FAULTS_DELAY: &str = "/api/faults/delay";
pub const STATS: &str = "/api/stats";
pub const SCALE: &str = "/api/scale";
pub const TIME: &str = "/api/time";
pub const WIRE: &str = "/api/wire";
/// The last few thousand records of HTTP/2 connections (native gRPC clients), frame by frame.
pub const WIRE_HTTP2: &str = "/api/wire/http2";
/// A page's connections, byte for byte, as a pcapng capture file (`?client=ID`).
pub const WIRE_PCAPNG: &str = "/api/wire/pcapng";
pub const LESSONS: &str = "/api/lessons";
/// The route pattern of one lesson (axum's syntax); [`lesson`] builds an address of it.
pub const LESSON_PATTERN: &str = "/api/lessons/{id}";
/// Webhooks (`docs/src/api/webhooks.md`): register endpoints, read their delivery attempts, and the lab's own
/// receiver with its knobs. The patterns are axum's syntax; the functions below build addresses of them.
pub const WEBHOOK_ENDPOINTS: &str = "/api/webhooks/endpoints";
pub const WEBHOOK_ENDPOINT_PATTERN: &str = "/api/webhooks/endpoints/{id}";
pub const WEBHOOK_DELIVERIES_PATTERN: &str = "/api/webhooks/endpoints/{id}/deliveries";
pub const WEBHOOK_RECEIVER_PATTERN: &str = "/api/webhooks/receiver/{id}";

/// The address each lane's browser reads from, so the byte tap can tell whose a request is. The webhook lane has
/// none: its bytes are counted on the sender's own socket.
pub fn of_lane(transport: Transport) -> Option<&'static str> {
    match transport {
        Transport::ShortPoll => Some(POLL),
        Transport::LongPoll => Some(LONG_POLL),
        Transport::Sse => Some(SSE),
        Transport::WebSocket => Some(WEB_SOCKET),
        Transport::HttpStream => Some(HTTP_STREAM),
        Transport::Webhook => None,
        Transport::Mqtt => Some(MQTT),
        Transport::Grpc => Some(crate::grpc::SUBSCRIBE_PATH),
    }
}

pub fn lesson(id: &str) -> String {
    format!("{LESSONS}/{id}")
}

/// `DELETE /api/webhooks/endpoints/{id}`.
pub fn webhook_endpoint(id: &str) -> String {
    format!("{WEBHOOK_ENDPOINTS}/{id}")
}

/// `GET /api/webhooks/endpoints/{id}/deliveries?after=N`.
pub fn webhook_deliveries(id: &str, after: u64) -> String {
    Address::new(&format!("{WEBHOOK_ENDPOINTS}/{id}/deliveries")).param("after", Some(after)).0
}

/// The lab's own receiver for endpoint `id`: `POST` delivers to it, `GET`/`PUT` read and set its knobs.
pub fn webhook_receiver(id: &str) -> String {
    format!("/api/webhooks/receiver/{id}")
}

/// A query parameter the server refuses, and why: every transport's 400 names it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{parameter}` {problem}")]
pub struct ParamError {
    pub parameter: String,
    pub problem: String,
}

impl ParamError {
    fn new(parameter: &str, problem: String) -> Self {
        Self { parameter: parameter.into(), problem }
    }
}

/// An address with its query, written parameter by parameter in the order given. Every value here is URL-safe by
/// its type (numbers, a [`ClientId`]'s letters, digits, `-` and `_`, a transport's id), so nothing needs escaping;
/// the round-trip test below holds the writer to what the server's parser reads.
struct Address(String);

impl Address {
    fn new(path: &str) -> Self {
        Self(path.to_owned())
    }

    fn param(mut self, name: &str, value: Option<impl Display>) -> Self {
        if let Some(value) = value {
            let separator = if self.0.contains('?') { '&' } else { '?' };
            self.0.push_str(&format!("{separator}{name}={value}"));
        }
        self
    }
}

/// `GET /api/poll?after=N[&limit=L][&client=ID]`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollQuery {
    #[serde(default)]
    pub after: u64,
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub client: Option<ClientId>,
}

impl PollQuery {
    pub fn url(&self) -> String {
        Address::new(POLL)
            .param("after", Some(self.after))
            .param("limit", self.limit)
            .param("client", self.client.as_ref())
            .0
    }

    pub fn limit(&self) -> Result<usize, ParamError> {
        match self.limit {
            None => Ok(DEFAULT_POLL_LIMIT),
            Some(limit) if (1..=MAX_POLL_LIMIT).contains(&limit) => Ok(limit),
            Some(_) => Err(ParamError::new("limit", format!("must be between 1 and {MAX_POLL_LIMIT}"))),
        }
    }
}

/// `GET /api/long-poll?after=N[&timeout=S][&client=ID]`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LongPollQuery {
    #[serde(default)]
    pub after: u64,
    #[serde(default)]
    pub timeout: Option<u64>,
    #[serde(default)]
    pub client: Option<ClientId>,
}

impl LongPollQuery {
    pub fn url(&self) -> String {
        Address::new(LONG_POLL)
            .param("after", Some(self.after))
            .param("timeout", self.timeout)
            .param("client", self.client.as_ref())
            .0
    }

    pub fn timeout(&self) -> Result<Duration, ParamError> {
        let seconds = self.timeout.unwrap_or(DEFAULT_LONG_POLL_TIMEOUT_SECONDS);
        if (MIN_LONG_POLL_TIMEOUT_SECONDS..=MAX_LONG_POLL_TIMEOUT_SECONDS).contains(&seconds) {
            Ok(Duration::from_secs(seconds))
        } else {
            Err(ParamError::new(
                "timeout",
                format!("must be between {MIN_LONG_POLL_TIMEOUT_SECONDS} and {MAX_LONG_POLL_TIMEOUT_SECONDS} seconds"),
            ))
        }
    }
}

/// `GET /api/sse`, `GET /api/ws` and `GET /api/stream`, each `[?after=N][&client=ID]`: a stream starting live, or
/// resuming after N.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    #[serde(default)]
    pub after: Option<u64>,
    #[serde(default)]
    pub client: Option<ClientId>,
}

/// `GET /api/mqtt?client=…`: whose page the MQTT connection is, for its lane's byte records. Where to resume is
/// MQTT's own business (a kept session), not the query's.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttQuery {
    #[serde(default)]
    pub client: Option<ClientId>,
}

impl MqttQuery {
    /// The path and query of the broker's WebSocket; the caller puts `ws://host` (or `wss://`) in front.
    pub fn web_socket_path(&self) -> String {
        Address::new(MQTT).param("client", self.client.as_ref()).0
    }
}

impl StreamQuery {
    fn address(&self, path: &str) -> String {
        Address::new(path).param("after", self.after).param("client", self.client.as_ref()).0
    }

    pub fn sse_url(&self) -> String {
        self.address(SSE)
    }

    /// The path and query of the WebSocket endpoint; the caller puts `ws://host` (or `wss://`) in front.
    pub fn web_socket_path(&self) -> String {
        self.address(WEB_SOCKET)
    }

    pub fn http_stream_url(&self) -> String {
        self.address(HTTP_STREAM)
    }
}

/// `POST /api/publish[?client=ID&lane=T]`: a lane's round trip names its page and lane, so the server files the
/// request's bytes as that lane's.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishQuery {
    #[serde(default)]
    pub client: Option<ClientId>,
    #[serde(default)]
    pub lane: Option<Transport>,
}

impl PublishQuery {
    pub fn url(&self) -> String {
        Address::new(PUBLISH).param("client", self.client.as_ref()).param("lane", self.lane.map(Transport::id)).0
    }
}

/// `GET /api/wire?client=ID[&after=K]`: a page's measured records after K.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireQuery {
    pub client: ClientId,
    #[serde(default)]
    pub after: u64,
}

impl WireQuery {
    pub fn url(&self) -> String {
        Address::new(WIRE).param("client", Some(&self.client)).param("after", Some(self.after)).0
    }
}

/// `GET /api/wire/pcapng?client=ID`: a page's connections as a capture file.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PcapngQuery {
    pub client: ClientId,
}

impl PcapngQuery {
    pub fn url(&self) -> String {
        Address::new(WIRE_PCAPNG).param("client", Some(&self.client)).0
    }
}

/// `GET /api/faults/delay[?client=ID]` and `DELETE /api/faults[?client=ID]`: the page asking (a student's page sees
/// and clears its own rules; without `client`, clearing is the teacher's).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientQuery {
    #[serde(default)]
    pub client: Option<ClientId>,
}

impl ClientQuery {
    pub fn url(&self, path: &'static str) -> String {
        Address::new(path).param("client", self.client.as_ref()).0
    }
}

/// `GET /api/wire/http2[?after=K]`: the HTTP/2 records after K.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http2WireQuery {
    #[serde(default)]
    pub after: u64,
}

impl Http2WireQuery {
    pub fn url(&self) -> String {
        Address::new(WIRE_HTTP2).param("after", Some(self.after)).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> ClientId {
        ClientId::try_from("abc".to_owned()).unwrap()
    }

    #[test]
    fn urls_are_the_ones_the_server_documents() {
        let poll = PollQuery { after: 41, limit: None, client: Some(client()) };
        assert_eq!(poll.url(), "/api/poll?after=41&client=abc");
        assert_eq!(PollQuery::default().url(), "/api/poll?after=0");
        let long_poll = LongPollQuery { after: 3, timeout: Some(25), client: None };
        assert_eq!(long_poll.url(), "/api/long-poll?after=3&timeout=25");
        assert_eq!(StreamQuery::default().sse_url(), "/api/sse");
        assert_eq!(
            StreamQuery { after: Some(9), client: Some(client()) }.web_socket_path(),
            "/api/ws?after=9&client=abc"
        );
        assert_eq!(StreamQuery { after: Some(0), client: None }.http_stream_url(), "/api/stream?after=0");
        let publish = PublishQuery { client: Some(client()), lane: Some(Transport::LongPoll) };
        assert_eq!(publish.url(), "/api/publish?client=abc&lane=long_poll");
        assert_eq!(WireQuery { client: client(), after: 7 }.url(), "/api/wire?client=abc&after=7");
        assert_eq!(lesson("sse"), "/api/lessons/sse");
        assert_eq!(webhook_endpoint("ep_1"), "/api/webhooks/endpoints/ep_1");
        assert_eq!(webhook_deliveries("ep_1", 4), "/api/webhooks/endpoints/ep_1/deliveries?after=4");
        assert_eq!(webhook_receiver("ep_1"), "/api/webhooks/receiver/ep_1");
    }

    fn query_of(url: &str) -> &str {
        url.split_once('?').map_or("", |(_, query)| query)
    }

    #[test]
    fn every_query_reads_back_what_it_wrote() {
        let poll = PollQuery { after: 5, limit: Some(10), client: Some(client()) };
        assert_eq!(serde_urlencoded::from_str::<PollQuery>(query_of(&poll.url())).unwrap(), poll);
        let long_poll = LongPollQuery { after: 5, timeout: Some(9), client: Some(client()) };
        assert_eq!(serde_urlencoded::from_str::<LongPollQuery>(query_of(&long_poll.url())).unwrap(), long_poll);
        for stream in [StreamQuery::default(), StreamQuery { after: Some(0), client: Some(client()) }] {
            assert_eq!(serde_urlencoded::from_str::<StreamQuery>(query_of(&stream.sse_url())).unwrap(), stream);
        }
        for lane in Transport::ALL {
            let publish = PublishQuery { client: Some(client()), lane: Some(lane) };
            assert_eq!(serde_urlencoded::from_str::<PublishQuery>(query_of(&publish.url())).unwrap(), publish);
        }
        let wire = WireQuery { client: client(), after: 3 };
        assert_eq!(serde_urlencoded::from_str::<WireQuery>(query_of(&wire.url())).unwrap(), wire);
        assert!(serde_urlencoded::from_str::<PollQuery>("aftr=1").is_err(), "unknown parameters are refused");
        assert!(serde_urlencoded::from_str::<PublishQuery>("lane=carrier_pigeon").is_err());
    }

    #[test]
    fn bounds_name_the_parameter() {
        assert_eq!(PollQuery { limit: Some(0), ..PollQuery::default() }.limit().unwrap_err().parameter, "limit");
        assert_eq!(PollQuery::default().limit().unwrap(), DEFAULT_POLL_LIMIT);
        let too_long = LongPollQuery { timeout: Some(61), ..LongPollQuery::default() };
        assert_eq!(too_long.timeout().unwrap_err().parameter, "timeout");
        assert_eq!(LongPollQuery::default().timeout().unwrap(), Duration::from_secs(25));
    }
}
