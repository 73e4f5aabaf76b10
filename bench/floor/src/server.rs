//! The event loop: one thread, one epoll set. Each tick's bytes are encoded once and written to every subscribed
//! socket straight from the loop: one `write(2)` per socket per event, no task, no channel, no wake-up.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use protocol::parse::{parse_json, parse_query};
use protocol::routes::{self, LongPollQuery, PollQuery, StreamQuery};
use protocol::{ndjson, sse, GeneratorUpdate, ServerTime, WsServerMessage};
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
    connections: Slab<Connection>,
    log: Log,
}

impl Server {
    pub fn bind(addr: SocketAddr, log: Log) -> io::Result<Self> {
        let poll = Poll::new()?;
        let mut listener = TcpListener::bind(addr)?;
        poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
        Ok(Self { poll, listener, connections: Slab::new(), log })
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
            while let Some(event) = self.log.due_tick(now) {
                self.fan_out(&self.log.encode(&event));
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
                // Out of descriptors, say: the client sees its connection refused, the others carry on.
                Err(error) => {
                    eprintln!("accept: {error}");
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
        let limit = if connection.state == State::WebSocket { 2 * MAX_CLIENT_FRAME } else { http::MAX_REQUEST_BYTES };
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
                        connection.closing = true;
                        connection.input = Vec::new();
                        let response =
                            http::error_response(status, &self.log.epoch, "bad_request", None, message.into());
                        self.send(key, &response);
                        self.flush(key);
                        return;
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
            connection.closing = true;
            connection.input = Vec::new();
        }
        self.send(key, &web_socket::close_frame(code));
        self.flush(key);
    }

    fn answer(&mut self, key: usize, request: Request) {
        let epoch = &self.log.epoch;
        let bad_parameter = |error: routes::ParamError| {
            http::error_response(400, epoch, "invalid_parameter", Some(error.parameter), error.problem)
        };
        let response = match (request.method.as_str(), request.path.as_str()) {
            ("GET", routes::GENERATOR) => http::json_response(200, epoch, &self.log.settings),
            ("POST", routes::GENERATOR) => match parse_json::<GeneratorUpdate>(&request.body) {
                Err(error) => http::error_response(400, epoch, "invalid_json", None, error.to_string()),
                Ok(update) => match self.log.settings.updated(update) {
                    Err(error) => {
                        http::error_response(400, epoch, "invalid_field", Some(error.field.into()), error.problem)
                    }
                    Ok(settings) => {
                        self.log.set(settings);
                        http::json_response(200, &self.log.epoch, &settings)
                    }
                },
            },
            ("GET", routes::TIME) => http::json_response(200, epoch, &ServerTime { server_time: unix_micros() }),
            ("GET", routes::POLL) => match parse_query::<PollQuery>(&request.query) {
                Err(error) => bad_parameter(error),
                Ok(query) => match query.limit() {
                    Err(error) => bad_parameter(error),
                    Ok(limit) => http::json_response(200, epoch, &self.log.poll(query.after, limit)),
                },
            },
            ("GET", routes::LONG_POLL) => match parse_query::<LongPollQuery>(&request.query) {
                Err(error) => bad_parameter(error),
                Ok(query) => match query.timeout() {
                    Err(error) => bad_parameter(error),
                    Ok(timeout) if query.after == self.log.head_seq() => {
                        if let Some(connection) = self.connections.get_mut(key) {
                            connection.state = State::LongPoll { deadline: Instant::now() + timeout };
                        }
                        return;
                    }
                    Ok(_) => http::json_response(200, epoch, &self.log.poll(query.after, protocol::MAX_POLL_LIMIT)),
                },
            },
            ("GET", routes::SSE | routes::HTTP_STREAM) => match self.stream_start(&request) {
                Err(error) => bad_parameter(error),
                Ok(opening) => {
                    self.send(key, &opening);
                    if let Some(connection) = self.connections.get_mut(key) {
                        connection.state = if request.path == routes::SSE { State::Sse } else { State::NdJson };
                    }
                    return;
                }
            },
            ("GET", routes::WEB_SOCKET) => return self.upgrade(key, &request),
            (
                _,
                routes::GENERATOR | routes::TIME | routes::POLL | routes::LONG_POLL | routes::SSE | routes::HTTP_STREAM,
            ) => http::error_response(
                405,
                epoch,
                "method_not_allowed",
                None,
                format!("{} is not allowed here", request.method),
            ),
            (_, path) => http::error_response(404, epoch, "not_found", None, format!("the floor serves no {path}")),
        };
        if request.close {
            if let Some(connection) = self.connections.get_mut(key) {
                connection.closing = true;
            }
        }
        self.send(key, &response);
        if request.close {
            self.flush(key);
        }
    }

    /// An SSE or NDJSON stream's head, `hello` and the events after the cursor; the connection then subscribes.
    fn stream_start(&self, request: &Request) -> Result<Vec<u8>, routes::ParamError> {
        let mut after = parse_query::<StreamQuery>(&request.query)?.after;
        let is_sse = request.path == routes::SSE;
        if is_sse {
            if let Some(id) = request.last_event_id.as_deref() {
                after = sse::parse_last_event_id(id)?.or(after);
            }
        }
        let hello = self.log.hello();
        let (events, gap) = after.map(|after| self.log.after(after, usize::MAX)).unwrap_or_default();
        let mut opening = if is_sse {
            let mut text = http::stream_head("text/event-stream");
            text.extend(sse::encode_hello(&hello).text.bytes());
            text.extend(gap.iter().flat_map(|gap| sse::encode_gap(*gap).text.into_bytes()));
            text.extend(events.iter().flat_map(|event| sse::encode_event(event).text.into_bytes()));
            text
        } else {
            let mut text = http::stream_head("application/x-ndjson");
            text.extend(ndjson::encode_hello(&hello).text.bytes());
            text.extend(gap.iter().flat_map(|gap| ndjson::encode_gap(*gap).text.into_bytes()));
            text.extend(events.iter().flat_map(|event| ndjson::encode_event(event).text.into_bytes()));
            text
        };
        opening.shrink_to_fit();
        Ok(opening)
    }

    fn upgrade(&mut self, key: usize, request: &Request) {
        let epoch = &self.log.epoch;
        let (Some(client_key), true) = (request.web_socket_key.as_deref(), request.upgrade_to_web_socket) else {
            let refusal = http::error_response(426, epoch, "upgrade_required", None, "a WebSocket upgrade".into());
            return self.send(key, &refusal);
        };
        let after = match parse_query::<StreamQuery>(&request.query) {
            Ok(query) => query.after,
            Err(error) => {
                let refusal =
                    http::error_response(400, epoch, "invalid_parameter", Some(error.parameter), error.problem);
                return self.send(key, &refusal);
            }
        };
        let mut opening = http::switching_protocols(&web_socket::accept_key(client_key));
        opening.extend(web_socket::text_frame(&WsServerMessage::Hello(self.log.hello()).encode()));
        let (events, gap) = after.map(|after| self.log.after(after, usize::MAX)).unwrap_or_default();
        for message in gap.map(WsServerMessage::Gap).into_iter().chain(events.into_iter().map(WsServerMessage::Event)) {
            opening.extend(web_socket::text_frame(&message.encode()));
        }
        self.send(key, &opening);
        if let Some(connection) = self.connections.get_mut(key) {
            connection.state = State::WebSocket;
        }
    }

    /// The floor's whole job: the same bytes to every subscriber, one write each.
    fn fan_out(&mut self, encoded: &crate::log::Encoded) {
        let mut gone = Vec::new();
        for (key, connection) in self.connections.iter_mut() {
            let bytes = match connection.state {
                State::Request => continue,
                State::Sse => &encoded.sse,
                State::NdJson => &encoded.ndjson,
                State::WebSocket => &encoded.web_socket,
                State::LongPoll { .. } => {
                    connection.state = State::Request;
                    &encoded.long_poll
                }
            };
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

    fn time_out_long_polls(&mut self, now: Instant) {
        let no_content = http::no_content(&self.log.epoch);
        let due: Vec<usize> = self
            .connections
            .iter()
            .filter(|(_, connection)| matches!(connection.state, State::LongPoll { deadline } if deadline <= now))
            .map(|(key, _)| key)
            .collect();
        for key in due {
            if let Some(connection) = self.connections.get_mut(key) {
                connection.state = State::Request;
            }
            self.send(key, &no_content);
        }
    }
}

fn unix_micros() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_micros() as u64
}
