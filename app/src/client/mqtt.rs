//! MQTT: the lab's broker over one WebSocket (subprotocol `mqtt`), every MQTT packet one binary frame each way,
//! each drawn as its own arrow, so a QoS 2 delivery is visibly four (PUBLISH, PUBREC, PUBREL, PUBCOMP). What the
//! packets mean and what the client must remember is [`protocol::mqtt::MqttClient`]'s business; this hook moves
//! bytes, draws, and reconnects with the shared back-off. Resuming is MQTT's own: with "keep session" the broker
//! queues QoS 1 and 2 messages while the page is away and delivers them on its return.

use futures::channel::mpsc;
use futures::{stream, StreamExt};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;
use web_sys::{AbortSignal, BinaryType, CloseEvent, MessageEvent, WebSocket};

use super::browser_clock::now;
use super::browser_events::Listeners;
use super::lane_recorder::Sent;
use super::lane_task::{run_while_enabled, LaneLoop};
use super::mqtt_controls::{Command, DroppedAfterPubrec, MqttControls};
use super::mqtt_frames::MessageNumbers;
use super::round_trip::SocketSlot;
use super::{back_off, LaneHandle, LaneOptions, LaneRecorder, LinkStatus};
use crate::diagram::NoteTone;
use protocol::mqtt::anatomy::{dissect, hex_dump};
use protocol::mqtt::{ClientSettings, Delivery, Incoming, MqttClient, Outgoing, PacketKind, Qos, Received};
use protocol::routes::MqttQuery;
use protocol::{ClientId, EventBody, Transport};

pub fn use_mqtt(options: LaneOptions) -> LaneHandle {
    let recorder = LaneRecorder::new(Transport::Mqtt, &options);
    let controls = MqttControls::new();
    provide_context(controls);
    let lane = Lane {
        recorder,
        controls,
        // The client's session state outlives each socket, as MQTT's session does on the broker.
        client: StoredValue::new(MqttClient::new(options.client.as_str())),
        socket: StoredValue::new_local(None),
        first_session: StoredValue::new(true),
        frames: StoredValue::new(MessageNumbers::default()),
    };
    let page = options.client;
    run_while_enabled(recorder, options.enabled, options.held_back, move |_: Option<AbortSignal>| {
        let page = page.clone();
        async move { mqtt_loop_code().await((lane, page)).await }
    });
    recorder.handle(chat_round_trip(lane))
}

#[derive(Clone, Copy)]
struct Lane {
    recorder: LaneRecorder,
    controls: MqttControls,
    client: StoredValue<MqttClient>,
    socket: SocketSlot,
    /// True until this lane receives its first event. A new session receives only what is published after it
    /// subscribes (and the knobs may reconnect before anything arrives), so the lane's count starts at its first
    /// event, not at the page's load.
    first_session: StoredValue<bool>,
    /// The connection's WebSocket messages counted each way, to bind each packet's arrow to its measured frame.
    frames: StoredValue<MessageNumbers>,
}

impl Lane {
    /// Binds `arrow` to its measured frame, if the key is known now (see [`MessageNumbers`]).
    fn bind_frames(&self, bindings: impl IntoIterator<Item = (u64, crate::diagram::WireKey)>) {
        for (arrow, key) in bindings {
            self.recorder.bind(arrow, key);
        }
    }
}

enum SocketSignal {
    Open,
    Binary(Vec<u8>),
    Close {
        code: u16,
        reason: String,
    },
    Error,
    /// Keep-alive: time to send PINGREQ if nothing else was sent meanwhile.
    Tick,
    Command(Command),
}

/// An open socket, closed with 1000 when dropped, without an MQTT DISCONNECT: to the broker that is a connection
/// lost, so it publishes the page's will.
struct Socket {
    socket: WebSocket,
    _listeners: Listeners,
}

impl Drop for Socket {
    fn drop(&mut self) {
        let _ = self.socket.close_with_code_and_reason(1000, "closed by the page");
    }
}

/// How a connection ended, and so how soon to connect again.
enum Ending {
    /// Failed or dropped: wait as the back-off says.
    Failed,
    /// New knobs: connect again at once.
    Reconnect,
}

