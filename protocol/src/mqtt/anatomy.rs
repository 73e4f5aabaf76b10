//! One MQTT 5 packet taken apart for the inspector: the fixed header (type, flags, remaining length as the
//! variable-length integer it is on the wire), the variable header (packet id, reason code, each property by name)
//! and the payload, each field with the bytes it occupies, plus a hex dump of the whole.
//!
//! Read straight from the bytes rather than from a decoded packet, so the fields come in wire order with their
//! offsets, and a malformed packet still shows as far as it makes sense (the rest is marked, never a panic).

use std::ops::Range;

use mqtt5_protocol::{PropertyId, PropertyValueType};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    FixedHeader,
    VariableHeader,
    Payload,
}

impl Section {
    pub fn name(self) -> &'static str {
        match self {
            Section::FixedHeader => "fixed header",
            Section::VariableHeader => "variable header",
            Section::Payload => "payload",
        }
    }
}

/// One field: where it is, what it is called, what it says, and the bytes it takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub section: Section,
    pub name: String,
    pub value: String,
    pub bytes: Range<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anatomy {
    /// `PUBLISH`, `PUBREL`… (or `reserved` for a type MQTT does not define).
    pub kind: &'static str,
    pub fields: Vec<Field>,
    /// Set where the bytes stopped making sense; the fields before it stand.
    pub malformed: Option<String>,
    pub len: usize,
}

const NAMES: [&str; 16] = [
    "reserved",
    "CONNECT",
    "CONNACK",
    "PUBLISH",
    "PUBACK",
    "PUBREC",
    "PUBREL",
    "PUBCOMP",
    "SUBSCRIBE",
    "SUBACK",
    "UNSUBSCRIBE",
    "UNSUBACK",
    "PINGREQ",
    "PINGRESP",
    "DISCONNECT",
    "AUTH",
];

/// Takes one whole packet apart (as [`super::Incoming::bytes`] or [`super::Outgoing::bytes`] hold it).
pub fn dissect(packet: &[u8]) -> Anatomy {
    let mut reader = Reader { bytes: packet, at: 0, fields: Vec::new(), section: Section::FixedHeader };
    let kind = packet.first().map_or("reserved", |first| NAMES[usize::from(first >> 4)]);
    let malformed = reader.packet().err();
    Anatomy { kind, fields: reader.fields, malformed, len: packet.len() }
}

/// `offset  hex bytes  ascii`, 16 bytes a line, as a hex editor shows them; at most `max_bytes` of it.
pub fn hex_dump(bytes: &[u8], max_bytes: usize) -> String {
    let mut out = String::new();
    for (line, chunk) in bytes[..bytes.len().min(max_bytes)].chunks(16).enumerate() {
        let hex: Vec<String> = chunk.iter().map(|byte| format!("{byte:02x}")).collect();
        let ascii: String = chunk
            .iter()
            .map(|&byte| if byte.is_ascii_graphic() || byte == b' ' { byte as char } else { '.' })
            .collect();
        out.push_str(&format!("{:06x}  {:<47}  {ascii}\n", line * 16, hex.join(" ")));
    }
    if bytes.len() > max_bytes {
        out.push_str(&format!("… {} more bytes\n", bytes.len() - max_bytes));
    }
    out
}

/// Where a field ran past the end, or held what MQTT forbids there.
type Malformed = String;

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    fields: Vec<Field>,
    section: Section,
}

