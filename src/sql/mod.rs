//! SQL over lakeaug output (DataFusion): the tables and UDFs behind `lakeaug query`.
//!
//! - [`context`]: [`session_for`] registers `augmented`, `rejects`, `runs`,
//!   `run_schemes` and (with `--source`) `source` over an output folder.
//! - [`source`]: the `source` table provider (input rows with `source_file`, `source_row`).
//! - [`snapshot`]: `augmented` and `rejects` read only the committed files of a run.
//! - [`udfs`]: `image_info`, `word_count`, `word_edit_distance`, `token_count`.
//! - [`display`]: text tables with image summaries; CSV/JSON-friendly batches.
//! - [`run`]: [`run_sql`] runs SQL text on a session, statement by statement (or
//!   [`run_sql_on`] a [`PlanRunner`]: how `query --cluster` runs plans on Ballista
//!   without this module knowing Ballista).
//! - [`cli`]: `lakeaug query` arguments and output; [`repl`]: the interactive prompt.
//! - [`error`]: [`SqlError`], why a session or a query failed.

pub mod cli;
pub mod context;
pub mod display;
pub mod error;
pub mod repl;
pub mod run;
pub mod snapshot;
pub mod source;
pub mod udfs;

pub use cli::{run_query, run_query_on, OutputFormat, QueryArgs};
pub use context::{session_for, session_with, TABLES};
pub use error::SqlError;
pub use run::{run_sql, run_sql_on, PlanRunner, QueryResult};
pub use udfs::register_udfs;
