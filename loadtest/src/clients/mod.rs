//! One task per client, one module per transport. Every transport's session feeds the same [`Client`], which
//! drives the protocol's [`ClientSession`] (the order check, restarts, the back-off the lab's page uses too) and
//! records what it says; [`drive`] reconnects a dropped session when that back-off says so.

mod grpc;
mod http_stream;
mod long_poll;
pub(crate) mod mqtt;
mod short_poll;
mod socket_io;
mod sse;
mod web_socket;

use std::sync::Arc;
use std::time::Duration;

use protocol::session::{CursorCheck, RunCheck};
use protocol::{Arrival, ClientSession, Epoch, Event, Gap, LoadTransport, PollResponse, StreamHello};
use tokio::net::TcpStream;
use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{client_async_with_config, WebSocketStream};

use crate::counting::CountingStream;
use crate::error::LoadError;
use crate::http::Target;
use crate::stats::Recorder;

/// Attempts before a client that never got through gives up (each failure counts as an error).
const CONNECT_ATTEMPTS: u32 = 5;

/// What every client of a run shares.
#[derive(Clone, Debug)]
pub struct Plan {
    pub transport: LoadTransport,
    /// The server's instances (one, unless the run spreads its clients over several): client `id` uses
    /// `targets[id % len]`.
    pub targets: Vec<Target>,
    /// Where each client's session starts: after the log's head and in its run for the polling transports (read
    /// while the generator is paused), knowing nothing for the streams (they learn both from their `hello`).
    pub start: ClientSession,
    pub poll_interval: Duration,
    pub long_poll_timeout_seconds: u64,
    /// The MQTT transports only: where the broker is and the QoS to subscribe with.
    pub mqtt: Option<mqtt::MqttPlan>,
}

pub struct Client {
    pub id: usize,
    pub plan: Arc<Plan>,
    pub recorder: Recorder,
    session: ClientSession,
    /// Held until the first connection succeeds, which bounds how many clients are connecting at once.
    connecting: Option<OwnedSemaphorePermit>,
    ever_connected: bool,
}

impl Client {
    pub fn new(id: usize, plan: Arc<Plan>, recorder: Recorder, connecting: OwnedSemaphorePermit) -> Self {
        let session = plan.start.clone();
        Self { id, plan, recorder, session, connecting: Some(connecting), ever_connected: false }
    }

    /// The instance this client talks to.
    pub fn target(&self) -> &Target {
        &self.plan.targets[self.id % self.plan.targets.len()]
    }

    pub fn ever_connected(&self) -> bool {
        self.ever_connected
    }

    /// Counts the client as connected the first time it gets through.
    pub fn mark_connected(&mut self) {
        if !self.ever_connected {
            self.ever_connected = true;
            self.connecting = None;
            self.recorder.connected();
        }
    }

    /// A connection opened or a request was answered: counts as connected, and the back-off starts again.
    pub fn answered(&mut self) {
        self.session.connected();
        self.mark_connected();
    }

    pub fn event(&mut self, event: &Event) {
        match self.session.event(event.seq) {
            Arrival::InOrder => self.recorder.delivered(event),
            Arrival::AfterLoss { missing } => {
                self.recorder.missed(missing);
                self.recorder.delivered(event);
            }
            Arrival::Late => self.recorder.late(event),
            Arrival::Duplicate => self.recorder.duplicate(event.seq),
        }
    }

    pub fn gap(&mut self, gap: Gap) {
        let lost = self.session.gap(gap);
        self.recorder.missed(lost);
    }

    /// A stream's first message. On [`RunCheck::Restarted`] the stream must be opened again: it was asked for
    /// what follows a cursor of the old run, which means nothing in the new one.
    pub fn hello(&mut self, hello: &StreamHello) -> RunCheck {
        let check = self.session.hello(&hello.epoch, hello.head_seq);
        self.mark_connected();
        if check == RunCheck::Restarted {
            self.recorder.restarted();
        }
        check
    }

    /// The run a message names itself (MQTT's `epoch` user property; MQTT has no `hello`). A new one means the
    /// server restarted: the cursor goes back to 0, so the new run's events this client never got (it subscribed
    /// with a clean start, live) count as missed, as they do for socket.io.
    pub fn message_run(&mut self, epoch: &Epoch) -> RunCheck {
        let check = self.session.observe_epoch(epoch);
        if check == RunCheck::Restarted {
            self.recorder.restarted();
        }
        check
    }

    /// An event that carries no emission time (an audio clip over MQTT is bare WAV bytes): its order and loss are
    /// checked, but it is neither a delivery nor a latency sample, which would be measured from 1970.
    pub fn untimed_event(&mut self, seq: u64) {
        match self.session.event(seq) {
            Arrival::AfterLoss { missing } => self.recorder.missed(missing),
            Arrival::Duplicate => self.recorder.duplicate(seq),
            Arrival::InOrder | Arrival::Late => {}
        }
    }

