//! Any text a WebSocket client sends: the parser must answer with a message or an error, never panic, and accept
//! only what the protocol allows. The server's WebSocket answers with exactly this parser.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(protocol::EventBody::Message { text: accepted }) = protocol::parse::parse_client_message(text) {
        assert!(!accepted.trim().is_empty());
        assert!(accepted.len() <= protocol::MAX_MESSAGE_BYTES);
    }
});
