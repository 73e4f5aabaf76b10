//! A person's message, checked the same way whichever path brings it up: `POST /api/publish`, a WebSocket
//! `publish` frame, or the teacher's broadcast.

use protocol::{EventBody, MAX_MESSAGE_BYTES};

use crate::core::refusal::Refusal;

/// The checks every upstream path applies to a person's message.
pub fn validated_message(text: String) -> Result<EventBody, Refusal> {
    validated_text(text).map(|text| EventBody::Message { text })
}

/// A message's text, checked: not blank and at most [`MAX_MESSAGE_BYTES`]. Shared with the teacher's broadcast.
pub fn validated_text(text: String) -> Result<String, Refusal> {
    if text.trim().is_empty() {
        return Err(Refusal::invalid_field("text", "must not be empty"));
    }
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(Refusal::invalid_field(
            "text",
            format!("is {} bytes; at most {MAX_MESSAGE_BYTES} bytes (UTF-8) are allowed", text.len()),
        ));
    }
    Ok(text)
}
