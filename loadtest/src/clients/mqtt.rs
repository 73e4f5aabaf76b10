//! MQTT 5, over the broker's WebSocket (subprotocol `mqtt`, one packet per binary frame) or over plain TCP: CONNECT
//! with a clean start, SUBSCRIBE `lab/events/#` at the run's QoS, then one PUBLISH per event, answered (PUBACK at
//! QoS 1) by the protocol's sans-IO [`MqttClient`], the same one the page's lane drives. Each PUBLISH names its
//! event's `seq` and server run (`epoch`) in user properties, and carries the WebSocket lane's event JSON, whose
//! `emitted_at` gives the latency.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use protocol::mqtt::{
    ClientSettings, Delivery, Incoming, MqttClient, Outgoing, Qos, Received, DEFAULT_KEEP_ALIVE_SECS, EVENTS_FILTER,
    SUBPROTOCOL,
};
use protocol::{routes, ScaleServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, Instant};
use tokio_tungstenite::tungstenite::Message;

use super::{open_web_socket_to, Client, SessionEnd, Socket};
use crate::counting::CountingStream;
use crate::error::LoadError;
use crate::http::Target;
use crate::stats::Recorder;

/// The page's default keep-alive: a PINGREQ after 30 s with nothing else sent, about as often as the lab and `ws`
/// ping their WebSockets (every 20 s). At QoS 1 the PUBACKs keep the connection alive and no PINGREQ is needed.
pub const KEEP_ALIVE_SECS: u16 = DEFAULT_KEEP_ALIVE_SECS;
/// What one read of a TCP connection takes at most: a few events' PUBLISHes; a bigger packet arrives over several
/// reads and the [`MqttClient`] puts it together (up to its own packet limit).
const TCP_READ_BUFFER_BYTES: usize = 4096;
/// Mosquitto's WebSocket listener answers on any path; this is the one its documentation and most tools use.
const MOSQUITTO_WEB_SOCKET_PATH: &str = "/mqtt";

/// Runs started by this process, so two runs against one broker never share a client id (a second CONNECT with
/// the same id would take the first one's session over).
static RUNS: AtomicU32 = AtomicU32::new(0);

/// Where every client of a run connects and what it asks for.
#[derive(Clone, Debug)]
pub struct MqttPlan {
    pub endpoint: Endpoint,
    pub qos: Qos,
    /// Each client's id is this plus its number: short and alphanumeric, as every broker must accept
    /// [MQTT-3.1.3-5].
    pub client_id_prefix: String,
}

#[derive(Clone, Debug)]
pub enum Endpoint {
    WebSocket { target: Target, url: String },
    Tcp(Target),
}

impl MqttPlan {
    /// Over WebSocket, the broker is at `target` (the lab's `/api/mqtt`, Mosquitto's `/mqtt`); over TCP, at its
    /// own `host:port`.
    pub fn new(server: ScaleServer, target: &Target, tcp: Option<Target>, qos: Qos) -> Self {
        let endpoint = match tcp {
            Some(tcp) => Endpoint::Tcp(tcp),
            None => {
                let path = if server == ScaleServer::Mosquitto { MOSQUITTO_WEB_SOCKET_PATH } else { routes::MQTT };
                Endpoint::WebSocket { target: target.clone(), url: format!("ws://{}{path}", target.authority) }
            }
        };
        let run = RUNS.fetch_add(1, Ordering::Relaxed);
        Self { endpoint, qos, client_id_prefix: format!("tl{}r{run}", std::process::id()) }
    }

    pub fn client_id(&self, client: usize) -> String {
        format!("{}c{client}", self.client_id_prefix)
    }

    /// What a subscriber asks for: every event at the run's QoS, and no session kept between connections (clean
    /// start): like the other transports' clients, a reconnect starts live.
    pub fn subscriber_settings(&self) -> ClientSettings {
        ClientSettings {
            filter: EVENTS_FILTER.to_owned(),
            qos: self.qos,
            keep_session: false,
            keep_alive_secs: KEEP_ALIVE_SECS,
        }
    }
}

