//! A Parquet [`ChunkReader`] over a local file that hands out large byte ranges (the
//! pages of an image column, often tens of MB) as read-only memory maps instead of
//! copying them into a fresh buffer with `pread`.
//!
//! Why: a copy of an image page costs the kernel a page-cache copy plus zero-filling and
//! faulting in a buffer as large as the page, all on the reader thread before the first
//! batch exists. Mapped, the decompressor reads the page cache directly and the map is
//! gone once the page is decompressed. On the 2,000-row benchmark (zstd pages of 60 MB)
//! this cuts the reader's CPU by a third to a half (see BENCHMARKS.md).
//!
//! Only pages of compressed column chunks are mapped. An uncompressed page becomes the
//! arrays' buffer itself, so its map would live as long as the batches do; measured, that
//! raised peak RSS (40,000 rows: 294-314 -> 346-391 MB) and saved no time.
//!
//! The catch with maps is a file that shrinks while it is read: touching a mapped page
//! past the new end raises `SIGBUS`, which would kill the process with a bare "Bus
//! error". So every live map is registered with the file's name, and a `SIGBUS` handler
//! that finds the faulting address in a registered map prints which file changed and
//! exits with status 1 (the run is crash-safe: a rerun goes on). A `SIGBUS` anywhere else
//! goes to the handler that was there before.
//!
//! Small ranges (page headers, captions, footers) and uncompressed chunks are read as
//! before; so is any range the map cannot serve (the file is shorter than the range, the
//! registry is full, or the file system refuses `mmap`): the `pread` path then gives
//! parquet's usual errors.

use std::fs::File;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use parquet::basic::Compression;
use parquet::errors::Result;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::reader::{ChunkReader, Length};

/// Ranges of at least this many bytes are mapped; smaller ones are copied.
pub const DEFAULT_MAP_MIN_BYTES: usize = 1 << 20;

/// A local Parquet file whose large ranges are read through memory maps.
pub struct MappedFile {
    file: File,
    /// The byte ranges of the compressed column chunks: the only ones mapped.
    compressed_chunks: Vec<Range<u64>>,
    /// Printed by the `SIGBUS` handler when the file shrinks under one of its maps.
    truncated_message: Arc<[u8]>,
    map_min_bytes: usize,
}

impl MappedFile {
    /// `display` names the file in the error a shrinking file gives; ranges of
    /// `map_min_bytes` and more inside a compressed column chunk of `metadata` are mapped
    /// ([`DEFAULT_MAP_MIN_BYTES`] unless testing).
    pub fn new(
        file: File,
        display: &str,
        metadata: &ParquetMetaData,
        map_min_bytes: usize,
    ) -> MappedFile {
        let compressed_chunks = metadata
            .row_groups()
            .iter()
            .flat_map(|rg| rg.columns())
            .filter(|c| c.compression() != Compression::UNCOMPRESSED)
            .map(|c| {
                let (start, len) = c.byte_range();
                start..start.saturating_add(len)
            })
            .collect();
        MappedFile::with_mappable(file, display, compressed_chunks, map_min_bytes)
    }

    /// [`MappedFile::new`] with the mappable ranges given.
    fn with_mappable(
        file: File,
        display: &str,
        compressed_chunks: Vec<Range<u64>>,
        map_min_bytes: usize,
    ) -> MappedFile {
        let message = format!(
            "lakeaug: error: {display}: the file shrank while it was being read (it was \
             truncated or rewritten in place); the run stopped, files committed before \
             this stay and a rerun goes on once the file is complete\n"
        );
        MappedFile {
            file,
            compressed_chunks,
            truncated_message: message.into_bytes().into(),
            map_min_bytes,
        }
    }

    /// Whether `get_bytes` maps this range (when the map can be made).
    pub fn maps(&self, start: u64, length: usize) -> bool {
        let end = start.saturating_add(length as u64);
        length > 0
            && length >= self.map_min_bytes
            && self
                .compressed_chunks
                .iter()
                .any(|c| c.start <= start && end <= c.end)
    }

