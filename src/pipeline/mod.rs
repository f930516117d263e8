//! The `lakeaug run` job: plan → read → augment → write, with reading, computing and
//! writing overlapped on separate threads, and progress committed per input file.
//!
//! ```text
//! reader thread ──batches──▶ main thread (rayon pool: decode, augment, encode, tokenize)
//!                                  └──output batches──▶ writer thread (Parquet, staging,
//!                                                        publish + commit per input file)
//! ```
//! Both channels are bounded, and at most `threads + 1` batches are in the pool at once,
//! so memory stays at a few batches whatever the input size.
//!
//! A run holds the output's lock, skips the input files the output already holds
//! unchanged (see [`crate::state`]), and commits each processed file on its own: its parts
//! are published (atomic per object), its rejects written, then its record. A run killed
//! at any point leaves only complete files, and the next run redoes only the files whose
//! record is missing or outdated; values are a pure function of (file, row, config), so the
//! result is the same as one uninterrupted run.

mod augment;
mod chunk;
mod commit;
mod context;
mod drift;
mod error;
mod inputs;
mod job;
mod plan;
mod reader;
mod remote;
mod summary;
mod tally;
mod target;
mod writer;

pub use crate::layout::{Reject, Stage};
pub use augment::{output_schema, Augmenter, BatchOutput, FileContext, WorkItem, WORK_ITEM_BYTES};
pub use chunk::{
    run_chunk, AugmenterCache, ChunkDone, ChunkError, ChunkOutcome, ChunkReport, ChunkTask,
};
pub use error::{AugmentError, ConfigMismatch, CountMismatch, RowsMissing, RunError};
pub use plan::{check_unique_keys, plan_inputs, render_plan, PlannedFile};
pub use remote::ChunkRunner;
pub use summary::{RunStatus, RunSummary};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::config::Config;
use crate::kernels::tokens::TextTokenizer;
use crate::layout::{now_micros, rfc3339_micros};
use crate::read::discover_inputs;
use crate::state::lock::RunLock;
use crate::state::{Plan, State};
use crate::store::{LocalStore, Store};
use crate::write::WriterOptions;
use context::{Job, RunClock};
use target::{prepare_target, recover, swap_in, Target};

/// What to do with an input file that cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BadFilePolicy {
    /// Stop the run; files committed before stay, nothing else is published.
    #[default]
    Fail,
    /// Record the file in the manifest and go on without it.
    Skip,
}

/// Everything `lakeaug run` needs besides the config.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub inputs: Vec<String>,
    /// Output folder, or `s3://bucket/prefix`.
    pub output: PathBuf,
    pub config: Config,
    /// Worker threads (`None`: one per core).
    pub threads: Option<usize>,
    /// Rows per batch read from Parquet (rounded up to an even number).
    pub batch_size: usize,
    pub on_bad_file: BadFilePolicy,
    pub writer: WriterOptions,
    /// Draw a progress bar (only shown when stderr is a terminal).
    pub progress: bool,
    /// Rebuild everything (also with a config other than the output's), swapping the new
    /// dataset in at the end.
    pub full: bool,
    /// Plan only: list what would be processed and skipped; write nothing.
    pub dry_run: bool,
    /// Also read the footers of files whose listing is unchanged, and reprocess those whose
    /// footer fingerprint differs.
    pub verify_footers: bool,
    /// Commit progress inside a large input file every this many rows (rounded up to an
    /// even number), so a crash loses at most one chunk.
    pub chunk_rows: u64,
    /// Run the chunks as tasks on a cluster (`--cluster`) instead of in this process.
    pub remote: Option<Arc<dyn ChunkRunner>>,
}

impl RunOptions {
    pub fn new(inputs: Vec<String>, output: impl Into<PathBuf>, config: Config) -> RunOptions {
        RunOptions {
            inputs,
            output: output.into(),
            config,
            threads: None,
            batch_size: 128,
            on_bad_file: BadFilePolicy::Fail,
            writer: WriterOptions::default(),
            progress: false,
            full: false,
            dry_run: false,
            verify_footers: false,
            chunk_rows: DEFAULT_CHUNK_ROWS,
            remote: None,
        }
    }
}

