//! An event as the engine stores it: the server clock when it was appended and what happened, as JSON. The number
//! is not in it: the engine gives the number, and the reader takes it from the engine.

use protocol::{Event, EventBody};
use serde::{Deserialize, Serialize};

/// The JSON an engine holds for one event, e.g. `{"emitted_at":1700000000000000,"kind":"tick","payload":{…}}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Record(pub Vec<u8>);

#[derive(Serialize)]
struct Writing<'a> {
    emitted_at: u64,
    #[serde(flatten)]
    body: &'a EventBody,
}

#[derive(Deserialize)]
struct Reading {
    emitted_at: u64,
    #[serde(flatten)]
    body: EventBody,
}

impl Record {
    pub fn encode(emitted_at: u64, body: &EventBody) -> Self {
        Self(serde_json::to_vec(&Writing { emitted_at, body }).expect("an event body always serialises"))
    }

    /// The event numbered `seq` by the engine.
    pub fn decode(bytes: &[u8], seq: u64) -> Result<Event, serde_json::Error> {
        let Reading { emitted_at, body } = serde_json::from_slice(bytes)?;
        Ok(Event { seq, emitted_at, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_with_the_engine_s_number() {
        let body = EventBody::Tick { n: 3, filler: "abc".into() };
        let record = Record::encode(42, &body);
        assert_eq!(Record::decode(&record.0, 7).unwrap(), Event { seq: 7, emitted_at: 42, body });
        assert!(!String::from_utf8(record.0).unwrap().contains("seq"));
    }

    #[test]
    fn something_else_is_an_error_not_an_event() {
        assert!(Record::decode(b"{\"kind\":\"tick\"}", 1).is_err());
        assert!(Record::decode(b"\xff", 1).is_err());
    }
}
