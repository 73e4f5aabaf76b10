//! Protobuf's wire format read field by field, for the inspector to teach it: each field's number, wire type,
//! where its key and value sit in the bytes, and what the value is, without the `.proto` where need be. The wire
//! tap keeps only the first bytes of a message, so a field cut off by their end is a normal outcome (`Value::Cut`),
//! and bytes that are not protobuf at all end the reading (`End::Unreadable`): neither is an error, and nothing
//! here panics on any input.

use std::ops::Range;

use prost::encoding::{decode_key, decode_varint, WireType as ProstWireType};

/// How deep LEN values are tried as nested messages: the lab's deepest is 2 (`Event.tick.n`), and the bound keeps
/// garbage that happens to parse from recursing without end.
pub const MAX_DEPTH: usize = 4;

/// The wire types a field can have, by the names the protobuf encoding spec gives them. Groups (3 and 4) are
/// deprecated and never sent by the lab; the reader treats them as unreadable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireType {
    /// 0: a base-128 varint (int32/64, uint32/64, sint32/64, bool, enum).
    Varint,
    /// 1: eight bytes, little-endian (fixed64, sfixed64, double).
    I64,
    /// 2: a varint length, then that many bytes (string, bytes, a nested message, a packed repeated field).
    Len,
    /// 5: four bytes, little-endian (fixed32, sfixed32, float).
    I32,
}

impl WireType {
    /// The number in the key's low 3 bits.
    pub fn id(self) -> u8 {
        match self {
            WireType::Varint => 0,
            WireType::I64 => 1,
            WireType::Len => 2,
            WireType::I32 => 5,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            WireType::Varint => "varint",
            WireType::I64 => "i64",
            WireType::Len => "len",
            WireType::I32 => "i32",
        }
    }
}

impl std::fmt::Display for WireType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One field as read. Ranges index the bytes given to [`decode_fields`] or [`decode_message`], nested fields too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub number: u32,
    /// Its name where the schema knows this field with this wire type: `seq`, `tick.n`…
    pub name: Option<&'static str>,
    pub wire_type: WireType,
    /// The key (tag): `number << 3 | wire type`, as a varint.
    pub key: Range<usize>,
    /// Everything after the key: for LEN, the length prefix and the data. Ends where the kept bytes end if cut.
    pub value: Range<usize>,
    pub content: Value,
}

impl Field {
    pub fn is_cut(&self) -> bool {
        matches!(self.content, Value::Cut { .. })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Varint(u64),
    /// The eight bytes as a little-endian number; whether it is a double or a fixed64 only the schema says.
    I64(u64),
    I32(u32),
    /// A LEN value whose bytes were all kept: `data` is where they are, `contents` what they read as.
    Len {
        length: u64,
        data: Range<usize>,
        contents: Contents,
    },
    /// The kept bytes end inside this value. `length` is a LEN value's declared length if its prefix was kept;
    /// `data` is what was kept of the value (after the length prefix, for LEN); `fields` what of a nested message
    /// was kept, read up to the cut (empty unless the kept bytes read as one).
    Cut {
        length: Option<u64>,
        data: Range<usize>,
        fields: Vec<Field>,
    },
}

/// What a complete LEN value reads as. The wire does not say: a message, a string and bytes all look alike, so the
/// schema decides where it knows the field, and otherwise the first reading that fits, in this order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Contents {
    /// The bytes parse completely as fields.
    Message(Vec<Field>),
    /// Valid UTF-8.
    Text(String),
    /// Anything else; the bytes are at the value's `data` range.
    Bytes,
}

/// The fields read, and how the reading ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    pub fields: Vec<Field>,
    pub end: End,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// The bytes end exactly after a field.
    Complete,
    /// The bytes end inside the field (its value: the last field is `Value::Cut`) or the key starting at `at`.
    Cut { at: usize },
    /// From `at` on the bytes are not protobuf fields, for the reason `why`.
    Unreadable { at: usize, why: &'static str },
}

/// The `lab.v1` messages whose fields this reader can name, and whose LEN fields it then reads as the `.proto`
/// says rather than by guessing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schema {
    /// No names: LEN values are guessed.
    Unknown,
    /// What the server sends: `lab.v1.Event` (and `PublishReply`, whose only field is `seq = 1` too).
    Event,
    /// What a client sends: `SubscribeRequest` (`after`, `client`) or `PublishRequest` (`text = 1`, a LEN where
    /// `after` is a varint, so the wire type tells them apart).
    Request,
}

