//! Writing: Parquet output files, staged and published atomically, plus the rejects table
//! and the run manifest.
//!
//! Layout under the output folder `DIR`:
//!
//! ```text
//! DIR/scheme=<name>/part-<file id>-g<gen>-<seq>.parquet  augmented rows (hive partition
//!                                                         `scheme`), per generation
//! DIR/_rejects/part-<file id>-g<gen>-<chunk>.parquet      rows of one input file that could
//!                                                         not be produced, with why
//! DIR/_lakeaug/runs/run-<run id>.json              run manifest, written last
//! DIR/_lakeaug/staging/<run id>/...                files being written (never read)
//! ```
//!
//! Files are written under staging and published when their input file is complete (a
//! rename within one file system, or a completed upload, is atomic), so readers see a file
//! entirely or not at all. Names start with `_` where Parquet readers should skip them.

pub mod dataset;
pub mod manifest;
pub mod rejects;
pub mod swap;

pub use dataset::{DatasetWriter, WriterOptions};
pub use manifest::Manifest;

use std::path::Path;

/// Write `bytes` to `path` atomically (temporary file in the same folder, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", unique_suffix()));
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// `<pid>-<n>`: unique among the temporary files of all threads of all live processes.
pub fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
