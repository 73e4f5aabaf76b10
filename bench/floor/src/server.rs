//! The event loop: one thread, one epoll set. Each tick's bytes are encoded once and written to every subscribed
//! socket straight from the loop: one `write(2)` per socket per event, no task, no channel, no wake-up.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use protocol::parse::{parse_json, parse_query};
use protocol::routes::{self, LongPollQuery, PollQuery, StreamQuery};
use protocol::{ndjson, sse, GeneratorUpdate, ServerTime, WsServerMessage, DEFAULT_POLL_LIMIT};
use slab::Slab;

use crate::connection::{Connection, Gone, State};
use crate::http::{self, Parsed, Request};
use crate::log::Log;
use crate::web_socket::{self, ClientFrame};

const LISTENER: Token = Token(usize::MAX);
/// How often held long polls are checked for their timeout.
const SWEEP_EVERY: Duration = Duration::from_millis(250);
/// The largest frame a client may send: this server reads only pings and closes.
const MAX_CLIENT_FRAME: usize = 4096;

pub struct Server {
    poll: Poll,
    listener: TcpListener,
    /// Set when an accept failed (out of descriptors, say): connections still waiting are taken on the next turn,
    /// as an edge-triggered listener would not say again that they are there.
    accept_again: bool,
    connections: Slab<Connection>,
    log: Log,
    heads: http::Heads,
}

