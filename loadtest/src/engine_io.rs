//! The little of Engine.IO v4 and Socket.IO v5 a load client needs, over a WebSocket's text frames.
//!
//! Why not a socket.io client crate: `rust_socketio` is callback-based, runs its own threads and polling upgrade,
//! and keeps buffers per client that 10,000 clients on two cores cannot afford. Once upgraded, the protocol is a
//! one-character packet type in front of JSON, so parsing it here keeps each client one small task.
//!
//! Engine.IO: `0{open json}`, `1` close, `2` ping (the server sends it in v4), `3` pong, `4<socket.io packet>`,
//! `5` upgrade, `6` noop. Socket.IO inside a `4`: `<type>[<n>-][/nsp,][ack id][json]`, type `0` connect, `1`
//! disconnect, `2` event, `3` ack, `4` connect error, `5`/`6` binary event/ack.

use serde::Deserialize;
use serde_json::Value;

/// Engine.IO packet that connects the client to the default namespace `/`.
pub const CONNECT_DEFAULT_NAMESPACE: &str = "40";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FramingError {
    #[error("empty frame")]
    Empty,
    #[error("unknown engine.io packet type `{0}`")]
    UnknownEngineType(char),
    #[error("unknown socket.io packet type `{0}`")]
    UnknownSocketType(char),
    #[error("binary socket.io packets are not supported")]
    Binary,
    #[error("bad JSON in `{frame}`: {reason}")]
    Json { frame: String, reason: String },
}

/// The server's `0{...}` open packet.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Handshake {
    pub sid: String,
    #[serde(default)]
    pub ping_interval: u64,
    #[serde(default)]
    pub ping_timeout: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum EnginePacket<'a> {
    Open(Handshake),
    Close,
    /// Its payload, echoed back in the pong.
    Ping(&'a str),
    Pong,
    Message(SocketPacket),
    Upgrade,
    Noop,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SocketPacket {
    Connect {
        namespace: String,
    },
    Disconnect {
        namespace: String,
    },
    /// `["name", first argument, ...]`: the name and the first argument (our servers send one).
    Event {
        namespace: String,
        name: String,
        data: Value,
    },
    Ack,
    ConnectError {
        namespace: String,
        message: String,
    },
}

/// The pong answering a ping, carrying the same payload (`2probe` → `3probe`).
pub fn pong(ping_payload: &str) -> String {
    format!("3{ping_payload}")
}

pub fn parse(frame: &str) -> Result<EnginePacket<'_>, FramingError> {
    let mut chars = frame.chars();
    let kind = chars.next().ok_or(FramingError::Empty)?;
    let rest = chars.as_str();
    Ok(match kind {
        '0' => EnginePacket::Open(json(frame, rest)?),
        '1' => EnginePacket::Close,
        '2' => EnginePacket::Ping(rest),
        '3' => EnginePacket::Pong,
        '4' => EnginePacket::Message(parse_socket(frame, rest)?),
        '5' => EnginePacket::Upgrade,
        '6' => EnginePacket::Noop,
        other => return Err(FramingError::UnknownEngineType(other)),
    })
}

fn parse_socket(frame: &str, packet: &str) -> Result<SocketPacket, FramingError> {
    let mut chars = packet.chars();
    let kind = chars.next().ok_or(FramingError::Empty)?;
    let mut rest = chars.as_str();
    if matches!(kind, '5' | '6') {
        return Err(FramingError::Binary);
    }
    // The namespace is only written when it is not `/`, and then ends at a comma.
    let mut namespace = "/";
    if rest.starts_with('/') {
        let end = rest.find(',').unwrap_or(rest.len());
        namespace = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or("");
    }
    // An ack id is the digits before the JSON.
    let json_start = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    let body = &rest[json_start..];
    let namespace = namespace.to_string();
    Ok(match kind {
        '0' => SocketPacket::Connect { namespace },
        '1' => SocketPacket::Disconnect { namespace },
        '2' => {
            let mut arguments: Vec<Value> = json(frame, body)?;
            if arguments.is_empty() {
                return Err(FramingError::Json { frame: frame.to_string(), reason: "an event with no name".into() });
            }
            let name = match arguments.remove(0) {
                Value::String(name) => name,
                other => {
                    let reason = format!("event name {other} is not a string");
                    return Err(FramingError::Json { frame: frame.to_string(), reason });
                }
            };
            let data = if arguments.is_empty() { Value::Null } else { arguments.swap_remove(0) };
            SocketPacket::Event { namespace, name, data }
        }
        '3' => SocketPacket::Ack,
        '4' => {
            let message = serde_json::from_str::<Value>(body)
                .ok()
                .and_then(|value| value.get("message").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| body.to_string());
            SocketPacket::ConnectError { namespace, message }
        }
        other => return Err(FramingError::UnknownSocketType(other)),
    })
}

