//! Long polling: `GET /api/long-poll?after=N` is held by the server until an event exists (200) or the timeout
//! passes (204); the browser asks again at once either way.

use web_sys::AbortSignal;

use super::http::get;
use super::lane_task::run_while_enabled;
use super::round_trip::post_round_trip;
use super::{back_off, LaneHandle, LaneOptions, LaneRecorder, LinkStatus};
use protocol::{ClientId, PollResponse, Transport, DEFAULT_LONG_POLL_TIMEOUT_SECONDS};

pub fn use_long_poll(options: LaneOptions) -> LaneHandle {
    let recorder = LaneRecorder::new(Transport::LongPoll, &options);
    let client = options.client.clone();
    run_while_enabled(recorder, options.enabled, options.held_back, move |abort| {
        long_poll_loop(recorder, client.clone(), abort)
    });
    recorder.handle(post_round_trip(recorder, options.client))
}

async fn long_poll_loop(recorder: LaneRecorder, client: ClientId, abort: Option<AbortSignal>) {
    let mut failures = 0;
    loop {
        let after = recorder.cursor();
        let path = format!("/api/long-poll?after={after}&timeout={DEFAULT_LONG_POLL_TIMEOUT_SECONDS}");
        let url = format!("{path}&client={client}");
        recorder.set_status(LinkStatus::Open);
        let sent = recorder.request(format!("GET {path}"), format!("GET {url}; held until an event exists"));
        match get(&url, abort.as_ref()).await {
            Ok(raw) if raw.status == 204 => {
                failures = 0;
                let answer =
                    recorder.response("204 · timeout".into(), "no event within the hold time".into(), Some(sent.at));
                if let Some(exchange) = raw.exchange {
                    recorder.bind_exchange(Some(sent.id), Some(answer), exchange);
                }
                recorder.empty_response();
            }
            Ok(raw) => match raw.json::<PollResponse>() {
                Ok(response) => {
                    failures = 0;
                    recorder.poll_answer(&response, raw.text.len(), &sent, true, raw.exchange);
                }
                Err(error) => retry_later(recorder, &mut failures, error.to_string()).await,
            },
            Err(error) => retry_later(recorder, &mut failures, error.to_string()).await,
        }
    }
}

async fn retry_later(recorder: LaneRecorder, failures: &mut u32, reason: String) {
    recorder.connection_lost("long poll failed".into(), reason);
    back_off(recorder, failures).await;
}
