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
mod commit;
mod drift;
mod plan;
mod summary;

pub use augment::{output_schema, token_fields, Augmenter, BatchOutput, Reject, Stage};
pub use plan::{check_unique_keys, plan_inputs, render_plan, PlannedFile};
pub use summary::{RunStatus, RunSummary};

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::config::Config;
use crate::kernels::tokens::TextTokenizer;
use crate::lineage::RunStamp;
use crate::read::{discover_inputs, InputError, OpenedInput};
use crate::state::lock::RunLock;
use crate::state::{DatasetState, FileRecord, Plan, State};
use crate::store::{LocalStore, Store};
use crate::write::dataset::part_stem;
use crate::write::manifest::{rfc3339_micros, ManifestInput, SchemeCounts, SkippedFile};
use crate::write::{DatasetWriter, Manifest, WriterOptions};
use commit::{commit_chunk, continue_numbering, ChunkCommit};

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
        }
    }
}

/// Rows per committed chunk of a large file unless `--chunk-rows` says otherwise.
pub const DEFAULT_CHUNK_ROWS: u64 = 100_000;

/// The output was built with another config or seed.
#[derive(Debug, thiserror::Error)]
#[error("{output} was built with config hash {existing} (run {run}), but this run's config hash is {requested}: the same config and seed are needed to add to it. Use the config it was built with (recorded in {output}/_lakeaug/state/dataset.json), write to another --output, or pass --full to rebuild everything with the new config")]
pub struct ConfigMismatch {
    pub output: String,
    pub existing: String,
    pub requested: String,
    pub run: String,
}

/// The tokenizer lakeaug uses when none is configured: BERT uncased, bundled in the binary.
pub const DEFAULT_TOKENIZER_JSON: &[u8] =
    include_bytes!("../../sample_data/tokenizer/bert-base-uncased/tokenizer.json");

