//! One hook per transport (`use_short_poll`, `use_long_poll`, `use_event_source`, `use_websocket`,
//! `use_http_stream`, `use_webhooks`, `use_mqtt`, `use_grpc_web`), each in its
//! own file and each returning the same [`LaneHandle`], so the diagram and metrics never ask which transport they
//! draw. Browser work happens only inside effects and tasks, which never run during server rendering. Beside them,
//! the browser side of exporting: downloads, the clipboard, reading a chosen file, the diagram as SVG and PNG.

mod audio_clip;
mod browser_clock;
mod browser_events;
mod clock_sync;
mod diagram_picture;
mod files;
mod grpc_web;
mod http;
mod http_stream;
mod lane_recorder;
mod lane_task;
mod long_poll;
mod mqtt;
mod mqtt_controls;
mod mqtt_frames;
mod round_trip;
mod short_poll;
mod sse;
mod tab_share;
mod webhooks;
mod websocket;
mod websocket_accept;
mod wire_feed;

pub use audio_clip::ReceivedClip;
pub use browser_clock::now;
pub use clock_sync::use_clock_offset;
pub use diagram_picture::{picture_of, png_of};
pub use files::{copy_text, download_blob, download_bytes, download_text, export_file_name, read_text, BrowserError};
pub use grpc_web::use_grpc_web;
pub use http::{
    broadcast_message, class_presence, clear_faults, drop_connections, fetch_delay_rules, fetch_generator, go_offline,
    latest_scale_report, lesson, lesson_list, publish_message, restart_stream, send_audio, set_delivery_delay,
    set_webhook_receiver, update_generator, ClientError,
};
pub use http::{fetch_http2_wire, fetch_pcapng};
pub use http_stream::use_http_stream;
pub use lane_recorder::{LaneHandle, LaneRecorder, LinkStatus};
pub use long_poll::use_long_poll;
pub use mqtt::use_mqtt;
pub use mqtt_controls::MqttControls;
pub use short_poll::use_short_poll;
pub use sse::use_event_source;
pub use tab_share::{use_tab_share, TabShareHandle};
pub use webhooks::{use_webhooks, WebhookWatch};
pub use websocket::use_websocket;
pub use websocket_accept::expected_accept;
pub use wire_feed::{use_wire_feed, SideChannelCost, WireFeed};

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use futures::future::{select, Either};
use leptos::prelude::{RwSignal, Signal};

use crate::clock_offset::ClockOffset;
use crate::diagram::NoteTone;
use protocol::{ClientId, Epoch};

/// The hook of each transport's lane: the one place that maps a transport to the code that drives it.
pub fn use_lane(transport: protocol::Transport) -> fn(LaneOptions) -> LaneHandle {
    use protocol::Transport;
    match transport {
        Transport::ShortPoll => use_short_poll,
        Transport::LongPoll => use_long_poll,
        Transport::Sse => use_event_source,
        Transport::WebSocket => use_websocket,
        Transport::HttpStream => use_http_stream,
        Transport::Webhook => use_webhooks,
        Transport::Mqtt => use_mqtt,
        Transport::Grpc => use_grpc_web,
    }
}

/// Where every lane starts: after the newest event at page load, in that server run.
#[derive(Clone, Debug, PartialEq)]
pub struct LaneStart {
    pub after: u64,
    pub epoch: Epoch,
}

/// What every hook takes. `poll_interval_ms` is read by short polling only.
#[derive(Clone)]
pub struct LaneOptions {
    pub start: LaneStart,
    /// Sent as `client=` with every request, so faults can target this page alone.
    pub client: ClientId,
    /// Server clock − browser clock, to correct each event's latency (and where its arrow starts).
    pub clock_offset: Signal<Option<ClockOffset>>,
    pub enabled: Signal<bool>,
    /// True while the lane must not hold its connection open although it is on: other lab tabs of this browser
    /// hold the connections it allows per server (see [`crate::tab_share`]). Only the lanes that keep an HTTP
    /// connection open ([`crate::tab_share::HELD_LANES`]) are ever held back.
    pub held_back: Signal<bool>,
    pub poll_interval_ms: Signal<u32>,
    /// Where a lane puts the teacher's newest broadcast, for the page to show once.
    pub teacher_message: RwSignal<Option<TeacherMessage>>,
}

/// The teacher's newest broadcast, as a lane received it.
#[derive(Clone, Debug, PartialEq)]
pub struct TeacherMessage {
    pub epoch: Epoch,
    pub seq: u64,
    pub text: String,
}

/// How long a request the server answers at once (or a stream's opening) may go unanswered before the lane says
/// it is probably queued in the browser: a browser sends at most 6 requests at a time to one server, across all
/// its tabs, and holds the rest back without a word.
pub(crate) const NO_ANSWER_AFTER: Duration = Duration::from_secs(3);

/// Awaits `request`; if it is not done after `patience`, runs `overdue` once and keeps waiting.
pub(crate) async fn with_patience<T>(
    request: impl Future<Output = T>,
    patience: Duration,
    overdue: impl FnOnce(),
) -> T {
    let request = pin!(request);
    let timer = pin!(gloo_timers::future::sleep(patience));
    match select(request, timer).await {
        Either::Left((done, _)) => done,
        Either::Right(((), request)) => {
            overdue();
            request.await
        }
    }
}

/// Says on the lane (status and a note) that its request has waited `patience` for what should come at once.
pub(crate) fn note_no_answer(recorder: LaneRecorder, what: &str, patience: Duration) {
    let waited_ms = patience.as_millis() as u32;
    recorder.set_status(LinkStatus::NoAnswer { waited_ms });
    recorder.note(
        NoteTone::Warning,
        format!("no answer after {:.0} s: waiting for a connection?", patience.as_secs_f64()),
        format!(
            "{what} is normally answered at once, so the request is most likely queued inside this browser: it \
             opens at most 6 HTTP/1.1 connections to one server, shared by all its tabs, and every other lab tab \
             keeps up to {} of them open (long poll, SSE, HTTP stream, gRPC-web). Close other tabs of this lab, or a \
             delay fault is on.",
            crate::tab_share::CONNECTIONS_HELD_PER_TAB
        ),
    );
}

/// Waits before the next attempt after a failure, as the lane's session says (see [`protocol::BackOff`]), drawing
/// the wait in the lane.
pub(crate) async fn back_off(recorder: LaneRecorder) {
    let (delay_ms, failures) = recorder.failed();
    note_wait(recorder, delay_ms, failures);
    gloo_timers::future::sleep(std::time::Duration::from_millis(delay_ms.into())).await;
}

/// Draws a reconnect wait as a note and shows it in the lane's status.
pub(crate) fn note_wait(recorder: LaneRecorder, delay_ms: u32, failures: u32) {
    recorder.set_status(LinkStatus::Retrying { delay_ms });
    recorder.note(
        NoteTone::Info,
        format!("wait {:.1} s", f64::from(delay_ms) / 1000.0),
        format!("back-off after failure #{failures} in a row: {}", protocol::BackOff::STANDARD.describe()),
    );
}