impl Reader<'_> {
    fn packet(&mut self) -> Result<(), Malformed> {
        let first = self.u8("type and flags")?;
        let kind = first >> 4;
        let flags = first & 0x0F;
        self.name_last(format!("{} ({kind})", NAMES[usize::from(kind)]), flags_text(kind, flags));
        let start = self.at;
        let remaining = self.varint()?;
        self.push_from(start, "remaining length", format!("{remaining} bytes (variable-length integer)"));
        let end = self.at + remaining as usize;
        if end != self.bytes.len() {
            return Err(format!("remaining length says {remaining} bytes, {} follow", self.bytes.len() - self.at));
        }
        self.section = Section::VariableHeader;
        match kind {
            1 => self.connect(),
            2 => {
                let ack_flags = self.u8("acknowledge flags")?;
                self.set_last_value(format!("session present = {}", ack_flags & 1));
                self.reason_code()?;
                self.properties()
            }
            3 => self.publish(flags, end),
            4..=7 => {
                self.u16("packet identifier")?;
                self.optional_reason_and_properties(end)
            }
            8 | 10 => {
                self.u16("packet identifier")?;
                self.properties()?;
                self.section = Section::Payload;
                while self.at < end {
                    self.string("topic filter")?;
                    if kind == 8 {
                        let options = self.u8("subscription options")?;
                        self.set_last_value(subscription_options(options));
                    }
                }
                Ok(())
            }
            9 | 11 => {
                self.u16("packet identifier")?;
                self.properties()?;
                self.section = Section::Payload;
                while self.at < end {
                    self.reason_code()?;
                }
                Ok(())
            }
            14 | 15 => self.optional_reason_and_properties(end),
            _ => Ok(()),
        }
    }

    fn connect(&mut self) -> Result<(), Malformed> {
        self.string("protocol name")?;
        let level = self.u8("protocol level")?;
        self.set_last_value(format!("{level}{}", if level == 5 { " (MQTT 5.0)" } else { "" }));
        let flags = self.u8("connect flags")?;
        self.set_last_value(connect_flags(flags));
        let keep_alive = self.u16("keep alive")?;
        self.set_last_value(format!("{keep_alive} s"));
        self.properties()?;
        self.section = Section::Payload;
        self.string("client identifier")?;
        if flags & 0x04 != 0 {
            self.properties_named("will property")?;
            self.string("will topic")?;
            self.binary("will payload")?;
        }
        if flags & 0x80 != 0 {
            self.string("user name")?;
        }
        if flags & 0x40 != 0 {
            self.binary("password")?;
            self.set_last_value("(hidden)".into());
        }
        Ok(())
    }

    fn publish(&mut self, flags: u8, end: usize) -> Result<(), Malformed> {
        self.string("topic name")?;
        if (flags >> 1) & 0x03 != 0 {
            self.u16("packet identifier")?;
        }
        self.properties()?;
        self.section = Section::Payload;
        let payload = &self.bytes[self.at..end];
        let value = match std::str::from_utf8(payload) {
            Ok(text) => format!("{} B: {}", payload.len(), shorten(text, 200)),
            Err(_) => format!("{} B of binary data", payload.len()),
        };
        self.push(self.at..end, "application message", value);
        self.at = end;
        Ok(())
    }

    /// PUBACK…PUBCOMP, DISCONNECT and AUTH may end early: no reason code means 0x00 Success, and no properties.
    fn optional_reason_and_properties(&mut self, end: usize) -> Result<(), Malformed> {
        if self.at < end {
            self.reason_code()?;
        } else {
            self.push(self.at..self.at, "reason code", "omitted: 0x00 success".into());
        }
        if self.at < end {
            self.properties()?;
        }
        Ok(())
    }

    fn properties(&mut self) -> Result<(), Malformed> {
        self.properties_named("property")
    }

    fn properties_named(&mut self, what: &str) -> Result<(), Malformed> {
        let start = self.at;
        let len = self.varint()? as usize;
        self.push_from(start, &format!("{what} length"), format!("{len} bytes"));
        let end = self.at + len;
        if end > self.bytes.len() {
            return Err(format!("{what} length {len} runs past the packet"));
        }
        while self.at < end {
            let start = self.at;
            let id = self.take(1, "property identifier")?[0];
            let property = PropertyId::from_u8(id).ok_or_else(|| format!("unknown property 0x{id:02x}"))?;
            let value = match property.value_type() {
                PropertyValueType::Byte => self.take(1, "property")?[0].to_string(),
                PropertyValueType::TwoByteInteger => u16::from_be_bytes(self.array("property")?).to_string(),
                PropertyValueType::FourByteInteger => u32::from_be_bytes(self.array("property")?).to_string(),
                PropertyValueType::VariableByteInteger => self.varint()?.to_string(),
                PropertyValueType::Utf8String => self.raw_string()?,
                PropertyValueType::BinaryData => format!("{} B", self.raw_binary()?.len()),
                PropertyValueType::Utf8StringPair => {
                    let key = self.raw_string()?;
                    format!("{key} = {}", self.raw_string()?)
                }
            };
            self.push_from(start, &format!("{what} 0x{id:02x} {}", words(&format!("{property:?}"))), value);
        }
        if self.at != end {
            return Err(format!("a {what} runs past the {what} length"));
        }
        Ok(())
    }

    fn reason_code(&mut self) -> Result<(), Malformed> {
        let code = self.u8("reason code")?;
        self.set_last_value(format!("0x{code:02x}"));
        Ok(())
    }

    fn u8(&mut self, name: &str) -> Result<u8, Malformed> {
        let byte = self.take(1, name)?[0];
        self.push(self.at - 1..self.at, name, byte.to_string());
        Ok(byte)
    }

    fn u16(&mut self, name: &str) -> Result<u16, Malformed> {
        let value = u16::from_be_bytes(self.array(name)?);
        self.push(self.at - 2..self.at, name, value.to_string());
        Ok(value)
    }

    fn string(&mut self, name: &str) -> Result<(), Malformed> {
        let start = self.at;
        let text = self.raw_string()?;
        self.push_from(start, name, shorten(&text, 200));
        Ok(())
    }

    fn binary(&mut self, name: &str) -> Result<(), Malformed> {
        let start = self.at;
        let data = self.raw_binary()?;
        let value = match std::str::from_utf8(data) {
            Ok(text) => format!("{} B: {}", data.len(), shorten(text, 200)),
            Err(_) => format!("{} B", data.len()),
        };
        self.push_from(start, name, value);
        Ok(())
    }

    fn raw_string(&mut self) -> Result<String, Malformed> {
        let data = self.raw_binary()?;
        std::str::from_utf8(data).map(str::to_owned).map_err(|_| "a string that is not UTF-8".to_owned())
    }

    fn raw_binary(&mut self) -> Result<&[u8], Malformed> {
        let len = usize::from(u16::from_be_bytes(self.array("length")?));
        self.take(len, "string")
    }

    fn varint(&mut self) -> Result<u32, Malformed> {
        let mut value = 0u32;
        for index in 0..4 {
            let byte = self.take(1, "variable-length integer")?[0];
            value |= u32::from(byte & 0x7F) << (7 * index);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a variable-length integer longer than four bytes".into())
    }

    fn array<const N: usize>(&mut self, name: &str) -> Result<[u8; N], Malformed> {
        let bytes = self.take(N, name)?;
        bytes.try_into().map_err(|_| format!("{name} cut short"))
    }

    fn take(&mut self, len: usize, name: &str) -> Result<&[u8], Malformed> {
        let bytes = self.bytes.get(self.at..self.at + len).ok_or_else(|| format!("{name} runs past the packet"))?;
        self.at += len;
        Ok(bytes)
    }

    fn push(&mut self, bytes: Range<usize>, name: &str, value: String) {
        self.fields.push(Field { section: self.section, name: name.to_owned(), value, bytes });
    }

    fn push_from(&mut self, start: usize, name: &str, value: String) {
        self.push(start..self.at, name, value);
    }

    fn set_last_value(&mut self, value: String) {
        if let Some(last) = self.fields.last_mut() {
            last.value = value;
        }
    }

    fn name_last(&mut self, name: String, value: String) {
        if let Some(last) = self.fields.last_mut() {
            last.name = format!("type and flags: {name}");
            last.value = value;
        }
    }
}

