//! The `lakeaug` command: a thin layer over the library.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::RangedU64ValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};
use lakeaug::config::{Config, FormatSetting, ResizeSetting, MAX_COPIES, MAX_IMAGE_SIZE};
use lakeaug::pipeline::{run, BadFilePolicy, RunError, RunOptions, RunStatus, RunSummary};

/// Exit codes of `lakeaug run`, for schedulers (documented in docs/nightly.md and `run --help`).
mod exit {
    /// Work done (also when some rows were rejected).
    pub const SUCCESS: u8 = 0;
    /// The run failed; files committed before the failure stay, a rerun goes on.
    pub const FAILURE: u8 = 1;
    /// A bad command line: an unknown flag, a value out of range, an unknown scheme, an
    /// invalid --config value (clap exits with 2 itself for what it checks).
    pub const USAGE: u8 = 2;
    /// Every input is already in the output, unchanged (also `--dry-run` with no work).
    pub const NOTHING_TO_DO: u8 = 3;
    /// Another live run holds the output's lock.
    pub const LOCKED: u8 = 4;
}

#[derive(Parser, Debug)]
#[command(
    name = "lakeaug",
    version,
    about = "Augment image-text training data stored in Parquet, with lineage, tokens and SQL.",
    long_about = "lakeaug reads Parquet tables of image bytes and captions, applies named augmentation \
schemes, tokenizes every caption, and writes hive-partitioned Parquet (DIR/scheme=NAME/...) with \
lineage columns that say where each row came from and exactly what was done to it.",
    after_help = "Examples:\n  lakeaug run --input sample_data/photos.parquet --output out/\n  lakeaug schemes\n  lakeaug query out/ \"SELECT scheme, count(*) FROM augmented GROUP BY scheme\""
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Augment Parquet input into a new output dataset.
    Run(RunArgs),
    /// List the schemes and every op they can use, with parameters and defaults.
    Schemes(SchemesArgs),
    /// Run SQL over a lakeaug output folder.
    Query(lakeaug::sql::cli::QueryArgs),
    /// Rewrite an output's small part files into fewer, larger ones (for loaders).
    Compact(CompactArgs),
    /// Write one self-contained HTML page showing what the augmentation did.
    Report(ReportArgs),
    /// Run a Ballista cluster role (scheduler or executor) for `run --cluster`.
    #[command(subcommand)]
    Cluster(ClusterCommand),
}

#[derive(Subcommand, Debug)]
enum ClusterCommand {
    /// Start a scheduler: executors join it, `lakeaug run --cluster` submits to it.
    Scheduler(SchedulerArgs),
    /// Start an executor that joins a scheduler and runs chunk tasks.
    Executor(ExecutorArgs),
}

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  lakeaug cluster scheduler --bind 0.0.0.0:50050")]
struct SchedulerArgs {
    /// HOST:PORT to listen on.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50050")]
    bind: String,
    /// Seconds without a heartbeat before an executor is taken as lost and its tasks run
    /// elsewhere (executors beat every --heartbeat-secs).
    #[arg(long, value_name = "SECS", default_value_t = 180,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    executor_timeout_secs: u64,
    /// Attempts of a task failing with a transient (store I/O) error before the run fails.
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=100))]
    task_max_failures: usize,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  lakeaug cluster executor --scheduler 10.0.0.1:50050 --bind 0.0.0.0:50051 --external-host 10.0.0.2 --work-dir /tmp/lakeaug-executor --vcores 8"
)]
struct ExecutorArgs {
    /// The scheduler's HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    scheduler: String,
    /// HOST:PORT of the executor's Flight service (results); gRPC listens on PORT+1.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50051")]
    bind: String,
    /// Host name the scheduler and driver reach this executor by [default: the bind host].
    #[arg(long, value_name = "HOST")]
    external_host: Option<String>,
    /// Folder for the executor's scratch files (Ballista's shuffle files of distributed
    /// queries; chunk tasks read s3:// inputs by ranges and copy nothing here).
    #[arg(long, value_name = "DIR")]
    work_dir: PathBuf,
    /// Tasks run at once, and threads each task's rows are augmented on.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=1024))]
    vcores: usize,
    /// Seconds between heartbeats to the scheduler (keep well under its
    /// --executor-timeout-secs).
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3_600))]
    heartbeat_secs: u64,
    /// Decoded image bytes all worker threads may hold at once, in MiB [default: 512]: a
    /// large image waits for others to finish rather than adding to them. One image larger
    /// than this still decodes (alone). Does not change output values.
    #[arg(long, value_name = "MIB",
          value_parser = RangedU64ValueParser::<u64>::new().range(16..=1_048_576))]
    decode_memory: Option<u64>,
}

