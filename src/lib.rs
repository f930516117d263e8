//! lakeaug: batch augmentation of image-text pairs stored in Parquet.
//!
//! The crate is laid out the way data flows through a run, each module importing only
//! from those listed before it (no cycles):
//!
//! - [`crash`]: named crash points for the crash-safety tests.
//! - [`rng`]: per-row seeds, so results never depend on threads or batching.
//! - [`kernels`]: pure functions over pixels, captions and tokens (`image`, `text`,
//!   `tokens`). No hidden state, nulls handled explicitly.
//! - [`schemes`]: the ops and the named augmentation schemes (op lists); each samples its
//!   parameters per row and composes kernels. A scheme is resolved by name from a
//!   [`schemes::SchemeCatalog`] (the config), so the schemes never import the config.
//! - [`config`]: the TOML configuration (declaring schemes with [`schemes::spec`]), its
//!   defaults, validation and hash; `config::describe` for `lakeaug schemes`.
//! - [`lineage`]: the `source_*`, `aug_*` and run columns that make every row traceable.
//! - [`layout`]: the output's layout, defined once: file ids and part names, the columns
//!   added to every row (tokens, lineage), the rejects table, timestamps.
//! - [`hf_features`]: Hugging Face `datasets` features for the output (`--hf-features`).
//! - [`store`]: the output location, a local folder (`store/local.rs`) or an S3 prefix
//!   (`store/s3.rs`), with atomic writes.
//! - [`read`]: finds input files (files, folders with hive partitions, globs) and streams
//!   their rows as Arrow record batches with only the needed columns.
//! - [`state`]: what an output already holds (processed files and their identity, config)
//!   and the run lock, for incremental, resumable runs.
//! - [`write`]: Parquet part files, staging, rejects table, run manifest, `--full` swap.
//! - [`compact`]: `lakeaug compact`, merging small part files atomically, and detaching
//!   a changed file from merged parts before a run replaces it.
//! - [`pipeline`]: the `lakeaug run` job tying these together:
//!
//! ```text
//! run: lock + recover the output (target) ─▶ plan inputs against the state (plan)
//!   ─▶ open inputs, check schema drift (inputs, drift)
//!   ─▶ reader thread: batches cut at chunk boundaries + file events (reader)
//!   ─▶ worker pool: Augmenter::augment_batch(batch, file context) -> batches + rejects
//!   ─▶ main thread: the run tally, in reading order (tally)
//!   ─▶ writer thread: parts, then publish + commit per chunk / file (writer, commit)
//!   ─▶ manifest; `--full` swap (target)
//! ```
//! - [`sql`]: DataFusion tables and UDFs behind `lakeaug query`: the session
//!   (`context`, `source`, `snapshot`, `udfs`), `run` (SQL text on a session), then the
//!   command (`cli`) and the prompt (`repl`) on top of them.
//! - [`cluster`]: `lakeaug cluster` (Ballista scheduler and executor roles) and `run
//!   --cluster`, which runs the pipeline's chunks as tasks on executors (`pipeline`'s
//!   `chunk.rs` on the executor, `remote.rs` on the driver).
//! - [`report`]: `lakeaug report`, one self-contained HTML page of what a run did.

// Every `unsafe` block says why it is sound (a `// SAFETY:` comment right above it).
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod cluster;
pub mod compact;
pub mod config;
pub mod crash;
pub mod hf_features;
pub mod kernels;
pub mod layout;
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
