//! Where everything lives on the server, and what each address may say. The server parses requests with these
//! types; the browser and the load tool build their URLs with the same ones, so a parameter cannot be renamed on
//! one side only. Field order is the order on the wire (it is part of every request's measured size).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{
    ClientId, Transport, DEFAULT_LONG_POLL_TIMEOUT_SECONDS, DEFAULT_POLL_LIMIT, MAX_LONG_POLL_TIMEOUT_SECONDS,
    MAX_POLL_LIMIT, MIN_LONG_POLL_TIMEOUT_SECONDS,
};

pub const POLL: &str = "/api/poll";
pub const LONG_POLL: &str = "/api/long-poll";
pub const SSE: &str = "/api/sse";
pub const WEB_SOCKET: &str = "/api/ws";
pub const HTTP_STREAM: &str = "/api/stream";
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
pub const LESSONS: &str = "/api/lessons";
/// The route pattern of one lesson (axum's syntax); [`lesson`] builds an address of it.
pub const LESSON_PATTERN: &str = "/api/lessons/{id}";

/// The address each lane reads from, so the byte tap can tell whose a request is.
pub fn of_lane(transport: Transport) -> &'static str {
    match transport {
        Transport::ShortPoll => POLL,
        Transport::LongPoll => LONG_POLL,
        Transport::Sse => SSE,
        Transport::WebSocket => WEB_SOCKET,
        Transport::HttpStream => HTTP_STREAM,
    }
}

pub fn lesson(id: &str) -> String {
    format!("{LESSONS}/{id}")
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

/// `path?query`, or just `path` when every parameter is absent.
fn with_query(path: &str, query: &impl Serialize) -> String {
    match serde_urlencoded::to_string(query) {
        Ok(query) if !query.is_empty() => format!("{path}?{query}"),
        _ => path.to_owned(),
    }
}

/// `GET /api/poll?after=N[&limit=L][&client=ID]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollQuery {
    #[serde(default)]
    pub after: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientId>,
}

impl PollQuery {
    pub fn url(&self) -> String {
        with_query(POLL, self)
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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LongPollQuery {
    #[serde(default)]
    pub after: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientId>,
}

impl LongPollQuery {
    pub fn url(&self) -> String {
        with_query(LONG_POLL, self)
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

/// `GET /api/sse`, `GET /api/ws` and `GET /api/stream`, each `[?after=N][&client=ID]`: a stream starting live, or resuming after N.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientId>,
}

impl StreamQuery {
    pub fn sse_url(&self) -> String {
        with_query(SSE, self)
    }

    /// The path and query of the WebSocket endpoint; the caller puts `ws://host` (or `wss://`) in front.
    pub fn web_socket_path(&self) -> String {
        with_query(WEB_SOCKET, self)
    }

    pub fn http_stream_url(&self) -> String {
        with_query(HTTP_STREAM, self)
    }
}

/// `POST /api/publish[?client=ID&lane=T]`: a lane's round trip names its page and lane, so the server files the
/// request's bytes as that lane's.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lane: Option<Transport>,
}

impl PublishQuery {
    pub fn url(&self) -> String {
        with_query(PUBLISH, self)
    }
}

/// `GET /api/wire?client=ID[&after=K]`: a page's measured records after K.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireQuery {
    pub client: ClientId,
    #[serde(default)]
    pub after: u64,
}

impl WireQuery {
    pub fn url(&self) -> String {
        with_query(WIRE, self)
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
    }

    #[test]
    fn every_query_reads_back_what_it_wrote() {
        let poll = PollQuery { after: 5, limit: Some(10), client: Some(client()) };
        let query = poll.url().split_once('?').unwrap().1.to_owned();
        assert_eq!(serde_urlencoded::from_str::<PollQuery>(&query).unwrap(), poll);
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