    /// The range as a registered map, or `None` when it must be read with `pread`.
    fn map(&self, start: u64, length: usize) -> Option<Bytes> {
        // A range past the end would fault on first touch: let `pread` report it.
        let end = start.checked_add(length as u64)?;
        if end > self.file.metadata().ok()?.len() {
            return None;
        }
        sigbus::install();
        // Neither MAP_POPULATE nor MADV_WILLNEED/SEQUENTIAL helped, warm or cold cache.
        // SAFETY: the map is read-only and private. A concurrent truncation is the one
        // way its memory can become invalid; the `SIGBUS` that raises is caught (see
        // the module docs) as long as the map is registered, and it is registered
        // before this function returns it and until it is unmapped.
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(start)
                .len(length)
                .map(&self.file)
                .ok()?
        };
        let registered = RegisteredMap::new(map, self.truncated_message.clone())?;
        Some(Bytes::from_owner(registered))
    }
}

impl Length for MappedFile {
    fn len(&self) -> u64 {
        self.file.len()
    }
}

impl ChunkReader for MappedFile {
    type T = <File as ChunkReader>::T;

    fn get_read(&self, start: u64) -> Result<Self::T> {
        self.file.get_read(start)
    }

    fn get_bytes(&self, start: u64, length: usize) -> Result<Bytes> {
        if self.maps(start, length) {
            if let Some(bytes) = self.map(start, length) {
                return Ok(bytes);
            }
        }
        self.file.get_bytes(start, length)
    }
}

/// A map that stays in the `SIGBUS` registry for as long as it exists.
struct RegisteredMap {
    map: memmap2::Mmap,
    slot: usize,
    // Kept alive while the registry points at it.
    _message: Arc<[u8]>,
}

impl RegisteredMap {
    fn new(map: memmap2::Mmap, message: Arc<[u8]>) -> Option<RegisteredMap> {
        let slot = sigbus::register(map.as_ptr() as usize, map.len(), &message)?;
        Some(RegisteredMap {
            map,
            slot,
            _message: message,
        })
    }
}

impl AsRef<[u8]> for RegisteredMap {
    fn as_ref(&self) -> &[u8] {
        &self.map
    }
}

impl Drop for RegisteredMap {
    fn drop(&mut self) {
        // Out of the registry before `map` is unmapped (fields drop after this).
        sigbus::unregister(self.slot);
    }
}

/// The registry of live maps and the `SIGBUS` handler that reads it. Everything the
/// handler touches is a fixed array of atomics: no locks, no allocation.
mod sigbus {
    use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
    use std::sync::{Arc, Once, OnceLock};

    /// Live maps at once: a few pages per batch in flight; when full, ranges are copied.
    const SLOTS: usize = 256;
    /// `start` of a slot being filled in.
    const BUSY: usize = usize::MAX;

    struct Slot {
        /// 0: free; [`BUSY`]: being written; else the map's first address.
        start: AtomicUsize,
        len: AtomicUsize,
        message: AtomicPtr<u8>,
        message_len: AtomicUsize,
    }

    #[allow(clippy::declare_interior_mutable_const)] // only used to build the array
    const FREE: Slot = Slot {
        start: AtomicUsize::new(0),
        len: AtomicUsize::new(0),
        message: AtomicPtr::new(std::ptr::null_mut()),
        message_len: AtomicUsize::new(0),
    };
    static REGISTRY: [Slot; SLOTS] = [FREE; SLOTS];
    static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();

    /// Records a map of `len` bytes at `start`; `None` when every slot is taken.
    pub(super) fn register(start: usize, len: usize, message: &Arc<[u8]>) -> Option<usize> {
        let slot = REGISTRY.iter().position(|s| {
            s.start
                .compare_exchange(0, BUSY, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        })?;
        let s = &REGISTRY[slot];
        s.len.store(len, Ordering::Relaxed);
        s.message
            .store(message.as_ptr() as *mut u8, Ordering::Relaxed);
        s.message_len.store(message.len(), Ordering::Relaxed);
        s.start.store(start, Ordering::Release);
        Some(slot)
    }

    pub(super) fn unregister(slot: usize) {
        REGISTRY[slot].start.store(0, Ordering::Release);
    }

    /// The message of the registered map that holds `address`. Lock-free: the handler
    /// calls it.
    pub(super) fn find(address: usize) -> Option<&'static [u8]> {
        REGISTRY.iter().find_map(|s| {
            let start = s.start.load(Ordering::Acquire);
            let inside = start != 0
                && start != BUSY
                && address >= start
                && address - start < s.len.load(Ordering::Relaxed);
            // SAFETY: a registered slot's message outlives its registration (the map
            // owns an `Arc` of it), and a fault inside a map happens while it is in use.
            inside.then(|| unsafe {
                std::slice::from_raw_parts(
                    s.message.load(Ordering::Relaxed),
                    s.message_len.load(Ordering::Relaxed),
                )
            })
        })
    }