    /// A poll answer: its run, its gap, its events, and the cursor it hands back. An answer from a new run was
    /// computed against a cursor of the old one, so it is not counted at all; the session's cursor is back at 0
    /// and the next poll asks for the new run from #1.
    pub fn answer(&mut self, answer: &PollResponse) -> RunCheck {
        self.answered();
        if self.session.observe_epoch(&answer.epoch) == RunCheck::Restarted {
            self.recorder.restarted();
            return RunCheck::Restarted;
        }
        if let Some(gap) = answer.gap {
            self.gap(gap);
        }
        for event in &answer.events {
            self.event(event);
        }
        match self.session.poll_next(answer.next) {
            CursorCheck::Consistent => {}
            CursorCheck::Skipped(missed) => self.recorder.missed(missed),
            CursorCheck::WentBack { from } => self.recorder.error(format!(
                "client {}: cursor went back from {from} to {} within server run {}",
                self.id, answer.next, answer.epoch
            )),
        }
        RunCheck::Same
    }

    /// The `after` for the next poll.
    pub fn poll_after(&self) -> u64 {
        self.session.resume_after()
    }

    /// The `after` a stream resumes from: none for a client that has not heard from the server yet (it starts
    /// live), the session's cursor otherwise (as `Last-Event-ID` would).
    pub fn stream_after(&self) -> Option<u64> {
        self.session.cursor()
    }
}

/// How a session ended, when not by an error.
pub enum SessionEnd {
    /// The server restarted: the stream was opened into the old run's numbering and must be opened again from #1
    /// of the new one.
    Restarted,
}