fn cluster_command(cmd: &ClusterCommand) -> anyhow::Result<()> {
    use lakeaug::cluster::roles;
    match cmd {
        ClusterCommand::Scheduler(a) => roles::run_scheduler(&roles::SchedulerOptions {
            bind: a.bind.clone(),
            executor_timeout_secs: a.executor_timeout_secs,
            task_max_failures: a.task_max_failures,
        })?,
        ClusterCommand::Executor(a) => {
            set_decode_memory(a.decode_memory);
            roles::run_executor(&roles::ExecutorOptions {
                scheduler: a.scheduler.clone(),
                bind: a.bind.clone(),
                external_host: a.external_host.clone(),
                work_dir: a.work_dir.clone(),
                vcores: a.vcores,
                heartbeat_secs: a.heartbeat_secs,
            })?
        }
    }
    Ok(())
}

/// `--decode-memory MIB`: the process's shared budget of decoded image bytes.
fn set_decode_memory(mib: Option<u64>) {
    if let Some(mib) = mib {
        lakeaug::kernels::image::decode_memory().set_limit(mib << 20);
    }
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  lakeaug compact out/
  lakeaug compact out/ --target-rows 50000

Parts with under half the target rows and bytes (typically one per small input file and
scheme) are merged, per scheme, into parts of up to the target, in one atomic step under the
output's run lock; every row and value is kept, and later runs go on incrementally.

Exit codes: 0 compacted, 1 failed, 3 nothing to compact, 4 a run holds the output.")]
struct CompactArgs {
    /// The output folder (or s3://bucket/prefix) of `lakeaug run`.
    #[arg(value_name = "OUT")]
    output: String,
    /// Rows of a compacted part at most.
    #[arg(long, value_name = "ROWS", default_value_t = lakeaug::compact::DEFAULT_TARGET_ROWS)]
    target_rows: u64,
    /// Bytes of a compacted part at most.
    #[arg(long, value_name = "BYTES", default_value_t = lakeaug::compact::DEFAULT_TARGET_BYTES)]
    target_bytes: u64,
    /// Print nothing.
    #[arg(long, short)]
    quiet: bool,
}

/// Run `lakeaug compact`, print what it did; the exit code.
fn compact_main(args: &CompactArgs) -> u8 {
    let options = lakeaug::compact::CompactOptions {
        target_rows: args.target_rows.max(1),
        target_bytes: args.target_bytes.max(1),
    };
    match lakeaug::compact::compact(&args.output, &options) {
        Ok(s) if s.parts_written == 0 => {
            if !args.quiet {
                eprintln!(
                    "nothing to compact: {} parts, none small enough to merge",
                    s.parts_before
                );
            }
            exit::NOTHING_TO_DO
        }
        Ok(s) => {
            if !args.quiet {
                eprintln!(
                    "compacted {} parts ({} rows) into {}: {} parts before, {} after",
                    s.parts_rewritten, s.rows, s.parts_written, s.parts_before, s.parts_after
                );
            }
            exit::SUCCESS
        }
        Err(e) if e.is_locked() => {
            print_error(&e.into());
            exit::LOCKED
        }
        Err(e) => {
            print_error(&e.into());
            exit::FAILURE
        }
    }
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum OnBadFile {
    /// Stop the run with an error; nothing is published.
    Fail,
    /// Record the file in the manifest and go on without it.
    Skip,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  lakeaug run --input sample_data/photos.parquet --output out/
  lakeaug run --input 'lake/year=2026/*.parquet' --output out/ --schemes aligned --copies 4 --seed 7
  lakeaug run --input lake/ --output out/ --config my.toml --threads 8

Output: OUT/scheme=<name>/part-*.parquet (zstd; images stored uncompressed), rejected rows in
OUT/_rejects/, and a JSON manifest of the run in OUT/_lakeaug/runs/. Command-line options override
the --config file; `lakeaug schemes --config-template` prints a config with every default.

Incremental: rerunning with the same --output and config processes only input files that are new
or changed since they were processed (state in OUT/_lakeaug/state/), committing each file as it
completes, so a killed run resumes where it stopped. --input and --output also take
s3://bucket/prefix (AWS_* environment variables, ~/.aws files; AWS_ENDPOINT_URL for S3-compatible
stores).

Exit codes: 0 done (also with rejected rows), 1 failed, 2 bad command line, 3 nothing to do,
4 another run holds the output (its pid, host and start time are printed).")]
struct RunArgs {
    /// Input: a Parquet file, a folder (searched recursively; hive `key=value` folders become
    /// columns) or a glob. Repeat to give several.
    #[arg(long, short, required = true, num_args = 1.., value_name = "PATH")]
    input: Vec<String>,
    /// Output folder (created if missing) or s3://bucket/prefix.
    #[arg(long, short, value_name = "DIR")]
    output: PathBuf,
    /// Rebuild everything, also with a config or seed other than the output's; the new
    /// dataset replaces the old one in one atomic swap at the end (local outputs).
    #[arg(long)]
    full: bool,
    /// Print which input files would be processed (new, changed) and skipped; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Also read the footers of files whose size and time are unchanged, and reprocess
    /// those whose footer differs (for file systems with coarse modification times).
    #[arg(long)]
    verify_footers: bool,
    /// Commit progress inside a large input file every this many rows (rounded up to even),
    /// so a killed run loses at most one chunk. Part files are cut at chunk boundaries.
    #[arg(long, value_name = "ROWS", default_value_t = lakeaug::pipeline::DEFAULT_CHUNK_ROWS,
          value_parser = clap::value_parser!(u64).range(2..=MAX_ROWS))]
    chunk_rows: u64,
    /// Write a JSON summary (status, counts, rejects, durations, throughput, run id) here.
    #[arg(long, value_name = "FILE")]
    summary_json: Option<PathBuf>,
    /// TOML config with scheme parameters and defaults (see `lakeaug schemes --config-template`).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Schemes to run, comma-separated [default: aligned,cross_modal,pseudo_label].
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    schemes: Option<Vec<String>>,
    /// Output rows per input row and scheme, each with its own random draw [default: 1].
    #[arg(long, value_name = "N",
          value_parser = RangedU64ValueParser::<u32>::new().range(1..=u64::from(MAX_COPIES)))]
    copies: Option<u32>,
    /// Run seed: same inputs, config and seed give the same output values [default: 0].
    #[arg(long, value_name = "S")]
    seed: Option<u64>,
    /// Worker threads [default: one per core]. Does not change output values.
    #[arg(long, value_name = "T", value_parser = RangedU64ValueParser::<usize>::new().range(1..=1024))]
    threads: Option<usize>,
    /// Decoded image bytes all worker threads may hold at once, in MiB [default: 512]: a
    /// large image waits for others to finish rather than adding to them. One image larger
    /// than this still decodes (alone). Does not change output values.
    #[arg(long, value_name = "MIB",
          value_parser = RangedU64ValueParser::<u64>::new().range(16..=1_048_576))]
    decode_memory: Option<u64>,
    /// Rows per batch. Does not change output values; memory grows with it.
    #[arg(long, default_value_t = 128, value_name = "ROWS",
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_BATCH_ROWS))]
    batch_size: usize,
    /// Name of the image column (binary, large_binary, binary_view or struct<bytes, path>).
    #[arg(long, value_name = "NAME")]
    image_col: Option<String>,
    /// Name of the caption column (utf8, large_utf8, utf8_view or dictionary).
    #[arg(long, value_name = "NAME")]
    caption_col: Option<String>,
    /// Optional id column, copied into the rejects table.
    #[arg(long, value_name = "NAME")]
    id_col: Option<String>,
    /// Output image side in pixels [default: 224].
    #[arg(long, value_name = "PIXELS",
          value_parser = RangedU64ValueParser::<u32>::new().range(1..=u64::from(MAX_IMAGE_SIZE)))]
    size: Option<u32>,
    /// How to reach size x size [default: stretch].
    #[arg(long, value_enum)]
    resize: Option<ResizeSetting>,
    /// Output image format [default: jpeg].
    #[arg(long, value_enum)]
    format: Option<FormatSetting>,
    /// JPEG quality, 1-100 [default: 95].
    #[arg(long, value_name = "Q", value_parser = clap::value_parser!(u8).range(1..=100))]
    quality: Option<u8>,
    /// Reject images with more pixels than this, before decoding [default: 64000000].
    #[arg(long, value_name = "PIXELS", value_parser = clap::value_parser!(u64).range(1..=MAX_PIXELS))]
    max_pixels: Option<u64>,
    /// Keep truncated or corrupt JPEGs (decoded as far as the data goes, the rest filled,
    /// like Pillow's LOAD_TRUNCATED_IMAGES) instead of rejecting them; each such row says
    /// why in its `source_decode_warning` column. Other formats are still rejected.
    #[arg(long)]
    accept_truncated_images: bool,
    /// A Hugging Face tokenizer.json [default: bundled BERT uncased].
    #[arg(long, value_name = "FILE")]
    tokenizer: Option<PathBuf>,
    /// Truncate token ids at this length, [CLS] and [SEP] included [default: 512].
    #[arg(long, value_name = "N", value_parser = RangedU64ValueParser::<usize>::new().range(2..=1_000_000))]
    max_tokens: Option<usize>,
    /// Write Hugging Face `datasets` features into the output's schema metadata: the image
    /// column as an Image (a plain binary column is written as struct<bytes, path>), the
    /// caption as Value("string"), so `datasets` yields PIL images [config: image.hf_features].
    #[arg(long)]
    hf_features: bool,
    /// What to do with an input file that is not readable Parquet or lacks the columns.
    #[arg(long, value_enum, default_value_t = OnBadFile::Fail)]
    on_bad_file: OnBadFile,
    /// No progress bar and no summary.
    #[arg(long, short)]
    quiet: bool,
    /// After the run, write its HTML report to OUT-report.html (next to OUT; see
    /// `lakeaug report`).
    #[arg(long)]
    report: bool,
    /// Run the chunks as tasks on the Ballista cluster whose scheduler is at HOST:PORT (see
    /// `lakeaug cluster`); this process plans and commits. Inputs and output must be
    /// reachable by every executor: s3://, or a shared file system (--shared-fs).
    #[arg(long, value_name = "HOST:PORT")]
    cluster: Option<String>,
    /// Cluster jobs (chunks) in flight at once: at least the executors' vcores in all.
    #[arg(long, value_name = "K", default_value_t = 4,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=10_000), requires = "cluster")]
    cluster_jobs: usize,
    /// With --cluster: the local --output and --input paths are on a file system every
    /// executor mounts at the same path.
    #[arg(long, requires = "cluster")]
    shared_fs: bool,
}

