//! Asking the CPU to start loading memory before it is read. The fan-out writes to 10,000 streams in turn, and
//! each stream's state (its own, and its connection's wire tap) lies in allocations of its own that the previous
//! 9,999 writes, and the kernel's work for each, have pushed out of the cache: each is a wait on main memory, in
//! the middle of the stream's write. Loading the next stream's while this one's is written overlaps those waits
//! with the system call (docs/src/scale.md has the measurement).

/// Starts loading the cache lines of `value` (a few at most). A hint only: nothing is read, so any address will
/// do, even one freed meanwhile.
#[inline(always)]
pub fn prefetch<T: ?Sized>(value: *const T, bytes: usize) {
    let start = value.cast::<u8>();
    for offset in (0..bytes.min(MAX_BYTES)).step_by(CACHE_LINE) {
        prefetch_line(start.wrapping_add(offset));
    }
}

/// Lines past this are left to be loaded when read: a hint for a large value would only push out others.
const MAX_BYTES: usize = 12 * CACHE_LINE;
const CACHE_LINE: usize = 64;

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn prefetch_line(address: *const u8) {
    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
    // SAFETY: a prefetch reads nothing and cannot fault, whatever the address.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(address.cast::<i8>()) }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn prefetch_line(_address: *const u8) {}
