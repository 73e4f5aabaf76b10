//! Any query string on the transport endpoints, and any `Last-Event-ID`: parsed into the typed parameters or refused
//! with an error naming a parameter, never a panic.
#![no_main]

use axum::http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use protocol::routes::{LongPollQuery, PollQuery, PublishQuery, StreamQuery, WireQuery};
use server::api::extract::parse_query;
use server::transports::sse::last_event_id;

fuzz_target!(|query: &str| {
    if let Ok(params) = parse_query::<PollQuery>(query) {
        let _ = params.limit();
    }
    if let Ok(params) = parse_query::<LongPollQuery>(query) {
        let _ = params.timeout();
    }
    let _ = parse_query::<StreamQuery>(query);
    let _ = parse_query::<PublishQuery>(query);
    let _ = parse_query::<WireQuery>(query);
    if let Ok(value) = HeaderValue::from_str(query) {
        let mut headers = HeaderMap::new();
        headers.insert("last-event-id", value);
        let _ = last_event_id(&headers);
    }
});
