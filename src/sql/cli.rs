//! `lakeaug query`: arguments, statement execution and output writing.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

use arrow::array::RecordBatch;
use clap::builder::RangedU64ValueParser;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::context::{session_for, session_with};
use super::display::{render_table, textify};
use super::error::SqlError;
use super::run::{run_sql_on, PlanRunner, QueryResult};

type Result<T, E = SqlError> = std::result::Result<T, E>;

/// Output format of `lakeaug query`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// Aligned table; images shown as `<jpeg 224x224, 14.2 KB>`.
    #[default]
    Text,
    /// CSV with a header; images as summaries, lists/structs as text.
    Csv,
    /// One JSON array of row objects (`[]` when there are no rows); images as summaries.
    Json,
    /// Parquet (zstd) with the exact values, image bytes included; needs --out.
    Parquet,
}

/// Arguments of `lakeaug query`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "\
Tables:
  augmented    every output row; `scheme` is a partition column (WHERE scheme = 'aligned' prunes files)
  rejects      rows that could not be augmented: source_file, source_row, scheme, stage, reason, run_id
  runs         one row per run manifest: run_id, started_at, finished_at, duration_secs, seed,
               config_hash, rows_read, rows_written, rows_rejected, rows_per_sec, ...
  run_schemes  per run and scheme: written, rejected
  source       with --source: the input rows plus source_file, source_row (join key of augmented)

Functions:
  image_info(image) -> struct<format, width, height>    word_count(text)
  word_edit_distance(a, b) (in words)                    token_count(ids [, pad_id = 0])

Examples:
  lakeaug query out \"SELECT scheme, count(*) FROM augmented GROUP BY scheme\"
  lakeaug query out --file queries/scheme_summary.sql
  lakeaug query out --source data/photos.parquet --file queries/caption_edits.sql
  lakeaug query out \"SELECT * FROM augmented\" --format parquet --out sample.parquet
  lakeaug query out                      (interactive prompt; end statements with ;)
  lakeaug query --cluster 10.0.0.1:50050 /shared/out --file queries/scheme_summary.sql
                                         (on a Ballista cluster, see `lakeaug cluster`;
                                          /shared/out mounted at that path on every executor)")]
pub struct QueryArgs {
    /// Output folder of `lakeaug run` (the folder holding scheme=<name>/).
    pub dir: PathBuf,

    /// SQL to run; several statements may be separated by `;`. Without SQL or --file,
    /// SQL is read from stdin, or an interactive prompt opens when stdin is a terminal.
    #[arg(conflicts_with = "file")]
    pub sql: Option<String>,

    /// Read the SQL from a file, e.g. one of queries/*.sql.
    #[arg(short, long, value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Input table(s) of the run, registered as `source` (a file, a folder or a glob,
    /// written the same way as `lakeaug run --input`). Repeatable.
    #[arg(long = "source", value_name = "PATH")]
    pub sources: Vec<String>,

    /// Output format. With several statements, csv/json/parquet write the result of
    /// the last statement that returns columns.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,

    /// Write the result to this file instead of stdout (required for parquet).
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Most rows shown in the text table.
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub max_rows: usize,

    /// Run the queries on the Ballista cluster whose scheduler is at HOST:PORT (see
    /// `lakeaug cluster`): this process plans them (with the committed snapshot's file
    /// list) and prints the results; the executors read the files. DIR (and --source)
    /// must be on a file system every executor mounts at the same path. Not with the
    /// interactive prompt.
    #[arg(long, value_name = "HOST:PORT")]
    pub cluster: Option<String>,

    /// With --cluster: partitions of each stage of a query's plan, i.e. its tasks per
    /// stage, spread over the executors (Ballista's default: 16).
    #[arg(long, value_name = "N", default_value_t = 16, requires = "cluster",
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=4096))]
    pub cluster_partitions: usize,
}

/// Runs `lakeaug query`: builds the session, runs the SQL (or the prompt), writes the
/// output. Creates its own tokio runtime.
pub fn run_query(args: &QueryArgs) -> Result<()> {
    run_query_on(args, None)
}

