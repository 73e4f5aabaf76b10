//! Short polling: ask `GET /api/poll?after=N` every interval; the answer comes at once, often empty.

use std::time::Duration;

use gloo_timers::future::sleep;
use leptos::prelude::*;
use web_sys::AbortSignal;

use super::http::get;
use super::lane_task::run_while_enabled;
use super::round_trip::post_round_trip;
use super::{
    note_no_answer, note_wait, retry_delay_ms, with_patience, LaneHandle, LaneOptions, LaneRecorder, LinkStatus,
    NO_ANSWER_AFTER,
};
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
    let mut failures = 0;
    loop {
        let after = recorder.cursor();
        let url = format!("/api/poll?after={after}&client={client}");
        recorder.set_status(LinkStatus::Connecting);
        let sent = recorder.request(format!("GET /api/poll?after={after}"), format!("GET {url}; answered at once"));
        let answer = with_patience(get(&url, abort.as_ref()), NO_ANSWER_AFTER, || {
            note_no_answer(recorder, "A short poll", NO_ANSWER_AFTER)
        })
        .await;
        let wait = match answer.and_then(|raw| Ok((raw.json::<PollResponse>()?, raw))) {
            Ok((response, raw)) => {
                failures = 0;
                recorder.poll_answer(&response, raw.text.len(), &sent, false, raw.exchange);
                recorder.set_status(LinkStatus::Idle);
                interval_ms.get_untracked()
            }
            Err(error) => {
                let delay_ms = retry_delay_ms(failures, js_sys::Math::random()).max(interval_ms.get_untracked());
                failures += 1;
                recorder.connection_lost("poll failed".into(), error.to_string());
                note_wait(recorder, delay_ms, failures);
                delay_ms
            }
        };
        sleep(Duration::from_millis(wait.into())).await;
    }
}
