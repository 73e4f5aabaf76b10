//! A person's message, checked the same way whichever path brings it up: `POST /api/publish`, a WebSocket
//! `publish` frame, or the teacher's broadcast.

use protocol::EventBody;

use crate::core::refusal::Refusal;

/// The checks every upstream path applies to a person's message.
pub fn validated_message(text: String) -> Result<EventBody, Refusal> {
    validated_text(text).map(|text| EventBody::Message { text })
}

/// What a message on `lab/chat` must be: the rule `POST /api/publish` applies, on UTF-8 text. The broker checks it
/// before acknowledging, so a refused message is answered `0x99` rather than acknowledged and then dropped.
pub fn chat_payload(payload: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(payload).map_err(|_| "a chat message is UTF-8 text".to_owned())?;
    validated_text(text.to_owned()).map(drop).map_err(|refusal| refusal.to_string())
}

/// A message's text, checked by the protocol's one rule (see [`protocol::parse::check_message_text`]). Shared with
/// the teacher's broadcast.
pub fn validated_text(text: String) -> Result<String, Refusal> {
    protocol::parse::check_message_text(text).map_err(|error| match error {
        protocol::parse::InputError::Field { problem, .. } => Refusal::invalid_field("text", problem),
        other => Refusal::invalid_field("text", other.to_string()),
    })
}