/// How a known field's value is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Varint,
    Message,
    Text,
    Bytes,
}

impl Kind {
    fn wire_type(self) -> WireType {
        match self {
            Kind::Varint => WireType::Varint,
            Kind::Message | Kind::Text | Kind::Bytes => WireType::Len,
        }
    }
}

const EVENT_FIELDS: &[(&[u32], &str, Kind)] = &[
    (&[1], "seq", Kind::Varint),
    (&[2], "emitted_at", Kind::Varint),
    (&[3], "tick", Kind::Message),
    (&[3, 1], "tick.n", Kind::Varint),
    (&[3, 2], "tick.filler", Kind::Text),
    (&[4], "message", Kind::Message),
    (&[4, 1], "message.text", Kind::Text),
    (&[5], "broadcast", Kind::Message),
    (&[5, 1], "broadcast.text", Kind::Text),
    (&[6], "audio", Kind::Message),
    (&[6, 1], "audio.mime_type", Kind::Text),
    (&[6, 2], "audio.frequency_hz", Kind::Varint),
    (&[6, 3], "audio.duration_ms", Kind::Varint),
    (&[6, 4], "audio.data", Kind::Bytes),
    (&[7], "gap", Kind::Message),
    (&[7, 1], "gap.from", Kind::Varint),
    (&[7, 2], "gap.to", Kind::Varint),
];

const REQUEST_FIELDS: &[(&[u32], &str, Kind)] =
    &[(&[1], "after", Kind::Varint), (&[2], "client", Kind::Text), (&[1], "text", Kind::Text)];

/// The name of a `lab.v1.Event` field from the path of field numbers leading to it: `[1]` is `seq`, `[3, 1]` is
/// `tick.n`. `None` for a path the message does not have.
pub fn event_field_name(path: &[u32]) -> Option<&'static str> {
    EVENT_FIELDS.iter().find(|(at, _, _)| *at == path).map(|(_, name, _)| *name)
}

impl Schema {
    /// The name of the field at `path`, if the schema has one there with this wire type.
    pub fn field_name(self, path: &[u32], wire_type: WireType) -> Option<&'static str> {
        self.field(path, wire_type).map(|(name, _)| name)
    }

    fn field(self, path: &[u32], wire_type: WireType) -> Option<(&'static str, Kind)> {
        let table = match self {
            Schema::Unknown => return None,
            Schema::Event => EVENT_FIELDS,
            Schema::Request => REQUEST_FIELDS,
        };
        table
            .iter()
            .find(|(at, _, kind)| *at == path && kind.wire_type() == wire_type)
            .map(|(_, name, kind)| (*name, *kind))
    }
}

/// Reads `bytes` as protobuf fields with no schema.
pub fn decode_fields(bytes: &[u8]) -> Decoded {
    decode_message(bytes, Schema::Unknown)
}

/// Reads `bytes` as protobuf fields, naming them and reading their LEN values as `schema` says where it knows them.
pub fn decode_message(bytes: &[u8], schema: Schema) -> Decoded {
    let mut path = Vec::new();
    decode_range(bytes, 0..bytes.len(), schema, &mut path)
}

