//! The binary lesson over real sockets: `POST /api/audio`, then the same clip as base64 JSON (poll, SSE) and as one
//! binary WebSocket frame. The WAV is read back by `hound`'s reader, the base64 by the `base64` crate, the streams
//! by `eventsource-stream` and `tokio-tungstenite`: none of them this project's own decoding.

use crate::common;

use std::io::Cursor;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::TestServer;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use protocol::{
    decode_audio_frame, ApiErrorBody, Event, PublishAck, WireBytes, WirePage, WireRecord, WireUnit,
    AUDIO_FRAME_HEADER_BYTES,
};
use serde_json::{json, Value};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

const PATIENCE: Duration = Duration::from_secs(10);

async fn send_tone(server: &TestServer, body: Value) -> reqwest::Response {
    server.http.post(server.url("/api/audio")).json(&body).send().await.unwrap()
}

async fn tone_seq(server: &TestServer, body: Value) -> u64 {
    let response = send_tone(server, body).await;
    assert_eq!(response.status(), 202);
    response.json::<PublishAck>().await.unwrap().seq
}

/// The event's `data_base64` decoded by the `base64` crate, not by the model's serde helper.
fn wav_of(event_json: &Value) -> Vec<u8> {
    assert_eq!(event_json["kind"], "audio");
    assert_eq!(event_json["payload"]["mime_type"], "audio/wav");
    STANDARD.decode(event_json["payload"]["data_base64"].as_str().expect("data_base64 is a string")).unwrap()
}

/// (sample rate, channels, bits per sample, duration in ms) as `hound` reads the file.
fn wav_shape(wav: &[u8]) -> (u32, u16, u16, u32) {
    let reader = hound::WavReader::new(Cursor::new(wav)).expect("a valid WAV file");
    let spec = reader.spec();
    (spec.sample_rate, spec.channels, spec.bits_per_sample, reader.duration() * 1000 / spec.sample_rate)
}

async fn wire_records(server: &TestServer, client: &str) -> Vec<WireRecord> {
    let url = server.url(&format!("/api/wire?client={client}"));
    server.http.get(url).send().await.unwrap().json::<WirePage>().await.unwrap().records
}