/// Largest `--batch-size`: a batch of 128 rows is the default; a million rows of images is
/// already tens of GB in flight.
const MAX_BATCH_ROWS: u64 = 1_000_000;
/// Largest `--chunk-rows`.
const MAX_ROWS: u64 = 1_000_000_000_000;
/// Largest `--max-pixels` (a 100k x 100k image); the decoders' own limits are far below.
const MAX_PIXELS: u64 = 10_000_000_000;

/// Option values the library refused (out of range, unknown scheme, ...): a bad command
/// line, exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct InvalidOptions(String);

#[derive(Args, Debug)]
struct SchemesArgs {
    /// Print a TOML config with every default, to start a --config file from.
    #[arg(long)]
    config_template: bool,
    /// Describe the schemes of this config (its own [scheme.NAME] declarations and
    /// parameters) instead of the defaults; also checks the config.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl RunArgs {
    fn config(&self) -> anyhow::Result<Config> {
        let mut c = match &self.config {
            // A --config file that cannot be used is part of a bad command line.
            Some(path) => Config::from_file(path).map_err(|e| InvalidOptions(format!("{e:#}")))?,
            None => Config::default(),
        };
        if let Some(v) = &self.schemes {
            c.schemes = v
                .iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
        }
        if let Some(v) = self.copies {
            c.copies = v;
        }
        if let Some(v) = self.seed {
            c.seed = v;
        }
        if let Some(v) = &self.image_col {
            c.columns.image = v.clone();
        }
        if let Some(v) = &self.caption_col {
            c.columns.caption = v.clone();
        }
        if let Some(v) = &self.id_col {
            c.columns.id = Some(v.clone());
        }
        if let Some(v) = self.size {
            c.image.size = v;
        }
        if let Some(v) = self.resize {
            c.image.resize = v;
        }
        if let Some(v) = self.format {
            c.image.format = v;
        }
        if let Some(v) = self.quality {
            c.image.quality = v;
        }
        if let Some(v) = self.max_pixels {
            c.image.max_pixels = v;
        }
        if self.accept_truncated_images {
            c.image.accept_truncated = true;
        }
        if let Some(v) = &self.tokenizer {
            c.tokens.tokenizer = Some(v.clone());
        }
        if self.hf_features {
            c.image.hf_features = true;
        }
        if let Some(v) = self.max_tokens {
            c.tokens.max_tokens = v;
        }
        c.validate()
            .map_err(|e| InvalidOptions(format!("invalid options: {e}")))?;
        Ok(c)
    }
}

