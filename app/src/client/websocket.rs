//! WebSocket: one upgraded connection, a text frame per event (a binary frame for audio). On a close the hook
//! reconnects with backoff, resuming with `?after=` the last sequence number it has.

use futures::channel::mpsc;
use futures::StreamExt;
use wasm_bindgen::JsCast;
use web_sys::{AbortSignal, BinaryType, CloseEvent, MessageEvent, WebSocket};

use super::browser_events::Listeners;
use super::lane_task::run_while_enabled;
use super::round_trip::{socket_round_trip, SocketSlot};
use super::{back_off, LaneHandle, LaneOptions, LaneRecorder, LinkStatus};
use crate::diagram::{NoteTone, WireKey};
use leptos::prelude::{SetValue, StoredValue};
use protocol::routes::StreamQuery;
use protocol::{decode_audio_frame, ClientId, Transport, WsServerMessage, AUDIO_FRAME_HEADER_BYTES};

pub fn use_websocket(options: LaneOptions) -> LaneHandle {
    let recorder = LaneRecorder::new(Transport::WebSocket, &options);
    let client = options.client;
    let socket_slot = StoredValue::new_local(None);
    run_while_enabled(recorder, options.enabled, options.held_back, move |_: Option<AbortSignal>| {
        websocket_loop(recorder, client.clone(), socket_slot)
    });
    recorder.handle(socket_round_trip(recorder, socket_slot))
}

enum SocketSignal {
    Open,
    Text(String),
    /// A binary frame's payload: an audio event (see [`protocol::decode_audio_frame`]).
    Binary(Vec<u8>),
    Close {
        code: u16,
        reason: String,
    },
    Error,
}

/// An open socket, closed with 1000 when dropped (lane off, client-side drop, page gone).
struct Socket {
    socket: WebSocket,
    _listeners: Listeners,
}

impl Drop for Socket {
    fn drop(&mut self) {
        let _ = self.socket.close_with_code_and_reason(1000, "closed by the page");
    }
}

async fn websocket_loop(recorder: LaneRecorder, client: ClientId, socket_slot: SocketSlot) {
    loop {
        let after = recorder.cursor();
        let Some(url) = socket_url(after, &client) else { return };
        recorder.set_status(LinkStatus::Connecting);
        let sent = recorder.request(
            format!("GET {} · Upgrade", StreamQuery { after: Some(after), client: None }.web_socket_path()),
            "Connection: Upgrade, Upgrade: websocket".into(),
        );
        let (sink, mut signals) = mpsc::unbounded();
        let Ok(socket) = WebSocket::new(&url) else {
            recorder.note(NoteTone::Error, "WebSocket refused the URL".into(), url);
            return;
        };
        // Binary frames as an ArrayBuffer, read at once, rather than a Blob, which would take another await.
        socket.set_binary_type(BinaryType::Arraybuffer);
        let mut listeners = Listeners::new(&socket);
        listeners.forward("open", &sink, |_| SocketSignal::Open);
        listeners.forward("error", &sink, |_| SocketSignal::Error);
        listeners.forward("message", &sink, |event| {
            let data = event.dyn_into::<MessageEvent>().map(|message| message.data()).unwrap_or_default();
            match data.as_string() {
                Some(text) => SocketSignal::Text(text),
                None => SocketSignal::Binary(js_sys::Uint8Array::new(&data).to_vec()),
            }
        });
        listeners.forward("close", &sink, |event| match event.dyn_into::<CloseEvent>() {
            Ok(close) => SocketSignal::Close { code: close.code(), reason: close.reason() },
            Err(_) => SocketSignal::Close { code: 1006, reason: String::new() },
        });
        let socket = Socket { socket, _listeners: listeners };
        let mut response = None;
        let mut exchange = None;

        while let Some(signal) = signals.next().await {
            match signal {
                SocketSignal::Open => {
                    recorder.connected();
                    socket_slot.set_value(Some(socket.socket.clone()));
                    recorder.set_status(LinkStatus::Open);
                    response = Some(recorder.response(
                        "101 Switching Protocols".into(),
                        "the HTTP connection is now a WebSocket".into(),
                        Some(sent.at),
                    ));
                }
                SocketSignal::Text(text) => match serde_json::from_str::<WsServerMessage>(&text) {
                    Ok(WsServerMessage::Hello(hello)) => {
                        if recorder.observe_epoch(&hello.epoch) {
                            break;
                        }
                        recorder.served_by(hello.instance.as_deref());
                        recorder.bind_exchange(Some(sent.id), response, hello.exchange);
                        exchange = Some(hello.exchange);
                    }
                    Ok(WsServerMessage::Event(event)) => {
                        recorder.event(&event, format!("WS text #{}", event.seq), &text, text.len(), exchange)
                    }
                    Ok(WsServerMessage::Gap(gap)) => recorder.gap(gap),
                    Ok(WsServerMessage::Ack { seq }) => {
                        let answer = recorder.response(format!("ack · #{seq}"), text, None);
                        if let Some(exchange) = exchange {
                            recorder.bind(answer, WireKey::Ack { exchange, seq });
                        }
                        recorder.socket_answered(seq);
                    }
                    Ok(WsServerMessage::Error { error, message }) => {
                        recorder.socket_refused(format!("{error}: {message}"));
                        recorder.note(NoteTone::Warning, error, message);
                    }
                    Err(error) => recorder.note(NoteTone::Error, "undecodable frame".into(), error.to_string()),
                },
                SocketSignal::Binary(frame) => match decode_audio_frame(&frame) {
                    Ok(event) => {
                        let label = format!("WS binary #{} · audio", event.seq);
                        recorder.event(&event, label, &binary_summary(&frame), frame.len(), exchange)
                    }
                    Err(error) => recorder.note(NoteTone::Error, "undecodable binary frame".into(), error.to_string()),
                },
                SocketSignal::Close { code, reason } => {
                    recorder.socket_closed();
                    recorder.connection_lost(format!("close {code} {reason}"), "the socket closed".into());
                    break;
                }
                SocketSignal::Error => recorder.note(NoteTone::Error, "WebSocket error".into(), String::new()),
            }
        }
        drop(socket);
        back_off(recorder).await;
    }
}

/// What the inspector shows for a binary frame: its layout and first bytes (the rest is a WAV file, not text).
fn binary_summary(frame: &[u8]) -> String {
    let first: Vec<String> =
        frame.iter().take(AUDIO_FRAME_HEADER_BYTES + 4).map(|byte| format!("{byte:02x}")).collect();
    format!(
        "binary frame, {} B: a {AUDIO_FRAME_HEADER_BYTES}-byte header (seq, emitted_at, frequency_hz, duration_ms, \
         big-endian), then the WAV file. First bytes: {} …",
        frame.len(),
        first.join(" ")
    )
}

/// `ws://` or `wss://` to this page's own host, as the WebSocket constructor wants an absolute URL.
fn socket_url(after: u64, client: &ClientId) -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" { "wss" } else { "ws" };
    let path = StreamQuery { after: Some(after), client: Some(client.clone()) }.web_socket_path();
    Some(format!("{scheme}://{}{path}", location.host().ok()?))
}
