//! The inspector's hex view, as plain Rust: a frame or body as offset, hex and ASCII, 16 bytes a row, with the
//! bytes of each header field marked and named. The byte layouts are where a learner meets a protocol's real shape:
//! the WebSocket mask key, the length that says how much follows, the audio frame's fixed header, MQTT's
//! variable-length integer, gRPC's 5-byte prefix.

use std::ops::Range;

use protocol::mqtt::anatomy::dissect;
use protocol::{Transport, WireLabel, WireRecord, WireUnit, AUDIO_FRAME_HEADER_BYTES};

pub const BYTES_PER_ROW: usize = 16;

/// One named field and the bytes it takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HexField {
    pub name: String,
    pub value: String,
    pub bytes: Range<usize>,
}

/// The bytes the server kept of one unit, and what they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HexView {
    pub bytes: Vec<u8>,
    pub fields: Vec<HexField>,
    /// Bytes the unit had on the wire, when the server kept fewer (it keeps the start of each).
    pub cut_from: Option<u64>,
    /// Anything else to read the bytes by (a browser's payload, unmasked).
    pub notes: Vec<String>,
}

/// One row: its offset, and each byte with the index of the field it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HexRow {
    pub offset: usize,
    pub cells: Vec<HexCell>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HexCell {
    pub byte: u8,
    pub field: Option<usize>,
}

impl HexCell {
    pub fn hex(self) -> String {
        format!("{:02x}", self.byte)
    }

    /// The byte in the ASCII column: printable ASCII as itself, anything else as a dot.
    pub fn ascii(self) -> char {
        if self.byte.is_ascii_graphic() || self.byte == b' ' {
            self.byte as char
        } else {
            '.'
        }
    }
}

impl HexView {
    pub fn rows(&self) -> Vec<HexRow> {
        self.bytes
            .chunks(BYTES_PER_ROW)
            .enumerate()
            .map(|(row, chunk)| {
                let offset = row * BYTES_PER_ROW;
                let cells = chunk
                    .iter()
                    .enumerate()
                    .map(|(index, &byte)| HexCell { byte, field: self.field_at(offset + index) })
                    .collect();
                HexRow { offset, cells }
            })
            .collect()
    }

    /// The innermost field holding byte `at` (fields are listed outer first, so the last match is the narrowest).
    pub fn field_at(&self, at: usize) -> Option<usize> {
        self.fields.iter().rposition(|field| field.bytes.contains(&at))
    }
}

/// The hex view of a measured record, where it has bytes worth one: frames, gRPC messages, bodies and chunks.
pub fn hex_view(record: &WireRecord) -> Option<HexView> {
    match &record.unit {
        WireUnit::Frame { opcode, header, event, .. } if !header.is_empty() => {
            let header = parse_hex(header)?;
            let payload = parse_hex(&record.raw).unwrap_or_default();
            let is_mqtt = record.transport == Some(Transport::Mqtt) && opcode == "binary";
            Some(frame_view(&header, payload, opcode, *event, is_mqtt, record.bytes.payload))
        }
        WireUnit::GrpcMessage { flags, length, .. } => {
            let trailers = flags & 0x80 != 0;
            let kept =
                if trailers { record.raw.as_bytes().to_vec() } else { parse_hex(&record.raw).unwrap_or_default() };
            let mut bytes = vec![*flags];
            bytes.extend_from_slice(&length.to_be_bytes());
            let end = 5 + kept.len();
            bytes.extend(kept);
            let fields = vec![
                field("flags", format!("0x{flags:02x}{}", if trailers { ": trailers" } else { "" }), 0..1),
                field("message length", format!("{length} bytes, big-endian"), 1..5),
                field(if trailers { "trailers" } else { "protobuf message" }, String::new(), 5..end),
            ];
            Some(HexView { bytes, fields, cut_from: cut(end - 5, u64::from(*length)), notes: Vec::new() })
        }
        WireUnit::Body | WireUnit::Chunk { .. } if !record.raw.is_empty() => {
            let bytes = record.raw.as_bytes().to_vec();
            let carried = match record.unit {
                WireUnit::Chunk { .. } => chunk_data_bytes(record.bytes),
                _ => record.bytes.payload,
            };
            let kept = bytes.len();
            Some(HexView { bytes, fields: Vec::new(), cut_from: cut(kept, carried), notes: Vec::new() })
        }
        _ => None,
    }
}

