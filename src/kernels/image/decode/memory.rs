//! The decoded bytes of all threads of a process, bounded together: each decode first
//! reserves its footprint (read from the header) from one shared [`DecodeMemory`], and
//! waits while other threads hold too much. The per-decode byte budget (`budget`) stops
//! one image from being too large; this stops N threads from each holding a large one.
//!
//! A request larger than the whole limit still proceeds, alone (it passed the per-decode
//! budget, so it is legitimate): the limit bounds the sum, never refuses an image. A thread
//! that already holds a reservation (a nested decode) is never made to wait for itself.

use std::cell::Cell;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};

use super::budget::png_decoded_bytes;
use super::sniff::image_format_and_size;

/// The default shared limit: 512 MiB, above one decode at the default `--max-pixels`
/// (64 M pixels x (4 bytes stored + 3 bytes RGB) = 448 MB), so a single image never waits
/// for an empty budget, while two such images on two threads take turns.
pub const DEFAULT_DECODE_MEMORY: u64 = 512 << 20;

#[derive(Debug, Default)]
struct Held {
    /// Bytes reserved now.
    in_use: u64,
    /// The most ever reserved at once.
    peak: u64,
    /// Reservations that had to wait.
    waits: u64,
}

/// A budget of decoded bytes shared by threads.
#[derive(Debug)]
pub struct DecodeMemory {
    limit: Mutex<u64>,
    held: Mutex<Held>,
    freed: Condvar,
}

thread_local! {
    /// Reservations this thread holds, so that a nested one does not wait for itself.
    static HOLDING: Cell<u32> = const { Cell::new(0) };
}

/// Bytes reserved from a [`DecodeMemory`], given back when dropped.
#[must_use = "the bytes are given back when the reservation is dropped"]
#[derive(Debug)]
pub struct Reservation<'a> {
    memory: &'a DecodeMemory,
    bytes: u64,
}

impl DecodeMemory {
    pub const fn new(limit: u64) -> DecodeMemory {
        DecodeMemory {
            limit: Mutex::new(limit),
            held: Mutex::new(Held {
                in_use: 0,
                peak: 0,
                waits: 0,
            }),
            freed: Condvar::new(),
        }
    }

    fn held(&self) -> MutexGuard<'_, Held> {
        // The counters stay consistent even if a holder panicked: take them as they are.
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn limit(&self) -> u64 {
        *self.limit.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Change the limit (e.g. from `--decode-memory`); waiting threads look again.
    pub fn set_limit(&self, bytes: u64) {
        *self.limit.lock().unwrap_or_else(|p| p.into_inner()) = bytes.max(1);
        self.freed.notify_all();
    }

    /// Reserve `bytes`, waiting while the reservations of other threads and this one
    /// would exceed the limit. Never waits when nothing else is held, or when this thread
    /// already holds a reservation.
    pub fn reserve(&self, bytes: u64) -> Reservation<'_> {
        let nested = HOLDING.with(|h| h.get() > 0);
        let mut held = self.held();
        let mut waited = false;
        while !nested && held.in_use > 0 && held.in_use.saturating_add(bytes) > self.limit() {
            waited = true;
            held = self.freed.wait(held).unwrap_or_else(|p| p.into_inner());
        }
        held.in_use += bytes;
        held.peak = held.peak.max(held.in_use);
        held.waits += u64::from(waited);
        HOLDING.with(|h| h.set(h.get() + 1));
        Reservation {
            memory: self,
            bytes,
        }
    }

    /// The most bytes ever reserved at once.
    pub fn peak(&self) -> u64 {
        self.held().peak
    }

    /// How many reservations had to wait for others.
    pub fn waits(&self) -> u64 {
        self.held().waits
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        HOLDING.with(|h| h.set(h.get().saturating_sub(1)));
        let mut held = self.memory.held();
        held.in_use = held.in_use.saturating_sub(self.bytes);
        drop(held);
        self.memory.freed.notify_all();
    }
}

/// The process's budget, which every decode of a run reserves from.
pub fn decode_memory() -> &'static DecodeMemory {
    static MEMORY: OnceLock<DecodeMemory> = OnceLock::new();
    MEMORY.get_or_init(|| DecodeMemory::new(DEFAULT_DECODE_MEMORY))
}

/// Bytes a decode of `bytes` holds at its peak, from the header alone: the image in its
/// stored layout (exact for PNG from bit depth and colour type; 4 bytes per pixel for
/// the rest, the widest 8-bit layout) plus the 3-byte RGB result. 0 when the header
/// cannot be read (such bytes fail before any pixel buffer exists).
pub fn decode_footprint(bytes: &[u8]) -> u64 {
    let Some((_, w, h)) = image_format_and_size(bytes) else {
        return 0;
    };
    let pixels = u64::from(w) * u64::from(h);
    let stored = match png_decoded_bytes(bytes) {
        Some((_, _, decoded)) => decoded,
        None => pixels.saturating_mul(4),
    };
    stored.saturating_add(pixels.saturating_mul(3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Barrier};
    use std::time::Duration;

    #[test]
    fn threads_take_turns_within_the_limit() {
        let memory = Arc::new(DecodeMemory::new(100));
        let inside = Arc::new(AtomicU64::new(0));
        let most_inside = Arc::new(AtomicU64::new(0));
        let start = Arc::new(Barrier::new(4));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (memory, inside, most_inside, start) = (
                    memory.clone(),
                    inside.clone(),
                    most_inside.clone(),
                    start.clone(),
                );
                std::thread::spawn(move || {
                    start.wait();
                    for _ in 0..5 {
                        let _r = memory.reserve(60);
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        most_inside.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(2));
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // 60 + 60 > 100: one holder at a time, and the others waited.
        assert_eq!(most_inside.load(Ordering::SeqCst), 1);
        assert_eq!(memory.peak(), 60);
        assert!(memory.waits() > 0);
        assert_eq!(memory.held().in_use, 0, "everything given back");
    }

    #[test]
    fn small_reservations_share_and_an_oversized_one_goes_alone() {
        let memory = DecodeMemory::new(100);
        let a = memory.reserve(40);
        let b = memory.reserve(50);
        assert_eq!(memory.peak(), 90);
        drop((a, b));
        // Larger than the limit, nothing else held: proceeds.
        let big = memory.reserve(500);
        assert_eq!(memory.peak(), 500);
        // A nested reservation on the same thread does not wait for its own holder.
        let nested = memory.reserve(10);
        assert_eq!(memory.peak(), 510);
        drop((nested, big));
        assert_eq!(memory.waits(), 0);
    }

    #[test]
    fn a_raised_limit_wakes_a_waiting_thread() {
        let memory = Arc::new(DecodeMemory::new(100));
        let held = memory.reserve(80);
        let other = {
            let memory = memory.clone();
            std::thread::spawn(move || {
                let _r = memory.reserve(80);
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!other.is_finished(), "80 + 80 > 100 must wait");
        memory.set_limit(200);
        other.join().unwrap();
        drop(held);
        assert_eq!(memory.peak(), 160);
    }

    #[test]
    fn footprints_from_headers() {
        // 16-bit RGBA PNG 7000 x 7000: 8 bytes stored + 3 RGB per pixel.
        let png = super::super::tests::png_ihdr(7000, 7000, 16, 6);
        assert_eq!(decode_footprint(&png), 7000 * 7000 * (8 + 3));
        let png8 = super::super::tests::png_ihdr(100, 50, 8, 2);
        assert_eq!(decode_footprint(&png8), 100 * 50 * (3 + 3));
        assert_eq!(decode_footprint(b"not an image"), 0);
    }
}