fn load_tokenizer(config: &Config) -> anyhow::Result<TextTokenizer> {
    match &config.tokens.tokenizer {
        Some(path) => TextTokenizer::from_file(path, config.tokens.max_tokens),
        None => TextTokenizer::from_bytes(
            DEFAULT_TOKENIZER_JSON,
            std::path::Path::new("<bundled bert-base-uncased>"),
            config.tokens.max_tokens,
        ),
    }
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
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

/// What the reader thread sends, in reading order.
enum ReadMsg {
    Batch {
        file: usize,
        first_row: u64,
        batch: RecordBatch,
    },
    Event(FileEvent),
}

/// A point in an input file's progress, handled after every batch sent before it.
enum FileEvent {
    /// The rows of `file` before `rows_done` have all been sent (a chunk boundary).
    ChunkDone {
        file: usize,
        rows_done: u64,
    },
    FileDone {
        file: usize,
    },
    FileFailed {
        file: usize,
        error: InputError,
    },
}

/// An input file as the reader streams it: from `start` on, in chunks of `chunk_rows`.
struct ReadPlan {
    input: Arc<OpenedInput>,
    start: u64,
    chunk_rows: u64,
}

fn reader_thread(plans: Vec<ReadPlan>, batch_size: usize, tx: SyncSender<ReadMsg>) {
    for (file, plan) in plans.into_iter().enumerate() {
        let batches = match plan.input.batches_from(batch_size, plan.start) {
            Ok(b) => b,
            Err(error) => {
                if tx
                    .send(ReadMsg::Event(FileEvent::FileFailed { file, error }))
                    .is_err()
                {
                    return;
                }
                continue;
            }
        };
        let mut failed = false;
        for item in batches {
            let (first_row, batch) = match item {
                Ok(b) => b,
                Err(error) => {
                    failed = true;
                    if tx
                        .send(ReadMsg::Event(FileEvent::FileFailed { file, error }))
                        .is_err()
                    {
                        return;
                    }
                    break;
                }
            };
            // Cut batches at chunk boundaries (multiples of an even chunk size, so every
            // piece still starts at an even row) and announce each boundary.
            let n = batch.num_rows();
            let mut offset = 0;
            while offset < n {
                let row = first_row + offset as u64;
                let boundary = (row / plan.chunk_rows + 1) * plan.chunk_rows;
                let len = ((boundary - row) as usize).min(n - offset);
                let piece = if len == n {
                    batch.clone()
                } else {
                    batch.slice(offset, len)
                };
                let msg = ReadMsg::Batch {
                    file,
                    first_row: row,
                    batch: piece,
                };
                if tx.send(msg).is_err() {
                    return;
                }
                offset += len;
                let end = row + len as u64;
                if end.is_multiple_of(plan.chunk_rows)
                    && end < plan.input.num_rows
                    && tx
                        .send(ReadMsg::Event(FileEvent::ChunkDone {
                            file,
                            rows_done: end,
                        }))
                        .is_err()
                {
                    return;
                }
            }
        }
        if !failed
            && tx
                .send(ReadMsg::Event(FileEvent::FileDone { file }))
                .is_err()
        {
            return;
        }
    }
}

enum WriteMsg {
    Batch {
        file_id: String,
        scheme: String,
        batch: RecordBatch,
    },
    Commit(Box<ChunkCommit>),
    Discard {
        file_id: String,
    },
}

/// What the writer thread hands back: the state with this run's commits, and what it
/// published.
struct Written {
    writer: DatasetWriter,
    state: State,
    published: Vec<String>,
    rejects_files: Vec<String>,
}

fn writer_thread(
    mut writer: DatasetWriter,
    store: Arc<dyn Store>,
    mut state: State,
    run_id: String,
    rx: Receiver<WriteMsg>,
) -> anyhow::Result<Written> {
    let mut published = Vec::new();
    let mut rejects_files = Vec::new();
    for msg in rx {
        let result = match msg {
            WriteMsg::Batch {
                file_id,
                scheme,
                batch,
            } => writer.write(&file_id, &scheme, &batch),
            WriteMsg::Commit(c) => {
                commit_chunk(&mut writer, store.as_ref(), &mut state, &run_id, *c).map(
                    |(parts, rejects)| {
                        published.extend(parts);
                        rejects_files.extend(rejects);
                    },
                )
            }
            WriteMsg::Discard { file_id } => writer.discard_file(&file_id),
        };
        if let Err(e) = result {
            writer.abort();
            return Err(e);
        }
    }
    Ok(Written {
        writer,
        state,
        published,
        rejects_files,
    })
}

/// A file's progress in this run since its last commit.
#[derive(Default)]
struct Pending {
    first_row: u64,
    rows: u64,
    counts: BTreeMap<String, SchemeCounts>,
    rejects: Vec<Reject>,
}

/// Check that all inputs give the same output schema, so the dataset has one schema.
fn check_same_schema(
    inputs: &[std::sync::Arc<OpenedInput>],
    schemas: &[SchemaRef],
) -> anyhow::Result<()> {
    let (Some(first), Some(first_schema)) = (inputs.first(), schemas.first()) else {
        return Ok(());
    };
    for (input, schema) in inputs.iter().zip(schemas).skip(1) {
        if schema.fields() != first_schema.fields() {
            let diff = schema
                .fields()
                .iter()
                .zip(first_schema.fields().iter())
                .find(|(a, b)| a != b)
                .map(|(a, b)| {
                    format!(
                        "column `{}` is {} here but `{}` is {} there",
                        a.name(),
                        a.data_type(),
                        b.name(),
                        b.data_type()
                    )
                })
                .unwrap_or_else(|| {
                    format!(
                        "{} columns here, {} there",
                        schema.fields().len(),
                        first_schema.fields().len()
                    )
                });
            bail!(
                "{} and {} have different schemas ({diff}); one output dataset needs one schema: run them separately into different --output folders",
                input.file.display,
                first.file.display
            );
        }
    }
    Ok(())
}

/// Where this run writes: the output itself, or for `--full` on a local output a sibling
/// folder swapped in at the end.
struct Target {
    store: Arc<dyn Store>,
    /// `Some(sibling)` for a `--full` rebuild.
    build_dir: Option<PathBuf>,
    /// Local staging folder for part files.
    staging: PathBuf,
    /// Local folder for copies of remote inputs (removed at the end).
    downloads: Option<PathBuf>,
}

/// Clear what dead runs left: staging folders, `--full` build folders (but `keep_build`,
/// which this `--full` run continues), unfinished uploads. Called with the lock held,
/// before this run creates anything.
fn recover(store: &dyn Store, keep_build: Option<&Path>) -> anyhow::Result<()> {
    if let Some(root) = store.local_root() {
        remove_local_staging(root)?;
        crate::write::swap::remove_stale_builds(root, keep_build);
    }
    store.abort_stale_uploads()?;
    Ok(())
}

fn remove_local_staging(root: &Path) -> anyhow::Result<()> {
    let staging = root.join("_lakeaug").join("staging");
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("cannot remove stale {}", staging.display()))?;
    }
    Ok(())
}

