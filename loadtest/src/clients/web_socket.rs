//! WebSocket: `GET /api/ws`, then a JSON text frame per event (a binary frame for an audio clip).

use futures::StreamExt;
use protocol::routes::StreamQuery;
use protocol::session::RunCheck;
use protocol::{decode_audio_frame, WsServerMessage};
use tokio_tungstenite::tungstenite::Message;

use super::{Client, SessionEnd};
use crate::error::LoadError;

pub async fn session(client: &mut Client) -> Result<SessionEnd, LoadError> {
    let query = StreamQuery { after: client.stream_after(), client: None };
    let url = format!("ws://{}{}", client.target().authority, query.web_socket_path());
    let mut socket = super::open_web_socket(client, &url).await?;
    // Reading is also what answers the server's pings: tungstenite queues the pong and sends it on the next read.
    while let Some(message) = socket.next().await {
        let text = match message? {
            Message::Text(text) => text,
            // An audio event (`POST /api/audio`) is one binary frame, counted like any other event.
            Message::Binary(frame) => {
                client.event(&decode_audio_frame(&frame).map_err(|error| LoadError::Protocol(error.to_string()))?);
                continue;
            }
            Message::Close(frame) => return Err(LoadError::Protocol(format!("closed by the server: {frame:?}"))),
            _ => continue,
        };
        match serde_json::from_str::<WsServerMessage>(text.as_str())? {
            WsServerMessage::Hello(hello) => {
                if client.hello(&hello) == RunCheck::Restarted {
                    return Ok(SessionEnd::Restarted);
                }
            }
            WsServerMessage::Event(event) => client.event(&event),
            WsServerMessage::Gap(gap) => client.gap(gap),
            WsServerMessage::Ack { .. } => {}
            WsServerMessage::Error { error, message } => {
                client.recorder.error(format!("error frame: {error}: {message}"))
            }
        }
    }
    Err(LoadError::Closed)
}
