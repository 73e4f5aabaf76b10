//! The binary lesson: a short tone as an event. In JSON (polling, SSE) its bytes travel as base64; on the
//! WebSocket they travel as one binary frame, framed by [`encode_audio_frame`] and read back by
//! [`decode_audio_frame`], the one codec both sides use.

use serde::{Deserialize, Serialize};

use super::{Event, EventBody};

/// The only format the server makes, and the only one a binary frame can carry (the frame does not name it).
pub const WAV_MIME_TYPE: &str = "audio/wav";
/// Telephone quality: a tone needs no more, and a small clip keeps the hub's history small.
pub const AUDIO_SAMPLE_RATE_HZ: u32 = 8_000;
pub const DEFAULT_TONE_FREQUENCY_HZ: u32 = 440;
/// Below half the sample rate with room to spare, so every cycle still has a few samples.
pub const MIN_TONE_FREQUENCY_HZ: u32 = 50;
pub const MAX_TONE_FREQUENCY_HZ: u32 = 3_000;
pub const DEFAULT_TONE_DURATION_MS: u32 = 500;
pub const MIN_TONE_DURATION_MS: u32 = 100;
/// 2 s of 16-bit mono at 8 kHz is 32 KB of WAV: enough to hear, small enough for the history's clip budget.
pub const MAX_TONE_DURATION_MS: u32 = 2_000;

/// One audio clip. On the JSON wire: `{"mime_type": "audio/wav", "frequency_hz": 440, "duration_ms": 500,
/// "data_base64": "UklGR…"}`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioClip {
    pub mime_type: String,
    pub frequency_hz: u32,
    pub duration_ms: u32,
    /// The whole file (a WAV with its header), not bare samples: the browser plays it as it is.
    #[serde(rename = "data_base64", with = "base64_data")]
    pub data: Vec<u8>,
}

/// Shows the clip's size rather than thousands of numbers.
impl std::fmt::Debug for AudioClip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioClip")
            .field("mime_type", &self.mime_type)
            .field("frequency_hz", &self.frequency_hz)
            .field("duration_ms", &self.duration_ms)
            .field("data", &format_args!("{} bytes", self.data.len()))
            .finish()
    }
}

/// `POST /api/audio`: both fields optional, defaulting to a 440 Hz tone of 500 ms.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_hz: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u32>,
}

/// Bytes as standard, padded base64 (RFC 4648), the alphabet `atob` and every JSON consumer expect.
mod base64_data {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        STANDARD.decode(text.as_bytes()).map_err(serde::de::Error::custom)
    }
}

/// Bytes before the WAV file in an audio frame.
pub const AUDIO_FRAME_HEADER_BYTES: usize = 24;

