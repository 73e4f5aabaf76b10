//! The binary lesson's tone: a short sine as a WAV file, which `POST /api/audio` publishes as an `audio` event and
//! which polling and SSE carry as base64 inside JSON and the WebSocket as one binary frame.

use std::f64::consts::TAU;
use std::io::Cursor;

use hound::{SampleFormat, WavSpec, WavWriter};
use protocol::{
    AudioClip, AudioRequest, AUDIO_SAMPLE_RATE_HZ, DEFAULT_TONE_DURATION_MS, DEFAULT_TONE_FREQUENCY_HZ,
    MAX_TONE_DURATION_MS, MAX_TONE_FREQUENCY_HZ, MIN_TONE_DURATION_MS, MIN_TONE_FREQUENCY_HZ, WAV_MIME_TYPE,
};

use crate::core::refusal::Refusal;

/// A sine that starts or stops at full amplitude clicks; 10 ms ramps at each end are too short to hear as a fade.
const FADE_MS: u32 = 10;
/// Half of full scale: audible on any speaker without being loud.
const AMPLITUDE: f64 = 0.5;

/// The clip a request asks for, its fields checked.
pub fn tone(request: &AudioRequest) -> Result<AudioClip, Refusal> {
    let frequency_hz = within(
        "frequency_hz",
        request.frequency_hz.unwrap_or(DEFAULT_TONE_FREQUENCY_HZ),
        MIN_TONE_FREQUENCY_HZ..=MAX_TONE_FREQUENCY_HZ,
        "Hz",
    )?;
    let duration_ms = within(
        "duration_ms",
        request.duration_ms.unwrap_or(DEFAULT_TONE_DURATION_MS),
        MIN_TONE_DURATION_MS..=MAX_TONE_DURATION_MS,
        "ms",
    )?;
    let data =
        tone_wav(frequency_hz, duration_ms).map_err(|error| Refusal::AudioUnavailable { reason: error.to_string() })?;
    Ok(AudioClip { mime_type: WAV_MIME_TYPE.into(), frequency_hz, duration_ms, data })
}

fn within(field: &'static str, value: u32, range: std::ops::RangeInclusive<u32>, unit: &str) -> Result<u32, Refusal> {
    if range.contains(&value) {
        return Ok(value);
    }
    Err(Refusal::invalid_field(
        field,
        format!("is {value}; must be between {} and {} {unit}", range.start(), range.end()),
    ))
}

/// A sine tone as a complete WAV file in memory: 16-bit mono PCM at [`AUDIO_SAMPLE_RATE_HZ`].
pub fn tone_wav(frequency_hz: u32, duration_ms: u32) -> Result<Vec<u8>, hound::Error> {
    let spec = WavSpec {
        channels: 1,
        sample_rate: AUDIO_SAMPLE_RATE_HZ,
        bits_per_sample: 16,
        sample_format: SampleFormat::Int,
    };
    let samples = u64::from(AUDIO_SAMPLE_RATE_HZ) * u64::from(duration_ms) / 1000;
    let fade = (u64::from(AUDIO_SAMPLE_RATE_HZ * FADE_MS) / 1000).min(samples / 2).max(1);
    let mut file = Cursor::new(Vec::with_capacity(44 + 2 * samples as usize));
    let mut writer = WavWriter::new(&mut file, spec)?;
    for n in 0..samples {
        let from_edge = n.min(samples - 1 - n);
        let envelope = (from_edge as f64 / fade as f64).min(1.0);
        let phase = TAU * f64::from(frequency_hz) * n as f64 / f64::from(AUDIO_SAMPLE_RATE_HZ);
        let value = phase.sin() * envelope * AMPLITUDE * f64::from(i16::MAX);
        writer.write_sample(value.round() as i16)?;
    }
    writer.finalize()?;
    Ok(file.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_half_second_tone_is_a_wav_of_4000_samples_that_fades_in_and_out() {
        let wav = tone_wav(440, 500).unwrap();
        let mut reader = hound::WavReader::new(Cursor::new(&wav)).unwrap();
        let spec = reader.spec();
        assert_eq!((spec.channels, spec.sample_rate, spec.bits_per_sample), (1, 8_000, 16));
        let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
        assert_eq!(samples.len(), 4_000);
        assert_eq!(wav.len(), 44 + 2 * 4_000, "a plain 44-byte header, then the samples");
        assert_eq!((samples[0], samples[3_999]), (0, 0), "silent at both ends");
        let peak = samples.iter().map(|sample| sample.unsigned_abs()).max().unwrap();
        assert!((16_000..=16_384).contains(&peak), "half of full scale, got {peak}");
    }

    #[test]
    fn out_of_range_fields_are_named() {
        let too_high = AudioRequest { frequency_hz: Some(MAX_TONE_FREQUENCY_HZ + 1), duration_ms: None };
        assert_eq!(tone(&too_high).unwrap_err().field(), Some("frequency_hz"));
        let too_short = AudioRequest { frequency_hz: None, duration_ms: Some(MIN_TONE_DURATION_MS - 1) };
        assert_eq!(tone(&too_short).unwrap_err().field(), Some("duration_ms"));
        let defaults = tone(&AudioRequest::default()).unwrap();
        assert_eq!((defaults.frequency_hz, defaults.duration_ms), (440, 500));
    }
}
