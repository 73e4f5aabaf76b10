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

    /// One write for these bytes, or behind those already waiting.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), Gone> {
        if !self.pending.is_empty() {
            return self.queue(bytes);
        }
        match self.stream.write(bytes) {
            Ok(written) if written == bytes.len() => Ok(()),
            Ok(written) => self.queue(&bytes[written..]),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => self.queue(bytes),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => self.send(bytes),
            Err(_) => Err(Gone::Failed),
        }
    }

    fn queue(&mut self, bytes: &[u8]) -> Result<(), Gone> {
        if self.pending.len() + bytes.len() > MAX_PENDING_BYTES {
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