/// The data a chunk carried: its text, SSE field names and all (which the lab counts as framing), without the chunk's
/// size line and CRLFs.
pub fn chunk_data_bytes(bytes: protocol::WireBytes) -> u64 {
    bytes.total().saturating_sub(bytes.head).saturating_sub(chunk_size_line_bytes(bytes))
}

/// A frame's payload as the server kept it, unmasked where a browser masked it.
pub fn frame_payload(record: &WireRecord) -> Option<Vec<u8>> {
    let WireUnit::Frame { header, .. } = &record.unit else { return None };
    let header = parse_hex(header)?;
    let mut payload = parse_hex(&record.raw)?;
    unmask(&header, &mut payload);
    Some(payload)
}

/// A frame header's masking key: its last 4 bytes when the MASK bit is set. A header too short to hold the key it
/// claims (a hand-edited trace) has none, so nothing is ever sliced past its end.
fn mask_key(header: &[u8]) -> Option<&[u8]> {
    (header.len() >= 6 && header[1] & 0x80 != 0).then(|| &header[header.len() - 4..])
}

/// XORs byte i of `payload` with key byte i mod 4 (RFC 6455 §5.3), if the header has a key.
fn unmask(header: &[u8], payload: &mut [u8]) {
    if let Some(key) = mask_key(header) {
        payload.iter_mut().enumerate().for_each(|(index, byte)| *byte ^= key[index % 4]);
    }
}

/// An opcode's number (RFC 6455 §5.2) from the name the wire record gives it; 0xF for any the lab does not name.
pub fn opcode_number(name: &str) -> u8 {
    match name {
        "continuation" => 0x0,
        "text" => 0x1,
        "binary" => 0x2,
        "close" => 0x8,
        "ping" => 0x9,
        "pong" => 0xA,
        _ => 0xF,
    }
}

/// A chunk's size line and its trailing CRLF: the hex length, `\r\n`, then `\r\n` after the data.
fn chunk_size_line_bytes(bytes: protocol::WireBytes) -> u64 {
    let chunk = bytes.total() - bytes.head;
    // The size line spells the data's length in hex; with the two CRLFs it is that many digits plus 4 bytes.
    (1..=16u64)
        .map(|digits| digits + 4)
        .find(|framing| chunk.checked_sub(*framing).is_some_and(|data| hex_digits(data) + 4 == *framing))
        .unwrap_or(0)
}

fn hex_digits(value: u64) -> u64 {
    u64::from((64 - value.leading_zeros()).div_ceil(4).max(1))
}

fn cut(kept: usize, carried: u64) -> Option<u64> {
    ((kept as u64) < carried).then_some(carried)
}

fn field(name: &str, value: String, bytes: Range<usize>) -> HexField {
    HexField { name: name.to_owned(), value, bytes }
}

