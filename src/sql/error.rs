//! Why a query, a session over an output folder or the `source` table failed. Each error
//! names the folder, file or statement involved; causes from DataFusion, Arrow, Parquet
//! and the file system are kept whole as the source.

use std::path::PathBuf;

use datafusion::error::DataFusionError;

/// Why `lakeaug query` (or a session, or a statement) failed.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    #[error("{}: no such folder", .0.display())]
    NoSuchFolder(PathBuf),
    #[error("{} is a file; `lakeaug query` takes the output folder of `lakeaug run`", .0.display())]
    NotAFolder(PathBuf),
    #[error(
        "{} is not lakeaug output: it has neither scheme=<name>/ partitions nor \
         _lakeaug/runs/ manifests (point `lakeaug query` at the folder given to \
         `lakeaug run --output`)",
        .0.display()
    )]
    NotOutput(PathBuf),
    #[error("output path is not valid UTF-8")]
    NotUtf8,
    #[error("output path {0} contains glob characters (*, ?, [); rename or move it")]
    GlobInPath(String),
    /// A file or folder operation; `context` says which and where.
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("run manifest {} is not valid JSON", .path.display())]
    ManifestJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("reading the committed state of {}", .dir.display())]
    State {
        dir: PathBuf,
        #[source]
        source: crate::state::StateError,
    },
    /// An output path that the object store cannot address.
    #[error("{context}")]
    ObjectPath {
        context: String,
        #[source]
        source: object_store::path::Error,
    },
    #[error("reading Parquet schemas under {}", .dir.display())]
    Schemas {
        dir: PathBuf,
        #[source]
        source: DataFusionError,
    },
    #[error("--source {0}: no Parquet files found")]
    NoSources(String),
    #[error("no source files")]
    NoSourceFiles,
    #[error("reading Parquet footer of {}", .path.display())]
    SourceFooter {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("source column `{column}` is {first} in one file and {other} in {}", .path.display())]
    SourceTypes {
        column: String,
        first: arrow::datatypes::DataType,
        other: arrow::datatypes::DataType,
        path: PathBuf,
    },
    #[error("source files already have a `{0}` column; they look like lakeaug output, not input")]
    SourceReserved(&'static str),
    /// Finding the `--source` files.
    #[error(transparent)]
    Discover(#[from] crate::read::DiscoverError),
    #[error("--format parquet needs --out FILE")]
    ParquetNeedsOut,
    #[error("no SQL statement given")]
    NoStatement,
    #[error("--cluster runs SQL given as an argument, with --file or on stdin; the interactive prompt runs locally only (leave out --cluster)")]
    PromptOnCluster,
    #[error("no statement returned columns")]
    NoColumns,
    /// A table the query names does not exist (`tables` lists those that do).
    #[error("{message}\navailable tables: {tables}{hint}")]
    UnknownTable {
        message: String,
        tables: String,
        hint: &'static str,
    },
    #[error("SQL syntax error: {0}")]
    Syntax(String),
    /// One statement of several failed.
    #[error("statement {index} of {total}")]
    Statement {
        index: usize,
        total: usize,
        #[source]
        source: Box<SqlError>,
    },
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    #[error(transparent)]
    Parquet(#[from] parquet::errors::ParquetError),
    /// The interactive prompt's line editor.
    #[error(transparent)]
    Readline(#[from] rustyline::error::ReadlineError),
}

impl SqlError {
    /// A file or folder operation that failed, with what it was doing.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> SqlError {
        SqlError::Io {
            context: context.into(),
            source,
        }
    }
}

/// `error` and its causes on one line, `a: b: c`: for the prompt, which reports errors
/// and goes on, and for errors that carry another whole in their message.
pub(crate) fn one_line(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}