/// Rows per committed chunk of a large file unless `--chunk-rows` says otherwise.
pub const DEFAULT_CHUNK_ROWS: u64 = 100_000;

/// The tokenizer lakeaug uses when none is configured: BERT uncased, bundled in the binary.
pub const DEFAULT_TOKENIZER_JSON: &[u8] =
    include_bytes!("../../sample_data/tokenizer/bert-base-uncased/tokenizer.json");

/// The tokenizer `config` names, or the bundled one.
pub fn load_tokenizer(config: &Config) -> Result<TextTokenizer, AugmentError> {
    let tokenizer = match &config.tokens.tokenizer {
        Some(path) => TextTokenizer::from_file(path, config.tokens.max_tokens),
        None => TextTokenizer::from_bytes(
            DEFAULT_TOKENIZER_JSON,
            std::path::Path::new("<bundled bert-base-uncased>"),
            config.tokens.max_tokens,
        ),
    };
    Ok(tokenizer?)
}

/// A run id that sorts by time: `20261127T051230Z-1a2b3c4d`.
fn new_run_id(us: i64) -> String {
    let stamp = rfc3339_micros(us);
    let compact: String = stamp[..19]
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    let salt =
        blake3::hash(format!("{us}-{}", std::process::id()).as_bytes()).to_hex()[..8].to_string();
    format!("{compact}Z-{salt}")
}

/// The output opened for a run: its store, the run's lock (none for a dry run), and its
/// state, with what dead runs left cleared.
struct OpenedOutput {
    store: Arc<dyn Store>,
    lock: Option<RunLock>,
    state: State,
}

/// Open the output, take its lock and recover it; refuse an output built with another
/// config (unless `--full`).
fn open_output(opts: &RunOptions, run_id: &str) -> Result<OpenedOutput, RunError> {
    let config = &opts.config;
    let output = opts.output.to_string_lossy().into_owned();
    let store: Arc<dyn Store> = if opts.dry_run && !crate::store::is_url(&output) {
        // Dry runs create nothing, not even the output folder.
        Arc::new(LocalStore {
            root: opts.output.clone(),
        })
    } else {
        crate::store::open_store(&output)?
    };
    let lock = if opts.dry_run {
        None
    } else {
        Some(RunLock::acquire(store.clone(), run_id)?)
    };
    let keep_build = match store.local_root() {
        Some(root) if opts.full && !opts.dry_run => {
            Some(crate::write::swap::sibling_build_dir(root, &config.hash())?)
        }
        _ => None,
    };
    if !opts.dry_run {
        recover(store.as_ref(), keep_build.as_deref())?;
    }
    let mut state = State::load(store.as_ref())?;
    if !opts.dry_run {
        crate::state::journal::recover(store.as_ref(), &state)?;
        state.compact(store.as_ref())?;
    }
    let hash = config.hash();
    if let Some(ds) = &state.dataset {
        if ds.config_hash != hash && !opts.full {
            return Err(ConfigMismatch {
                output: store.describe(),
                existing: ds.config_hash.clone(),
                requested: hash,
                run: ds.created_by_run.clone(),
            }
            .into());
        }
    }
    Ok(OpenedOutput { store, lock, state })
}

