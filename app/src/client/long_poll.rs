//! Long polling: `GET /api/long-poll?after=N` is held by the server until an event exists (200) or the timeout
//! passes (204); the browser asks again at once either way.

use web_sys::AbortSignal;

use super::http::get;
use super::lane_task::run_while_enabled;
use super::round_trip::post_round_trip;
use super::{back_off, LaneHandle, LaneOptions, LaneRecorder, LinkStatus};
use protocol::routes::LongPollQuery;
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
    loop {
        let shown = LongPollQuery {
            after: recorder.cursor(),
            timeout: Some(DEFAULT_LONG_POLL_TIMEOUT_SECONDS),
            ..LongPollQuery::default()
        };
        let url = LongPollQuery { client: Some(client.clone()), ..shown.clone() }.url();
        recorder.set_status(LinkStatus::Open);
        let sent = recorder.request(format!("GET {}", shown.url()), format!("GET {url}; held until an event exists"));
        match get(&url, abort.as_ref()).await {
            Ok(raw) if raw.status == 204 => {
                recorder.connected();
                recorder.served_by(raw.instance.as_deref());
                let answer =
                    recorder.response("204 · timeout".into(), "no event within the hold time".into(), Some(sent.at));
                if let Some(exchange) = raw.exchange {
                    recorder.bind_exchange(Some(sent.id), Some(answer), exchange);
                }
                recorder.empty_response();
            }
            Ok(raw) => match raw.json::<PollResponse>() {
                Ok(response) => {
                    recorder.connected();
                    recorder.served_by(raw.instance.as_deref());
                    recorder.poll_answer(&response, raw.text.len(), &sent, true, raw.exchange);
                }
                Err(error) => retry_later(recorder, error.to_string()).await,
            },
            Err(error) => retry_later(recorder, error.to_string()).await,
        }
    }
}

async fn retry_later(recorder: LaneRecorder, reason: String) {
    recorder.connection_lost("long poll failed".into(), reason);
    back_off(recorder).await;
}