/// The state of the `--full` build folder `build`, made ready to continue: what a killed
/// `--full` run with this config committed there (its uncommitted leftovers removed), or
/// nothing for a new build. A folder built with another config is started over.
fn open_build(build: &Path, store: &dyn Store, hash: &str) -> anyhow::Result<State> {
    let mut state = State::load(store)?;
    if state
        .dataset
        .as_ref()
        .is_some_and(|d| d.config_hash != hash)
    {
        std::fs::remove_dir_all(build)
            .with_context(|| format!("cannot remove stale {}", build.display()))?;
        std::fs::create_dir_all(build)
            .with_context(|| format!("cannot create {}", build.display()))?;
        return Ok(State::default());
    }
    remove_local_staging(build)?;
    crate::state::journal::recover(store, &state)?;
    state.compact(store)?;
    Ok(state)
}

/// Where this run writes, and for `--full` the state of the build folder it continues.
fn prepare_target(
    opts: &RunOptions,
    store: &Arc<dyn Store>,
    lock: &RunLock,
    run_id: &str,
) -> anyhow::Result<(Target, Option<State>)> {
    let tmp = std::env::temp_dir().join(format!("lakeaug-{run_id}"));
    let downloads = opts
        .inputs
        .iter()
        .any(|i| crate::store::is_url(i))
        .then(|| tmp.join("inputs"));
    match store.local_root() {
        Some(root) if opts.full => {
            let hash = opts.config.hash();
            let build = crate::write::swap::sibling_build_dir(root, &hash)?;
            std::fs::create_dir_all(&build)
                .with_context(|| format!("cannot create {}", build.display()))?;
            let sibling: Arc<dyn Store> = Arc::new(LocalStore {
                root: build.clone(),
            });
            let state = open_build(&build, sibling.as_ref(), &hash)?;
            lock.copy_to(sibling.as_ref())?;
            Ok((
                Target {
                    staging: build.join("_lakeaug").join("staging").join(run_id),
                    store: sibling,
                    build_dir: Some(build),
                    downloads,
                },
                Some(state),
            ))
        }
        Some(root) => Ok((
            Target {
                staging: root.join("_lakeaug").join("staging").join(run_id),
                store: store.clone(),
                build_dir: None,
                downloads,
            },
            None,
        )),
        None if opts.full => bail!(
            "--full on an object store cannot swap the dataset atomically: rebuild into a new prefix instead (e.g. {}-v2) and point readers at it",
            store.describe()
        ),
        None => Ok((
            Target {
                staging: tmp.join("staging"),
                store: store.clone(),
                build_dir: None,
                downloads,
            },
            None,
        )),
    }
}

/// Swap a finished `--full` build in for the output, and remove the old dataset.
fn swap_in(build: &Path, root: &Path) -> anyhow::Result<()> {
    crate::crash::point("before-swap");
    crate::write::swap::exchange_dirs(build, root)?;
    // `build` now holds the old dataset.
    std::fs::remove_dir_all(build).ok();
    Ok(())
}

