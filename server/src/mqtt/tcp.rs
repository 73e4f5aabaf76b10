//! MQTT over plain TCP (`--mqtt-addr`), the way devices and desktop tools speak it (`mosquitto_sub`, MQTT
//! Explorer, a microcontroller): the same broker and the same events as the page's lane, without the WebSocket.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::host::{MqttHost, ToSocket};
use crate::api::admission::Admission;
use crate::core::stats::LabCounters;

/// How long a write may wait for a client that has stopped reading before the connection is given up.
const WRITE_PATIENCE: Duration = Duration::from_secs(10);
/// Read buffer per connection; a packet bigger than this arrives over several reads.
const READ_BUFFER_BYTES: usize = 4096;

/// Accepts MQTT clients on `listener` until the process ends. Connections count against the same caps as the
/// WebSocket lane's.
pub async fn serve_tcp(listener: TcpListener, host: MqttHost, admission: Admission, counters: LabCounters) {
    loop {
        let (stream, address) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors, say: wait rather than spin, and keep serving the ones already open.
                tracing::warn!("MQTT listener: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let permit = match admission.admit(&counters, protocol::Transport::Mqtt, address.ip()) {
            Ok(permit) => permit,
            Err(refusal) => {
                tracing::info!(%address, "MQTT connection refused: {refusal}");
                continue;
            }
        };
        let host = host.clone();
        tokio::spawn(async move {
            connection(stream, address, host).await;
            drop(permit);
        });
    }
}

async fn connection(stream: TcpStream, address: SocketAddr, host: MqttHost) {
    let _ = stream.set_nodelay(true);
    let _open = host.counters().open();
    let mut link = host.connect(address.ip(), Vec::new());
    let (mut reader, mut writer) = stream.into_split();
    let mut buffer = vec![0; READ_BUFFER_BYTES];
    loop {
        tokio::select! {
            out = link.outgoing.recv() => match out {
                Some(ToSocket::Packet { bytes, packet }) => {
                    match tokio::time::timeout(WRITE_PATIENCE, writer.write_all(&bytes)).await {
                        Ok(Ok(())) => {}
                        _ => break,
                    }
                    if packet.seq.is_some() {
                        host.counters().delivered(1, packet.payload_len);
                    }
                }
                Some(ToSocket::Close { reason }) => {
                    tracing::debug!(%address, "MQTT connection closed by the broker: {reason}");
                    break;
                }
                None => break,
            },
            read = reader.read(&mut buffer) => match read {
                Ok(0) | Err(_) => break,
                Ok(count) => host.receive(link.id, &buffer[..count]),
            },
        }
    }
    let _ = writer.shutdown().await;
}