    /// Installs the handler once per process.
    pub(super) fn install() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            // SAFETY: plain sigaction calls; `PREVIOUS` is set before the handler can run.
            unsafe {
                let mut previous: libc::sigaction = std::mem::zeroed();
                libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut previous);
                let _ = PREVIOUS.set(previous);
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_sigbus as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
            }
        });
    }

    extern "C" fn on_sigbus(
        _signal: libc::c_int,
        info: *mut libc::siginfo_t,
        _context: *mut libc::c_void,
    ) {
        // SAFETY: the kernel passes a valid siginfo; only async-signal-safe calls follow.
        let address = unsafe { (*info).si_addr() } as usize;
        if let Some(message) = find(address) {
            // SAFETY: `message` is a live slice (see `find`); write(2) only reads it and
            // _exit(2) ends the process; both are async-signal-safe.
            unsafe {
                libc::write(2, message.as_ptr() as *const libc::c_void, message.len());
                libc::_exit(1);
            }
        }
        // Not one of our maps: restore the previous action and return, so the access
        // faults again and that action (the default, or Rust's own) handles it.
        if let Some(previous) = PREVIOUS.get() {
            // SAFETY: `previous` is the action sigaction(2) filled in at install time,
            // never changed since (a `OnceLock`); sigaction is async-signal-safe and
            // only reads it.
            unsafe { libc::sigaction(libc::SIGBUS, previous, std::ptr::null_mut()) };
        } else {
            // SAFETY: resetting SIGBUS to its default action touches no memory of ours;
            // signal(2) with SIG_DFL is async-signal-safe on Linux.
            unsafe { libc::signal(libc::SIGBUS, libc::SIG_DFL) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.bin");
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    /// A file that is not Parquet, every range of it mappable from `map_min_bytes` on.
    fn raw(path: &std::path::Path, display: &str, map_min_bytes: usize) -> MappedFile {
        MappedFile::with_mappable(
            File::open(path).unwrap(),
            display,
            std::iter::once(0..u64::MAX).collect(),
            map_min_bytes,
        )
    }

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn mapped_and_copied_ranges_hold_the_same_bytes() {
        let data = pattern(3 * 4096 + 123);
        let (_dir, path) = file_with(&data);
        let mapped = raw(&path, "data.bin", 0);
        let copied = raw(&path, "data.bin", usize::MAX);
        // Unaligned starts and lengths, a range to the last byte, one byte.
        for (start, len) in [(0, data.len()), (5, 4096), (4095, 2), (8000, 4406), (77, 1)] {
            let want = &data[start..start + len];
            let m = mapped.get_bytes(start as u64, len).unwrap();
            let c = copied.get_bytes(start as u64, len).unwrap();
            assert_eq!(&m[..], want, "mapped {start}+{len}");
            assert_eq!(&c[..], want, "copied {start}+{len}");
        }
    }

    #[test]
    fn the_registry_finds_a_map_by_address_until_it_is_unregistered() {
        let message: Arc<[u8]> = Arc::from(&b"m1"[..]);
        let other: Arc<[u8]> = Arc::from(&b"m2"[..]);
        // Fake addresses far from anything mapped; the registry only compares numbers.
        let a = sigbus::register(0x1000_0000, 100, &message).unwrap();
        let b = sigbus::register(0x2000_0000, 50, &other).unwrap();
        assert_ne!(a, b);
        assert_eq!(sigbus::find(0x1000_0000), Some(&b"m1"[..]));
        assert_eq!(sigbus::find(0x1000_0000 + 99), Some(&b"m1"[..]));
        assert_eq!(sigbus::find(0x1000_0000 + 100), None);
        assert_eq!(sigbus::find(0x2000_0000 + 49), Some(&b"m2"[..]));
        sigbus::unregister(a);
        assert_eq!(sigbus::find(0x1000_0000), None);
        assert_eq!(sigbus::find(0x2000_0000), Some(&b"m2"[..]));
        sigbus::unregister(b);
        assert_eq!(sigbus::find(0x2000_0000), None);
    }

    #[test]
    fn a_range_past_the_end_is_an_error_not_a_fault() {
        let (_dir, path) = file_with(&pattern(5000));
        let mapped = raw(&path, "data.bin", 0);
        let err = mapped.get_bytes(4000, 2000).unwrap_err().to_string();
        assert!(
            err.contains("Expected to read 2000 bytes, read only 1000"),
            "{err}"
        );
    }

    #[test]
    fn compressed_chunks_are_mapped_and_read_the_same_batches() {
        use arrow::array::{ArrayRef, BinaryArray, Int64Array, RecordBatch};
        use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        use parquet::arrow::ArrowWriter;
        use parquet::basic::ZstdLevel;
        use parquet::file::properties::WriterProperties;
        use parquet::schema::types::ColumnPath;

        let images: Vec<Vec<u8>> = (0..40).map(|i| pattern(3000 + i * 977)).collect();
        let image: ArrayRef = Arc::new(BinaryArray::from_iter_values(images.iter()));
        let id: ArrayRef = Arc::new(Int64Array::from_iter_values(0..40));
        let batch = RecordBatch::try_from_iter([("id", id), ("image", image)]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        // Several pages per chunk; the image column zstd, the id column uncompressed.
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_column_compression(ColumnPath::from("id"), Compression::UNCOMPRESSED)
            .set_data_page_size_limit(20_000)
            .set_write_batch_size(4)
            .build();
        let mut w = ArrowWriter::try_new(File::create(&path).unwrap(), batch.schema(), Some(props))
            .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();

        let open = |min| {
            let builder =
                ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
            let metadata = builder.metadata().clone();
            (
                MappedFile::new(File::open(&path).unwrap(), "t", &metadata, min),
                metadata,
            )
        };
        let (mapped, metadata) = open(0);
        let chunk = |i: usize| metadata.row_group(0).column(i).byte_range();
        let (id_start, id_len) = chunk(0);
        let (image_start, image_len) = chunk(1);
        assert!(mapped.maps(image_start, image_len as usize));
        assert!(mapped.maps(image_start + 10, 100));
        assert!(
            !mapped.maps(id_start, id_len as usize),
            "an uncompressed chunk"
        );
        assert!(
            !mapped.maps(image_start, image_len as usize + 1),
            "past the chunk"
        );
        assert!(!open(usize::MAX).0.maps(image_start, image_len as usize));

        let read = |reader: MappedFile| -> Vec<RecordBatch> {
            ParquetRecordBatchReaderBuilder::try_new(reader)
                .unwrap()
                .with_batch_size(7)
                .build()
                .unwrap()
                .map(|b| b.unwrap())
                .collect()
        };
        let mapped = read(mapped);
        assert_eq!(mapped, read(open(usize::MAX).0));
        let got = arrow::compute::concat_batches(&batch.schema(), &mapped).unwrap();
        assert_eq!(got, batch);
    }

    /// Run in a child process by the test below: maps a range, truncates the file, then
    /// reads the range. The `SIGBUS` handler must end the process with the message.
    #[test]
    #[ignore = "run as a child process by `a_file_shrinking_under_its_map_ends_the_run_naming_the_file`"]
    fn child_truncates_a_mapped_file() {
        let dir = std::env::var("LAKEAUG_TEST_DIR").unwrap();
        let path = std::path::Path::new(&dir).join("shrinks.parquet");
        std::fs::write(&path, pattern(64 * 1024)).unwrap();
        let mapped = raw(&path, "lake/shrinks.parquet", 0);
        let bytes = mapped.get_bytes(0, 64 * 1024).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        let sum: u64 = bytes.iter().map(|&b| b as u64).sum();
        println!("read {sum} without a fault");
    }

    #[test]
    fn a_file_shrinking_under_its_map_ends_the_run_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "read::mapped::tests::child_truncates_a_mapped_file",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("LAKEAUG_TEST_DIR", dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(1),
            "stdout: {stdout}\nstderr: {stderr}"
        );
        assert!(
            stderr.contains(
                "lakeaug: error: lake/shrinks.parquet: the file shrank while it was being read"
            ),
            "{stderr}"
        );
        assert!(!stdout.contains("without a fault"), "{stdout}");
    }
}
