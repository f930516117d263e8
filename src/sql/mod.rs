//! SQL over lakeaug output (DataFusion): the tables and UDFs behind `lakeaug query`.
//!
//! - [`context`]: [`session_for`] registers `augmented`, `rejects`, `runs`,
//!   `run_schemes` and (with `--source`) `source` over an output folder.
//! - [`source`]: the `source` table provider (input rows with `source_file`, `source_row`).
//! - [`snapshot`]: `augmented` and `rejects` read only the committed files of a run.
//! - [`udfs`]: `image_info`, `word_count`, `word_edit_distance`, `token_count`.
//! - [`display`]: text tables with image summaries; CSV/JSON-friendly batches.
//! - [`cli`]: `lakeaug query` arguments and execution; [`repl`]: the interactive prompt.

pub mod cli;
pub mod context;
pub mod display;
pub mod repl;
pub mod snapshot;
pub mod source;
pub mod udfs;

pub use cli::{run_query, run_sql, OutputFormat, QueryArgs, QueryResult};
pub use context::{session_for, TABLES};
pub use udfs::register_udfs;
