//! One hook per transport (`use_short_poll`, `use_long_poll`, `use_event_source`, `use_websocket`), each in its
//! own file and each returning the same [`LaneHandle`], so the diagram and metrics never ask which transport they
//! draw. Browser work happens only inside effects and tasks, which never run during server rendering. Beside them,
//! the browser side of exporting: downloads, the clipboard, reading a chosen file, the diagram as SVG and PNG.

mod browser_clock;
mod browser_events;
mod clock_sync;
mod diagram_picture;
mod files;
mod http;
mod lane_recorder;
mod lane_task;
mod long_poll;
mod short_poll;
mod sse;
mod websocket;
mod websocket_accept;
mod wire_feed;

pub use browser_clock::now;
pub use clock_sync::use_clock_offset;
pub use diagram_picture::{picture_of, png_of};
pub use files::{copy_text, download_blob, download_text, export_file_name, read_text, BrowserError};
pub use http::{
    clear_faults, drop_connections, fetch_delay_rules, fetch_generator, go_offline, latest_scale_report,
    publish_message, restart_stream, set_delivery_delay, update_generator, ClientError,
};
pub use lane_recorder::{LaneHandle, LaneRecorder, LinkStatus};
pub use long_poll::use_long_poll;
pub use short_poll::use_short_poll;
pub use sse::use_event_source;
pub use websocket::use_websocket;
pub use websocket_accept::expected_accept;
pub use wire_feed::{use_wire_feed, SideChannelCost};

use leptos::prelude::Signal;

use crate::clock_offset::ClockOffset;
use crate::diagram::NoteTone;
use crate::model::{ClientId, Epoch};

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
    pub poll_interval_ms: Signal<u32>,
}

/// Waits before the next attempt after a failure, drawing the wait in the lane, and counts the failure.
pub(crate) async fn back_off(recorder: LaneRecorder, failures: &mut u32) {
    let delay_ms = retry_delay_ms(*failures, js_sys::Math::random());
    *failures += 1;
    note_wait(recorder, delay_ms, *failures);
    gloo_timers::future::sleep(std::time::Duration::from_millis(delay_ms.into())).await;
}

/// Draws a reconnect wait as a note and shows it in the lane's status.
pub(crate) fn note_wait(recorder: LaneRecorder, delay_ms: u32, failures: u32) {
    recorder.set_status(LinkStatus::Retrying { delay_ms });
    recorder.note(
        NoteTone::Info,
        format!("wait {:.1} s", f64::from(delay_ms) / 1000.0),
        format!("back-off after failure #{failures} in a row: a random 50–100 % of min(0.5 s × 2^n, 10 s)"),
    );
}

/// The wait after the `failures`-th failure in a row: a ceiling of 0.5 s doubling to at most 10 s, of which a random
/// half to all is used (`jitter` in 0..1). The jitter spreads a classroom's reconnects after a restart, instead of
/// sixty browsers retrying in the same millisecond, again and again.
pub(crate) fn retry_delay_ms(failures: u32, jitter: f64) -> u32 {
    let ceiling = 500u32.saturating_mul(1 << failures.min(5)).min(10_000);
    (f64::from(ceiling) * (0.5 + 0.5 * jitter.clamp(0.0, 1.0))).round() as u32
}

#[cfg(test)]
mod tests {
    use super::retry_delay_ms;

    #[test]
    fn retry_ceiling_doubles_up_to_ten_seconds() {
        let ceilings: Vec<_> = (0..7).map(|failures| retry_delay_ms(failures, 1.0)).collect();
        assert_eq!(ceilings, [500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
    }

    #[test]
    fn jitter_uses_half_to_all_of_the_ceiling() {
        assert_eq!(retry_delay_ms(0, 0.0), 250);
        assert_eq!(retry_delay_ms(3, 0.5), 3000);
        assert_eq!(retry_delay_ms(9, 0.0), 5000);
        assert_eq!(retry_delay_ms(1, 7.0), 1000, "jitter is clamped");
    }
}