fn json<T: serde::de::DeserializeOwned>(frame: &str, text: &str) -> Result<T, FramingError> {
    serde_json::from_str(text)
        .map_err(|error| FramingError::Json { frame: frame.to_string(), reason: error.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn open_packet_gives_the_ping_timing() {
        let frame = r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
        let EnginePacket::Open(handshake) = parse(frame).unwrap() else { panic!("not an open packet") };
        assert_eq!(handshake.sid, "lv_VI97HAXpY6yYWAAAC");
        assert_eq!((handshake.ping_interval, handshake.ping_timeout), (25000, 20000));
    }

    #[test]
    fn pings_are_answered_with_their_payload() {
        assert_eq!(parse("2").unwrap(), EnginePacket::Ping(""));
        assert_eq!(pong(""), "3");
        assert_eq!(parse("2probe").unwrap(), EnginePacket::Ping("probe"));
        assert_eq!(pong("probe"), "3probe");
        assert_eq!(parse("1").unwrap(), EnginePacket::Close);
        assert_eq!(parse("6").unwrap(), EnginePacket::Noop);
    }

    #[test]
    fn connect_answer_on_the_default_namespace() {
        assert_eq!(
            parse(r#"40{"sid":"wZX3oN0bSVIhsaknAAAI"}"#).unwrap(),
            EnginePacket::Message(SocketPacket::Connect { namespace: "/".into() })
        );
        assert_eq!(
            parse("40/admin,").unwrap(),
            EnginePacket::Message(SocketPacket::Connect { namespace: "/admin".into() })
        );
    }

    #[test]
    fn event_carries_name_and_first_argument() {
        let frame = r#"42["event",{"seq":7,"emitted_at":1,"kind":"tick","payload":{"n":7,"filler":""}}]"#;
        let EnginePacket::Message(SocketPacket::Event { namespace, name, data }) = parse(frame).unwrap() else {
            panic!("not an event")
        };
        assert_eq!((namespace.as_str(), name.as_str()), ("/", "event"));
        let event: protocol::Event = serde_json::from_value(data).unwrap();
        assert_eq!(event.seq, 7);
    }

    #[test]
    fn event_with_namespace_and_ack_id() {
        let packet = parse(r#"42/chat,17["hello",{"head_seq":3}]"#).unwrap();
        assert_eq!(
            packet,
            EnginePacket::Message(SocketPacket::Event {
                namespace: "/chat".into(),
                name: "hello".into(),
                data: json!({"head_seq": 3}),
            })
        );
        assert_eq!(
            parse(r#"42["bare"]"#).unwrap(),
            EnginePacket::Message(SocketPacket::Event {
                namespace: "/".into(),
                name: "bare".into(),
                data: Value::Null
            })
        );
    }

    #[test]
    fn errors_are_named() {
        assert_eq!(parse(""), Err(FramingError::Empty));
        assert_eq!(parse("9"), Err(FramingError::UnknownEngineType('9')));
        assert_eq!(parse("451-[\"x\",{\"_placeholder\":true,\"num\":0}]"), Err(FramingError::Binary));
        assert!(matches!(parse("42[1,2]"), Err(FramingError::Json { .. })));
        assert!(matches!(parse("42[]"), Err(FramingError::Json { .. })));
        assert_eq!(
            parse(r#"44{"message":"Not authorized"}"#).unwrap(),
            EnginePacket::Message(SocketPacket::ConnectError {
                namespace: "/".into(),
                message: "Not authorized".into()
            })
        );
    }
}
