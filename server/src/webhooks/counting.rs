//! What a delivery's socket counted, so its bytes are the bytes really written and read (heads and bodies, chunk
//! framing if any), not what the request meant to send. The sender's own counts, through the same [`WireTap`] as
//! the lab's accepted connections: these connections are outgoing, so the lab's tap never sees them.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::wire::tap::TapObserver;
pub use crate::wire::tap::WireTap;

#[derive(Debug, Default)]
pub struct ByteCounts {
    written: AtomicU64,
    read: AtomicU64,
}

impl ByteCounts {
    pub fn bytes_written(&self) -> u64 {
        self.written.load(Relaxed)
    }

    pub fn bytes_read(&self) -> u64 {
        self.read.load(Relaxed)
    }
}

impl TapObserver for ByteCounts {
    fn read(&self, bytes: &[u8]) {
        self.read.fetch_add(bytes.len() as u64, Relaxed);
    }

    fn written(&self, bytes: &[u8]) {
        self.written.fetch_add(bytes.len() as u64, Relaxed);
    }
}
