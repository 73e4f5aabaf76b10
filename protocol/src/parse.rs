//! Reading what a client sends: query strings, JSON bodies and WebSocket text frames, each refused with the name of
//! the parameter or field at fault. The server answers with these errors; the fuzzers drive these functions
//! directly, with no server around them.

use serde::de::DeserializeOwned;

use super::routes::ParamError;
use super::{EventBody, WsClientMessage, MAX_MESSAGE_BYTES};

/// Why a JSON body or frame was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Not JSON at all (a syntax error, or cut short).
    #[error("malformed JSON: {0}")]
    Malformed(String),
    /// JSON, but a field is missing, unknown, of the wrong type or out of range.
    #[error("invalid JSON field `{field}`: {problem}")]
    Field { field: String, problem: String },
}

/// A query string as the typed parameters `T`, or the parameter at fault.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ParamError> {
    let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|error| ParamError {
        parameter: field_name(error.path(), error.inner()),
        problem: plain_number_problem(error.inner().to_string()),
    })
}

/// Every number in the lab's queries is a count or a sequence number: say so, rather than how Rust's integer
/// parser failed (`-1` is "an invalid digit" to it).
fn plain_number_problem(problem: String) -> String {
    match problem.as_str() {
        "invalid digit found in string" | "cannot parse integer from empty string" => {
            "must be a whole number, 0 or more".to_owned()
        }
        "number too large to fit in target type" => "is too large a number".to_owned(),
        _ => problem,
    }
}

/// One JSON object as `T`, and nothing after it, or what is wrong with it and where. Every body and frame of the
/// lab is an object: serde would also read a struct from an array (`["hi"]` as `{"text":"hi"}`) and stop reading
/// after the first value (`{"text":"hi"} garbage`), so both are refused here.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, InputError> {
    let first = body.iter().find(|byte| !byte.is_ascii_whitespace());
    if let Some(&found) = first.filter(|&&byte| byte != b'{') {
        let found =
            if found.is_ascii_graphic() { format!("`{}`", found as char) } else { format!("byte {found:#04x}") };
        return Err(InputError::Malformed(format!("expected a JSON object, found {found} first")));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        if error.inner().is_syntax() || error.inner().is_eof() {
            InputError::Malformed(error.inner().to_string())
        } else {
            InputError::Field { field: field_name(error.path(), error.inner()), problem: error.inner().to_string() }
        }
    })?;
    deserializer.end().map_err(|error| InputError::Malformed(format!("{error} after the object")))?;
    Ok(value)
}

/// A person's message text, checked the same way on every path that brings one up (a POST, a WebSocket
/// `publish`, the teacher's broadcast): not blank, and at most [`MAX_MESSAGE_BYTES`] of UTF-8.
pub fn check_message_text(text: String) -> Result<String, InputError> {
    let problem = if text.trim().is_empty() {
        "must not be empty".to_owned()
    } else if text.len() > MAX_MESSAGE_BYTES {
        format!("is {} bytes; at most {MAX_MESSAGE_BYTES} bytes (UTF-8) are allowed", text.len())
    } else {
        return Ok(text);
    };
    Err(InputError::Field { field: "text".into(), problem })
}

/// What a WebSocket client's text frame asks for: the one parser of the client protocol.
pub fn parse_client_message(text: &str) -> Result<EventBody, InputError> {
    match parse_json::<WsClientMessage>(text.as_bytes())? {
        WsClientMessage::Publish { text } => check_message_text(text).map(|text| EventBody::Message { text }),
    }
}

/// The path serde reached, or for an unknown or missing field the field's own name (the path stops at its parent).
fn field_name(path: &serde_path_to_error::Path, error: &impl std::fmt::Display) -> String {
    let path = path.to_string();
    if path != "." {
        return path;
    }
    let message = error.to_string();
    message
        .split('`')
        .nth(1)
        .filter(|_| ["unknown field", "missing field", "duplicate field"].iter().any(|kind| message.starts_with(kind)))
        .unwrap_or("(body)")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::PollQuery;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[allow(dead_code)]
        text: String,
    }

    fn field<T: std::fmt::Debug>(result: Result<T, InputError>) -> String {
        match result {
            Err(InputError::Field { field, .. }) => field,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn query_errors_name_the_parameter() {
        assert_eq!(parse_query::<PollQuery>("after=abc").unwrap_err().parameter, "after");
        assert_eq!(parse_query::<PollQuery>("aftr=1").unwrap_err().parameter, "aftr");
        assert_eq!(parse_query::<PollQuery>("after=5").unwrap().after, 5);
        let repeated = parse_query::<PollQuery>("after=1&after=2").unwrap_err();
        assert_eq!((repeated.parameter.as_str(), repeated.problem.as_str()), ("after", "duplicate field `after`"));
        let negative = parse_query::<PollQuery>("after=-1").unwrap_err();
        assert_eq!(
            (negative.parameter.as_str(), negative.problem.as_str()),
            ("after", "must be a whole number, 0 or more")
        );
        let huge = parse_query::<PollQuery>("after=99999999999999999999").unwrap_err();
        assert_eq!(huge.problem, "is too large a number");
        assert!(parse_query::<PollQuery>("").is_ok());
    }

    #[test]
    fn json_errors_name_the_field() {
        assert_eq!(field(parse_json::<Body>(br#"{"text": 5}"#)), "text");
        assert_eq!(field(parse_json::<Body>(br#"{}"#)), "text");
        assert_eq!(field(parse_json::<Body>(br#"{"text":"a","x":1}"#)), "x");
        assert!(matches!(parse_json::<Body>(b"{\"text\""), Err(InputError::Malformed(_))));
    }

    #[test]
    fn only_one_object_is_a_body() {
        assert!(parse_json::<Body>(b" \n{\"text\":\"a\"}\r\n ").is_ok());
        for (bad, says) in [
            (&br#"{"text":"a"} garbage"#[..], "trailing characters"),
            (br#"{"text":"a"}{"text":"b"}"#, "trailing characters"),
            (br#"["a"]"#, "found `[` first"),
            (br#""a""#, "found `\"` first"),
            (b"\x00{}", "found byte 0x00 first"),
        ] {
            match parse_json::<Body>(bad) {
                Err(InputError::Malformed(why)) => assert!(why.contains(says), "{why}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert!(matches!(parse_client_message(r#"["publish","hi"]"#), Err(InputError::Malformed(_))));
        assert!(matches!(parse_client_message(r#"{"type":"publish","text":"hi"} x"#), Err(InputError::Malformed(_))));
    }

    #[test]
    fn a_client_frame_is_a_checked_message_or_a_named_refusal() {
        let ok = parse_client_message(r#"{"type":"publish","text":"hi"}"#).unwrap();
        assert_eq!(ok, EventBody::Message { text: "hi".into() });
        assert_eq!(field(parse_client_message(r#"{"type":"publish","text":"  "}"#)), "text");
        let long = format!(r#"{{"type":"publish","text":"{}"}}"#, "x".repeat(MAX_MESSAGE_BYTES + 1));
        assert_eq!(field(parse_client_message(&long)), "text");
        assert!(matches!(parse_client_message("publish hi"), Err(InputError::Malformed(_))));
        assert_eq!(field(parse_client_message(r#"{"type":"subscribe"}"#)), "type");
    }
}
