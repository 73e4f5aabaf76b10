//! A person's message, checked the same way whichever path brings it up: `POST /api/publish`, a WebSocket
//! `publish` frame, or the teacher's broadcast.

use protocol::EventBody;

use crate::core::refusal::Refusal;

/// The checks every upstream path applies to a person's message.
pub fn validated_message(text: String) -> Result<EventBody, Refusal> {
    validated_text(text).map(|text| EventBody::Message { text })
}

/// A message's text, checked by the protocol's one rule (see [`protocol::parse::check_message_text`]). Shared with
/// the teacher's broadcast.
pub fn validated_text(text: String) -> Result<String, Refusal> {
    protocol::parse::check_message_text(text).map_err(|error| match error {
        protocol::parse::InputError::Field { problem, .. } => Refusal::invalid_field("text", problem),
        other => Refusal::invalid_field("text", other.to_string()),
    })
}
