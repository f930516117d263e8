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

pub use dataset::{DatasetWriter, StagedFile, WriterOptions};
pub use manifest::Manifest;

/// Why output could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Io(#[from] crate::store::IoError),
    /// Encoding Parquet (`path`: the file, or what was being set up).
    #[error("cannot write Parquet {path}")]
    Parquet {
        path: String,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{path} has no folder name")]
    NoFolderName { path: String },
    #[error("cannot read the manifest {path}")]
    Manifest {
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

/// `WriteError::Parquet` for writing `path`.
pub(crate) fn parquet_error(
    path: &std::path::Path,
) -> impl FnOnce(parquet::errors::ParquetError) -> WriteError {
    let path = path.display().to_string();
    move |source| WriteError::Parquet { path, source }
}
