//! lakeaug: batch augmentation of image-text pairs stored in Parquet.
//!
//! The crate is laid out the way data flows through a run:
//!
//! - [`read`]: finds input files (files, folders with hive partitions, globs) and streams
//!   their rows as Arrow record batches with only the needed columns.
//! - [`kernels`]: pure functions over pixels, captions and tokens (`image`, `text`,
//!   `tokens`). No hidden state, nulls handled explicitly.
//! - [`schemes`]: named augmentation schemes; each samples its parameters per row
//!   and composes kernels.
//! - [`rng`]: per-row seeds, so results never depend on threads or batching.
//! - [`lineage`]: the `source_*`, `aug_*` and run columns that make every row traceable.
//! - [`write`]: Parquet output, staging and atomic publication, rejects, run manifest.
//! - [`pipeline`]: the `lakeaug run` job tying these together.
//! - [`report`]: `lakeaug report`, one self-contained HTML page of what a run did.
//! - [`sql`]: DataFusion tables and UDFs behind `lakeaug query`.
//! - [`state`]: what an output already holds (processed files, config) and the run lock,
//!   for incremental, resumable runs.
//! - [`store`]: the output location, a local folder or an S3 prefix.
//! - [`config`]: the TOML configuration and its defaults.

pub mod config;
pub mod crash;
pub mod kernels;
pub mod lineage;
pub mod pipeline;
pub mod read;
pub mod report;
pub mod rng;
pub mod schemes;
pub mod sql;
pub mod state;
pub mod store;
pub mod write;

/// The version recorded in every output row (`lakeaug_version`) and manifest.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