/// Runs one client until `stop` says so: a session per connection, reconnecting with back-off when one fails.
pub async fn drive(mut client: Client, mut stop: watch::Receiver<bool>) {
    loop {
        let transport = client.plan.transport;
        let session = async {
            match transport {
                LoadTransport::ShortPoll => short_poll::session(&mut client).await,
                LoadTransport::LongPoll => long_poll::session(&mut client).await,
                LoadTransport::Sse => sse::session(&mut client).await,
                LoadTransport::WebSocket => web_socket::session(&mut client).await,
                LoadTransport::HttpStream => http_stream::session(&mut client).await,
                LoadTransport::SocketIo => socket_io::session(&mut client).await,
                LoadTransport::Mqtt | LoadTransport::MqttTcp => mqtt::session(&mut client).await,
                LoadTransport::Grpc => grpc::session(&mut client).await,
            }
        };
        let error: LoadError = tokio::select! {
            result = session => match result {
                // Not a failure: the server is there, and has just said where to start.
                Ok(SessionEnd::Restarted) => continue,
                Err(error) => error,
            },
            () = stopped(&mut stop) => return,
        };
        client.recorder.error(format!("client {}: {error}", client.id));
        // Random, so a crowd of clients refused (or dropped by a restart) at once does not come back at once.
        let delay = Duration::from_millis(client.session.failed(rand::random()).into());
        if !client.ever_connected() && client.session.failures() >= CONNECT_ATTEMPTS {
            client.recorder.gave_up();
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = stopped(&mut stop) => return,
        }
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the controller is gone, which is a stop too.
    let _ = stop.wait_for(|stop| *stop).await;
}

type Socket = WebSocketStream<CountingStream<TcpStream>>;

/// A WebSocket on the client's own counted TCP connection; the upgrade request counts as a request.
async fn open_web_socket(client: &Client, url: &str) -> Result<Socket, LoadError> {
    open_web_socket_to(client.target(), &client.recorder, url, None).await
}

/// The same, to any target, asking for `subprotocol` (tungstenite refuses an answer that does not choose it).
async fn open_web_socket_to(
    target: &Target,
    recorder: &Recorder,
    url: &str,
    subprotocol: Option<&'static str>,
) -> Result<Socket, LoadError> {
    let stream = target.connect(recorder.clone()).await?;
    recorder.request();
    let mut request = url.into_client_request()?;
    if let Some(subprotocol) = subprotocol {
        request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static(subprotocol));
    }
    // tungstenite's defaults are 128 KiB read and write buffers per socket: 2.5 GB for 10,000 clients that each
    // receive a few hundred bytes a second.
    let config = WebSocketConfig::default().read_buffer_size(4 * 1024).write_buffer_size(0);
    let (socket, _response) = client_async_with_config(request, stream, Some(config)).await?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use protocol::{Epoch, EventBody};
    use tokio::sync::Semaphore;

    use super::*;
    use crate::stats::{now_unix_micros, Metrics, Totals};

    fn client(start: ClientSession) -> (Client, Arc<Metrics>) {
        let metrics = Metrics::new();
        metrics.set_measuring(true);
        let target = Target { addr: ([127, 0, 0, 1], 9).into(), authority: "127.0.0.1:9".into() };
        let plan = Plan {
            transport: LoadTransport::ShortPoll,
            targets: vec![target],
            start,
            poll_interval: Duration::from_secs(1),
            long_poll_timeout_seconds: 25,
            mqtt: None,
        };
        let permit = Arc::new(Semaphore::new(1)).try_acquire_owned().expect("a free permit");
        (Client::new(0, Arc::new(plan), metrics.recorder(0), permit), metrics)
    }

    fn event(seq: u64) -> Arc<Event> {
        Arc::new(Event { seq, emitted_at: now_unix_micros(), body: EventBody::Tick { n: seq, filler: String::new() } })
    }

    fn answer(epoch: &str, seqs: &[u64], next: u64) -> PollResponse {
        PollResponse { epoch: Epoch(epoch.into()), events: seqs.iter().copied().map(event).collect(), next, gap: None }
    }

    fn hello(epoch: &str, head_seq: u64) -> StreamHello {
        StreamHello { epoch: Epoch(epoch.into()), head_seq, exchange: 0, instance: None }
    }

    /// (deliveries, missed, duplicates, out of order, restarts)
    fn counts(totals: Totals) -> (u64, u64, u64, u64, u64) {
        (totals.deliveries, totals.missed, totals.duplicates, totals.out_of_order, totals.restarts)
    }

    #[test]
    fn each_arrival_is_recorded_as_the_session_judges_it() {
        let (mut client, metrics) = client(ClientSession::starting_after(0, Epoch("a".into())));
        client.event(&event(1));
        assert_eq!(counts(metrics.totals()), (1, 0, 0, 0, 0), "in order");
        client.event(&event(4));
        assert_eq!(counts(metrics.totals()), (2, 2, 0, 0, 0), "after a loss of two");
        client.event(&event(2));
        assert_eq!(counts(metrics.totals()), (3, 1, 0, 1, 0), "late: no longer missed, but out of order");
        client.event(&event(2));
        assert_eq!(counts(metrics.totals()), (3, 1, 1, 1, 0), "a duplicate");
        client.gap(Gap { from: 5, to: 7 });
        assert_eq!(counts(metrics.totals()), (3, 4, 1, 1, 0), "a gap is missed");
        assert_eq!(client.poll_after(), 7);
    }

    #[test]
    fn a_poll_answer_from_a_new_run_is_not_counted_and_the_next_poll_asks_from_1() {
        let (mut client, metrics) = client(ClientSession::starting_after(10, Epoch("a".into())));
        assert_eq!(client.answer(&answer("a", &[11, 12], 12)), RunCheck::Same);
        assert_eq!(client.answer(&answer("a", &[], 12)), RunCheck::Same);
        // Asked after 12, the new run answers with what it has after 12 (its cursor means nothing there).
        assert_eq!(client.answer(&answer("b", &[13], 13)), RunCheck::Restarted);
        assert_eq!(client.poll_after(), 0);
        assert_eq!(client.answer(&answer("b", &[1, 2, 3], 3)), RunCheck::Same);
        assert_eq!(client.answer(&answer("b", &[4], 4)), RunCheck::Same);
        assert_eq!(counts(metrics.totals()), (6, 0, 0, 0, 1));
        assert_eq!(metrics.totals().errors, 0);
    }

    #[test]
    fn a_poll_answer_whose_next_skips_events_counts_them_missed() {
        let (mut client, metrics) = client(ClientSession::starting_after(10, Epoch("a".into())));
        client.answer(&answer("a", &[11], 14));
        assert_eq!(counts(metrics.totals()), (1, 3, 0, 0, 0));
        assert_eq!(client.poll_after(), 14);
    }

    #[test]
    fn a_stream_resumes_in_its_run_and_opens_again_from_1_after_a_restart() {
        let (mut client, metrics) = client(ClientSession::new());
        assert_eq!(client.stream_after(), None, "the first stream starts live");
        assert_eq!(client.hello(&hello("a", 10)), RunCheck::Same);
        client.event(&event(11));
        // Dropped and resumed in the same run: the cursor is kept.
        assert_eq!(client.stream_after(), Some(11));
        assert_eq!(client.hello(&hello("a", 12)), RunCheck::Same);
        client.event(&event(12));
        // Resumed after 12 into a new run: that stream's backlog would be the wrong one, so it is opened again.
        assert_eq!(client.hello(&hello("b", 2)), RunCheck::Restarted);
        assert_eq!(client.stream_after(), Some(0));
        assert_eq!(client.hello(&hello("b", 3)), RunCheck::Same);
        for seq in 1..=4 {
            client.event(&event(seq));
        }
        assert_eq!(counts(metrics.totals()), (6, 0, 0, 0, 1));
        assert_eq!(metrics.connected(), 1);
    }
}