/// [`run_query`], with the queries run by `runner` (`--cluster`: the caller makes the
/// runner from `args.cluster`; this module knows nothing of clusters).
pub fn run_query_on(args: &QueryArgs, runner: Option<&dyn PlanRunner>) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| SqlError::io("starting the query runtime", e))?;
    runtime.block_on(run_query_async(args, runner))
}

async fn run_query_async(args: &QueryArgs, runner: Option<&dyn PlanRunner>) -> Result<()> {
    if args.format == OutputFormat::Parquet && args.out.is_none() {
        return Err(SqlError::ParquetNeedsOut);
    }
    let sql = match (&args.sql, &args.file) {
        (Some(sql), _) => Some(sql.clone()),
        (None, Some(file)) => Some(
            std::fs::read_to_string(file)
                .map_err(|e| SqlError::io(format!("reading SQL file {}", file.display()), e))?,
        ),
        (None, None) if !std::io::stdin().is_terminal() => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| SqlError::io("reading SQL from stdin", e))?;
            Some(s)
        }
        (None, None) => None,
    };
    if sql.is_none() && runner.is_some() {
        return Err(SqlError::PromptOnCluster);
    }
    let ctx = match runner {
        None => session_for(&args.dir, &args.sources).await?,
        Some(runner) => session_with(&args.dir, &args.sources, runner.session_config()).await?,
    };
    let Some(sql) = sql else {
        return super::repl::repl(ctx, &args.dir, &args.sources, args.max_rows).await;
    };
    let results = run_sql_on(&ctx, &sql, runner).await?;
    write_results(&results, args)
}

/// Writes results according to `args.format` and `args.out`.
pub fn write_results(results: &[QueryResult], args: &QueryArgs) -> Result<()> {
    // `Send` because ArrowWriter requires it.
    let mut sink: Box<dyn Write + Send> = match &args.out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| SqlError::io(format!("creating {}", path.display()), e))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let written = |e| {
        let to = args
            .out
            .as_ref()
            .map_or("stdout".into(), |p| p.display().to_string());
        SqlError::io(format!("writing the results to {to}"), e)
    };
    match args.format {
        OutputFormat::Text => {
            let mut first = true;
            for r in results.iter().filter(|r| !r.schema.fields().is_empty()) {
                if !first {
                    writeln!(sink).map_err(written)?;
                }
                first = false;
                sink.write_all(render_table(&r.schema, &r.batches, args.max_rows)?.as_bytes())
                    .map_err(written)?;
            }
        }
        format => {
            let Some(r) = results.iter().rev().find(|r| !r.schema.fields().is_empty()) else {
                return Err(SqlError::NoColumns);
            };
            // A result without rows is still well-formed: a CSV header, `[]`, a Parquet
            // file with the schema (scripts parse exactly the runs where nothing failed).
            let empty;
            let batches: &[RecordBatch] = if r.batches.is_empty() {
                empty = [RecordBatch::new_empty(r.schema.clone())];
                &empty
            } else {
                &r.batches
            };
            match format {
                OutputFormat::Csv => {
                    let mut w = arrow::csv::WriterBuilder::new()
                        .with_header(true)
                        .build(&mut sink);
                    for b in batches {
                        w.write(&textify(b, true)?)?;
                    }
                }
                OutputFormat::Json => {
                    let mut w = arrow::json::ArrayWriter::new(&mut sink);
                    for b in batches {
                        w.write(&textify(b, false)?)?;
                    }
                    w.finish()?;
                    drop(w);
                    writeln!(sink).map_err(written)?;
                }
                OutputFormat::Parquet => {
                    let props = WriterProperties::builder()
                        .set_compression(Compression::ZSTD(ZstdLevel::default()))
                        .build();
                    let mut w = ArrowWriter::try_new(&mut sink, r.schema.clone(), Some(props))?;
                    for b in batches {
                        w.write(b)?;
                    }
                    w.close()?;
                }
                OutputFormat::Text => unreachable!("handled above"),
            }
        }
    }
    sink.flush().map_err(written)?;
    Ok(())
}