fn decode_range(bytes: &[u8], range: Range<usize>, schema: Schema, path: &mut Vec<u32>) -> Decoded {
    let mut fields = Vec::new();
    let mut at = range.start;
    let end = range.end;
    while at < end {
        let field_start = at;
        let (number, wire_type) = match read_key(&bytes[at..end]) {
            Ok((number, wire_type, read)) => {
                at += read;
                (number, wire_type)
            }
            Err(Problem::Cut) => return Decoded { fields, end: End::Cut { at: field_start } },
            Err(Problem::Bad(why)) => return Decoded { fields, end: End::Unreadable { at: field_start, why } },
        };
        let key = field_start..at;
        path.push(number);
        let known = schema.field(path, wire_type);
        let cut = |data: Range<usize>, length: Option<u64>| Value::Cut { length, data, fields: Vec::new() };
        let content = match wire_type {
            WireType::Varint => match read_varint(&bytes[at..end]) {
                Ok((value, read)) => {
                    at += read;
                    Value::Varint(value)
                }
                Err(Problem::Cut) => cut(at..end, None),
                Err(Problem::Bad(why)) => {
                    path.pop();
                    return Decoded { fields, end: End::Unreadable { at: field_start, why } };
                }
            },
            WireType::I64 => match bytes[at..end].first_chunk::<8>() {
                Some(value) => {
                    at += 8;
                    Value::I64(u64::from_le_bytes(*value))
                }
                None => cut(at..end, None),
            },
            WireType::I32 => match bytes[at..end].first_chunk::<4>() {
                Some(value) => {
                    at += 4;
                    Value::I32(u32::from_le_bytes(*value))
                }
                None => cut(at..end, None),
            },
            WireType::Len => match read_varint(&bytes[at..end]) {
                Ok((length, read)) => {
                    let data_start = at + read;
                    let available = (end - data_start) as u64;
                    if length > available {
                        at = end;
                        let data = data_start..end;
                        let fields = read_cut_len(bytes, data.clone(), schema, known.map(|(_, kind)| kind), path);
                        Value::Cut { length: Some(length), data, fields }
                    } else {
                        // `length` fits in the slice, so in usize.
                        let data = data_start..data_start + length as usize;
                        at = data.end;
                        let contents = read_len(bytes, data.clone(), schema, known.map(|(_, kind)| kind), path);
                        Value::Len { length, data, contents }
                    }
                }
                Err(Problem::Cut) => cut(end..end, None),
                Err(Problem::Bad(why)) => {
                    path.pop();
                    return Decoded { fields, end: End::Unreadable { at: field_start, why } };
                }
            },
        };
        path.pop();
        let is_cut = matches!(content, Value::Cut { .. });
        let value_end = if is_cut { end } else { at };
        fields.push(Field {
            number,
            name: known.map(|(name, _)| name),
            wire_type,
            value: key.end..value_end,
            key,
            content,
        });
        if is_cut {
            return Decoded { fields, end: End::Cut { at: field_start } };
        }
    }
    Decoded { fields, end: End::Complete }
}

fn read_len(bytes: &[u8], data: Range<usize>, schema: Schema, kind: Option<Kind>, path: &mut Vec<u32>) -> Contents {
    let slice = &bytes[data.clone()];
    let text = || std::str::from_utf8(slice).ok().map(|text| Contents::Text(text.to_owned()));
    match kind {
        Some(Kind::Bytes) => return Contents::Bytes,
        Some(Kind::Text) => return text().unwrap_or(Contents::Bytes),
        // An empty nested message is zero bytes: only the schema can say it is one.
        Some(Kind::Message) if slice.is_empty() => return Contents::Message(Vec::new()),
        _ => {}
    }
    if may_be_message(slice, kind, path) {
        let nested = decode_range(bytes, data, schema, path);
        if nested.end == End::Complete {
            return Contents::Message(nested.fields);
        }
    }
    text().unwrap_or(Contents::Bytes)
}

/// The start of a nested message, read up to the cut: what the wire tap keeps of a long event's body.
fn read_cut_len(
    bytes: &[u8],
    data: Range<usize>,
    schema: Schema,
    kind: Option<Kind>,
    path: &mut Vec<u32>,
) -> Vec<Field> {
    if !may_be_message(&bytes[data.clone()], kind, path) {
        return Vec::new();
    }
    let nested = decode_range(bytes, data, schema, path);
    match nested.end {
        End::Unreadable { .. } => Vec::new(),
        End::Complete | End::Cut { .. } => nested.fields,
    }
}

fn may_be_message(slice: &[u8], kind: Option<Kind>, path: &[u32]) -> bool {
    // Printable text very often parses as fields by accident (`x` is 0x78: field 15, varint); a real nested
    // message almost always has a control byte in it (a tag of fields 1 to 3, a small varint, a length), so
    // without a schema such text stays text. UTF-8 cut inside a character counts as text up to the cut.
    let text = match std::str::from_utf8(slice) {
        Ok(text) => text,
        Err(error) if error.error_len().is_none() => std::str::from_utf8(&slice[..error.valid_up_to()]).unwrap_or(""),
        Err(_) => "",
    };
    let looks_like_text = !text.is_empty() && text.chars().all(|c| !c.is_control() || c == '\n');
    let allowed = match kind {
        Some(Kind::Message) => true,
        Some(Kind::Text | Kind::Bytes | Kind::Varint) => false,
        None => !looks_like_text,
    };
    allowed && path.len() <= MAX_DEPTH && !slice.is_empty()
}

