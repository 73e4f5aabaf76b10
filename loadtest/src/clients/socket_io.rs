//! socket.io: Engine.IO v4 straight over a WebSocket (`/socket.io/?EIO=4&transport=websocket`), as a socket.io
//! client ends up once upgraded. Framing lives in [`crate::engine_io`].

use protocol::{Event, StreamHello};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use super::{Client, Never};
use crate::engine_io::{self, EnginePacket, SocketPacket, CONNECT_DEFAULT_NAMESPACE};
use crate::error::LoadError;

pub async fn session(client: &mut Client) -> Result<Never, LoadError> {
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", client.plan.target.authority);
    let mut socket = super::open_web_socket(client, &url).await?;
    while let Some(message) = socket.next().await {
        let text = match message? {
            Message::Text(text) => text,
            Message::Close(frame) => return Err(LoadError::Protocol(format!("closed by the server: {frame:?}"))),
            _ => continue,
        };
        let packet = engine_io::parse(text.as_str()).map_err(|error| LoadError::Protocol(error.to_string()))?;
        match packet {
            EnginePacket::Open(_) => socket.send(Message::text(CONNECT_DEFAULT_NAMESPACE)).await?,
            // Engine.IO v4 servers ping; a client that does not pong within pingTimeout is dropped.
            EnginePacket::Ping(payload) => socket.send(Message::text(engine_io::pong(payload))).await?,
            EnginePacket::Message(SocketPacket::Connect { .. }) => client.mark_connected(),
            EnginePacket::Message(SocketPacket::Event { name, data, .. }) => match name.as_str() {
                "event" => client.event(&serde_json::from_value::<Event>(data)?),
                // A peer may announce its head the way the lab's streams do; only `head_seq` matters here.
                "hello" => {
                    if let Some(head_seq) = data.get("head_seq").and_then(|head| head.as_u64()) {
                        let epoch = protocol::Epoch(String::new());
                        client.hello(&StreamHello { epoch, head_seq, exchange: 0 });
                    }
                }
                _ => {}
            },
            EnginePacket::Message(SocketPacket::ConnectError { message, .. }) => {
                return Err(LoadError::Protocol(format!("socket.io connect error: {message}")))
            }
            EnginePacket::Message(SocketPacket::Disconnect { .. }) | EnginePacket::Close => {
                return Err(LoadError::Closed)
            }
            EnginePacket::Message(SocketPacket::Ack)
            | EnginePacket::Pong
            | EnginePacket::Upgrade
            | EnginePacket::Noop => {}
        }
    }
    Err(LoadError::Closed)
}