#[tokio::test]
async fn a_tone_polled_is_base64_json_that_decodes_to_the_requested_wav() {
    let server = TestServer::start().await;
    let seq = tone_seq(&server, json!({"frequency_hz": 440, "duration_ms": 500})).await;
    let body: Value = server.http.get(server.url("/api/poll?after=0")).send().await.unwrap().json().await.unwrap();
    let event = &body["events"][0];
    assert_eq!((event["seq"].as_u64(), event["payload"]["frequency_hz"].as_u64()), (Some(seq), Some(440)));
    let wav = wav_of(event);
    assert_eq!(wav_shape(&wav), (8_000, 1, 16, 500));

    let longer = tone_seq(&server, json!({"frequency_hz": 1000, "duration_ms": 1500})).await;
    let body: Value =
        server.http.get(server.url(&format!("/api/poll?after={seq}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["events"][0]["seq"].as_u64(), Some(longer));
    assert_eq!(wav_shape(&wav_of(&body["events"][0])), (8_000, 1, 16, 1_500));
}

#[tokio::test]
async fn defaults_make_a_440_hz_half_second_tone() {
    let server = TestServer::start().await;
    tone_seq(&server, json!({})).await;
    let body: Value = server.http.get(server.url("/api/poll?after=0")).send().await.unwrap().json().await.unwrap();
    let event = &body["events"][0];
    assert_eq!(
        (event["payload"]["frequency_hz"].as_u64(), event["payload"]["duration_ms"].as_u64()),
        (Some(440), Some(500))
    );
    assert_eq!(wav_shape(&wav_of(event)).3, 500);
}

/// The same clip three ways: SSE data and the WebSocket's binary frame against the poll's JSON, and their sizes
/// against each other and against what the server measured on each socket.
#[tokio::test]
async fn sse_carries_the_same_json_and_the_websocket_one_binary_frame_of_the_same_wav() {
    let server = TestServer::start().await;
    let response = server.http.get(server.url("/api/sse?after=0&client=audio-sse")).send().await.unwrap();
    let mut sse = Box::pin(response.bytes_stream().eventsource());
    let (mut socket, _) =
        tokio_tungstenite::connect_async(server.ws_url("/api/ws?after=0&client=audio-ws")).await.unwrap();

    let seq = tone_seq(&server, json!({"frequency_hz": 880, "duration_ms": 500})).await;
    let marker = server.publish("after the tone").await;

    let poll: Value = server.http.get(server.url("/api/poll?after=0")).send().await.unwrap().json().await.unwrap();
    let polled = &poll["events"][0];
    let wav = wav_of(polled);

    // SSE: the audio event, named so, with the same JSON as the poll's.
    let sse_data = loop {
        let message = timeout(PATIENCE, sse.next()).await.expect("an SSE event in time").unwrap().unwrap();
        if message.event == "audio" {
            assert_eq!(message.id, seq.to_string());
            break message.data;
        }
    };
    let streamed: Value = serde_json::from_str(&sse_data).unwrap();
    assert_eq!(&streamed, polled);
    assert_eq!(wav_of(&streamed), wav);

    // WebSocket: the hello, exactly one binary frame, then the marker as text.
    let mut binary_frames = Vec::new();
    loop {
        match timeout(PATIENCE, socket.next()).await.expect("a frame in time").unwrap().unwrap() {
            Message::Binary(frame) => binary_frames.push(frame),
            Message::Text(text) if text.contains(&format!(r#""seq":{marker}"#)) => break,
            Message::Text(text) => assert!(!text.contains(r#""kind":"audio""#), "audio never goes as text: {text}"),
            _ => {}
        }
    }
    assert_eq!(binary_frames.len(), 1, "one binary frame per clip");
    let frame = &binary_frames[0];
    assert_eq!(u64::from_be_bytes(frame[..8].try_into().unwrap()), seq, "the header names the seq");
    assert_eq!(u64::from_be_bytes(frame[8..16].try_into().unwrap()), polled["emitted_at"].as_u64().unwrap());
    assert_eq!(&frame[AUDIO_FRAME_HEADER_BYTES..], wav.as_slice(), "the frame carries the WAV byte for byte");
    let decoded = decode_audio_frame(frame).unwrap();
    assert_eq!(decoded, serde_json::from_value::<Event>(polled.clone()).unwrap());

    // Sizes: base64 is 4 characters per 3 bytes; around it, the JSON adds only its field names.
    let base64_len = polled["payload"]["data_base64"].as_str().unwrap().len();
    assert_eq!(base64_len, 4 * wav.len().div_ceil(3));
    let json_overhead = sse_data.len() - base64_len;
    assert!(json_overhead < 200, "the JSON around the base64 is {json_overhead} B");
    let ratio = sse_data.len() as f64 / frame.len() as f64;
    let lowest = (4 * wav.len()) as f64 / 3.0 / frame.len() as f64;
    let highest = (base64_len + json_overhead) as f64 / wav.len() as f64;
    assert!((lowest..=highest).contains(&ratio), "JSON / binary = {ratio:.3}, expected {lowest:.3}..={highest:.3}");

    // The server's wire records name the frame and the chunk by seq, with their measured payloads.
    drop(socket);
    let ws_records = wire_records(&server, "audio-ws").await;
    let audio_frame = ws_records
        .iter()
        .find(|record| matches!(&record.unit, WireUnit::Frame { seq: Some(s), .. } if *s == seq))
        .expect("the binary frame is attributed to its seq");
    let WireUnit::Frame { opcode, event, .. } = &audio_frame.unit else { unreachable!() };
    assert_eq!((opcode.as_ref(), *event), ("binary", Some(protocol::WireLabel::Audio)));
    assert_eq!(audio_frame.bytes, WireBytes { head: 0, framing: 4, payload: frame.len() as u64 });
    let sse_records = wire_records(&server, "audio-sse").await;
    let chunk = sse_records
        .iter()
        .find(|record| matches!(&record.unit, WireUnit::Chunk { seq: Some(s), .. } if *s == seq))
        .expect("the SSE chunk is attributed to its seq");
    assert_eq!(chunk.bytes.payload, sse_data.len() as u64);
}

#[tokio::test]
async fn a_client_binary_frame_is_still_refused_with_1003() {
    let server = TestServer::start().await;
    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url("/api/ws")).await.unwrap();
    futures::SinkExt::send(&mut socket, Message::binary(vec![0u8; 30])).await.unwrap();
    let close = loop {
        match timeout(PATIENCE, socket.next()).await.expect("a close in time") {
            Some(Ok(Message::Close(frame))) => break frame.expect("a close frame with a code"),
            Some(Ok(_)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(u16::from(close.code), 1003);
}

#[tokio::test]
async fn bad_tone_requests_get_400_naming_the_field() {
    let server = TestServer::start().await;
    let cases = [
        (json!({"frequency_hz": 3001}), "frequency_hz"),
        (json!({"frequency_hz": 49}), "frequency_hz"),
        (json!({"frequency_hz": -440}), "frequency_hz"),
        (json!({"frequency_hz": "loud"}), "frequency_hz"),
        (json!({"duration_ms": 99}), "duration_ms"),
        (json!({"duration_ms": 2001}), "duration_ms"),
        (json!({"duration_ms": 0.5}), "duration_ms"),
        (json!({"volume": 11}), "volume"),
    ];
    for (body, field) in cases {
        let response = send_tone(&server, body.clone()).await;
        assert_eq!(response.status(), 400, "{body}");
        let error: ApiErrorBody = response.json().await.unwrap();
        assert_eq!(error.field.as_deref(), Some(field), "{body}: {error:?}");
    }
    assert_eq!(server.state.hub().head_seq(), 0, "nothing was published");
}