fn frame_view(
    header: &[u8],
    payload: Vec<u8>,
    opcode: &str,
    event: Option<WireLabel>,
    is_mqtt: bool,
    carried: u64,
) -> HexView {
    let mut fields = Vec::new();
    let mut notes = Vec::new();
    if let [first, second, ..] = header {
        fields.push(field(
            "FIN · RSV1-3 · opcode",
            format!("FIN {}, RSV {:03b}, opcode 0x{:x} ({opcode})", first >> 7, (first >> 4) & 0b111, first & 0x0f),
            0..1,
        ));
        let length7 = second & 0x7f;
        let length_note = match length7 {
            126 => "126: the length follows in 16 bits".to_owned(),
            127 => "127: the length follows in 64 bits".to_owned(),
            length => format!("the payload is {length} bytes"),
        };
        fields.push(field("MASK · length", format!("MASK {}, length {length_note}", second >> 7), 1..2));
    }
    let key = mask_key(header);
    let mask_start = header.len() - key.map_or(0, <[u8]>::len);
    if mask_start > 2 {
        let length = header[2..mask_start].iter().fold(0u64, |sum, &byte| sum << 8 | u64::from(byte));
        fields.push(field("extended length", format!("{length} bytes, big-endian"), 2..mask_start));
    }
    let mut unmasked = payload.clone();
    unmask(header, &mut unmasked);
    if let Some(key) = key {
        fields.push(field("masking key", hex(key), mask_start..header.len()));
        notes.push(format!(
            "a browser's payload is masked: XOR byte i with key byte i mod 4 to read it. Unmasked: {}",
            readable(&unmasked)
        ));
    }
    let at = header.len();
    let end = at + payload.len();
    if !payload.is_empty() {
        fields.push(field("payload", format!("{carried} bytes"), at..end));
    }
    let inner = |range: Range<usize>| (at + range.start).min(end)..(at + range.end).min(end);
    if opcode == "close" && unmasked.len() >= 2 {
        let code = u16::from_be_bytes([unmasked[0], unmasked[1]]);
        fields.push(field("close code", format!("{code} ({})", close_code_name(code)), inner(0..2)));
        if unmasked.len() > 2 {
            fields.push(field("close reason", readable(&unmasked[2..]), inner(2..unmasked.len())));
        }
    } else if event == Some(WireLabel::Audio) && opcode == "binary" {
        let number = |range: Range<usize>| {
            unmasked.get(range).map(|bytes| bytes.iter().fold(0u64, |sum, &byte| sum << 8 | u64::from(byte)))
        };
        let shown = |value: Option<u64>| value.map_or_else(|| "(cut)".to_owned(), |value| value.to_string());
        fields.push(field("seq (u64)", shown(number(0..8)), inner(0..8)));
        fields.push(field("emitted_at (u64, Unix µs)", shown(number(8..16)), inner(8..16)));
        fields.push(field("frequency_hz (u32)", shown(number(16..20)), inner(16..20)));
        fields.push(field("duration_ms (u32)", shown(number(20..24)), inner(20..24)));
        fields.push(field(
            "the WAV file",
            format!("{} bytes, from its RIFF header", carried.saturating_sub(AUDIO_FRAME_HEADER_BYTES as u64)),
            inner(AUDIO_FRAME_HEADER_BYTES..unmasked.len().max(AUDIO_FRAME_HEADER_BYTES)),
        ));
    } else if is_mqtt {
        let anatomy = dissect(&unmasked);
        fields.push(field("MQTT packet", anatomy.kind.to_owned(), at..end));
        fields.extend(anatomy.fields.into_iter().map(|part| HexField {
            name: format!("{}: {}", part.section.name(), part.name),
            value: part.value,
            bytes: inner(part.bytes),
        }));
    }
    fields.retain(|field| !field.bytes.is_empty());
    let mut bytes = header.to_vec();
    bytes.extend(payload);
    HexView { bytes, fields, cut_from: cut(end - at, carried), notes }
}

/// RFC 6455 §7.4.1's codes, and the ones the lab sends.
pub fn close_code_name(code: u16) -> &'static str {
    match code {
        1000 => "normal closure",
        1001 => "going away",
        1002 => "protocol error",
        1003 => "unsupported data",
        1007 => "invalid payload data",
        1008 => "policy violation",
        1009 => "message too big",
        1011 => "internal error",
        1012 => "service restart",
        1013 => "try again later",
        3000..=3999 => "registered by a library or framework",
        4000..=4999 => "private use by an application",
        _ => "not a code RFC 6455 defines",
    }
}

/// Text where the bytes are UTF-8, hex where they are not.
fn readable(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => format!("{text:?}"),
        Err(_) => hex(bytes),
    }
}

/// Bytes written as spaced hex pairs (`raw` of a frame or a gRPC message); `None` if any pair is not hex.
pub fn parse_hex(raw: &str) -> Option<Vec<u8>> {
    raw.split_whitespace().map(|byte| u8::from_str_radix(byte, 16).ok()).collect()
}

/// Two lowercase hex digits a byte, spaced, as the server writes `raw`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect::<Vec<_>>().join(" ")
}

