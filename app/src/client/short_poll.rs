//! Short polling: ask `GET /api/poll?after=N` every interval; the answer comes at once, often empty.

use std::time::Duration;

use gloo_timers::future::sleep;
use leptos::prelude::*;
use web_sys::AbortSignal;

use super::http::get;
use super::lane_task::run_while_enabled;
use super::round_trip::post_round_trip;
use super::{
    note_no_answer, note_wait, with_patience, LaneHandle, LaneOptions, LaneRecorder, LinkStatus, NO_ANSWER_AFTER,
};
use protocol::routes::PollQuery;
use protocol::{ClientId, PollResponse, Transport};

pub fn use_short_poll(options: LaneOptions) -> LaneHandle {
    let recorder = LaneRecorder::new(Transport::ShortPoll, &options);
    let interval = options.poll_interval_ms;
    let client = options.client.clone();
    run_while_enabled(recorder, options.enabled, options.held_back, move |abort| {
        poll_loop(recorder, client.clone(), interval, abort)
    });
    recorder.handle(post_round_trip(recorder, options.client))
}

async fn poll_loop(recorder: LaneRecorder, client: ClientId, interval_ms: Signal<u32>, abort: Option<AbortSignal>) {
    loop {
        let shown = PollQuery { after: recorder.cursor(), ..PollQuery::default() };
        let url = PollQuery { client: Some(client.clone()), ..shown.clone() }.url();
        recorder.set_status(LinkStatus::Connecting);
        let sent = recorder.request(format!("GET {}", shown.url()), format!("GET {url}; answered at once"));
        let answer = with_patience(get(&url, abort.as_ref()), NO_ANSWER_AFTER, || {
            note_no_answer(recorder, "A short poll", NO_ANSWER_AFTER)
        })
        .await;
        let wait = match answer.and_then(|raw| Ok((raw.json::<PollResponse>()?, raw))) {
            Ok((response, raw)) => {
                recorder.connected();
                recorder.served_by(raw.instance.as_deref());
                recorder.poll_answer(&response, raw.text.len(), &sent, false, raw.exchange);
                recorder.set_status(LinkStatus::Idle);
                interval_ms.get_untracked()
            }
            Err(error) => {
                // A failed poll waits for the back-off, but never less than the interval it would have waited.
                let (delay_ms, failures) = recorder.failed();
                let delay_ms = delay_ms.max(interval_ms.get_untracked());
                recorder.connection_lost("poll failed".into(), error.to_string());
                note_wait(recorder, delay_ms, failures);
                delay_ms
            }
        };
        sleep(Duration::from_millis(wait.into())).await;
    }
}