pub async fn session(client: &mut Client) -> Result<SessionEnd, LoadError> {
    let plan = client.plan.clone();
    let mqtt_plan = plan.mqtt.as_ref().ok_or_else(|| LoadError::Protocol("an MQTT run without a broker".into()))?;
    let settings = mqtt_plan.subscriber_settings();
    let mut link = Link::open(&mqtt_plan.endpoint, &client.recorder).await?;
    let mut mqtt = MqttClient::new(mqtt_plan.client_id(client.id));
    link.send(mqtt.connect(&settings)?).await?;
    let mut keep_alive = KeepAlive::new(settings.keep_alive_secs);
    loop {
        let incoming = tokio::select! {
            incoming = link.receive(&mut mqtt) => incoming?,
            () = sleep_until(keep_alive.ping_at) => {
                link.send(mqtt.ping()?).await?;
                keep_alive.sent();
                continue;
            }
        };
        for packet in incoming {
            if let Some(answer) = packet.answer {
                link.send(answer).await?;
                keep_alive.sent();
            }
            match packet.received {
                Received::ConnAck { session_present, reason_code, server_keep_alive, .. } => {
                    refused("CONNACK", reason_code)?;
                    if let Some(seconds) = server_keep_alive {
                        keep_alive = KeepAlive::new(seconds);
                    }
                    for packet in mqtt.after_connack(&settings, session_present)? {
                        link.send(packet).await?;
                        keep_alive.sent();
                    }
                }
                Received::SubAck { granted } => {
                    for reason_code in granted {
                        refused("SUBACK", reason_code)?;
                    }
                    // Subscribed: from here on, every event published reaches this client.
                    client.answered();
                }
                Received::Delivery(delivery) => deliver(client, &delivery)?,
                Received::Disconnect { reason_code } => {
                    return Err(LoadError::MqttRefused { packet: "DISCONNECT", reason_code })
                }
                Received::UnsubAck
                | Received::Repeated { .. }
                | Received::Released { .. }
                | Received::Acked { .. }
                | Received::PingResp
                | Received::Unexpected => {}
            }
        }
    }
}

/// One delivered PUBLISH into the client's session: its run, then its event.
fn deliver(client: &mut Client, delivery: &Delivery) -> Result<(), LoadError> {
    if let Some(epoch) = &delivery.epoch {
        client.message_run(epoch);
    }
    let delivered = delivery.event()?;
    if delivered.timed {
        client.event(&delivered.event);
    } else {
        client.untimed_event(delivered.event.seq);
    }
    Ok(())
}

/// MQTT 5 reason codes below 0x80 are successes (0x10 "no matching subscribers" included).
pub fn refused(packet: &'static str, reason_code: u8) -> Result<(), LoadError> {
    if reason_code < 0x80 {
        Ok(())
    } else {
        Err(LoadError::MqttRefused { packet, reason_code })
    }
}

/// When the next PINGREQ is due: keep-alive seconds after the last packet sent [MQTT-3.1.2-20]. A keep-alive of 0
/// means the broker expects none.
pub struct KeepAlive {
    every: Option<Duration>,
    pub ping_at: Instant,
}

/// Far enough never to come in a run, near enough not to overflow an `Instant`.
const NEVER: Duration = Duration::from_secs(365 * 24 * 3600);

impl KeepAlive {
    pub fn new(seconds: u16) -> Self {
        let every = (seconds > 0).then(|| Duration::from_secs(seconds.into()));
        Self { every, ping_at: Instant::now() + every.unwrap_or(NEVER) }
    }

    pub fn sent(&mut self) {
        self.ping_at = Instant::now() + self.every.unwrap_or(NEVER);
    }
}

/// One MQTT connection's bytes, however they travel.
// One per connection, never in a collection: the WebSocket variant's size costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
pub enum Link {
    WebSocket(Socket),
    Tcp { stream: CountingStream<TcpStream>, buffer: Box<[u8]> },
}

impl Link {
    pub async fn open(endpoint: &Endpoint, recorder: &Recorder) -> Result<Self, LoadError> {
        Ok(match endpoint {
            Endpoint::WebSocket { target, url } => {
                Link::WebSocket(open_web_socket_to(target, recorder, url, Some(SUBPROTOCOL)).await?)
            }
            Endpoint::Tcp(target) => Link::Tcp {
                stream: target.connect(recorder.clone()).await?,
                buffer: vec![0; TCP_READ_BUFFER_BYTES].into_boxed_slice(),
            },
        })
    }

