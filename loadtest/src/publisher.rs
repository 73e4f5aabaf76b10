//! The events of a run against Mosquitto, which has no event generator: one more MQTT client that publishes the
//! lab's tick events at the run's rate and payload, to `lab/events/tick` at QoS 1, with the `seq` and `epoch` user
//! properties the lab's broker sets. Every subscriber then checks them exactly as it checks the lab's.
//!
//! Its ticks fall on exact deadlines from its start, as the lab's generator's and the Node peers' do; a late tick
//! is published at once, not skipped. It connects where the subscribers do (TCP or WebSocket). Its bytes and CPU
//! are the load tool's, not the broker's.

use std::sync::Arc;
use std::time::Duration;

use mqtt5_protocol::packet::publish::PublishPacket;
use mqtt5_protocol::packet::MqttPacket;
use mqtt5_protocol::QoS;
use protocol::mqtt::{
    ClientSettings, MqttClient, Outgoing, PacketInfo, PacketKind, Qos, Received, EPOCH_PROPERTY, SEQ_PROPERTY,
};
use protocol::{Epoch, Event, EventBody, WsServerMessage};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, timeout, Instant};

use crate::clients::mqtt::{refused, KeepAlive, Link, MqttPlan, KEEP_ALIVE_SECS};
use crate::error::LoadError;
use crate::stats::{now_unix_micros, Metrics};

/// QoS 1 publishes the broker may have unacknowledged: under Mosquitto's default Receive Maximum (20), so the
/// broker never has to refuse one. At the suite's rates (≤ 10/s) acknowledgements come back long before this fills;
/// if it does, the tick is dropped and counted as an error, and every subscriber counts it missed.
const MAX_UNACKNOWLEDGED: usize = 16;
/// How long the broker has to accept the publisher's CONNECT.
const CONNACK_TIMEOUT: Duration = Duration::from_secs(10);

/// What to publish.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub rate: f64,
    pub payload_bytes: u32,
}

/// A running publisher; [`Publisher::stop`] ends it.
pub struct Publisher {
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<u64, LoadError>>,
}

impl Publisher {
    /// Connects (and waits for the CONNACK, so a broker that refuses fails the run before its window), then
    /// publishes until stopped. Its errors are recorded in `metrics` (the run's); its bytes are not.
    pub async fn start(plan: &MqttPlan, schedule: Schedule, metrics: Arc<Metrics>) -> Result<Self, LoadError> {
        // Its own counters: what the publisher writes is not what the clients received.
        let recorder = Metrics::new().recorder(0);
        let mut link = Link::open(&plan.endpoint, &recorder).await?;
        let mut mqtt = MqttClient::new(format!("{}pub", plan.client_id_prefix));
        let settings = ClientSettings { keep_session: false, keep_alive_secs: KEEP_ALIVE_SECS, ..Default::default() };
        link.send(mqtt.connect(&settings)?).await?;
        let mut keep_alive = KeepAlive::new(settings.keep_alive_secs);
        timeout(CONNACK_TIMEOUT, async {
            loop {
                for packet in link.receive(&mut mqtt).await? {
                    if let Received::ConnAck { reason_code, server_keep_alive, .. } = packet.received {
                        refused("CONNACK", reason_code)?;
                        if let Some(seconds) = server_keep_alive {
                            keep_alive = KeepAlive::new(seconds);
                        }
                        return Ok::<(), LoadError>(());
                    }
                }
            }
        })
        .await
        .map_err(|_| LoadError::Protocol(format!("no CONNACK for the publisher within {CONNACK_TIMEOUT:?}")))??;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(publish(link, mqtt, keep_alive, schedule, metrics, stopped));
        Ok(Self { stop, task })
    }

    /// Stops publishing, says DISCONNECT, and returns how many events were published.
    pub async fn stop(self) -> Result<u64, LoadError> {
        let _ = self.stop.send(true);
        self.task.await.map_err(|error| LoadError::Protocol(format!("the publisher failed: {error}")))?
    }
}

async fn publish(
    mut link: Link,
    mut mqtt: MqttClient,
    mut keep_alive: KeepAlive,
    schedule: Schedule,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) -> Result<u64, LoadError> {
    // A new run name per publisher, as a restarted lab names a new run: the subscribers' order check knows runs.
    let epoch = Epoch(format!("load{}", now_unix_micros()));
    let period = Duration::from_secs_f64(1.0 / schedule.rate);
    let start = Instant::now();
    let mut seq = 0;
    let mut packet_ids = PacketIds::default();
    let mut unacknowledged = 0;
    loop {
        tokio::select! {
            // The guard `wait_for` returns is not `Send`: dropped inside the block.
            () = async { drop(stop.wait_for(|stop| *stop).await) } => break,
            () = sleep_until(start + period.mul_f64(seq as f64)) => {
                seq += 1;
                if unacknowledged >= MAX_UNACKNOWLEDGED {
                    metrics.error(format!("publisher: event #{seq} dropped, {unacknowledged} publishes unacknowledged"));
                    continue;
                }
                let event = tick(seq, schedule.payload_bytes, now_unix_micros());
                link.send(event_publish(&event, &epoch, packet_ids.next())?).await?;
                keep_alive.sent();
                unacknowledged += 1;
            }
            () = sleep_until(keep_alive.ping_at) => {
                link.send(mqtt.ping()?).await?;
                keep_alive.sent();
            }
            incoming = link.receive(&mut mqtt) => for packet in incoming? {
                match packet.received {
                    Received::Acked { reason_code, .. } => {
                        unacknowledged = unacknowledged.saturating_sub(1);
                        if let Err(error) = refused("PUBACK", reason_code) {
                            metrics.error(format!("publisher: {error}"));
                        }
                    }
                    Received::Disconnect { reason_code } => {
                        return Err(LoadError::MqttRefused { packet: "DISCONNECT", reason_code })
                    }
                    _ => {}
                }
            },
        }
    }
    link.close_with(mqtt.disconnect()?).await?;
    Ok(seq)
}

