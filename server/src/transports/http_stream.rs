//! HTTP streaming: `GET /api/stream` is one `application/x-ndjson` response that never ends, a JSON line per hub
//! event (`protocol::ndjson`). The plainest push there is: no event ids, no `retry:`, no automatic reconnect; the
//! client resumes itself with `after=` on the last sequence number it read.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use protocol::ndjson;
use protocol::routes::{self, StreamQuery};
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
    Router::new().route(routes::HTTP_STREAM, get(get_stream))
}

async fn get_stream(
    State(lanes): State<Lanes>,
    ClientAddress(address): ClientAddress,
    wire: Wire,
    ValidQuery(params): ValidQuery<StreamQuery>,
    handoff: Option<Extension<Handoff>>,
) -> Result<Response, ApiError> {
    text_stream::open::<Lines>(
        &lanes,
        Transport::HttpStream,
        params.client,
        address,
        wire,
        params.after,
        handoff.map(|Extension(handoff)| handoff),
    )
}

/// `application/x-ndjson`: one JSON object and a newline per message.
struct Lines;

impl StreamCodec for Lines {
    const CONTENT_TYPE: &'static str = ndjson::CONTENT_TYPE;
    const KEEP_ALIVE: &'static str = ndjson::KEEP_ALIVE;

    fn hello(hello: &StreamHello) -> TextChunk {
        ndjson::encode_hello(hello).into()
    }

    fn event(event: &HubEvent) -> TextChunk {
        event.http_stream_line()
    }

    fn event_http1(event: &HubEvent) -> Http1Chunk {
        event.http_stream_http1_chunk()
    }

    fn gap(gap: Gap) -> TextChunk {
        ndjson::encode_gap(gap).into()
    }
}
