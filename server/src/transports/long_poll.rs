//! Long polling: `GET /api/long-poll?after=N&timeout=S` is held until an event after N exists (200), or S seconds
//! pass with none (204).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use protocol::routes::{self, LongPollQuery};
use protocol::{Transport, DEFAULT_POLL_LIMIT};
use tokio::sync::broadcast::error::RecvError;

use crate::api::error::ApiError;
use crate::api::extract::{ClientAddress, ValidQuery};
use crate::api::lanes::Lanes;
use crate::api::state::AppState;
use crate::transports::poll::{json_counted, poll_response};

pub fn router() -> Router<AppState> {
    Router::new().route(routes::LONG_POLL, get(get_long_poll))
}

async fn get_long_poll(
    State(lanes): State<Lanes>,
    ClientAddress(address): ClientAddress,
    ValidQuery(params): ValidQuery<LongPollQuery>,
) -> Result<Response, ApiError> {
    let timeout = params.timeout()?;
    let (peer, _permit) = lanes.admit_long_lived(Transport::LongPoll, params.client, address)?;
    let counters = lanes.counters().of(Transport::LongPoll);
    let _held = counters.open();
    let hub = lanes.hub();
    let mut subscription = hub.subscribe(Some(params.after), DEFAULT_POLL_LIMIT);
    let mut dropped = lanes.faults().watch(peer);
    let has_news = !subscription.backlog.events.is_empty() || subscription.backlog.gap.is_some();
    // A cursor ahead of the log comes from an earlier server run: answer at once (with this run's epoch and head)
    // rather than hold the client until this run happens to catch up with a number that means nothing here.
    let stale_cursor = params.after > subscription.head_seq;
    // `None`: answered at once; `Some(true)`: woken by an event; `Some(false)`: timed out or shutting down.
    let mut woken = None;
    if !has_news && !stale_cursor {
        let news = async {
            loop {
                match subscription.live.recv().await {
                    Ok(event) if event.seq > params.after => return true,
                    Ok(_) => continue,
                    // Fell behind while waiting: there certainly is something after `after` now.
                    Err(RecvError::Lagged(_)) => return true,
                    Err(RecvError::Closed) => return false,
                }
            }
        };
        woken = Some(tokio::select! {
            waited = tokio::time::timeout(timeout, news) => matches!(waited, Ok(true)),
            _ = dropped.until_dropped() => return Err(ApiError::DroppedByFault),
        });
    }
    match woken {
        Some(false) => {
            lanes.faults().hold_response(dropped.peer()).await;
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        // Answer with everything after the cursor, not just the event that woke us: a burst arrives as one batch.
        Some(true) => subscription.backlog = hub.events_after(params.after, DEFAULT_POLL_LIMIT),
        None => {}
    }
    // The answer is fixed before an injected delay holds it, as a slow network delivers what was sent: holding
    // first and then reading the log would slip fresh events into the late answer and hide the delay.
    let response = poll_response(&hub, params.after, subscription.backlog);
    lanes.faults().hold_response(dropped.peer()).await;
    Ok(json_counted(&response, counters))
}