/// One connection's state.
struct Connection {
    lane: Lane,
    socket: Socket,
    settings: ClientSettings,
    upgrade: Sent,
    upgrade_answer: Option<u64>,
    exchange: Option<u64>,
    sent_since_tick: bool,
}

/// The connection loop, and with it the decoding half of the MQTT client, in a wasm chunk of its own.
#[lazy]
fn mqtt_loop_code() -> LaneLoop<(Lane, ClientId)> {
    |(lane, page)| Box::pin(mqtt_loop(lane, page))
}

async fn mqtt_loop(lane: Lane, page: ClientId) {
    let recorder = lane.recorder;
    loop {
        let settings = lane.controls.settings.get_untracked();
        lane.recorder.set_skips_by_choice(!protocol::mqtt::filter_takes_every_event(&settings.filter));
        let Some(url) = socket_url(&page) else { return };
        recorder.set_status(LinkStatus::Connecting);
        let upgrade = recorder.request(
            format!("GET {} · Upgrade", MqttQuery { client: None }.web_socket_path()),
            "Connection: Upgrade, Upgrade: websocket, Sec-WebSocket-Protocol: mqtt".into(),
        );
        let (sink, signals) = mpsc::unbounded();
        let Ok(socket) = WebSocket::new_with_str(&url, protocol::mqtt::SUBPROTOCOL) else {
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
            SocketSignal::Binary(js_sys::Uint8Array::new(&data).to_vec())
        });
        listeners.forward("close", &sink, |event| match event.dyn_into::<CloseEvent>() {
            Ok(close) => SocketSignal::Close { code: close.code(), reason: close.reason() },
            Err(_) => SocketSignal::Close { code: 1006, reason: String::new() },
        });
        let (commands, command_stream) = mpsc::unbounded();
        lane.controls.commands.set_value(Some(commands));
        let mut signals = stream::select(signals, command_stream.map(SocketSignal::Command));
        lane.frames.set_value(MessageNumbers::default());
        let mut connection = Connection {
            lane,
            socket: Socket { socket, _listeners: listeners },
            settings,
            upgrade,
            upgrade_answer: None,
            exchange: None,
            sent_since_tick: false,
        };
        let mut ending = Ending::Failed;
        while let Some(signal) = signals.next().await {
            let outcome = match signal {
                SocketSignal::Open => connection.opened(),
                SocketSignal::Binary(bytes) => connection.received(&bytes, &sink),
                SocketSignal::Tick => connection.tick(),
                SocketSignal::Command(Command::Apply) => connection.apply(),
                SocketSignal::Close { code, reason } => {
                    recorder.connection_lost(format!("close {code} {reason}"), "the socket closed".into());
                    Some(Ending::Failed)
                }
                SocketSignal::Error => {
                    recorder.note(NoteTone::Error, "WebSocket error".into(), String::new());
                    None
                }
            };
            if let Some(outcome) = outcome {
                ending = outcome;
                break;
            }
        }
        lane.socket.set_value(None);
        lane.controls.commands.set_value(None);
        drop(connection);
        if let Ending::Failed = ending {
            back_off(recorder).await;
        }
    }
}

impl Connection {
    fn opened(&mut self) -> Option<Ending> {
        let recorder = self.lane.recorder;
        self.lane.socket.set_value(Some(self.socket.socket.clone()));
        self.upgrade_answer = Some(recorder.response(
            "101 Switching Protocols · mqtt".into(),
            "the HTTP connection is now a WebSocket speaking MQTT: each packet one binary frame".into(),
            Some(self.upgrade.at),
        ));
        let settings = self.settings.clone();
        let connect = self.lane.client.try_update_value(|client| client.connect(&settings));
        let why = format!(
            "clean start {} · session expiry {} · keep-alive {} s · will on lab/presence/<this page>",
            u8::from(!settings.keep_session),
            if settings.keep_session { format!("{} s", protocol::mqtt::SESSION_EXPIRY_SECS) } else { "0".into() },
            settings.keep_alive_secs
        );
        self.send_result(connect, &why)
    }

