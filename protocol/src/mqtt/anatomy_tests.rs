use mqtt5_protocol::packet::publish::PublishPacket;
use mqtt5_protocol::packet::pubrel::PubRelPacket;
use mqtt5_protocol::packet::MqttPacket;
use mqtt5_protocol::QoS;

use super::*;
use crate::mqtt::{ClientSettings, MqttClient};

fn encode<P: MqttPacket>(packet: &P) -> Vec<u8> {
    let mut bytes = Vec::new();
    packet.encode(&mut bytes).expect("test packets encode");
    bytes
}

/// `section/name = value [start..end]`, one line per field.
fn lines(anatomy: &Anatomy) -> Vec<String> {
    anatomy
        .fields
        .iter()
        .map(|field| {
            format!(
                "{}/{} = {} [{}..{}]",
                field.section.name(),
                field.name,
                field.value,
                field.bytes.start,
                field.bytes.end
            )
        })
        .collect()
}

#[test]
fn the_anatomy_table() {
    let publish = PublishPacket::new("a/b", b"hi".to_vec(), QoS::ExactlyOnce)
        .with_packet_id(7)
        .with_dup(true)
        .with_user_property("seq".into(), "12".into());
    let cases: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        (
            "a QoS 2 PUBLISH with a user property",
            encode(&publish),
            vec![
                "fixed header/type and flags: PUBLISH (3) = DUP=1 QoS=2 RETAIN=0 [0..1]",
                "fixed header/remaining length = 20 bytes (variable-length integer) [1..2]",
                "variable header/topic name = a/b [2..7]",
                "variable header/packet identifier = 7 [7..9]",
                "variable header/property length = 10 bytes [9..10]",
                "variable header/property 0x26 user property = seq = 12 [10..20]",
                "payload/application message = 2 B: hi [20..22]",
            ],
        ),
        (
            "a short PUBREL: the reason code omitted",
            encode(&PubRelPacket::new(7)),
            vec![
                "fixed header/type and flags: PUBREL (6) = flags 0010 (fixed for this type) [0..1]",
                "fixed header/remaining length = 2 bytes (variable-length integer) [1..2]",
                "variable header/packet identifier = 7 [2..4]",
                "variable header/reason code = omitted: 0x00 success [4..4]",
            ],
        ),
        (
            "PINGREQ is a fixed header alone",
            vec![0xC0, 0x00],
            vec![
                "fixed header/type and flags: PINGREQ (12) = flags 0000 (fixed for this type) [0..1]",
                "fixed header/remaining length = 0 bytes (variable-length integer) [1..2]",
            ],
        ),
    ];
    for (name, bytes, expected) in cases {
        let anatomy = dissect(&bytes);
        assert_eq!(anatomy.malformed, None, "{name}");
        assert_eq!(lines(&anatomy), expected, "{name}");
    }
}

#[test]
fn a_page_connect_shows_its_session_and_will() {
    let mut client = MqttClient::new("page-1");
    let connect = client.connect(&ClientSettings::default()).unwrap();
    let anatomy = dissect(&connect.bytes);
    assert_eq!(anatomy.kind, "CONNECT");
    assert_eq!(anatomy.malformed, None);
    let text = lines(&anatomy).join("\n");
    for expected in [
        "variable header/protocol name = MQTT",
        "variable header/protocol level = 5 (MQTT 5.0)",
        "clean start=0 will=1",
        "variable header/keep alive = 30 s",
        "property 0x11 session expiry interval = 300",
        "payload/client identifier = page-1",
        "payload/will topic = lab/presence/page-1",
    ] {
        assert!(text.contains(expected), "{expected} not in\n{text}");
    }
    // The fields cover the packet end to end, in order, with no byte claimed twice.
    let mut at = 0;
    for field in &anatomy.fields {
        assert!(field.bytes.start >= at, "{field:?}");
        at = field.bytes.end;
    }
    assert_eq!(at, connect.bytes.len());
}

#[test]
fn malformed_packets_show_as_far_as_they_go() {
    let cases: [(&[u8], &str); 4] = [
        (&[], "type and flags runs past the packet"),
        (&[0x30, 0x05, 0x00], "remaining length says 5 bytes, 1 follow"),
        (&[0x30, 0x80, 0x80, 0x80, 0x80], "longer than four bytes"),
        (&[0x30, 0x04, 0x00, 0x01, b'a', 0x05], "property length 5 runs past the packet"),
    ];
    for (bytes, problem) in cases {
        let anatomy = dissect(bytes);
        let malformed = anatomy.malformed.unwrap_or_default();
        assert!(malformed.contains(problem), "{bytes:02x?}: {malformed}");
    }
}

#[test]
fn the_hex_dump_is_offset_hex_and_ascii() {
    let dump = hex_dump(b"\x30\x02hi0123456789abcdefXYZ", 20);
    let expected = "000000  30 02 68 69 30 31 32 33 34 35 36 37 38 39 61 62  0.hi0123456789ab\n\
                    000010  63 64 65 66                                      cdef\n\
                    … 3 more bytes\n";
    assert_eq!(dump, expected);
}