enum Problem {
    /// The bytes end before the varint does.
    Cut,
    Bad(&'static str),
}

/// A varint and how many bytes it took.
fn read_varint(rest: &[u8]) -> Result<(u64, usize), Problem> {
    // A varint continues while its bytes' top bit is set: if every kept byte has it, the end cut the varint.
    if rest.len() < 10 && rest.iter().all(|byte| byte & 0x80 != 0) {
        return Err(Problem::Cut);
    }
    let mut cursor = rest;
    let value = decode_varint(&mut cursor).map_err(|_| Problem::Bad("a varint longer than 10 bytes or 64 bits"))?;
    Ok((value, rest.len() - cursor.len()))
}

/// A key's field number and wire type, and how many bytes it took.
fn read_key(rest: &[u8]) -> Result<(u32, WireType, usize), Problem> {
    let (key, _) = read_varint(rest)?;
    let mut cursor = rest;
    let (number, wire_type) = match decode_key(&mut cursor) {
        Ok(read) => read,
        Err(_) if key > u64::from(u32::MAX) => return Err(Problem::Bad("a key larger than 32 bits")),
        Err(_) if key & 0x07 > 5 => return Err(Problem::Bad("wire types 6 and 7 do not exist")),
        Err(_) => return Err(Problem::Bad("field number 0 is not allowed")),
    };
    let wire_type = match wire_type {
        ProstWireType::Varint => WireType::Varint,
        ProstWireType::SixtyFourBit => WireType::I64,
        ProstWireType::LengthDelimited => WireType::Len,
        ProstWireType::ThirtyTwoBit => WireType::I32,
        ProstWireType::StartGroup | ProstWireType::EndGroup => {
            return Err(Problem::Bad("wire types 3 and 4 are groups, deprecated and not used here"))
        }
    };
    Ok((number, wire_type, rest.len() - cursor.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grpc::v1;
    use prost::Message;

    fn tick(seq: u64, n: u64, filler: &str) -> Vec<u8> {
        v1::Event {
            seq,
            emitted_at: 1_795_303_724_621_196,
            body: Some(v1::event::Body::Tick(v1::Tick { n, filler: filler.into() })),
        }
        .encode_to_vec()
    }

    fn nested(field: &Field) -> &[Field] {
        match &field.content {
            Value::Len { contents: Contents::Message(fields), .. } => fields,
            other => panic!("field {} is not a nested message: {other:?}", field.number),
        }
    }

    #[test]
    fn a_tick_reads_as_its_fields_with_tags_ranges_and_names() {
        let bytes = tick(300, 42, "");
        let decoded = decode_message(&bytes, Schema::Event);
        assert_eq!(decoded.end, End::Complete);
        let [seq, emitted_at, body] = &decoded.fields[..] else { panic!("{decoded:?}") };
        assert_eq!((seq.number, seq.wire_type, seq.name), (1, WireType::Varint, Some("seq")));
        assert_eq!(seq.key, 0..1);
        assert_eq!(bytes[0], 0x08, "field 1 << 3 | 0");
        assert_eq!(seq.value, 1..3, "300 takes two 7-bit groups");
        assert_eq!(seq.content, Value::Varint(300));
        assert_eq!(emitted_at.content, Value::Varint(1_795_303_724_621_196));
        assert_eq!(emitted_at.name, Some("emitted_at"));
        assert_eq!((body.number, body.wire_type, body.name), (3, WireType::Len, Some("tick")));
        assert_eq!(bytes[body.key.start], 0x1a, "field 3 << 3 | 2");
        let Value::Len { length: 2, ref data, .. } = body.content else { panic!("{body:?}") };
        assert_eq!(data.end, bytes.len());
        let [n] = nested(body) else { panic!() };
        assert_eq!((n.number, n.name, &n.content), (1, Some("tick.n"), &Value::Varint(42)));
        assert_eq!(n.key, data.start..data.start + 1, "nested ranges index the whole message");
    }

    #[test]
    fn without_a_schema_len_values_are_guessed() {
        let bytes = tick(7, 3, "xxxxxxxx");
        let decoded = decode_fields(&bytes);
        assert_eq!(decoded.end, End::Complete);
        assert!(decoded.fields.iter().all(|field| field.name.is_none()));
        let fields = nested(&decoded.fields[2]);
        assert_eq!(fields[0].content, Value::Varint(3));
        // "xxxxxxxx" parses as four varint fields 15; printable text stays text.
        let Value::Len { contents: Contents::Text(filler), .. } = &fields[1].content else { panic!("{fields:?}") };
        assert_eq!(filler, "xxxxxxxx");
    }

    #[test]
    fn every_kind_of_body_reads_by_the_schema() {
        use v1::event::Body;
        let audio = v1::Audio { mime_type: "audio/wav".into(), frequency_hz: 440, duration_ms: 5, data: vec![0, 0xff] };
        let cases = [
            (Body::Message(v1::Text { text: "hé".into() }), "message", "message.text"),
            (Body::Broadcast(v1::Text { text: "all".into() }), "broadcast", "broadcast.text"),
            (Body::Audio(audio), "audio", "audio.mime_type"),
            (Body::Gap(v1::Gap { from: 4, to: 9 }), "gap", "gap.from"),
        ];
        for (body, name, first) in cases {
            let bytes = v1::Event { seq: 0, emitted_at: 0, body: Some(body) }.encode_to_vec();
            let decoded = decode_message(&bytes, Schema::Event);
            assert_eq!(decoded.end, End::Complete);
            let [field] = &decoded.fields[..] else { panic!("proto3 leaves seq 0 off the wire: {decoded:?}") };
            assert_eq!(field.name, Some(name));
            assert_eq!(nested(field)[0].name, Some(first));
        }
        let bytes = v1::Event {
            seq: 1,
            emitted_at: 2,
            body: Some(Body::Audio(v1::Audio { data: b"RIFF".to_vec(), ..Default::default() })),
        }
        .encode_to_vec();
        let decoded = decode_message(&bytes, Schema::Event);
        let data = &nested(&decoded.fields[2])[0];
        assert_eq!(data.name, Some("audio.data"));
        assert!(matches!(data.content, Value::Len { length: 4, contents: Contents::Bytes, .. }), "bytes by schema");
    }

    #[test]
    fn requests_are_named_by_their_wire_types() {
        let subscribe = v1::SubscribeRequest { after: Some(0), client: "abcdefghij".into() }.encode_to_vec();
        let decoded = decode_message(&subscribe, Schema::Request);
        let names: Vec<_> = decoded.fields.iter().map(|field| field.name).collect();
        assert_eq!(names, [Some("after"), Some("client")]);
        assert_eq!(decoded.fields[0].content, Value::Varint(0), "an optional field is sent even when 0");
        let publish = v1::PublishRequest { text: "hi".into() }.encode_to_vec();
        assert_eq!(decode_message(&publish, Schema::Request).fields[0].name, Some("text"));
    }

    #[test]
    fn fixed_width_fields_read_little_endian() {
        // Field 1 as i64, field 2 as i32: what a double and a float would be.
        let mut bytes = vec![0x09];
        bytes.extend_from_slice(&1.5f64.to_le_bytes());
        bytes.push(0x15);
        bytes.extend_from_slice(&7u32.to_le_bytes());
        let decoded = decode_fields(&bytes);
        assert_eq!(decoded.end, End::Complete);
        assert_eq!(decoded.fields[0].content, Value::I64(1.5f64.to_bits()));
        assert_eq!(decoded.fields[1].wire_type, WireType::I32);
        assert_eq!(decoded.fields[1].content, Value::I32(7));
        assert_eq!(decoded.fields[1].value, 10..14);
    }

    #[test]
    fn a_message_cut_anywhere_reads_up_to_the_cut() {
        let bytes = v1::Event {
            seq: 300,
            emitted_at: 1_795_303_724_621_196,
            body: Some(v1::event::Body::Message(v1::Text { text: "x".repeat(100) })),
        }
        .encode_to_vec();
        for kept in 0..bytes.len() {
            let decoded = decode_message(&bytes[..kept], Schema::Event);
            if kept == 0 || kept == 3 || kept == 12 {
                assert_eq!(decoded.end, End::Complete, "cut between fields at {kept}");
            } else {
                assert!(matches!(decoded.end, End::Cut { .. }), "{kept}: {decoded:?}");
            }
            for field in &decoded.fields {
                assert!(field.key.end <= kept && field.value.end <= kept);
            }
        }
        let decoded = decode_message(&bytes[..64], Schema::Event);
        let body = decoded.fields.last().unwrap();
        assert!(body.is_cut());
        assert_eq!(body.name, Some("message"));
        let Value::Cut { length: Some(102), data, fields } = &body.content else { panic!("{body:?}") };
        assert_eq!(*data, 14..64, "the length was kept, not the whole text");
        let [text] = &fields[..] else { panic!("{fields:?}") };
        assert_eq!(text.name, Some("message.text"));
        assert_eq!(text.content, Value::Cut { length: Some(100), data: 16..64, fields: Vec::new() });
        assert_eq!(decoded.end, End::Cut { at: 12 });
        // Cut inside seq's two-byte varint.
        let decoded = decode_message(&bytes[..2], Schema::Event);
        assert_eq!(decoded.fields[0].content, Value::Cut { length: None, data: 1..2, fields: Vec::new() });
    }

    #[test]
    fn bytes_that_are_not_protobuf_end_the_reading_with_a_reason() {
        assert_eq!(decode_fields(&[0x00]).end, End::Unreadable { at: 0, why: "field number 0 is not allowed" });
        assert_eq!(
            decode_fields(&[0x08, 0x01, 0x0f]).end,
            End::Unreadable { at: 2, why: "wire types 6 and 7 do not exist" }
        );
        assert!(matches!(decode_fields(&[0x0b]).end, End::Unreadable { .. }), "a group");
        let overlong = [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert!(matches!(decode_fields(&overlong).end, End::Unreadable { at: 0, .. }));
        // A trailer frame's text is not an Event.
        assert!(!matches!(decode_fields(b"grpc-status: 0\r\n").end, End::Complete));
    }

    #[test]
    fn event_fields_are_named_by_their_path() {
        assert_eq!(event_field_name(&[1]), Some("seq"));
        assert_eq!(event_field_name(&[2]), Some("emitted_at"));
        assert_eq!(event_field_name(&[3, 1]), Some("tick.n"));
        assert_eq!(event_field_name(&[6, 4]), Some("audio.data"));
        assert_eq!(event_field_name(&[8]), None);
        assert_eq!(event_field_name(&[1, 1]), None);
        assert_eq!(Schema::Event.field_name(&[1], WireType::Len), None, "seq is a varint");
    }

    #[test]
    fn random_bytes_never_panic_and_ranges_stay_in_bounds() {
        fn check(fields: &[Field], len: usize, depth: usize) {
            assert!(depth <= MAX_DEPTH);
            for field in fields {
                assert!(field.key.start < field.key.end && field.key.end == field.value.start);
                assert!(field.value.end <= len);
                match &field.content {
                    Value::Len { contents: Contents::Message(inner), .. } | Value::Cut { fields: inner, .. } => {
                        check(inner, len, depth + 1)
                    }
                    _ => {}
                }
            }
        }
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as u8
        };
        for round in 0..5000 {
            let len = usize::from(next()) % 80;
            let mut bytes: Vec<u8> = (0..len).map(|_| next()).collect();
            // Every other round starts like a real message, so the reader gets past the first key more often.
            if round % 2 == 0 && !bytes.is_empty() {
                bytes[0] = 0x1a;
            }
            for schema in [Schema::Unknown, Schema::Event, Schema::Request] {
                let decoded = decode_message(&bytes, schema);
                check(&decoded.fields, bytes.len(), 0);
            }
        }
    }

    #[test]
    fn nesting_stops_at_the_depth_limit() {
        // Six messages deep, each a field 1 LEN around the next.
        let mut bytes = vec![0x08, 0x01];
        for _ in 0..6 {
            let mut outer = vec![0x0a, bytes.len() as u8];
            outer.extend_from_slice(&bytes);
            bytes = outer;
        }
        let mut fields = decode_fields(&bytes).fields;
        let mut depth = 0;
        while let Some(Field { content: Value::Len { contents: Contents::Message(inner), .. }, .. }) = fields.pop() {
            fields = inner;
            depth += 1;
        }
        assert_eq!(depth, MAX_DEPTH);
    }
}