    /// Draws and writes one packet; ends the connection if it cannot be written.
    fn send(&mut self, sent: &Outgoing, why: &str) -> Option<Ending> {
        draw_sent(self.lane, sent, why);
        self.sent_since_tick = true;
        if self.socket.socket.send_with_u8_array(&sent.bytes).is_err() {
            self.lane.recorder.connection_lost("send failed".into(), "the socket refused a frame".into());
            return Some(Ending::Failed);
        }
        None
    }

    fn send_result(
        &mut self,
        sent: Option<Result<Outgoing, protocol::mqtt::ClientError>>,
        why: &str,
    ) -> Option<Ending> {
        match sent {
            Some(Ok(sent)) => self.send(&sent, why),
            Some(Err(error)) => {
                self.lane.recorder.note(NoteTone::Error, "cannot build packet".into(), error.to_string());
                Some(Ending::Failed)
            }
            None => Some(Ending::Failed),
        }
    }

    fn tick(&mut self) -> Option<Ending> {
        let idle = !std::mem::replace(&mut self.sent_since_tick, false);
        if !idle {
            return None;
        }
        let ping = self.lane.client.try_with_value(MqttClient::ping);
        self.send_result(ping, "keep-alive: nothing else was sent for a whole keep-alive period")
    }

    /// New knobs: a clean goodbye (the broker keeps the session if one was asked for, and discards the will),
    /// then a new connection with them.
    fn apply(&mut self) -> Option<Ending> {
        self.lane.recorder.note(
            NoteTone::Info,
            "new settings: reconnecting".into(),
            format!("{:?}", self.lane.controls.settings.get_untracked()),
        );
        let disconnect = self.lane.client.try_with_value(MqttClient::disconnect);
        if let Some(Ending::Failed) = self.send_result(disconnect, "normal disconnection: the will is discarded") {
            return Some(Ending::Failed);
        }
        Some(Ending::Reconnect)
    }

    fn received(&mut self, bytes: &[u8], sink: &mpsc::UnboundedSender<SocketSignal>) -> Option<Ending> {
        let recorder = self.lane.recorder;
        let incoming = match self.lane.client.try_update_value(|client| client.receive(bytes)) {
            Some(Ok(incoming)) => incoming,
            Some(Err(error)) => {
                recorder.connection_lost("malformed MQTT".into(), format!("{error}; closing the connection"));
                return Some(Ending::Failed);
            }
            None => return Some(Ending::Failed),
        };
        self.lane.frames.update_value(MessageNumbers::received);
        // Every packet of the read is accounted for, even after the fault has fired: the client's state already
        // holds them, and a message it holds but the lane never drew would later look lost.
        let mut ending = None;
        for packet in incoming {
            let answered = ending.is_none();
            if let Some(end) = self.packet(packet, answered, sink) {
                ending.get_or_insert(end);
            }
        }
        let in_flight = self.lane.client.try_with_value(MqttClient::in_flight).unwrap_or_default();
        self.lane.controls.in_flight.set(in_flight);
        ending
    }