/// A single, final WebSocket frame as the tap records it, from its header bytes (the tests' fixture).
#[cfg(test)]
pub(crate) fn frame_unit(opcode: &'static str, header: &[u8], seq: Option<u64>, event: Option<WireLabel>) -> WireUnit {
    WireUnit::Frame {
        opcode: opcode.into(),
        fin: true,
        rsv: 0,
        masked: header[1] & 0x80 != 0,
        length_bits: 7,
        header: hex(header),
        seq,
        event,
        message: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{WireBytes, WireDirection};

    fn frame_record(header: &[u8], payload: &[u8], opcode: &'static str, event: Option<WireLabel>) -> WireRecord {
        WireRecord {
            id: 1,
            exchange: 1,
            transport: Some(Transport::WebSocket),
            direction: WireDirection::ToClient,
            at: 0,
            unit: frame_unit(opcode, header, None, event),
            bytes: WireBytes { head: 0, framing: header.len() as u64, payload: payload.len() as u64 },
            raw: hex(payload),
        }
    }

    fn named<'a>(view: &'a HexView, name: &str) -> &'a HexField {
        view.fields.iter().find(|field| field.name == name).unwrap_or_else(|| panic!("no {name}: {view:#?}"))
    }

    #[test]
    fn an_audio_frame_shows_its_24_byte_header_field_by_field() {
        let mut payload = Vec::new();
        payload.extend(7u64.to_be_bytes());
        payload.extend(1_700_000_000_000_000u64.to_be_bytes());
        payload.extend(440u32.to_be_bytes());
        payload.extend(500u32.to_be_bytes());
        payload.extend(b"RIFF\x24\x00\x00\x00WAVE");
        let header = [0x82, 126, 0, payload.len() as u8];
        let view = hex_view(&frame_record(&header, &payload, "binary", Some(WireLabel::Audio))).unwrap();
        assert_eq!(named(&view, "extended length").bytes, 2..4);
        assert_eq!(named(&view, "seq (u64)").value, "7");
        assert_eq!(named(&view, "seq (u64)").bytes, 4..12);
        assert_eq!(named(&view, "emitted_at (u64, Unix µs)").value, "1700000000000000");
        assert_eq!(named(&view, "frequency_hz (u32)").bytes, 20..24);
        assert_eq!(named(&view, "duration_ms (u32)").value, "500");
        assert_eq!(named(&view, "the WAV file").bytes, 28..40);
        let rows = view.rows();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1].offset, 16);
        // Byte 20 is the first of the frequency: the narrowest field wins over "payload".
        assert_eq!(view.fields[rows[1].cells[4].field.unwrap()].name, "frequency_hz (u32)");
        assert_eq!(rows[2].cells.iter().map(|cell| cell.ascii()).collect::<String>(), "$...WAVE");
        assert_eq!(view.cut_from, None);
    }

    #[test]
    fn a_browser_frame_shows_its_mask_key_and_reads_unmasked() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let masked: Vec<u8> = b"Hello".iter().enumerate().map(|(index, byte)| byte ^ key[index % 4]).collect();
        let header = [0x81, 0x85, key[0], key[1], key[2], key[3]];
        let view = hex_view(&frame_record(&header, &masked, "text", None)).unwrap();
        assert_eq!(named(&view, "masking key").bytes, 2..6);
        assert_eq!(named(&view, "masking key").value, "37 fa 21 3d");
        assert_eq!(named(&view, "MASK · length").value, "MASK 1, length the payload is 5 bytes");
        assert!(view.notes[0].ends_with("\"Hello\""), "{:?}", view.notes);
        assert_eq!(view.bytes.len(), 11);
    }

    #[test]
    fn a_header_too_short_for_its_mask_key_is_read_without_panicking() {
        // A hand-edited trace: the MASK bit set, no key.
        let view = hex_view(&frame_record(&[0x81, 0x85], b"Hello", "text", None)).unwrap();
        assert!(view.fields.iter().all(|field| field.name != "masking key"));
        assert_eq!(named(&view, "payload").bytes, 2..7);
        let mut huge = frame_record(&[0x81, 0x05], b"Hello", "text", None);
        huge.bytes = protocol::WireBytes { head: u64::MAX, framing: u64::MAX, payload: u64::MAX };
        assert_eq!(hex_view(&huge).unwrap().cut_from, Some(u64::MAX));
    }

    #[test]
    fn a_close_frame_names_its_code_and_reason() {
        let mut payload = 1008u16.to_be_bytes().to_vec();
        payload.extend(b"bad frame");
        let view = hex_view(&frame_record(&[0x88, payload.len() as u8], &payload, "close", None)).unwrap();
        assert_eq!(named(&view, "close code").value, "1008 (policy violation)");
        assert_eq!(named(&view, "close code").bytes, 2..4);
        assert_eq!(named(&view, "close reason").value, "\"bad frame\"");
    }

    #[test]
    fn a_cut_payload_says_how_much_it_had_and_marks_only_what_was_kept() {
        let mut record = frame_record(&[0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0], &[0xab; 256], "binary", None);
        record.bytes.payload = 65_536;
        let view = hex_view(&record).unwrap();
        assert_eq!(view.cut_from, Some(65_536));
        assert_eq!(named(&view, "extended length").value, "65536 bytes, big-endian");
        assert_eq!(named(&view, "payload").bytes, 10..266);
    }

    #[test]
    fn an_mqtt_packet_in_a_frame_is_taken_apart() {
        // PUBLISH QoS 0, topic "a", no properties, payload "hi".
        let packet = [0x30, 0x06, 0x00, 0x01, b'a', 0x00, b'h', b'i'];
        let mut record = frame_record(&[0x82, packet.len() as u8], &packet, "binary", None);
        record.transport = Some(Transport::Mqtt);
        let view = hex_view(&record).unwrap();
        assert_eq!(named(&view, "MQTT packet").value, "PUBLISH");
        let length = view.fields.iter().find(|field| field.name.ends_with("remaining length")).unwrap();
        assert_eq!(length.bytes, 3..4);
    }

    #[test]
    fn a_grpc_message_shows_its_prefix() {
        let record = WireRecord {
            unit: WireUnit::GrpcMessage { flags: 0, length: 300, seq: None, event: None },
            raw: "08 07".into(),
            bytes: WireBytes { head: 0, framing: 5, payload: 300 },
            ..frame_record(&[0x81, 0], &[], "text", None)
        };
        let view = hex_view(&record).unwrap();
        assert_eq!(view.bytes, [0, 0, 0, 1, 44, 8, 7]);
        assert_eq!(named(&view, "message length").bytes, 1..5);
        assert_eq!(view.cut_from, Some(300));
    }

    #[test]
    fn a_body_is_its_bytes_with_no_fields_and_says_when_it_was_cut() {
        let record = WireRecord {
            unit: WireUnit::Body,
            raw: "{\"events\":[]}".into(),
            bytes: WireBytes { head: 0, framing: 0, payload: 13 },
            ..frame_record(&[0x81, 0], &[], "text", None)
        };
        let view = hex_view(&record).unwrap();
        assert!(view.fields.is_empty() && view.cut_from.is_none());
        let long = WireRecord { bytes: WireBytes { payload: 70_000, ..record.bytes }, ..record };
        assert_eq!(hex_view(&long).unwrap().cut_from, Some(70_000));
    }

    #[test]
    fn a_chunk_s_text_counts_its_sse_field_names_but_not_its_size_line() {
        // "2a\r\n" + 42 bytes of data + "\r\n": 6 bytes of size line; the SSE field names are framing too.
        let text = "id: 1\nevent: tick\ndata: {\"seq\":1}\n\n1234567";
        assert_eq!(text.len(), 42);
        let record = WireRecord {
            unit: WireUnit::Chunk { event: Some(WireLabel::Tick), seq: Some(1) },
            raw: text.into(),
            bytes: WireBytes { head: 0, framing: 6 + 33, payload: 9 },
            ..frame_record(&[0x81, 0], &[], "text", None)
        };
        assert_eq!(hex_view(&record).unwrap().cut_from, None);
    }
}
