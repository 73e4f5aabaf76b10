//! socket.io: Engine.IO v4 straight over a WebSocket (`/socket.io/?EIO=4&transport=websocket`), as a socket.io
//! client ends up once upgraded. Framing lives in [`crate::engine_io`].

use futures::{SinkExt, StreamExt};
use protocol::session::RunCheck;
use protocol::{Event, StreamHello};
use tokio_tungstenite::tungstenite::Message;

use super::{Client, SessionEnd};
use crate::engine_io::{self, EnginePacket, SocketPacket, CONNECT_DEFAULT_NAMESPACE};
use crate::error::LoadError;

pub async fn session(client: &mut Client) -> Result<SessionEnd, LoadError> {
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", client.target().authority);
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
            EnginePacket::Message(SocketPacket::Connect { .. }) => client.answered(),
            EnginePacket::Message(SocketPacket::Event { name, data, .. }) => match name.as_str() {
                "event" => client.event(&serde_json::from_value::<Event>(data)?),
                // The peer announces its run and head as the lab's streams do. It has no way to resume, so after a
                // restart opening again would not help: the new run's events before this hello are lost to it.
                "hello" => {
                    let _: RunCheck = client.hello(&serde_json::from_value::<StreamHello>(data)?);
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
