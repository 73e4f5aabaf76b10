//! The latest audio clip a lane received, ready to play: its bytes as a Blob behind an object URL. A Blob URL keeps
//! its bytes alive for as long as the page unless revoked, so the URL is revoked when a newer clip replaces it or
//! the lane goes away (the signal holding it is dropped).

use super::files::{blob_of_bytes, js_error, BrowserError};
use protocol::AudioClip;

/// What a lane shows under its figures: the clip as this lane got it.
pub struct ReceivedClip {
    pub seq: u64,
    pub frequency_hz: u32,
    pub duration_ms: u32,
    /// The event as this lane received it: its JSON (polling, SSE) or its binary frame (WebSocket).
    pub received_bytes: usize,
    /// The WAV file alone, once decoded.
    pub file_bytes: usize,
    pub url: ClipUrl,
}

impl ReceivedClip {
    pub fn new(seq: u64, clip: &AudioClip, received_bytes: usize) -> Result<Self, BrowserError> {
        Ok(Self {
            seq,
            frequency_hz: clip.frequency_hz,
            duration_ms: clip.duration_ms,
            received_bytes,
            file_bytes: clip.data.len(),
            url: ClipUrl::new(&clip.data, &clip.mime_type)?,
        })
    }
}

/// An object URL that is revoked when dropped.
pub struct ClipUrl(String);

impl ClipUrl {
    fn new(data: &[u8], mime_type: &str) -> Result<Self, BrowserError> {
        let blob = blob_of_bytes(data, mime_type)?;
        web_sys::Url::create_object_url_with_blob(&blob).map(ClipUrl).map_err(js_error)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Drop for ClipUrl {
    fn drop(&mut self) {
        let _ = web_sys::Url::revoke_object_url(&self.0);
    }
}
