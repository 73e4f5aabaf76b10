//! One client's socket: what it is subscribed to, and the one `write(2)` per delivery. Bytes the kernel does not
//! take at once wait in `pending`, in order, and go out when the socket is writable again; past
//! [`MAX_PENDING_BYTES`] the client is too slow and is closed, never silently skipped.

use std::io::{self, Read, Write};
use std::time::Instant;

use mio::net::TcpStream;

/// How much a slow client may have waiting before it is dropped: about 2,000 events of the suite's size.
pub const MAX_PENDING_BYTES: usize = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Waiting for (or reading) a request.
    Request,
    Sse,
    NdJson,
    WebSocket,
    /// A long poll held at the head until the next event or `deadline`.
    LongPoll {
        deadline: Instant,
    },
}

/// Why a connection is done.
#[derive(Debug)]
pub enum Gone {
    Closed,
    TooSlow,
    Failed,
}

pub struct Connection {
    pub stream: TcpStream,
    pub state: State,
    /// Bytes read and not yet acted on. Empty (and unallocated) on an idle connection.
    pub input: Vec<u8>,
    /// Bytes the kernel has not taken yet. Empty (and unallocated) unless the socket is full.
    pending: Vec<u8>,
    /// Close once `pending` is written (after a close frame or a refusal).
    pub closing: bool,
}

impl Connection {
    pub fn new(stream: TcpStream) -> Self {
        Self { stream, state: State::Request, input: Vec::new(), pending: Vec::new(), closing: false }
    }

    /// One write for these bytes (more only if the kernel takes part of them), or behind those already waiting.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), Gone> {
        self.send_within(bytes, MAX_PENDING_BYTES)
    }

    /// A stream's opening (its hello and the history after its cursor), which may be larger than the cap on what
    /// a slow client may let wait: it is bounded by the history instead.
    pub fn send_opening(&mut self, bytes: &[u8]) -> Result<(), Gone> {
        self.send_within(bytes, usize::MAX)
    }

    fn send_within(&mut self, mut bytes: &[u8], cap: usize) -> Result<(), Gone> {
        if self.closing {
            // Nothing follows a close frame or a refusal (RFC 6455 section 5.5.1).
            return Ok(());
        }
        while self.pending.is_empty() && !bytes.is_empty() {
            match self.stream.write(bytes) {
                Ok(0) => return Err(Gone::Closed),
                Ok(written) => bytes = &bytes[written..],
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(Gone::Failed),
            }
        }
        if bytes.is_empty() {
            return Ok(());
        }
        if self.pending.len().saturating_add(bytes.len()) > cap {
            return Err(Gone::TooSlow);
        }
        self.pending.extend_from_slice(bytes);
        Ok(())
    }

    /// Writes what waits, as far as the socket takes it; its buffer is given back once all is written.
    pub fn flush(&mut self) -> Result<(), Gone> {
        while !self.pending.is_empty() {
            match self.stream.write(&self.pending) {
                Ok(0) => return Err(Gone::Closed),
                Ok(written) => {
                    self.pending.drain(..written);
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(Gone::Failed),
            }
        }
        self.pending = Vec::new();
        if self.closing {
            return Err(Gone::Closed);
        }
        Ok(())
    }

    /// Reads everything the socket has into `input` (edge-triggered: until it would block).
    pub fn fill(&mut self, limit: usize) -> Result<(), Gone> {
        let mut chunk = [0u8; 4096];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(Gone::Closed),
                Ok(read) if self.input.len() + read > limit => return Err(Gone::TooSlow),
                Ok(read) => self.input.extend_from_slice(&chunk[..read]),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(Gone::Failed),
            }
        }
    }

    /// Drops the first `used` bytes of input, giving the buffer back when nothing is left.
    pub fn consume(&mut self, used: usize) {
        if used >= self.input.len() {
            self.input = Vec::new();
        } else {
            self.input.drain(..used);
        }
    }
}