impl Server {
    pub fn bind(addr: SocketAddr, log: Log) -> io::Result<Self> {
        let poll = Poll::new()?;
        let mut listener = TcpListener::bind(addr)?;
        poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
        let heads = http::Heads::new(log.epoch.clone());
        Ok(Self { poll, listener, accept_again: false, connections: Slab::new(), log, heads })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut next_sweep = Instant::now() + SWEEP_EVERY;
        loop {
            let now = Instant::now();
            let wait = self.log.until_next_tick(now).map_or(SWEEP_EVERY, |tick| tick.min(SWEEP_EVERY));
            let wait = wait.min(next_sweep.saturating_duration_since(now));
            if let Err(error) = self.poll.poll(&mut events, Some(wait)) {
                if error.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(error);
            }
            self.heads.refresh(std::time::SystemTime::now());
            if std::mem::take(&mut self.accept_again) {
                self.accept();
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(),
                    Token(key) => {
                        if event.is_writable() {
                            self.flush(key);
                        }
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            self.readable(key);
                        }
                    }
                }
            }
            let now = Instant::now();
            let before = self.log.head_seq();
            while let Some(event) = self.log.due_tick(now) {
                self.fan_out(&self.log.encode(&event));
            }
            if self.log.head_seq() != before {
                self.answer_long_polls(before);
            }
            if now >= next_sweep {
                self.time_out_long_polls(now);
                next_sweep = now + SWEEP_EVERY;
            }
        }
    }

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => self.register(stream),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                // Out of descriptors, say: try again on the next turn of the loop.
                Err(error) => {
                    eprintln!("accept: {error}");
                    self.accept_again = true;
                    return;
                }
            }
        }
    }

    fn register(&mut self, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let entry = self.connections.vacant_entry();
        let key = entry.key();
        let connection = entry.insert(Connection::new(stream));
        // Both interests once, edge-triggered: writable fires only when a full socket drains, so no re-registering.
        if self
            .poll
            .registry()
            .register(&mut connection.stream, Token(key), Interest::READABLE | Interest::WRITABLE)
            .is_err()
        {
            self.connections.remove(key);
        }
    }

    fn close(&mut self, key: usize) {
        if let Some(mut connection) = self.connections.try_remove(key) {
            let _ = self.poll.registry().deregister(&mut connection.stream);
        }
    }

    fn flush(&mut self, key: usize) {
        let Some(connection) = self.connections.get_mut(key) else { return };
        if connection.flush().is_err() {
            self.close(key);
        }
    }

    /// Sends on `key`, closing the connection if it is gone or too slow.
    fn send(&mut self, key: usize, bytes: &[u8]) {
        if let Some(connection) = self.connections.get_mut(key) {
            if connection.send(bytes).is_err() {
                self.close(key);
            }
        }
    }

    fn readable(&mut self, key: usize) {
        let Some(connection) = self.connections.get_mut(key) else { return };
        // Over the request limit by a read's worth, so a request too large is answered with its 431.
        let limit =
            if connection.state == State::WebSocket { 2 * MAX_CLIENT_FRAME } else { http::MAX_REQUEST_BYTES + 4096 };
        if connection.fill(limit).is_err() {
            self.close(key);
            return;
        }
        loop {
            let Some(connection) = self.connections.get_mut(key) else { return };
            match connection.state {
                State::Request => match http::parse(&connection.input) {
                    Parsed::Incomplete => return,
                    Parsed::Complete(request, used) => {
                        connection.consume(used);
                        self.answer(key, request);
                    }
                    Parsed::Refused(status, message) => {
                        connection.input = Vec::new();
                        let response = self.heads.error(status, "bad_request", None, message.into());
                        return self.send_last(key, &response);
                    }
                },
                State::WebSocket => match web_socket::read_frame(&connection.input, MAX_CLIENT_FRAME) {
                    Ok(None) => return,
                    Ok(Some((frame, used))) => {
                        connection.consume(used);
                        match frame {
                            ClientFrame::Ping(payload) => self.send(key, &web_socket::pong_frame(&payload)),
                            ClientFrame::Close(_) => return self.close_web_socket(key, web_socket::CLOSE_NORMAL),
                            ClientFrame::Other => {}
                        }
                    }
                    Err(code) => return self.close_web_socket(key, code),
                },
                // A stream's or a held poll's client has nothing to say until it is answered.
                _ => {
                    connection.input = Vec::new();
                    return;
                }
            }
        }
    }

    fn close_web_socket(&mut self, key: usize, code: u16) {
        if let Some(connection) = self.connections.get_mut(key) {
            connection.input = Vec::new();
        }
        self.send_last(key, &web_socket::close_frame(code));
    }

    /// Sends `bytes` and nothing after them; the connection closes once they are written.
    fn send_last(&mut self, key: usize, bytes: &[u8]) {
        self.send(key, bytes);
        if let Some(connection) = self.connections.get_mut(key) {
            connection.closing = true;
        }
        self.flush(key);
    }

    fn answer(&mut self, key: usize, request: Request) {
        let heads = &self.heads;
        let bad_parameter =
            |error: routes::ParamError| heads.error(400, "invalid_parameter", Some(error.parameter), error.problem);
        let response = match (request.method.as_str(), request.path.as_str()) {
            ("GET", routes::GENERATOR) => heads.json(200, &self.log.settings),
            ("POST", routes::GENERATOR) => match parse_json::<GeneratorUpdate>(&request.body) {
                Err(error) => heads.error(400, "invalid_json", None, error.to_string()),
                Ok(update) => match self.log.settings.updated(update) {
                    Err(error) => heads.error(400, "invalid_field", Some(error.field.into()), error.problem),
                    Ok(settings) => {
                        self.log.set(settings, Instant::now());
                        heads.json(200, &settings)
                    }
                },
            },
            ("GET", routes::TIME) => heads.json(200, &ServerTime { server_time: crate::log::unix_micros() }),
            ("GET", routes::POLL) => match parse_query::<PollQuery>(&request.query) {
                Err(error) => bad_parameter(error),
                Ok(query) => match query.limit() {
                    Err(error) => bad_parameter(error),
                    Ok(limit) => heads.json(200, &self.log.poll(query.after, limit)),
                },
            },
            ("GET", routes::LONG_POLL) => match parse_query::<LongPollQuery>(&request.query) {
                Err(error) => bad_parameter(error),
                Ok(query) => match query.timeout() {
                    Err(error) => bad_parameter(error),
                    // Held only while there is nothing after the cursor, as the lab holds it.
                    Ok(timeout) if query.after == self.log.head_seq() => {
                        if let Some(connection) = self.connections.get_mut(key) {
                            connection.state = State::LongPoll { deadline: Instant::now() + timeout };
                        }
                        return;
                    }
                    Ok(_) => heads.json(200, &self.log.poll(query.after, DEFAULT_POLL_LIMIT)),
                },
            },
            ("GET", routes::SSE | routes::HTTP_STREAM) => match self.stream_opening(&request) {
                Err(error) => bad_parameter(error),
                Ok(opening) => {
                    let state = if request.path == routes::SSE { State::Sse } else { State::NdJson };
                    return self.open_stream(key, state, &opening);
                }
            },
            ("GET", routes::WEB_SOCKET) => return self.upgrade(key, &request),
            (
                _,
                routes::GENERATOR | routes::TIME | routes::POLL | routes::LONG_POLL | routes::SSE | routes::HTTP_STREAM,
            ) => heads.error(405, "method_not_allowed", None, format!("{} is not allowed here", request.method)),
            (_, path) => heads.error(404, "not_found", None, format!("the floor serves no {path}")),
        };
        if request.close {
            self.send_last(key, &response);
        } else {
            self.send(key, &response);
        }
    }

    fn open_stream(&mut self, key: usize, state: State, opening: &[u8]) {
        if let Some(connection) = self.connections.get_mut(key) {
            connection.state = state;
            if connection.send_opening(opening).is_err() {
                self.close(key);
            }
        }
    }

    /// An SSE or NDJSON stream's head, `hello` and the events after the cursor, one chunk each.
    fn stream_opening(&self, request: &Request) -> Result<Vec<u8>, routes::ParamError> {
        let mut after = parse_query::<StreamQuery>(&request.query)?.after;
        let is_sse = request.path == routes::SSE;
        if let Some(id) = request.last_event_id.as_deref().filter(|_| is_sse) {
            after = sse::parse_last_event_id(id)?.or(after);
        }
        let hello = self.log.hello();
        let (events, gap) = after.map(|after| self.log.after(after, usize::MAX)).unwrap_or_default();
        let texts: Vec<String> = if is_sse {
            let opening = std::iter::once(sse::encode_hello(&hello)).chain(gap.map(sse::encode_gap));
            opening.chain(events.iter().map(|event| sse::encode_event(event))).map(|chunk| chunk.text).collect()
        } else {
            let opening = std::iter::once(ndjson::encode_hello(&hello)).chain(gap.map(ndjson::encode_gap));
            opening.chain(events.iter().map(ndjson::encode_event)).map(|line| line.text).collect()
        };
        let mut opening = self.heads.stream(if is_sse { "text/event-stream" } else { "application/x-ndjson" });
        for text in texts {
            opening.extend(http::chunk(text.as_bytes()));
        }
        Ok(opening)
    }

    fn upgrade(&mut self, key: usize, request: &Request) {
        let (Some(client_key), true) = (request.web_socket_key.as_deref(), request.upgrade_to_web_socket) else {
            // A refused upgrade ends the connection: the client meant it for another protocol.
            let refusal = self.heads.error(426, "upgrade_required", None, "a WebSocket upgrade".into());
            return self.send_last(key, &refusal);
        };
        let after = match parse_query::<StreamQuery>(&request.query) {
            Ok(query) => query.after,
            Err(error) => {
                let refusal = self.heads.error(400, "invalid_parameter", Some(error.parameter), error.problem);
                return self.send_last(key, &refusal);
            }
        };
        let mut opening = self.heads.switching_protocols(&web_socket::accept_key(client_key));
        opening.extend(web_socket::text_frame(&WsServerMessage::Hello(self.log.hello()).encode()));
        let (events, gap) = after.map(|after| self.log.after(after, usize::MAX)).unwrap_or_default();
        for message in gap.map(WsServerMessage::Gap).into_iter().chain(events.into_iter().map(WsServerMessage::Event)) {
            opening.extend(web_socket::text_frame(&message.encode()));
        }
        self.open_stream(key, State::WebSocket, &opening);
    }

    /// The floor's whole job: the same bytes to every subscriber, one write each.
    fn fan_out(&mut self, encoded: &crate::log::Encoded) {
        self.deliver(|state| match *state {
            State::Sse => Some(&encoded.sse),
            State::NdJson => Some(&encoded.ndjson),
            State::WebSocket => Some(&encoded.web_socket),
            State::Request | State::LongPoll { .. } => None,
        });
    }

    /// Every held long poll was at `head` (they are held only there): one answer, built once, with every event
    /// after it, for all of them.
    fn answer_long_polls(&mut self, head: u64) {
        let answer = self.heads.json(200, &self.log.poll(head, DEFAULT_POLL_LIMIT));
        self.deliver(|state| answered(state, |_| true).then_some(&answer));
    }

    fn time_out_long_polls(&mut self, now: Instant) {
        let no_content = self.heads.no_content();
        self.deliver(|state| answered(state, |deadline| deadline <= now).then_some(&no_content));
    }

    /// Writes to each connection the bytes `pick` chooses for it (none: it is skipped), then closes those that
    /// are gone or too slow.
    fn deliver<'a>(&mut self, mut pick: impl FnMut(&mut State) -> Option<&'a Vec<u8>>) {
        let mut gone = Vec::new();
        for (key, connection) in self.connections.iter_mut() {
            let Some(bytes) = pick(&mut connection.state) else { continue };
            if let Err(reason) = connection.send(bytes) {
                if let Gone::TooSlow = reason {
                    eprintln!("closing a client that let {} bytes wait", crate::connection::MAX_PENDING_BYTES);
                }
                gone.push(key);
            }
        }
        for key in gone {
            self.close(key);
        }
    }
}

/// Whether a held long poll is answered now (its deadline passes `due`): if so, its connection waits for the next
/// request again.
fn answered(state: &mut State, due: impl FnOnce(Instant) -> bool) -> bool {
    match *state {
        State::LongPoll { deadline } if due(deadline) => {
            *state = State::Request;
            true
        }
        _ => false,
    }
}
