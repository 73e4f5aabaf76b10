//! Server-Sent Events: `GET /api/sse` is one long `text/event-stream` response with an event per hub event.
//!
//! The text is encoded by `protocol::sse` rather than through axum's `Sse` type because the lab must know exactly
//! which bytes it wrote for each event (to count them, and later to show them); the format is tested against an
//! independent parser in `tests/streams.rs` and against the browser's own `EventSource` end to end.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use protocol::routes::{self, StreamQuery};
use protocol::sse::{self, parse_last_event_id};
use protocol::{Gap, StreamHello, Transport};

use super::text_stream::{self, StreamCodec};
use crate::api::error::ApiError;
use crate::api::extract::{ClientAddress, ValidQuery};
use crate::api::handoff::Handoff;
use crate::api::lanes::Lanes;
use crate::api::state::AppState;
use crate::api::wire::Wire;
use crate::core::hub_event::{Http1Chunk, HubEvent, TextChunk};

pub fn router() -> Router<AppState> {
    Router::new().route(routes::SSE, get(get_sse))
}

async fn get_sse(
    State(lanes): State<Lanes>,
    ClientAddress(address): ClientAddress,
    wire: Wire,
    headers: HeaderMap,
    ValidQuery(params): ValidQuery<StreamQuery>,
    handoff: Option<Extension<Handoff>>,
) -> Result<Response, ApiError> {
    // On a reconnect the browser repeats the original URL (with its old `after`) and adds `Last-Event-ID`, which
    // is the newer cursor, so the header wins.
    let after = last_event_id(&headers)?.or(params.after);
    text_stream::open::<EventStream>(
        &lanes,
        Transport::Sse,
        params.client,
        address,
        wire,
        after,
        handoff.map(|Extension(handoff)| handoff),
    )
}

/// The cursor a reconnecting `EventSource` sends: the last `id:` it received, which from this lab is a number. A
/// value that is not visible ASCII is refused like any other that is no number, not read as blank.
pub fn last_event_id(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get("last-event-id") else { return Ok(None) };
    let text = value.to_str().map_err(|_| ApiError::InvalidHeader {
        header: "Last-Event-ID".into(),
        message: "must be an event number (visible ASCII digits)".into(),
    })?;
    parse_last_event_id(text)
        .map_err(|error| ApiError::InvalidHeader { header: error.parameter, message: error.problem })
}

/// `text/event-stream`: `id:`, `event:` and `data:` lines and a blank line per message, `:` comments to keep alive.
struct EventStream;

impl StreamCodec for EventStream {
    const CONTENT_TYPE: &'static str = "text/event-stream";
    const KEEP_ALIVE: &'static str = sse::KEEP_ALIVE;

    fn hello(hello: &StreamHello) -> TextChunk {
        sse::encode_hello(hello).into()
    }

    fn event(event: &HubEvent) -> TextChunk {
        event.sse_chunk()
    }

    fn event_http1(event: &HubEvent) -> Http1Chunk {
        event.sse_http1_chunk()
    }

    fn gap(gap: Gap) -> TextChunk {
        sse::encode_gap(gap).into()
    }
}