fn run_command(args: &RunArgs) -> anyhow::Result<RunSummary> {
    let mut opts = RunOptions::new(args.input.clone(), args.output.clone(), args.config()?);
    opts.threads = args.threads;
    set_decode_memory(args.decode_memory);
    opts.batch_size = args.batch_size;
    opts.on_bad_file = match args.on_bad_file {
        OnBadFile::Fail => BadFilePolicy::Fail,
        OnBadFile::Skip => BadFilePolicy::Skip,
    };
    opts.full = args.full;
    opts.dry_run = args.dry_run;
    opts.verify_footers = args.verify_footers;
    opts.chunk_rows = args.chunk_rows;
    opts.progress = !args.quiet && !args.dry_run && std::io::stderr().is_terminal();
    if let Some(url) = &args.cluster {
        let output = args.output.to_string_lossy();
        let local = std::iter::once(output.as_ref())
            .chain(args.input.iter().map(String::as_str))
            .any(|p| !lakeaug::store::is_url(p));
        if local && !args.shared_fs {
            return Err(InvalidOptions(format!(
                "--cluster: the executors read the inputs and write the output themselves, so a local path ({}) must be on a file system every executor mounts at the same path; pass --shared-fs if it is, or use s3:// locations",
                std::iter::once(output.to_string())
                    .chain(args.input.iter().cloned())
                    .filter(|p| !lakeaug::store::is_url(p))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .into());
        }
        let runner = lakeaug::cluster::driver::BallistaRunner::new(url, args.cluster_jobs)
            .map_err(|e| InvalidOptions(e.to_string()))?;
        opts.remote = Some(std::sync::Arc::new(runner));
    }
    Ok(run(&opts)?)
}

/// The `--input` folders that hold `--output` (local paths only). Discovery skips
/// lakeaug output folders, so the run does not read its own parts back; this says so.
fn inputs_holding_output(args: &RunArgs) -> Vec<String> {
    let Ok(output) = std::path::absolute(&args.output) else {
        return Vec::new();
    };
    args.input
        .iter()
        .filter(|i| !i.contains("://") && std::path::Path::new(i).is_dir())
        .filter(|i| {
            std::path::absolute(i).is_ok_and(|input| output.starts_with(&input) && output != input)
        })
        .cloned()
        .collect()
}

/// Run `lakeaug run`, print its summary, write `--summary-json`; the exit code.
fn run_main(args: &RunArgs) -> u8 {
    if !args.quiet {
        for input in inputs_holding_output(args) {
            eprintln!(
                "note: the output {} is inside the input folder {input}; lakeaug output folders (holding _lakeaug/) are never read as input",
                args.output.display()
            );
        }
    }
    let result = run_command(args);
    let code = match &result {
        Ok(s) if s.status == RunStatus::NothingToDo => exit::NOTHING_TO_DO,
        Ok(_) => exit::SUCCESS,
        Err(e)
            if e.downcast_ref::<RunError>()
                .is_some_and(RunError::is_locked) =>
        {
            exit::LOCKED
        }
        Err(e) if e.downcast_ref::<InvalidOptions>().is_some() => exit::USAGE,
        Err(_) => exit::FAILURE,
    };
    match &result {
        Ok(summary) => {
            if args.dry_run {
                print!(
                    "{}",
                    lakeaug::pipeline::render_plan(&summary.planned, &summary.output)
                );
            } else if !args.quiet {
                eprint!("{}", summary.render());
            }
        }
        Err(e) => print_error(e),
    }
    if args.report && matches!(&result, Ok(s) if s.status == RunStatus::Processed) {
        let opts =
            lakeaug::report::ReportOptions::new(&args.output, default_report_path(&args.output));
        if let Err(e) = write_report(opts, args.quiet) {
            print_error(&e);
            return exit::FAILURE;
        }
    }
    if let Some(path) = &args.summary_json {
        let json = match &result {
            Ok(s) => serde_json::to_string_pretty(&s.to_json(i32::from(code))),
            Err(e) => serde_json::to_string_pretty(&serde_json::json!({
                "status": "failed",
                "exit_code": code,
                "output": args.output.to_string_lossy(),
                "error": format!("{e:#}"),
            })),
        }
        .expect("summary serializes");
        if let Err(e) = lakeaug::store::write_atomic(path, json.as_bytes()) {
            eprintln!("error: cannot write --summary-json {}: {e}", path.display());
            return exit::FAILURE;
        }
    }
    code
}

fn print_error(e: &anyhow::Error) {
    eprintln!("error: {e}");
    for cause in e.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}

fn schemes_command(args: &SchemesArgs) -> anyhow::Result<()> {
    let config = match &args.config {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    if args.config_template {
        print!("{}", config.to_toml());
    } else {
        print!("{}", lakeaug::config::describe(&config));
    }
    Ok(())
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  lakeaug report out/                         # writes out-report.html next to out/
  lakeaug report out/ --out /tmp/r.html --schemes aligned,cross_modal --samples 16 --verify
  lakeaug report out/ --source sample_data/photos.parquet   # inputs not found from here

The page is one self-contained HTML file (inline CSS, data: thumbnails, inline SVG charts;
its Content-Security-Policy forbids loading anything): open it in any browser, offline.
It reads the committed snapshot `lakeaug query` reads and never writes into OUT.")]
struct ReportArgs {
    /// The output folder of `lakeaug run`.
    #[arg(value_name = "OUT")]
    output: PathBuf,
    /// Where to write the HTML [default: OUT-report.html next to OUT].
    #[arg(long, value_name = "FILE.html")]
    out: Option<PathBuf>,
    /// Schemes to show, comma-separated [default: the last run's schemes].
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    schemes: Option<Vec<String>>,
    /// Source rows sampled (the lowest source_digest), the same rows in every scheme.
    #[arg(long, default_value_t = 8, value_name = "N")]
    samples: usize,
    /// Variants shown per scheme and source row (copies 0..K).
    #[arg(long, default_value_t = 3, value_name = "K")]
    copies_shown: usize,
    /// Thumbnail width in pixels.
    #[arg(long, default_value_t = 128, value_name = "P")]
    thumb_px: u32,
    /// Re-derive every sampled row from its source and lineage (digest, image bytes,
    /// caption) and show a check mark or a cross.
    #[arg(long)]
    verify: bool,
    /// Largest page in bytes; the sample is halved until the page fits.
    #[arg(long, default_value_t = lakeaug::report::DEFAULT_MAX_BYTES, value_name = "B")]
    max_bytes: u64,
    /// The run's input (file, folder or glob, as given to `lakeaug run --input`), when the
    /// paths recorded in the manifests are not found from here. Repeatable.
    #[arg(long = "source", value_name = "PATH")]
    sources: Vec<String>,
}

/// `OUT-report.html` beside the output folder `OUT`.
fn default_report_path(output: &std::path::Path) -> PathBuf {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "lakeaug".into());
    output
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join(format!("{name}-report.html"))
}

fn report_command(args: &ReportArgs) -> anyhow::Result<()> {
    let mut opts = lakeaug::report::ReportOptions::new(
        &args.output,
        args.out
            .clone()
            .unwrap_or_else(|| default_report_path(&args.output)),
    );
    opts.schemes = args.schemes.clone();
    opts.samples = args.samples;
    opts.copies_shown = args.copies_shown;
    opts.thumb_px = args.thumb_px;
    opts.verify = args.verify;
    opts.max_bytes = args.max_bytes;
    opts.sources = args.sources.clone();
    write_report(opts, false)
}

fn write_report(mut opts: lakeaug::report::ReportOptions, quiet: bool) -> anyhow::Result<()> {
    opts.command_line = std::env::args()
        .map(|a| lakeaug::report::shell_quote(&a))
        .collect::<Vec<_>>()
        .join(" ");
    let summary = lakeaug::report::write_report(&opts)?;
    if !quiet {
        let halved = if summary.halved {
            " (sample halved to fit --max-bytes)"
        } else {
            ""
        };
        eprintln!(
            "report {}: {} bytes, {} sampled source rows{halved}",
            summary.path.display(),
            summary.bytes,
            summary.samples
        );
    }
    if let Some((_, failed)) = summary.verified {
        if failed > 0 {
            anyhow::bail!("--verify: {failed} sampled rows do not re-derive from their source and lineage (see the report)");
        }
    }
    Ok(())
}

/// glibc malloc tuned for batch-sized buffers. By default glibc raises its mmap threshold
/// to the largest block freed so far, after which input and output batch buffers come from
/// the heap, where longer-lived blocks pin freed space and peak memory grew with the number
/// of rows. Fixed: blocks of 4 MiB and more get their own pages and give them back when
/// freed, and a heap keeps up to 8 MiB free at its top rather than returning and
/// re-faulting pages (per-row image buffers). Measured in BENCHMARKS.md ("Memory").
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets malloc tunables; it runs before any other thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 8 << 20);
    }
}

/// `lakeaug query`, with `--cluster` on the Ballista cluster.
fn query_command(args: &lakeaug::sql::QueryArgs) -> anyhow::Result<()> {
    let Some(url) = &args.cluster else {
        return Ok(lakeaug::sql::run_query(args)?);
    };
    let runner = lakeaug::cluster::query::ClusterQuery::new(url, args.cluster_partitions)
        .map_err(|e| InvalidOptions(e.to_string()))?;
    Ok(lakeaug::sql::run_query_on(args, Some(&runner))?)
}

fn main() -> ExitCode {
    tune_malloc();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Run(args) => return ExitCode::from(run_main(args)),
        Command::Compact(args) => return ExitCode::from(compact_main(args)),
        Command::Schemes(args) => schemes_command(args),
        Command::Query(args) => query_command(args),
        Command::Report(args) => report_command(args),
        Command::Cluster(cmd) => cluster_command(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            print_error(&e);
            ExitCode::FAILURE
        }
    }
}