    pub async fn send(&mut self, packet: Outgoing) -> Result<(), LoadError> {
        match self {
            Link::WebSocket(socket) => socket.send(Message::binary(packet.bytes)).await?,
            Link::Tcp { stream, .. } => stream.write_all(&packet.bytes).await?,
        }
        Ok(())
    }

    /// What arrives next, handed to `mqtt`: the packets it completed (none when it was a piece of one).
    /// Cancel-safe: nothing is read unless it is also handed over.
    pub async fn receive(&mut self, mqtt: &mut MqttClient) -> Result<Vec<Incoming>, LoadError> {
        match self {
            Link::WebSocket(socket) => loop {
                // Reading is also what answers the WebSocket's own pings (tungstenite queues the pong).
                match socket.next().await.ok_or(LoadError::Closed)?? {
                    Message::Binary(bytes) => return Ok(mqtt.receive(&bytes)?),
                    Message::Close(frame) => {
                        return Err(LoadError::Protocol(format!("closed by the server: {frame:?}")))
                    }
                    Message::Text(_) => {
                        return Err(LoadError::Protocol("a text frame: MQTT over WebSocket is binary only".into()))
                    }
                    Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
                }
            },
            Link::Tcp { stream, buffer } => match stream.read(buffer).await? {
                0 => Err(LoadError::Closed),
                count => Ok(mqtt.receive(&buffer[..count])?),
            },
        }
    }

    /// Sends `last` (a DISCONNECT) and closes: a clean end, so the broker publishes no will.
    pub async fn close_with(mut self, last: Outgoing) -> Result<(), LoadError> {
        self.send(last).await?;
        match &mut self {
            Link::WebSocket(socket) => socket.close(None).await?,
            Link::Tcp { stream, .. } => stream.shutdown().await?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target { addr: ([127, 0, 0, 1], 3240).into(), authority: "127.0.0.1:3240".into() }
    }

    #[test]
    fn the_web_socket_path_is_the_lab_route_or_mosquittos() {
        let lab = MqttPlan::new(ScaleServer::Lab, &target(), None, Qos::AtMostOnce);
        assert!(matches!(&lab.endpoint, Endpoint::WebSocket { url, .. } if url == "ws://127.0.0.1:3240/api/mqtt"));
        let mosquitto = MqttPlan::new(ScaleServer::Mosquitto, &target(), None, Qos::AtMostOnce);
        assert!(matches!(&mosquitto.endpoint, Endpoint::WebSocket { url, .. } if url == "ws://127.0.0.1:3240/mqtt"));
        let tcp = MqttPlan::new(ScaleServer::Lab, &target(), Some(target()), Qos::AtLeastOnce);
        assert!(matches!(tcp.endpoint, Endpoint::Tcp(_)));
    }

    #[test]
    fn client_ids_are_short_alphanumeric_and_differ_between_runs() {
        let first = MqttPlan::new(ScaleServer::Lab, &target(), None, Qos::AtMostOnce);
        let second = MqttPlan::new(ScaleServer::Lab, &target(), None, Qos::AtMostOnce);
        let id = first.client_id(9_999);
        assert!(id.len() <= 23 && id.chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
        assert_ne!(id, second.client_id(9_999));
    }

    #[test]
    fn subscribers_start_clean_on_every_event_at_the_runs_qos() {
        let plan = MqttPlan::new(ScaleServer::Lab, &target(), None, Qos::AtLeastOnce);
        let settings = plan.subscriber_settings();
        assert_eq!(
            (settings.filter.as_str(), settings.qos, settings.keep_session),
            ("lab/events/#", Qos::AtLeastOnce, false)
        );
        settings.check().unwrap();
    }

    #[test]
    fn reason_codes_from_0x80_are_refusals() {
        assert!(refused("PUBACK", 0x00).is_ok());
        assert!(refused("PUBACK", 0x10).is_ok(), "no matching subscribers is a success");
        assert!(matches!(refused("SUBACK", 0x87), Err(LoadError::MqttRefused { packet: "SUBACK", reason_code: 0x87 })));
    }

    #[tokio::test]
    async fn keep_alive_zero_never_pings() {
        let never = KeepAlive::new(0);
        assert!(never.ping_at > Instant::now() + Duration::from_secs(3600));
        let mut every = KeepAlive::new(30);
        let first = every.ping_at;
        tokio::time::sleep(Duration::from_millis(5)).await;
        every.sent();
        assert!(every.ping_at > first, "a packet sent moves the next ping");
    }
}
