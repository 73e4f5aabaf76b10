//! Connection upkeep, drawn as its own small marks: WebSocket pings, pongs and closes (with their code), SSE
//! keep-alive comments, and a TCP connection closing. None of them carries an event, and each is what keeps a
//! connection alive or ends it, which a lesson on heartbeats and reconnects needs to see. The "control" toggle
//! hides them for a calm view.

use serde::{Deserialize, Serialize};

use crate::hex_view::{close_code_name, frame_payload};
use protocol::{WireDirection, WireLabel, WireRecord, WireUnit};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlMark {
    Ping,
    Pong,
    /// A WebSocket close frame.
    Close,
    /// An SSE comment line, sent when the stream has been quiet.
    KeepAlive,
    /// The server let go of a TCP connection.
    TcpClose,
}

impl ControlMark {
    /// The CSS class and `data-kind` of its mark.
    pub fn class(self) -> &'static str {
        match self {
            ControlMark::Ping => "ping",
            ControlMark::Pong => "pong",
            ControlMark::Close => "close-frame",
            ControlMark::KeepAlive => "keep-alive",
            ControlMark::TcpClose => "tcp-close",
        }
    }
}

/// A control mark read from a measured record: what it is, whether the browser sent it, its label and detail.
#[derive(Clone, Debug, PartialEq)]
pub struct Control {
    pub mark: ControlMark,
    pub from_browser: bool,
    pub label: String,
    pub detail: String,
}

/// The control mark `wire` is, if it is one.
pub fn control_of(wire: &WireRecord) -> Option<Control> {
    let from_browser = wire.direction == WireDirection::ToServer;
    let sender = if from_browser { "the browser" } else { "the server" };
    let (mark, label, detail) = match &wire.unit {
        WireUnit::Frame { opcode, .. } if opcode == "ping" => (
            ControlMark::Ping,
            "ping".to_owned(),
            format!("{sender} checks the connection is alive; the other side must answer with a pong"),
        ),
        WireUnit::Frame { opcode, .. } if opcode == "pong" => {
            (ControlMark::Pong, "pong".to_owned(), format!("{sender} answers a ping (browsers do it on their own)"))
        }
        WireUnit::Frame { opcode, .. } if opcode == "close" => {
            let payload = frame_payload(wire).unwrap_or_default();
            let label = match payload.get(..2) {
                Some(&[high, low]) => {
                    let code = u16::from_be_bytes([high, low]);
                    let reason = String::from_utf8_lossy(&payload[2..]);
                    let reason = if reason.is_empty() { String::new() } else { format!(" \"{reason}\"") };
                    format!("close {code} ({}){reason}", close_code_name(code))
                }
                _ => "close (no code)".to_owned(),
            };
            (
                ControlMark::Close,
                label,
                format!("{sender} ends the WebSocket; the other side answers with a close of its own, then TCP closes"),
            )
        }
        WireUnit::Chunk { event: Some(WireLabel::KeepAlive), .. } => (
            ControlMark::KeepAlive,
            ": keep-alive".to_owned(),
            "an SSE comment: EventSource ignores it, but proxies and NAT tables see traffic and keep the stream open"
                .to_owned(),
        ),
        WireUnit::ConnectionClosed { connection, exchanges } => (
            ControlMark::TcpClose,
            format!("TCP #{connection} closed"),
            format!(
                "the server let go of TCP connection #{connection} after {exchanges} exchange{}: the next request \
                 opens a new one",
                if *exchanges == 1 { "" } else { "s" }
            ),
        ),
        _ => return None,
    };
    Some(Control { mark, from_browser, label, detail })
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{Transport, WireBytes};

    fn record(direction: WireDirection, unit: WireUnit, header: &str, raw: &str) -> WireRecord {
        let unit = match unit {
            WireUnit::Frame { opcode, fin, rsv, masked, length_bits, seq, event, message, .. } => {
                WireUnit::Frame { opcode, fin, rsv, masked, length_bits, header: header.into(), seq, event, message }
            }
            other => other,
        };
        WireRecord {
            id: 1,
            exchange: 1,
            transport: Some(Transport::WebSocket),
            direction,
            at: 0,
            unit,
            bytes: WireBytes::default(),
            raw: raw.into(),
        }
    }

    fn frame(opcode: &'static str, masked: bool) -> WireUnit {
        WireUnit::Frame {
            opcode: opcode.into(),
            fin: true,
            rsv: 0,
            masked,
            length_bits: 7,
            header: String::new(),
            seq: None,
            event: None,
            message: None,
        }
    }

    #[test]
    fn a_browser_s_close_is_unmasked_to_read_its_code_and_reason() {
        let key = [9, 8, 7, 6];
        let mut payload = 1000u16.to_be_bytes().to_vec();
        payload.extend(b"closed by the page");
        let masked: Vec<String> =
            payload.iter().enumerate().map(|(index, byte)| format!("{:02x}", byte ^ key[index % 4])).collect();
        let header = format!("88 {:02x} 09 08 07 06", 0x80 | payload.len());
        let wire = record(WireDirection::ToServer, frame("close", true), &header, &masked.join(" "));
        let control = control_of(&wire).unwrap();
        assert_eq!((control.mark, control.from_browser), (ControlMark::Close, true));
        assert_eq!(control.label, "close 1000 (normal closure) \"closed by the page\"");
    }

    #[test]
    fn pings_keep_alives_and_tcp_closes_are_control_and_events_are_not() {
        let ping = record(WireDirection::ToClient, frame("ping", false), "89 00", "");
        assert_eq!(control_of(&ping).unwrap().mark, ControlMark::Ping);
        let pong = record(WireDirection::ToServer, frame("pong", true), "8a 80 01 02 03 04", "");
        assert!(control_of(&pong).unwrap().from_browser);
        let keep_alive = WireUnit::Chunk { event: Some(WireLabel::KeepAlive), seq: None };
        assert_eq!(control_of(&record(WireDirection::ToClient, keep_alive, "", "")).unwrap().label, ": keep-alive");
        let closed = WireUnit::ConnectionClosed { connection: 4, exchanges: 12 };
        let closed = control_of(&record(WireDirection::ToClient, closed, "", "")).unwrap();
        assert_eq!((closed.mark, closed.label.as_str()), (ControlMark::TcpClose, "TCP #4 closed"));
        assert!(control_of(&record(WireDirection::ToClient, frame("text", false), "81 02", "7b 7d")).is_none());
        let tick = WireUnit::Chunk { event: Some(WireLabel::Tick), seq: Some(1) };
        assert!(control_of(&record(WireDirection::ToClient, tick, "", "")).is_none());
    }

    #[test]
    fn a_close_without_a_code_says_so() {
        let wire = record(WireDirection::ToClient, frame("close", false), "88 00", "");
        assert_eq!(control_of(&wire).unwrap().label, "close (no code)");
    }
}