    /// One received packet: its arrow, what it means for the lane, and its answer (unless `answer` is false: the
    /// socket is being dropped).
    fn packet(
        &mut self,
        incoming: Incoming,
        answer: bool,
        sink: &mpsc::UnboundedSender<SocketSignal>,
    ) -> Option<Ending> {
        let recorder = self.lane.recorder;
        let label = incoming.packet.label();
        let body = anatomy_text(&incoming.bytes, "as this page received it");
        let mut why_answer = String::new();
        let mut fire_fault = false;
        match &incoming.received {
            Received::ConnAck { session_present, reason_code, exchange, server_keep_alive } => {
                let detail = format!("session present = {}", u8::from(*session_present));
                self.draw_received(
                    format!("{label} · {}", if *session_present { "session kept" } else { "new session" }),
                    detail,
                    &body,
                );
                if *reason_code >= 0x80 {
                    recorder.note(NoteTone::Error, format!("CONNACK refused 0x{reason_code:02x}"), String::new());
                    return Some(Ending::Failed);
                }
                if let Some(exchange) = exchange {
                    recorder.bind_exchange(Some(self.upgrade.id), self.upgrade_answer, *exchange);
                    self.exchange = Some(*exchange);
                    let waited = self.lane.frames.try_update_value(|frames| frames.exchange_known(*exchange));
                    self.lane.bind_frames(waited.unwrap_or_default());
                }
                return self.connected(
                    *session_present,
                    server_keep_alive.unwrap_or(self.settings.keep_alive_secs),
                    sink,
                );
            }
            Received::SubAck { granted } => {
                let refused = granted.iter().any(|code| *code >= 0x80);
                let text = granted.iter().map(|code| format!("0x{code:02x}")).collect::<Vec<_>>().join(", ");
                self.draw_received(format!("{label} · granted {text}"), "the QoS the broker grants".into(), &body);
                if refused {
                    recorder.note(NoteTone::Error, "subscription refused".into(), text);
                }
            }
            Received::Delivery(delivery) => {
                self.delivered(delivery, &label, &body, incoming.packet.len);
                if answer && delivery.qos == Qos::ExactlyOnce && self.lane.controls.drop_after_pubrec.get_untracked() {
                    fire_fault = true;
                    self.lane.controls.drop_after_pubrec.set(false);
                    self.lane.controls.dropped.set_value(
                        delivery.packet_id.map(|packet_id| DroppedAfterPubrec { packet_id, seq: delivery.seq }),
                    );
                }
                why_answer = match delivery.qos {
                    Qos::AtLeastOnce => "QoS 1: the broker may forget the message".into(),
                    _ => "QoS 2, step 2 of 4: received; the broker keeps the message id until PUBREL".into(),
                };
            }
            Received::Repeated { packet_id, seq } => {
                self.draw_received(label, "resent before its PUBREL: not a new message".into(), &body);
                recorder.note(
                    NoteTone::Info,
                    format!("#{} resent (DUP): not delivered twice", seq.map_or("?".into(), |seq| seq.to_string())),
                    format!("packet id {packet_id} is still awaiting PUBREL, so this is the same message again"),
                );
                self.fault_resolved(*packet_id, *seq, "the broker resent the PUBLISH (it had not got the PUBREC)");
                why_answer = "QoS 2: the resend is answered again".into();
            }
            Received::Released { packet_id, seq } => {
                self.draw_received(label, "QoS 2, step 3 of 4: the broker released the message id".into(), &body);
                self.fault_resolved(*packet_id, *seq, "the broker resent PUBREL after the reconnect");
                why_answer = "QoS 2, step 4 of 4: both sides forget the message id".into();
            }
            Received::Acked { ours, .. } => {
                let detail = if *ours { "the broker has our message" } else { "an id this page did not send" };
                self.draw_received(label, detail.into(), &body);
            }
            Received::PingResp => self.draw_received(label, "the broker is there".into(), &body),
            Received::UnsubAck => self.draw_received(label, "the old filter is gone".into(), &body),
            Received::Disconnect { reason_code } => {
                self.draw_received(
                    format!("{label} 0x{reason_code:02x}"),
                    "the broker ends the connection".into(),
                    &body,
                );
            }
            Received::Unexpected => {
                recorder.note(NoteTone::Warning, format!("unexpected {label}"), "a broker never sends this".into());
            }
        }
        if let (true, Some(reply)) = (answer, incoming.answer.as_ref()) {
            if let Some(end) = self.send(reply, &why_answer) {
                return Some(end);
            }
        }
        if fire_fault {
            let kept = self.settings.keep_session;
            let detail = if kept {
                "the page answered PUBREC and drops its socket before PUBREL; its kept session should finish it"
            } else {
                "the page answered PUBREC and drops its socket, but it keeps no session: the broker forgets the message"
            };
            recorder.connection_lost("fault: dropped after PUBREC".into(), detail.into());
            self.lane.controls.fault_outcome.set("dropped after PUBREC; waiting for the broker to finish it".into());
            return Some(Ending::Failed);
        }
        None
    }