/// Run the job. On error, files committed before the error stay (a rerun goes on from
/// there); nothing else is published.
pub fn run(opts: &RunOptions) -> Result<RunSummary, RunError> {
    let started = Instant::now();
    let started_us = now_micros();
    let config = &opts.config;
    config
        .validate()
        .map_err(|e| RunError::InvalidConfig(e.to_string()))?;
    if opts.remote.is_some() && opts.full && !opts.dry_run {
        return Err(RunError::FullOnCluster);
    }
    let clock = RunClock {
        run_id: new_run_id(started_us),
        started,
        started_us,
    };
    let OpenedOutput { store, lock, state } = open_output(opts, &clock.run_id)?;

    // A `--full` run plans against the build folder it continues (empty when new), so a
    // killed `--full` run's committed files are not redone.
    let (target, state) = match &lock {
        Some(lock) => {
            let (target, build_state) = prepare_target(opts, &store, lock, &clock.run_id)?;
            (Some(target), build_state.unwrap_or(state))
        }
        None => (None, state),
    };

    // Plan from listings alone; open only what is to be processed.
    let files = discover_inputs(&opts.inputs)?;
    check_unique_keys(&files)?;
    let fetched = crate::read::BytesFetched::default();
    let (planned, mut footers_read) = plan_inputs(
        files,
        &state,
        opts.full && opts.dry_run,
        opts.verify_footers,
        &config.columns,
        &fetched,
    );
    let unchanged = planned.iter().filter(|p| p.plan == Plan::Unchanged).count() as u64;
    let todo: Vec<PlannedFile> = planned
        .iter()
        .filter(|p| p.plan != Plan::Unchanged)
        .cloned()
        .collect();
    let nothing = |status: RunStatus| {
        let mut manifest = clock.manifest(config);
        manifest.unchanged_files = unchanged;
        manifest.input_bytes_fetched = fetched.get();
        RunSummary {
            manifest,
            rejects: Vec::new(),
            status,
            planned: planned.clone(),
            footers_read,
            planning_secs: started.elapsed().as_secs_f64(),
            output: store.describe(),
            executors: Default::default(),
        }
    };
    let (Some(lock), Some(target)) = (lock, target) else {
        return Ok(nothing(if todo.is_empty() {
            RunStatus::NothingToDo
        } else {
            RunStatus::DryRun
        }));
    };
    if todo.is_empty() {
        let status = finish_without_work(&target, &state, store.as_ref())?;
        lock.release()?;
        let mut summary = nothing(status);
        summary.manifest.full_rebuild = target.build_dir.is_some();
        return Ok(summary);
    }

    // A changed file that `lakeaug compact` merged into parts shared with other files gets
    // parts of its own back first, so that replacing it deletes only its own rows.
    let mut state = state;
    let changed: Vec<&str> = todo
        .iter()
        .filter(|p| p.plan == Plan::Changed)
        .map(|p| p.file.key.as_str())
        .collect();
    crate::compact::detach(
        target.store.as_ref(),
        &mut state,
        &changed,
        &config.columns.image,
        &target.staging.join("detach"),
    )?;

    let job = Job {
        opts,
        target: &target,
        clock: &clock,
        unchanged,
        fetched: fetched.clone(),
    };
    let result = job.process(state, &todo, &mut footers_read);
    // On failure a `--full` build folder stays: the next `--full` run with this config
    // continues it (any other run removes it).
    let mut summary = result?;
    if let (Some(build), Some(root)) = (&target.build_dir, store.local_root()) {
        swap_in(build, root)?;
    }
    lock.release()?;
    summary.planned = planned;
    summary.footers_read = footers_read;
    Ok(summary)
}

/// A run with no file to process: a `--full` build whose every file a killed run
/// committed only needs its swap; an empty one is removed.
fn finish_without_work(
    target: &Target,
    state: &State,
    store: &dyn Store,
) -> Result<RunStatus, RunError> {
    Ok(match (&target.build_dir, store.local_root()) {
        (Some(build), Some(root)) if !state.files.is_empty() => {
            swap_in(build, root)?;
            RunStatus::Processed
        }
        (Some(build), _) => {
            std::fs::remove_dir_all(build).ok();
            RunStatus::NothingToDo
        }
        _ => RunStatus::NothingToDo,
    })
}

/// `x` rounded to the nearest multiple of `1 / per_unit`.
fn round_to(x: f64, per_unit: f64) -> f64 {
    (x * per_unit).round() / per_unit
}
