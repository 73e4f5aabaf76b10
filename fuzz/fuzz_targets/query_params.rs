//! Any query string on the transport endpoints, and any `Last-Event-ID`: parsed into the typed parameters or refused
//! with an error naming a parameter, never a panic. The server answers with exactly these functions.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::parse::parse_query;
use protocol::routes::{LongPollQuery, PollQuery, PublishQuery, StreamQuery, WireQuery};
use protocol::sse::parse_last_event_id;

fuzz_target!(|query: &str| {
    if let Ok(params) = parse_query::<PollQuery>(query) {
        let _ = params.limit();
        // What the server accepted, a client can write back: the same typed parameters.
        assert_eq!(parse_query::<PollQuery>(params.url().split_once('?').map_or("", |(_, q)| q)).ok(), Some(params));
    }
    if let Ok(params) = parse_query::<LongPollQuery>(query) {
        let _ = params.timeout();
    }
    let _ = parse_query::<StreamQuery>(query);
    let _ = parse_query::<PublishQuery>(query);
    let _ = parse_query::<WireQuery>(query);
    if let Err(error) = parse_query::<StreamQuery>(query) {
        assert!(!error.parameter.is_empty());
    }
    let _ = parse_last_event_id(query);
});