    fn connected(
        &mut self,
        session_present: bool,
        keep_alive_secs: u16,
        sink: &mpsc::UnboundedSender<SocketSignal>,
    ) -> Option<Ending> {
        let recorder = self.lane.recorder;
        recorder.connected();
        recorder.set_status(LinkStatus::Open);
        if session_present {
            recorder.note(
                NoteTone::Info,
                "session resumed".into(),
                "the broker kept this page's subscription and queued its QoS 1 and 2 messages".into(),
            );
        } else if self.settings.keep_session && !self.lane.first_session.get_value() {
            recorder.note(
                NoteTone::Warning,
                "no session kept".into(),
                "the broker had no session for this page (expired?): what was published meanwhile is gone".into(),
            );
        }
        start_keep_alive(sink.clone(), keep_alive_secs);
        let settings = self.settings.clone();
        let follow_up = self.lane.client.try_update_value(|client| client.after_connack(&settings, session_present));
        match follow_up {
            Some(Ok(packets)) => {
                for packet in packets {
                    let why = match packet.packet.kind {
                        PacketKind::Subscribe => format!("{} at QoS {}", settings.filter, settings.qos.level()),
                        PacketKind::Unsubscribe => "the kept session still holds the old filter".into(),
                        _ => "resent: the broker never acknowledged it".into(),
                    };
                    if let Some(end) = self.send(&packet, &why) {
                        return Some(end);
                    }
                }
                None
            }
            Some(Err(error)) => {
                recorder.note(NoteTone::Error, "cannot build packet".into(), error.to_string());
                Some(Ending::Failed)
            }
            None => Some(Ending::Failed),
        }
    }

    /// A PUBLISH delivered: an event of the hub through the lane's shared checks, or any other message as an arrow.
    fn delivered(&mut self, delivery: &Delivery, label: &str, body: &str, bytes: usize) {
        let recorder = self.lane.recorder;
        let Ok(delivered) = delivery.event() else {
            let text = String::from_utf8_lossy(&delivery.payload).into_owned();
            self.draw_received(format!("{label} · {}", delivery.topic), text, body);
            return;
        };
        let mut event = delivered.event;
        if let Some(epoch) = &delivery.epoch {
            // A restart: the lane's count starts again from #1 (the session itself carries on).
            recorder.observe_epoch(epoch);
            if self.lane.first_session.get_value() {
                recorder.start_after(event.seq.saturating_sub(1), epoch.clone());
                self.lane.first_session.set_value(false);
            }
        }
        let mut how = None;
        if !delivered.timed {
            // A bare WAV carries no emission time: drawn as if just emitted, and said so.
            event.emitted_at = ((now() + recorder.clock_correction_ms()) * 1000.0) as u64;
            how = Some("MQTT carries the clip as bare WAV bytes with no emission time: latency not measured".into());
        }
        if let EventBody::Message { text } = &event.body {
            if let Some(ticket) = self.lane.controls.chat_returned(text) {
                recorder.round_trip_answered(ticket, event.seq);
            }
        }
        let label = format!("{label} · #{} {}", event.seq, event.body.kind_name());
        recorder.event_noting(&event, label, body, bytes, self.exchange, how);
    }

    fn fault_resolved(&mut self, packet_id: u16, seq: Option<u64>, how: &str) {
        let controls = self.lane.controls;
        let Some(dropped) = controls.dropped.get_value().filter(|dropped| dropped.packet_id == packet_id) else {
            return;
        };
        controls.dropped.set_value(None);
        let seq = seq.or(dropped.seq).map_or("?".into(), |seq| seq.to_string());
        let label = format!("#{seq} arrived exactly once");
        self.lane.recorder.note(NoteTone::Info, label.clone(), format!("{how}; delivered before the drop, not again"));
        controls.fault_outcome.set(format!("{how}: {label}"));
    }

    fn draw_received(&self, label: String, detail: String, body: &str) {
        let id = self.lane.recorder.response(label, detail, None);
        self.lane.recorder.set_body(id, body);
        self.lane.bind_frames(self.lane.frames.try_update_value(|frames| frames.received_arrow(id)).flatten());
    }
}