/// Run the job. On error, files committed before the error stay (a rerun goes on from
/// there); nothing else is published.
pub fn run(opts: &RunOptions) -> anyhow::Result<RunSummary> {
    let started = Instant::now();
    let started_us = now_micros();
    let config = &opts.config;
    config
        .validate()
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    let run_id = new_run_id(started_us);
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
        Some(RunLock::acquire(store.clone(), &run_id)?)
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

    // A `--full` run plans against the build folder it continues (empty when new), so a
    // killed `--full` run's committed files are not redone.
    let (target, state) = match &lock {
        Some(lock) => {
            let (target, build_state) = prepare_target(opts, &store, lock, &run_id)?;
            (Some(target), build_state.unwrap_or(state))
        }
        None => (None, state),
    };

    // Plan from listings alone; open only what is to be processed.
    let files = discover_inputs(&opts.inputs)?;
    check_unique_keys(&files)?;
    let (planned, mut footers_read) = plan_inputs(
        files,
        &state,
        opts.full && opts.dry_run,
        opts.verify_footers,
        &config.columns,
    );
    let unchanged = planned.iter().filter(|p| p.plan == Plan::Unchanged).count() as u64;
    let todo: Vec<PlannedFile> = planned
        .iter()
        .filter(|p| p.plan != Plan::Unchanged)
        .cloned()
        .collect();
    let nothing = |status: RunStatus| RunSummary {
        manifest: empty_manifest(&run_id, started_us, started, config, unchanged),
        rejects: Vec::new(),
        status,
        planned: planned.clone(),
        footers_read,
        planning_secs: started.elapsed().as_secs_f64(),
        output: store.describe(),
    };
    let (Some(lock), Some(target)) = (lock, target) else {
        return Ok(nothing(if todo.is_empty() {
            RunStatus::NothingToDo
        } else {
            RunStatus::DryRun
        }));
    };
    if todo.is_empty() {
        // A `--full` build whose every file a killed run committed only needs its swap.
        let status = match (&target.build_dir, store.local_root()) {
            (Some(build), Some(root)) if !state.files.is_empty() => {
                swap_in(build, root)?;
                RunStatus::Processed
            }
            (Some(build), _) => {
                std::fs::remove_dir_all(build).ok();
                RunStatus::NothingToDo
            }
            _ => RunStatus::NothingToDo,
        };
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

    let result = process(
        opts,
        &target,
        state,
        &todo,
        &run_id,
        started,
        started_us,
        unchanged,
        &mut footers_read,
    );
    if let Some(d) = &target.downloads {
        std::fs::remove_dir_all(d.parent().unwrap_or(d)).ok();
    }
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

fn empty_manifest(
    run_id: &str,
    started_us: i64,
    started: Instant,
    config: &Config,
    unchanged: u64,
) -> Manifest {
    Manifest {
        run_id: run_id.to_string(),
        lakeaug_version: crate::VERSION.to_string(),
        started_at: rfc3339_micros(started_us),
        finished_at: rfc3339_micros(now_micros()),
        duration_secs: round_to(started.elapsed().as_secs_f64(), 1e6),
        seed: config.seed,
        config_hash: config.hash(),
        config: config.clone(),
        inputs: Vec::new(),
        skipped_files: Vec::new(),
        rows_read: 0,
        rows_written: 0,
        rows_rejected: 0,
        rows_per_sec: 0.0,
        threads: 0,
        per_scheme: BTreeMap::new(),
        output_files: Vec::new(),
        rejects_files: Vec::new(),
        unchanged_files: unchanged,
        full_rebuild: false,
    }
}

fn todo_plan(todo: &[PlannedFile], key: &str) -> Option<Plan> {
    todo.iter().find(|p| p.file.key == key).map(|p| p.plan)
}

/// Open, augment, publish and commit the files of `todo` into `target`.
#[allow(clippy::too_many_arguments)]
fn process(
    opts: &RunOptions,
    target: &Target,
    mut state: State,
    todo: &[PlannedFile],
    run_id: &str,
    started: Instant,
    started_us: i64,
    unchanged: u64,
    footers_read: &mut u64,
) -> anyhow::Result<RunSummary> {
    let config = &opts.config;
    let store = target.store.clone();
    let mut inputs = Vec::new();
    let mut skipped = Vec::new();
    for p in todo {
        let mut f = p.file.clone();
        if let Some(dir) = &target.downloads {
            crate::read::discover::fetch_remote(&mut f, dir)?;
        }
        *footers_read += 1;
        match OpenedInput::open(&f, &config.columns) {
            Ok(o) => inputs.push(Arc::new(o)),
            Err(e) if opts.on_bad_file == BadFilePolicy::Skip => skipped.push(SkippedFile {
                path: f.display.clone(),
                reason: e.to_string(),
            }),
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context("input file rejected (use --on-bad-file skip to go on without it)"))
            }
        }
    }
    if inputs.is_empty() {
        bail!("no readable input files ({} skipped)", skipped.len());
    }
    let schemas: Vec<SchemaRef> = inputs.iter().map(|i| output_schema(i)).collect();
    check_same_schema(&inputs, &schemas)?;
    let schema = schemas[0].clone();
    // What the part files hold: with `--hf-features`, the image as a `datasets` Image (the
    // writer converts the augmenter's batches, see `crate::hf_features`).
    let file_schema = match config.image.hf_features {
        true => crate::hf_features::output_schema(
            &schema,
            &config.columns.image,
            &config.columns.caption,
        )?,
        false => schema.clone(),
    };
    let planning_secs = started.elapsed().as_secs_f64();

    let columns = drift::columns_of(&inputs[0].schema);
    match state.dataset.clone() {
        Some(ds) => match &ds.input_columns {
            Some(recorded) => {
                for input in &inputs {
                    drift::check(recorded, input, &store.describe())?;
                }
            }
            // Built before columns were recorded: record them now.
            None => state.set_dataset(
                store.as_ref(),
                DatasetState {
                    input_columns: Some(columns),
                    ..ds
                },
            )?,
        },
        None => state.set_dataset(
            store.as_ref(),
            DatasetState {
                config_hash: config.hash(),
                lakeaug_version: crate::VERSION.to_string(),
                created_by_run: run_id.to_string(),
                config: config.clone(),
                input_columns: Some(columns),
            },
        )?,
    }

    let mut writer = DatasetWriter::new(
        &target.staging,
        file_schema,
        &config.columns.image,
        opts.writer.clone(),
    )?;

    // Where each file starts: after the committed rows of a partly done file, with the
    // chunk size it was started with (so chunk and part names stay those of one run).
    let chunk_rows = opts.chunk_rows.max(2).div_ceil(2) * 2;
    // Which generation each file's parts get: a resumed file goes on with its own, any
    // other processing starts the next one (see `crate::state`).
    let generations: Vec<u32> = inputs
        .iter()
        .map(|input| {
            let key = &input.file.key;
            match state.files.get(key) {
                Some(r) if todo_plan(todo, key) == Some(Plan::Resume) => r.generation,
                Some(r) => r.generation + 1,
                None => 1,
            }
        })
        .collect();
    let stems: Vec<String> = inputs
        .iter()
        .zip(&generations)
        .map(|(input, g)| part_stem(&input.file.key, *g))
        .collect();
    let plans: Vec<ReadPlan> = inputs
        .iter()
        .map(|input| {
            let resumed = state
                .files
                .get(&input.file.key)
                .filter(|_| todo_plan(todo, &input.file.key) == Some(Plan::Resume));
            if let Some(r) = resumed {
                continue_numbering(&mut writer, r);
            }
            let partial = resumed.and_then(|r| r.partial.as_ref());
            ReadPlan {
                input: input.clone(),
                start: partial.map_or(0, |p| p.rows_done),
                chunk_rows: partial.map_or(chunk_rows, |p| p.chunk_rows),
            }
        })
        .collect();
    let starts: Vec<(u64, u64)> = plans.iter().map(|p| (p.start, p.chunk_rows)).collect();

    let total_rows: u64 = plans
        .iter()
        .map(|p| p.input.num_rows - p.start.min(p.input.num_rows))
        .sum();
    let bar = if opts.progress {
        let bar = ProgressBar::with_draw_target(Some(total_rows), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} rows  {per_sec}  ETA {eta}")
                .expect("valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };

    // The reader starts first: its first row group (read and decompressed whole) then
    // overlaps the tokenizer's loading instead of following it.
    let (read_tx, read_rx) = sync_channel::<ReadMsg>(2);
    let batch_size = opts.batch_size;
    let reader = std::thread::Builder::new()
        .name("lakeaug-reader".into())
        .spawn(move || reader_thread(plans, batch_size, read_tx))?;

    let threads = opts.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let setup = || -> anyhow::Result<_> {
        let tokenizer = load_tokenizer(config)?;
        let stamp = RunStamp {
            run_id: run_id.to_string(),
            created_at_us: started_us,
        };
        let augmenter = Augmenter::new(config.clone(), tokenizer, stamp)?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("lakeaug-worker-{i}"))
            .build()
            .context("cannot start worker threads")?;
        Ok((augmenter, pool))
    };
    let (augmenter, pool) = match setup() {
        Ok(ready) => ready,
        Err(e) => {
            // Nothing was staged yet: leave no empty staging folder behind.
            writer.abort();
            return Err(e);
        }
    };

    let (write_tx, write_rx) = sync_channel::<WriteMsg>(2 * augmenter.schemes.len().max(1));
    let writer = {
        let (store, run_id) = (store.clone(), run_id.to_string());
        std::thread::Builder::new()
            .name("lakeaug-writer".into())
            .spawn(move || writer_thread(writer, store, state, run_id, write_rx))?
    };

    // This run's counts are merged into the totals at each commit, so a file that fails
    // half-way under `--on-bad-file skip` leaves only its committed chunks in them.
    let mut pending: Vec<Pending> = starts
        .iter()
        .map(|(start, _)| Pending {
            first_row: *start,
            ..Pending::default()
        })
        .collect();
    let mut per_file_rows = vec![0u64; inputs.len()];
    let mut totals: BTreeMap<String, SchemeCounts> = augmenter
        .schemes
        .iter()
        .map(|s| (s.name.clone(), SchemeCounts::default()))
        .collect();
    let mut rejects: Vec<Reject> = Vec::new();
    let mut rows_read = 0u64;
    let mut manifest_inputs = Vec::new();

    let send = |msg: WriteMsg| {
        write_tx
            .send(msg)
            .map_err(|_| anyhow::anyhow!("the writer stopped"))
    };
    // Hand one file's pending chunk to the writer to publish and commit.
    let commit = |file: usize,
                  rows_done: Option<u64>,
                  pending: &mut [Pending],
                  totals: &mut BTreeMap<String, SchemeCounts>,
                  rejects: &mut Vec<Reject>|
     -> anyhow::Result<u64> {
        let input = &inputs[file];
        let p = std::mem::take(&mut pending[file]);
        pending[file].first_row = rows_done.unwrap_or(input.num_rows);
        for (scheme, c) in &p.counts {
            let t = totals.entry(scheme.clone()).or_default();
            t.written += c.written;
            t.rejected += c.rejected;
        }
        rejects.extend(p.rejects.iter().cloned());
        send(WriteMsg::Commit(Box::new(ChunkCommit {
            identity: FileRecord {
                key: input.file.key.clone(),
                generation: generations[file],
                path: input.file.display.clone(),
                size: input.file.size,
                modified_us: input.file.modified.and_then(crate::state::micros),
                etag: input.file.etag.clone(),
                footer_fingerprint: input.footer_fingerprint(),
                rows: 0,
                outputs: Vec::new(),
                rejects: Vec::new(),
                per_scheme: BTreeMap::new(),
                run_id: run_id.to_string(),
                partial: None,
            },
            first_row: p.first_row,
            chunk_rows: starts[file].1,
            rows: p.rows,
            counts: p.counts,
            rejects: p.rejects,
            rows_done,
        })))?;
        Ok(p.rows)
    };
    // What the reader sent, in its order: batches being augmented by the pool, and the
    // file and chunk events that follow them.
    enum InFlight {
        Batch {
            file: usize,
            rows: u64,
            out: Receiver<anyhow::Result<BatchOutput>>,
        },
        Event(FileEvent),
    }
    let mut handle = |item: InFlight| -> anyhow::Result<()> {
        match item {
            InFlight::Batch { file, rows, out } => {
                let out = out
                    .recv()
                    .map_err(|_| anyhow::anyhow!("a worker thread stopped"))??;
                let p = &mut pending[file];
                p.rows += rows;
                let id = &stems[file];
                for (scheme, out_batch) in augmenter.schemes.iter().zip(out.batches) {
                    p.counts.entry(scheme.name.clone()).or_default().written +=
                        out_batch.num_rows() as u64;
                    send(WriteMsg::Batch {
                        file_id: id.to_string(),
                        scheme: scheme.name.clone(),
                        batch: out_batch,
                    })?;
                }
                for r in &out.rejects {
                    p.counts.entry(r.scheme.clone()).or_default().rejected += 1;
                }
                p.rejects.extend(out.rejects);
                bar.inc(rows);
                crate::crash::point("mid-file");
            }
            InFlight::Event(FileEvent::ChunkDone { file, rows_done }) => {
                let rows = commit(
                    file,
                    Some(rows_done),
                    &mut pending,
                    &mut totals,
                    &mut rejects,
                )?;
                per_file_rows[file] += rows;
                rows_read += rows;
            }
            InFlight::Event(FileEvent::FileDone { file }) => {
                let rows = commit(file, None, &mut pending, &mut totals, &mut rejects)?;
                per_file_rows[file] += rows;
                rows_read += rows;
                let input = &inputs[file];
                manifest_inputs.push(ManifestInput {
                    path: input.file.display.clone(),
                    size: input.file.size,
                    modified: input
                        .file
                        .modified
                        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
                        .map(|d| rfc3339_micros(d.as_micros() as i64)),
                    rows: per_file_rows[file],
                    footer_fingerprint: input.footer_fingerprint(),
                });
            }
            InFlight::Event(FileEvent::FileFailed { file, error }) => {
                if opts.on_bad_file == BadFilePolicy::Fail {
                    return Err(anyhow::Error::new(error).context(
                        "input file could not be read (use --on-bad-file skip to go on without it)",
                    ));
                }
                let input = &inputs[file];
                send(WriteMsg::Discard {
                    file_id: stems[file].clone(),
                })?;
                let dropped = std::mem::take(&mut pending[file]);
                bar.inc(
                    input
                        .num_rows
                        .saturating_sub(dropped.first_row + dropped.rows),
                );
                skipped.push(SkippedFile {
                    path: input.file.display.clone(),
                    reason: error.to_string(),
                });
            }
        }
        Ok(())
    };
    // Batches are handed to the pool as they arrive, and their outputs taken in reading
    // order, with up to `threads + 1` batches in flight: the workers never wait for each
    // other at a batch boundary, and one batch's serial steps (tokenizing, lineage,
    // assembling columns) overlap other batches' image work. Each batch's output is a
    // function of that batch alone, so the values do not depend on the scheduling.
    let window = threads + 1;
    let result: anyhow::Result<()> = pool.in_place_scope(|scope| {
        let mut queue: VecDeque<InFlight> = VecDeque::new();
        let in_flight = |queue: &VecDeque<InFlight>| {
            queue
                .iter()
                .filter(|i| matches!(i, InFlight::Batch { .. }))
                .count()
        };
        for msg in read_rx.iter() {
            match msg {
                ReadMsg::Batch {
                    file,
                    first_row,
                    batch,
                } => {
                    let rows = batch.num_rows() as u64;
                    let (tx, out) = sync_channel(1);
                    let (augmenter, input, schema) = (&augmenter, &inputs[file], &schema);
                    scope.spawn(move |_| {
                        // The receiver is gone only when the run already failed.
                        let _ = tx.send(augmenter.augment_batch(input, schema, first_row, &batch));
                    });
                    queue.push_back(InFlight::Batch { file, rows, out });
                }
                ReadMsg::Event(event) => queue.push_back(InFlight::Event(event)),
            }
            // Handle what is at the front once the window is full; events at the front
            // (everything before them is handled) go at once.
            while let Some(front) = queue.front() {
                if matches!(front, InFlight::Batch { .. }) && in_flight(&queue) < window {
                    break;
                }
                handle(queue.pop_front().expect("front exists"))?;
            }
        }
        queue.into_iter().try_for_each(&mut handle)
    });
    drop(read_rx);
    drop(write_tx);
    let _ = reader.join();
    let written = writer
        .join()
        .map_err(|_| anyhow::anyhow!("the writer thread panicked"))?;
    bar.finish_and_clear();
    let mut written = match (result, written) {
        (Ok(()), Ok(w)) => w,
        (Err(e), Ok(w)) => {
            w.writer.abort();
            return Err(e);
        }
        (Err(e), Err(_)) | (Ok(()), Err(e)) => return Err(e),
    };
    written.writer.abort(); // nothing is left staged; remove the folder
    written.state.compact(store.as_ref())?;

    let rows_written: u64 = totals.values().map(|c| c.written).sum();
    let rows_rejected: u64 = totals.values().map(|c| c.rejected).sum();
    let expected = rows_read * augmenter.schemes.len() as u64 * u64::from(config.copies);
    if rows_written + rows_rejected != expected {
        bail!("internal error: {rows_read} rows x {} schemes x {} copies = {expected}, but {rows_written} written + {rows_rejected} rejected", augmenter.schemes.len(), config.copies);
    }

    // Microseconds and milli-rows/s are plenty, and short decimals read back from the
    // JSON manifest as the very same f64 (long ones may not without serde_json's
    // float_roundtrip).
    let duration = round_to(started.elapsed().as_secs_f64(), 1e6);
    let mut published = written.published;
    published.sort();
    let manifest = Manifest {
        run_id: run_id.to_string(),
        lakeaug_version: crate::VERSION.to_string(),
        started_at: rfc3339_micros(started_us),
        finished_at: rfc3339_micros(now_micros()),
        duration_secs: duration,
        seed: config.seed,
        config_hash: config.hash(),
        config: config.clone(),
        inputs: manifest_inputs,
        skipped_files: skipped,
        rows_read,
        rows_written,
        rows_rejected,
        rows_per_sec: if duration > 0.0 {
            round_to(rows_read as f64 / duration, 1e3)
        } else {
            0.0
        },
        threads,
        per_scheme: totals,
        output_files: published,
        rejects_files: written.rejects_files,
        unchanged_files: unchanged,
        full_rebuild: target.build_dir.is_some(),
    };
    crate::crash::point("before-manifest");
    manifest.write(store.as_ref())?;
    Ok(RunSummary {
        manifest,
        rejects,
        status: RunStatus::Processed,
        planned: Vec::new(),
        footers_read: 0,
        planning_secs,
        output: opts.output.to_string_lossy().into_owned(),
    })
}

/// `x` rounded to the nearest multiple of `1 / per_unit`.
fn round_to(x: f64, per_unit: f64) -> f64 {
    (x * per_unit).round() / per_unit
}