/// An audio event as one WebSocket binary frame. Layout, all integers big-endian:
///
/// | bytes  | field                                   |
/// |--------|-----------------------------------------|
/// | 0–7    | `seq` (u64)                             |
/// | 8–15   | `emitted_at`, Unix microseconds (u64)   |
/// | 16–19  | `frequency_hz` (u32)                    |
/// | 20–23  | `duration_ms` (u32)                     |
/// | 24–    | the WAV file, byte for byte             |
///
/// One frame, not a JSON text frame announcing a binary one: the event stays one unit on the wire (no pairing to
/// get wrong when a socket drops between the two, one arrow and one measured size per event), and a fixed header
/// lets the browser slice the WAV out without parsing anything. 24 bytes of header against base64's third.
/// Returns `None` for any other event, or a clip that is not a WAV: those go as JSON text.
pub fn encode_audio_frame(event: &Event) -> Option<Vec<u8>> {
    let EventBody::Audio(clip) = &event.body else { return None };
    if clip.mime_type != WAV_MIME_TYPE {
        return None;
    }
    let mut frame = Vec::with_capacity(AUDIO_FRAME_HEADER_BYTES + clip.data.len());
    frame.extend_from_slice(&event.seq.to_be_bytes());
    frame.extend_from_slice(&event.emitted_at.to_be_bytes());
    frame.extend_from_slice(&clip.frequency_hz.to_be_bytes());
    frame.extend_from_slice(&clip.duration_ms.to_be_bytes());
    frame.extend_from_slice(&clip.data);
    Some(frame)
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AudioFrameError {
    #[error("a binary frame of {0} bytes is shorter than the {AUDIO_FRAME_HEADER_BYTES}-byte audio header")]
    TooShort(usize),
}

/// Reads a frame made by [`encode_audio_frame`] back into the event it carried.
pub fn decode_audio_frame(frame: &[u8]) -> Result<Event, AudioFrameError> {
    let Some((header, wav)) = frame.split_first_chunk::<AUDIO_FRAME_HEADER_BYTES>() else {
        return Err(AudioFrameError::TooShort(frame.len()));
    };
    let u64_at = |at: usize| u64::from_be_bytes(header[at..at + 8].try_into().unwrap_or_default());
    let u32_at = |at: usize| u32::from_be_bytes(header[at..at + 4].try_into().unwrap_or_default());
    let clip = AudioClip {
        mime_type: WAV_MIME_TYPE.into(),
        frequency_hz: u32_at(16),
        duration_ms: u32_at(20),
        data: wav.to_vec(),
    };
    Ok(Event { seq: u64_at(0), emitted_at: u64_at(8), body: EventBody::Audio(clip) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audio_event(data: Vec<u8>) -> Event {
        let clip = AudioClip { mime_type: WAV_MIME_TYPE.into(), frequency_hz: 440, duration_ms: 500, data };
        Event { seq: 0x0102_0304_0506_0708, emitted_at: 1_700_000_000_123_456, body: EventBody::Audio(clip) }
    }

    #[test]
    fn json_carries_the_bytes_as_base64() {
        let event = audio_event(b"RIFF\x00\xff".to_vec());
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["kind"], "audio");
        assert_eq!(
            json["payload"],
            serde_json::json!({"mime_type": "audio/wav", "frequency_hz": 440, "duration_ms": 500,
                               "data_base64": "UklGRgD/"})
        );
        assert_eq!(serde_json::from_value::<Event>(json).unwrap(), event);
    }

    #[test]
    fn bad_base64_is_a_decode_error_not_garbage() {
        let json = r#"{"seq":1,"emitted_at":1,"kind":"audio","payload":{"mime_type":"audio/wav","frequency_hz":1,
                      "duration_ms":1,"data_base64":"not base64!"}}"#;
        assert!(serde_json::from_str::<Event>(json).is_err());
    }

    #[test]
    fn frame_is_a_big_endian_header_then_the_file() {
        let event = audio_event(vec![0xAA, 0xBB]);
        let frame = encode_audio_frame(&event).unwrap();
        assert_eq!(frame.len(), AUDIO_FRAME_HEADER_BYTES + 2);
        assert_eq!(&frame[..8], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&frame[16..24], &[0, 0, 0x01, 0xB8, 0, 0, 0x01, 0xF4]);
        assert_eq!(&frame[24..], &[0xAA, 0xBB]);
        assert_eq!(decode_audio_frame(&frame).unwrap(), event);
    }

    #[test]
    fn an_empty_clip_still_round_trips() {
        let event = audio_event(Vec::new());
        assert_eq!(decode_audio_frame(&encode_audio_frame(&event).unwrap()).unwrap(), event);
    }

    #[test]
    fn a_short_frame_is_refused() {
        assert_eq!(decode_audio_frame(&[0; 23]), Err(AudioFrameError::TooShort(23)));
        assert_eq!(decode_audio_frame(&[]), Err(AudioFrameError::TooShort(0)));
    }

    #[test]
    fn only_wav_audio_becomes_a_binary_frame() {
        let message = Event { seq: 1, emitted_at: 1, body: EventBody::Message { text: "hi".into() } };
        assert_eq!(encode_audio_frame(&message), None);
        let mut other = audio_event(vec![1]);
        if let EventBody::Audio(clip) = &mut other.body {
            clip.mime_type = "audio/ogg".into();
        }
        assert_eq!(encode_audio_frame(&other), None);
    }
}
