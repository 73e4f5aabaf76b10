//! One task per client, one module per transport. Every transport's session feeds the same [`Client`], which
//! checks order and records; [`drive`] reconnects a dropped session with back-off, as the lab's page does.

mod long_poll;
mod short_poll;
mod socket_io;
mod sse;
mod web_socket;

use std::sync::Arc;
use std::time::Duration;

use protocol::{Event, Gap, LoadTransport, PollResponse, StreamHello};
use tokio::net::TcpStream;
use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{client_async_with_config, WebSocketStream};

use crate::counting::CountingStream;
use crate::error::LoadError;
use crate::http::Target;
use crate::seq::{Seen, SeqTracker};
use crate::stats::Recorder;

/// Attempts before a client that never got through gives up (each failure counts as an error).
const CONNECT_ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What every client of a run shares.
#[derive(Clone, Debug)]
pub struct Plan {
    pub transport: LoadTransport,
    pub target: Target,
    /// The log's head when clients connect (the generator is paused then), for the polling transports; the
    /// streams learn it from their `hello`.
    pub head: Option<u64>,
    pub poll_interval: Duration,
    pub long_poll_timeout_seconds: u64,
}

pub struct Client {
    pub id: usize,
    pub plan: Arc<Plan>,
    pub recorder: Recorder,
    pub tracker: SeqTracker,
    /// Held until the first connection succeeds, which bounds how many clients are connecting at once.
    connecting: Option<OwnedSemaphorePermit>,
    ever_connected: bool,
    /// Whether the current session received anything: a session that did resets the back-off.
    progressed: bool,
}

impl Client {
    pub fn new(id: usize, plan: Arc<Plan>, recorder: Recorder, connecting: OwnedSemaphorePermit) -> Self {
        let mut tracker = SeqTracker::default();
        if let Some(head) = plan.head {
            tracker.start_after(head);
        }
        Self { id, plan, recorder, tracker, connecting: Some(connecting), ever_connected: false, progressed: false }
    }

    pub fn ever_connected(&self) -> bool {
        self.ever_connected
    }

    pub fn mark_connected(&mut self) {
        if !self.ever_connected {
            self.ever_connected = true;
            self.connecting = None;
            self.recorder.connected();
        }
    }

    pub fn event(&mut self, event: &Event) {
        self.progressed = true;
        match self.tracker.observe(event.seq) {
            Seen::InOrder => self.recorder.delivered(event),
            Seen::Skipped(missed) => {
                self.recorder.missed(missed);
                self.recorder.delivered(event);
            }
            Seen::Again { last } => self.recorder.duplicate(event.seq, last),
        }
    }

    pub fn gap(&mut self, gap: Gap) {
        self.progressed = true;
        let lost = self.tracker.gap(gap);
        self.recorder.missed(lost);
    }

    /// A stream's first message. A fresh client counts from the head it names; a resumed one keeps its cursor.
    pub fn hello(&mut self, hello: &StreamHello) {
        self.progressed = true;
        if self.tracker.last().is_none() {
            self.tracker.start_after(hello.head_seq);
        }
        self.mark_connected();
    }

    /// A poll answer: its events, its gap, and the cursor it hands back.
    pub fn answer(&mut self, answer: &PollResponse) {
        self.progressed = true;
        if let Some(gap) = answer.gap {
            self.gap(gap);
        }
        for event in &answer.events {
            self.event(event);
        }
        match self.tracker.last() {
            Some(last) if answer.next > last => {
                self.recorder.missed(answer.next - last);
                self.tracker.start_after(answer.next);
            }
            Some(last) if answer.next < last => {
                self.recorder.error(format!("cursor went back from {last} to {} (server restarted?)", answer.next));
                self.tracker.start_after(answer.next);
            }
            Some(_) => {}
            None => self.tracker.start_after(answer.next),
        }
    }

    /// The `after` for the next poll.
    pub fn cursor(&self) -> u64 {
        self.tracker.last().unwrap_or(0)
    }
}

/// Runs one client until `stop` says so: a session per connection, reconnecting with back-off when one fails.
pub async fn drive(mut client: Client, mut stop: watch::Receiver<bool>) {
    let mut failures = 0u32;
    loop {
        client.progressed = false;
        let transport = client.plan.transport;
        let session = async {
            match transport {
                LoadTransport::ShortPoll => short_poll::session(&mut client).await,
                LoadTransport::LongPoll => long_poll::session(&mut client).await,
                LoadTransport::Sse => sse::session(&mut client).await,
                LoadTransport::WebSocket => web_socket::session(&mut client).await,
                LoadTransport::SocketIo => socket_io::session(&mut client).await,
            }
        };
        let error: LoadError = tokio::select! {
            result = session => match result {
                Ok(never) => match never {},
                Err(error) => error,
            },
            () = stopped(&mut stop) => return,
        };
        client.recorder.error(format!("client {}: {error}", client.id));
        failures = if client.progressed { 1 } else { failures + 1 };
        if !client.ever_connected() && failures >= CONNECT_ATTEMPTS {
            client.recorder.gave_up();
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(backoff(failures)) => {}
            () = stopped(&mut stop) => return,
        }
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the controller is gone, which is a stop too.
    let _ = stop.wait_for(|stop| *stop).await;
}

/// 50–100 % of `FIRST_BACKOFF × 2^(failures−1)`, at most `MAX_BACKOFF`: random so a crowd of clients refused at
/// once does not come back at once.
fn backoff(failures: u32) -> Duration {
    let full = FIRST_BACKOFF.saturating_mul(1 << failures.saturating_sub(1).min(10)).min(MAX_BACKOFF);
    full.mul_f64(rand::random_range(0.5..=1.0))
}

type Socket = WebSocketStream<CountingStream<TcpStream>>;

/// A WebSocket on the client's own counted TCP connection; the upgrade request counts as a request.
async fn open_web_socket(client: &Client, url: &str) -> Result<Socket, LoadError> {
    let stream = client.plan.target.connect(client.recorder.clone()).await?;
    client.recorder.request();
    // tungstenite's defaults are 128 KiB read and write buffers per socket: 2.5 GB for 10,000 clients that each
    // receive a few hundred bytes a second.
    let config = WebSocketConfig::default().read_buffer_size(4 * 1024).write_buffer_size(0);
    let (socket, _response) = client_async_with_config(url, stream, Some(config)).await?;
    Ok(socket)
}

/// Sessions only ever end in an error (a stop drops them instead), which this type says.
pub enum Never {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert!(backoff(1) <= FIRST_BACKOFF && backoff(1) >= FIRST_BACKOFF / 2);
        assert!(backoff(3) >= FIRST_BACKOFF * 2);
        assert!(backoff(30) <= MAX_BACKOFF);
    }
}
