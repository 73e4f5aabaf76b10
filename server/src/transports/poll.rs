//! Short polling: `GET /api/poll?after=N` answers at once with whatever exists after N, often nothing.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use protocol::routes::{self, PollQuery};
use protocol::{PollResponse, Transport};

use crate::api::error::ApiError;
use crate::api::extract::ValidQuery;
use crate::api::lanes::Lanes;
use crate::api::state::AppState;
use crate::core::hub::{Backlog, EventHub};
use crate::core::peer::Peer;
use crate::core::stats::TransportCounters;

pub fn router() -> Router<AppState> {
    Router::new().route(routes::POLL, get(get_poll))
}

async fn get_poll(State(lanes): State<Lanes>, ValidQuery(query): ValidQuery<PollQuery>) -> Result<Response, ApiError> {
    let limit = query.limit()?;
    let peer = Peer::new(Transport::ShortPoll, query.client);
    lanes.faults().check_online(&peer)?;
    lanes.presence().seen(peer.client.as_ref(), Some(Transport::ShortPoll));
    let counters = lanes.counters().of(Transport::ShortPoll);
    let _open = counters.open();
    let hub = lanes.hub();
    // Fixed before the injected delay holds it (see long polling).
    let response = poll_response(&hub, query.after, hub.events_after(query.after, limit));
    lanes.faults().hold_response(&peer).await;
    Ok(json_counted(&response, counters))
}

/// Builds the poll body; shared with long polling, whose answer has the same shape.
pub fn poll_response(hub: &EventHub, after: u64, backlog: Backlog) -> PollResponse {
    // With nothing to send, `next` stays at the cursor, or drops to this run's head if the cursor is ahead of the
    // log (it came from an earlier run; the epoch tells the client so).
    let next = backlog
        .events
        .last()
        .map(|event| event.seq)
        .or(backlog.gap.map(|gap| gap.to))
        .unwrap_or_else(|| after.min(hub.head_seq()));
    let events = backlog.events.iter().map(|event| event.event().clone()).collect();
    PollResponse { epoch: hub.epoch().clone(), events, next, gap: backlog.gap }
}

/// The JSON response for a poll answer, serialized once: the same bytes are counted in the stats and sent.
pub fn json_counted(response: &PollResponse, counters: &TransportCounters) -> Response {
    let body = serde_json::to_vec(response).unwrap_or_default();
    counters.delivered(response.events.len(), body.len());
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