/// Sends [`SocketSignal::Tick`] every keep-alive period until the connection's channel closes.
fn start_keep_alive(sink: mpsc::UnboundedSender<SocketSignal>, seconds: u16) {
    let period = std::time::Duration::from_secs(u64::from(seconds.max(1)));
    spawn_local(async move {
        loop {
            gloo_timers::future::sleep(period).await;
            if sink.unbounded_send(SocketSignal::Tick).is_err() {
                return;
            }
        }
    });
}

/// Draws a packet about to be sent, its own WebSocket message, numbered as the server's tap will number it.
fn draw_sent(lane: Lane, sent: &Outgoing, why: &str) -> Sent {
    let recorder = lane.recorder;
    let detail = format!("{why}\n{} B in one binary WebSocket frame", sent.bytes.len());
    let drawn = recorder.upstream_frame(sent.packet.label(), detail);
    recorder.set_body(drawn.id, &anatomy_text(&sent.bytes, "as this page sent it"));
    lane.bind_frames(lane.frames.try_update_value(|frames| frames.sent(drawn.id)).flatten());
    drawn
}

/// The packet taken apart, field by field, then in hex: what the inspector shows for an MQTT arrow.
fn anatomy_text(bytes: &[u8], how: &str) -> String {
    let anatomy = dissect(bytes);
    let mut text = format!("MQTT {}, {} B, {how}\n", anatomy.kind, anatomy.len);
    let mut section = None;
    for field in &anatomy.fields {
        if section != Some(field.section) {
            section = Some(field.section);
            text.push_str(&format!("\n{}\n", field.section.name()));
        }
        let raw = &bytes[field.bytes.start.min(bytes.len())..field.bytes.end.min(bytes.len())];
        let hex: Vec<String> = raw.iter().take(8).map(|byte| format!("{byte:02x}")).collect();
        let more = if raw.len() > 8 { " …" } else { "" };
        text.push_str(&format!("  {}: {}  [{}{more}]\n", field.name, field.value, hex.join(" ")));
    }
    if let Some(problem) = anatomy.malformed {
        text.push_str(&format!("\nmalformed: {problem}\n"));
    }
    text.push_str(&format!("\nhex\n{}", hex_dump(bytes, 256)));
    text
}

/// The lane's round trip: a PUBLISH to `lab/chat` at QoS 1 on its own connection, answered by PUBACK; timed until
/// the message comes back down as an event.
fn chat_round_trip(lane: Lane) -> Callback<()> {
    Callback::new(move |()| {
        let recorder = lane.recorder;
        let open = lane
            .socket
            .try_with_value(|socket| socket.as_ref().filter(|socket| socket.ready_state() == WebSocket::OPEN).cloned())
            .flatten();
        let Some(socket) = open else {
            recorder.note(
                NoteTone::Warning,
                "round trip not sent: not connected".into(),
                "this lane publishes only on its own MQTT connection, which is not open now".into(),
            );
            return;
        };
        let Some((ticket, text)) = recorder.begin_round_trip() else { return };
        let Some(Ok(sent)) = lane.client.try_update_value(|client| client.publish_chat(&text)) else {
            recorder.round_trip_failed(ticket, "the PUBLISH could not be built".into());
            return;
        };
        lane.controls.remember_chat(text, ticket);
        draw_sent(lane, &sent, "to lab/chat at QoS 1: the broker answers PUBACK, and the hub makes it an event");
        if let Err(error) = socket.send_with_u8_array(&sent.bytes) {
            recorder.round_trip_failed(ticket, format!("the socket refused the frame: {error:?}"));
        }
        let in_flight = lane.client.try_with_value(MqttClient::in_flight).unwrap_or_default();
        lane.controls.in_flight.set(in_flight);
    })
}

/// `ws://` or `wss://` to this page's own host, as the WebSocket constructor wants an absolute URL.
fn socket_url(client: &ClientId) -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" { "wss" } else { "ws" };
    let path = MqttQuery { client: Some(client.clone()) }.web_socket_path();
    Some(format!("{scheme}://{}{path}", location.host().ok()?))
}
