//! A page's MQTT connection, for tests: tungstenite for the WebSocket (subprotocol `mqtt`), mqtt5-protocol for the
//! packets, one whole packet per `next()` however the frames split them.

use std::time::Duration;

use bytes::{Buf, BytesMut};
use futures::{SinkExt, StreamExt};
use mqtt5_protocol::packet::connect::ConnectPacket;
use mqtt5_protocol::packet::subscribe::SubscribePacket;
use mqtt5_protocol::packet::MqttPacket;
use mqtt5_protocol::{ConnectOptions, FixedHeader, Packet, QoS};
use protocol::{mqtt, routes, ClientId};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::TestServer;

pub const WAIT: Duration = Duration::from_secs(10);

pub struct MqttSocket {
    pub socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Bytes received and not yet a whole packet.
    pending: BytesMut,
}

impl MqttSocket {
    pub async fn open(server: &TestServer) -> Self {
        Self::open_at(server, routes::MQTT).await
    }

    /// A socket tagged as page `client`'s, as the page's lane opens it (faults and byte records key on it).
    pub async fn open_as(server: &TestServer, client: &str) -> Self {
        Self::open_at(
            server,
            &routes::MqttQuery { client: Some(ClientId::try_from(client.to_owned()).unwrap()) }.web_socket_path(),
        )
        .await
    }

    async fn open_at(server: &TestServer, path: &str) -> Self {
        Self::open_url(&server.ws_url(path)).await
    }

    /// A socket to the broker at `ws_url` (`ws://host:port/api/mqtt`), for a lab this process did not start.
    pub async fn open_url(ws_url: &str) -> Self {
        let mut request = ws_url.into_client_request().unwrap();
        request.headers_mut().insert("sec-websocket-protocol", mqtt::SUBPROTOCOL.parse().unwrap());
        let (socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
        assert_eq!(response.headers()["sec-websocket-protocol"], mqtt::SUBPROTOCOL);
        Self { socket, pending: BytesMut::new() }
    }

    pub async fn send(&mut self, packet: &impl MqttPacket) {
        let mut bytes = BytesMut::new();
        packet.encode(&mut bytes).unwrap();
        self.socket.send(Message::binary(bytes.freeze())).await.unwrap();
    }

    /// The next whole packet, or `None` once the broker has closed the socket.
    pub async fn next(&mut self) -> Option<Packet> {
        loop {
            if let Some(packet) = self.take_packet() {
                return Some(packet);
            }
            match timeout(WAIT, self.socket.next()).await.expect("the broker said nothing for 10 s") {
                Some(Ok(Message::Binary(bytes))) => self.pending.extend_from_slice(&bytes),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => {}
            }
        }
    }

    fn take_packet(&mut self) -> Option<Packet> {
        let mut peek = &self.pending[..];
        let header = FixedHeader::decode(&mut peek).ok()?;
        let header_len = self.pending.len() - peek.len();
        let total = header_len + header.remaining_length as usize;
        if self.pending.len() < total {
            return None;
        }
        let mut body = self.pending.split_to(total);
        body.advance(header_len);
        Some(Packet::decode_from_body_with_version(header.packet_type, &header, &mut body, 5).unwrap())
    }

    pub async fn connect(&mut self, options: ConnectOptions) -> mqtt5_protocol::packet::connack::ConnAckPacket {
        self.send(&ConnectPacket::new(options)).await;
        match self.next().await {
            Some(Packet::ConnAck(connack)) => connack,
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    pub async fn subscribe(&mut self, filter: &str, qos: QoS) {
        self.send(&SubscribePacket::new(1).add_filter(filter, qos)).await;
        assert!(matches!(self.next().await, Some(Packet::SubAck(_))));
    }

    /// The next PUBLISH, skipping nothing else: any other packet here is a failure.
    pub async fn publish(&mut self) -> mqtt5_protocol::packet::publish::PublishPacket {
        match self.next().await {
            Some(Packet::Publish(publish)) => publish,
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }
}

pub fn seq_of(publish: &mqtt5_protocol::packet::publish::PublishPacket) -> u64 {
    publish.properties.get_user_property_value(mqtt::SEQ_PROPERTY).unwrap().parse().unwrap()
}