/// The lab generator's tick: `n` is the sequence number, and `filler` makes the payload `payload_bytes` longer.
fn tick(seq: u64, payload_bytes: u32, emitted_at: u64) -> Event {
    Event { seq, emitted_at, body: EventBody::Tick { n: seq, filler: filler(payload_bytes as usize) } }
}

/// Printable filler of exactly `bytes` bytes, as the lab's generator writes it.
fn filler(bytes: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..bytes).map(|i| char::from(ALPHABET[i % ALPHABET.len()])).collect()
}

/// The PUBLISH the lab's broker would send for `event`, at QoS 1: the WebSocket lane's event JSON, with the event's
/// `seq` and run as user properties.
fn event_publish(event: &Event, epoch: &Epoch, packet_id: u16) -> Result<Outgoing, LoadError> {
    let payload = WsServerMessage::Event(Arc::new(event.clone())).encode();
    let publish = PublishPacket::new(protocol::mqtt::event_topic(&event.body), payload.into_bytes(), QoS::AtLeastOnce)
        .with_packet_id(packet_id)
        .with_payload_format_indicator(true)
        .with_user_property(SEQ_PROPERTY.to_owned(), event.seq.to_string())
        .with_user_property(EPOCH_PROPERTY.to_owned(), epoch.to_string());
    let mut bytes = Vec::new();
    publish.encode(&mut bytes).map_err(|error| LoadError::Protocol(format!("encoding a PUBLISH: {error}")))?;
    let packet = PacketInfo {
        kind: PacketKind::Publish,
        packet_id: Some(packet_id),
        qos: Some(Qos::AtLeastOnce),
        dup: false,
        topic: Some(publish.topic_name.clone()),
        len: bytes.len(),
    };
    Ok(Outgoing { bytes, packet })
}

/// Packet ids 1..=65535, then 1 again (0 is not an id). At most [`MAX_UNACKNOWLEDGED`] are in use at once, so an
/// id comes round again long after its PUBACK.
#[derive(Default)]
struct PacketIds(u16);

impl PacketIds {
    fn next(&mut self) -> u16 {
        self.0 = self.0.checked_add(1).unwrap_or(1);
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The publisher's PUBLISH, as a subscriber's [`MqttClient`] reads it: the same event, its seq and run, QoS 1.
    #[test]
    fn a_subscriber_reads_the_published_tick_as_the_labs() {
        let event = tick(7, 100, 1_700_000_000_000_000);
        let sent = event_publish(&event, &Epoch("load1".into()), 42).unwrap();
        assert_eq!(sent.packet.label(), "PUBLISH q1 id=42");
        let mut subscriber = MqttClient::new("sub");
        let mut incoming = subscriber.receive(&sent.bytes).unwrap();
        assert_eq!(incoming.len(), 1);
        let packet = incoming.remove(0);
        assert_eq!(packet.answer.map(|answer| answer.packet.label()), Some("PUBACK id=42".to_owned()));
        let Received::Delivery(delivery) = packet.received else { panic!("not a delivery: {:?}", packet.received) };
        assert_eq!(delivery.topic, "lab/events/tick");
        assert_eq!((delivery.seq, delivery.epoch.clone()), (Some(7), Some(Epoch("load1".into()))));
        let delivered = delivery.event().unwrap();
        assert!(delivered.timed);
        assert_eq!(delivered.event, event);
        let EventBody::Tick { filler, .. } = &delivered.event.body else { panic!("not a tick") };
        assert_eq!(filler.len(), 100);
        assert!(std::str::from_utf8(&delivery.payload).unwrap().starts_with(r#"{"type":"event","seq":7,"#));
    }

    #[test]
    fn packet_ids_skip_zero_when_they_wrap() {
        let mut ids = PacketIds(u16::MAX - 1);
        assert_eq!([ids.next(), ids.next(), ids.next()], [u16::MAX, 1, 2]);
        assert_eq!(PacketIds::default().next(), 1);
    }

    #[test]
    fn filler_is_exactly_as_long_as_asked() {
        assert_eq!(filler(0), "");
        assert_eq!(filler(40).len(), 40);
        assert!(filler(40).starts_with("abcdefghijklmnopqrstuvwxyz0123456789abcd"));
    }
}