fn flags_text(kind: u8, flags: u8) -> String {
    if kind == 3 {
        format!("DUP={} QoS={} RETAIN={}", flags >> 3, (flags >> 1) & 0x03, flags & 1)
    } else {
        format!("flags {flags:04b} (fixed for this type)")
    }
}

fn connect_flags(flags: u8) -> String {
    format!(
        "clean start={} will={} will QoS={} will retain={} password={} user name={}",
        (flags >> 1) & 1,
        (flags >> 2) & 1,
        (flags >> 3) & 0x03,
        (flags >> 5) & 1,
        (flags >> 6) & 1,
        flags >> 7
    )
}

fn subscription_options(options: u8) -> String {
    format!(
        "QoS={} no local={} retain as published={} retain handling={}",
        options & 0x03,
        (options >> 2) & 1,
        (options >> 3) & 1,
        (options >> 4) & 0x03
    )
}

/// `SessionExpiryInterval` → `session expiry interval`.
fn words(camel: &str) -> String {
    let mut out = String::new();
    // A capital after a capital (or at the start) starts no new word.
    let mut after_capital = true;
    for ch in camel.chars() {
        if ch.is_ascii_uppercase() && !after_capital {
            out.push(' ');
        }
        after_capital = ch.is_ascii_uppercase();
        out.push(ch.to_ascii_lowercase());
    }
    out
}

fn shorten(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
#[path = "anatomy_tests.rs"]
mod tests;
