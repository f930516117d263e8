//! One chunk of one input file processed on its own, wherever it runs: read its rows,
//! augment them, write its parts, publish them (intent first, under lock fencing) and say
//! what it did. A cluster task runs this on an executor ([`run_chunk`]); the driver, the
//! only writer of state, commits each result in file order
//! ([`super::commit::commit_published`], see `remote.rs`).
//!
//! Values do not depend on where a chunk runs: every row's seed is a function of (file,
//! row, scheme, copy), chunks start at even rows (MixGen pairs stay whole), and part
//! numbers are fixed by the driver ([`ChunkTask::first_seq`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::commit::publish;
use super::{
    load_tokenizer, output_schema, AugmentError, Augmenter, FileContext, RunError, WORK_ITEM_BYTES,
};
use crate::config::Config;
use crate::layout::{part_stem, rejects_rel, Reject};
use crate::lineage::RunStamp;
use crate::read::{BytesFetched, InputError, InputFile, OpenedInput};
use crate::state::journal;
use crate::store::Store;
use crate::write::{DatasetWriter, WriterOptions};

/// What one task is to do. It carries everything (a task shares no memory with the
/// driver): the run, the config (as TOML, with its hash to check it arrived whole), the
/// input file, the rows, and the part numbers to use.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChunkTask {
    pub run_id: String,
    pub created_at_us: i64,
    /// Where the run writes: an absolute folder (on a file system every executor mounts
    /// at the same path) or `s3://bucket/prefix`.
    pub output: String,
    pub config_toml: String,
    pub config_hash: String,
    pub writer: WriterOptions,
    pub batch_size: usize,
    /// The input file (an absolute path, or an object URL in `remote`).
    pub file: InputFile,
    /// Its footer fingerprint when the driver planned it: a file changed since is refused.
    pub footer_fingerprint: String,
    pub generation: u32,
    /// Rows `first_row..end_row`; `first_row` is chunk number `chunk` (of `chunk_rows`).
    pub chunk: u64,
    pub first_row: u64,
    pub end_row: u64,
    pub chunk_rows: u64,
    /// The number of this chunk's first part, per scheme, and how far apart a scheme's
    /// further parts of it are (other chunks of the file take the numbers between).
    pub first_seq: BTreeMap<String, u32>,
    pub seq_stride: u32,
}

/// What a task did: the small row it sends back.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChunkDone {
    /// Parts published (relative to the output), sorted.
    pub parts: Vec<String>,
    /// The rejects table published, if any row was rejected.
    pub rejects_files: Vec<String>,
    /// Input rows processed.
    pub rows: u64,
    /// Output rows written, per scheme (every scheme listed).
    pub written: BTreeMap<String, u64>,
    pub rejects: Vec<Reject>,
    /// One past the highest part number published, per scheme that wrote a part.
    pub seq_end: BTreeMap<String, u32>,
}

/// How a task ended, as the driver sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum ChunkOutcome {
    Done(ChunkDone),
    /// The input could not be read (or is damaged): `--on-bad-file` decides. Nothing of
    /// this chunk was published.
    BadFile {
        first_row: u64,
        reason: String,
    },
}

/// A task's result with the executor that ran it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChunkReport {
    pub outcome: ChunkOutcome,
    pub executor: String,
    /// Bytes the task fetched from a remote input (its footer and row groups).
    #[serde(default)]
    pub input_bytes_fetched: u64,
}

/// Why a task failed (a bad input file is an outcome, not an error).
#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    #[error("{output}: run {run_id} no longer holds the output's lock ({holder}); its task for {file} rows {first_row}.. publishes nothing")]
    Fenced {
        output: String,
        run_id: String,
        holder: String,
        file: String,
        first_row: u64,
    },
    #[error("{file} changed since run {run_id} planned it (footer fingerprint {planned}, now {found}); rerun to process its new content")]
    Changed {
        file: String,
        run_id: String,
        planned: String,
        found: String,
    },
    #[error("the task's config arrived with hash {found}, the driver's is {expected}: driver and executor must run the same lakeaug version")]
    ConfigDiffers { expected: String, found: String },
    #[error("the task's config cannot be read: {0}")]
    Config(String),
    /// A ranged GET of the task's remote input failed (no bad file: see
    /// [`InputError::Fetch`]).
    #[error(transparent)]
    Fetch(InputError),
    #[error(transparent)]
    Run(#[from] RunError),
}

impl From<crate::store::StoreError> for ChunkError {
    fn from(e: crate::store::StoreError) -> ChunkError {
        ChunkError::Run(e.into())
    }
}

impl From<crate::state::StateError> for ChunkError {
    fn from(e: crate::state::StateError) -> ChunkError {
        ChunkError::Run(e.into())
    }
}

impl From<crate::write::WriteError> for ChunkError {
    fn from(e: crate::write::WriteError) -> ChunkError {
        ChunkError::Run(e.into())
    }
}

impl From<AugmentError> for ChunkError {
    fn from(e: AugmentError) -> ChunkError {
        ChunkError::Run(e.into())
    }
}

impl ChunkError {
    /// Whether trying the task again may succeed: the store failed (a network error, a
    /// throttled request, a full disk freed since). A cluster retries only those.
    pub fn is_transient(&self) -> bool {
        match self {
            ChunkError::Fetch(e) => e.is_transient(),
            other => matches!(
                other,
                ChunkError::Run(RunError::Store(_) | RunError::Io(_) | RunError::State(_))
            ),
        }
    }
}

/// The augmenter of the run an executor is working for, built once per run (loading the
/// tokenizer and dictionaries takes a while) and shared by its tasks.
#[derive(Default)]
pub struct AugmenterCache {
    current: Mutex<Option<(String, Arc<Augmenter>)>>,
}

impl AugmenterCache {
    fn get(&self, task: &ChunkTask) -> Result<Arc<Augmenter>, ChunkError> {
        let key = format!("{}/{}", task.run_id, task.config_hash);
        // A poisoned lock only means another task panicked while building: build anew.
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((k, a)) = current.as_ref() {
            if *k == key {
                return Ok(a.clone());
            }
        }
        let config = Config::from_toml(&task.config_toml, Path::new("<cluster task config>"))
            .map_err(|e| ChunkError::Config(e.to_string()))?;
        if config.hash() != task.config_hash {
            return Err(ChunkError::ConfigDiffers {
                expected: task.config_hash.clone(),
                found: config.hash(),
            });
        }
        let tokenizer = load_tokenizer(&config)?;
        let stamp = RunStamp {
            run_id: task.run_id.clone(),
            created_at_us: task.created_at_us,
        };
        let augmenter = Arc::new(Augmenter::new(config, tokenizer, stamp)?);
        *current = Some((key, augmenter.clone()));
        Ok(augmenter)
    }
}

/// Fail unless `task`'s run still holds the output's lock.
fn fence(store: &dyn Store, task: &ChunkTask) -> Result<(), ChunkError> {
    let holder = crate::state::lock::holder(store)?;
    match holder {
        Some(h) if h.run_id == task.run_id => Ok(()),
        other => Err(ChunkError::Fenced {
            output: store.describe(),
            run_id: task.run_id.clone(),
            holder: other.map_or("no run holds it".into(), |h| {
                format!("held by run {} on {}", h.run_id, h.host)
            }),
            file: task.file.display.clone(),
            first_row: task.first_row,
        }),
    }
}

/// Run one chunk: augment rows `first_row..end_row` of the task's file, publish the
/// parts and rejects (noted in the chunk's intent first), and say what was published,
/// with the bytes fetched from a remote input: its footer and the row groups holding the
/// chunk's rows, by ranged GETs (nothing is downloaded whole).
pub fn run_chunk(
    task: &ChunkTask,
    augmenters: &AugmenterCache,
) -> Result<(ChunkOutcome, u64), ChunkError> {
    let store = crate::store::open_store(&task.output)?;
    fence(store.as_ref(), task)?;
    let augmenter = augmenters.get(task)?;
    let fetched = BytesFetched::default();
    let outcome = match OpenedInput::open_counting(&task.file, &augmenter.config.columns, &fetched)
    {
        Ok(input) => write_chunk(task, &input, &augmenter, store.as_ref())?,
        Err(e) if e.is_fetch() => return Err(ChunkError::Fetch(e)),
        Err(e) => ChunkOutcome::BadFile {
            first_row: task.first_row,
            reason: e.to_string(),
        },
    };
    Ok((outcome, fetched.get()))
}

/// Where a task stages its parts: below the output for a local output (publishing is
/// then a rename on one file system; a killed task's leftovers go with the next run's
/// recovery of `_lakeaug/staging`), else in the temporary folder.
fn staging_dir(store: &dyn Store, task: &ChunkTask) -> PathBuf {
    let name = format!(
        "task-{}-c{}-{}",
        crate::layout::file_id(&task.file.key),
        task.chunk,
        crate::store::unique_suffix()
    );
    match store.local_root() {
        Some(root) => root
            .join("_lakeaug")
            .join("staging")
            .join(&task.run_id)
            .join(name),
        None => std::env::temp_dir()
            .join(format!("lakeaug-{}", task.run_id))
            .join(name),
    }
}

fn write_chunk(
    task: &ChunkTask,
    input: &OpenedInput,
    augmenter: &Augmenter,
    store: &dyn Store,
) -> Result<ChunkOutcome, ChunkError> {
    let found = input.footer_fingerprint();
    if found != task.footer_fingerprint {
        return Err(ChunkError::Changed {
            file: task.file.display.clone(),
            run_id: task.run_id.clone(),
            planned: task.footer_fingerprint.clone(),
            found,
        });
    }
    let config = &augmenter.config;
    let schema = output_schema(input);
    let file_schema = super::augment::file_schema(config, &schema)?;
    let context = FileContext::new(input, schema);
    let stem = part_stem(&task.file.key, task.generation);
    let mut writer = DatasetWriter::new(
        &staging_dir(store, task),
        file_schema,
        &config.columns.image,
        task.writer.clone(),
    )?;
    writer.number_parts(&stem, &task.first_seq, task.seq_stride);
    let written = augment_rows(task, input, augmenter, &context, &stem, &mut writer);
    let result = match written {
        Ok(Ok(w)) => publish_chunk(task, store, &stem, &mut writer, w).map(ChunkOutcome::Done),
        Ok(Err(e)) if e.is_fetch() => Err(ChunkError::Fetch(e)),
        Ok(Err(e)) => Ok(ChunkOutcome::BadFile {
            first_row: task.first_row,
            reason: e.to_string(),
        }),
        Err(e) => Err(e),
    };
    writer.abort();
    result
}

/// What augmenting a chunk's rows gave, before publishing.
struct Augmented {
    rows: u64,
    written: BTreeMap<String, u64>,
    rejects: Vec<Reject>,
}

/// Augment the task's rows into `writer`. The inner error is the input's (a bad file);
/// the outer one the task's own.
fn augment_rows(
    task: &ChunkTask,
    input: &OpenedInput,
    augmenter: &Augmenter,
    context: &FileContext,
    stem: &str,
    writer: &mut DatasetWriter,
) -> Result<Result<Augmented, InputError>, ChunkError> {
    let mut out = Augmented {
        rows: 0,
        written: augmenter
            .schemes
            .iter()
            .map(|s| (s.name.clone(), 0))
            .collect(),
        rejects: Vec::new(),
    };
    let mut batches = match input.batches_from(task.batch_size.min(usize::MAX / 4), task.first_row)
    {
        Ok(b) => b,
        Err(e) => return Ok(Err(e)),
    };
    // No batch is asked for past the chunk's rows: for a remote input, that would fetch
    // the row group after them.
    let mut next_row = task.first_row;
    while next_row < task.end_row {
        let Some(item) = batches.next() else {
            break;
        };
        let (first_row, batch) = match item {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        next_row = first_row + batch.num_rows() as u64;
        let n = usize::try_from(task.end_row - first_row)
            .map_or(batch.num_rows(), |left| left.min(batch.num_rows()));
        let batch = if n < batch.num_rows() {
            batch.slice(0, n)
        } else {
            batch
        };
        for item in augmenter.work_items(batch.num_rows(), WORK_ITEM_BYTES) {
            if item.copies.start == 0 {
                out.rows += item.rows.len() as u64;
            }
            let part =
                super::augment::augment_caught(augmenter, &batch, context, first_row, &item)?;
            for (scheme, b) in augmenter.schemes.iter().zip(&part.batches) {
                *out.written.entry(scheme.name.clone()).or_default() += b.num_rows() as u64;
                writer.write(stem, &scheme.name, b)?;
            }
            out.rejects.extend(part.rejects);
        }
    }
    let expected = task.end_row - task.first_row;
    if out.rows != expected {
        return Ok(Err(InputError::Read {
            file: task.file.display.clone(),
            first_row: task.first_row + out.rows,
            reason: format!(
                "the file ended after {} of this chunk's {expected} rows, short of its footer's count; the file is damaged: rewrite it",
                out.rows
            ),
        }));
    }
    Ok(Ok(out))
}

/// Close the chunk's parts, note them in the chunk's intent, and publish them with its
/// rejects table, if the run still holds the lock.
fn publish_chunk(
    task: &ChunkTask,
    store: &dyn Store,
    stem: &str,
    writer: &mut DatasetWriter,
    augmented: Augmented,
) -> Result<ChunkDone, ChunkError> {
    let (parts, next) = writer.finish_chunk(stem)?;
    let rejects_file = (!augmented.rejects.is_empty()).then(|| rejects_rel(stem, task.chunk));
    let mut may_leave: Vec<String> = parts.iter().map(|p| p.relative.clone()).collect();
    may_leave.extend(rejects_file.iter().cloned());
    fence(store, task)?;
    journal::announce_chunk(store, &task.file.key, task.chunk, &may_leave)?;
    let (published, rejects_files) = publish(
        store,
        &parts,
        rejects_file,
        &augmented.rejects,
        &task.run_id,
    )?;
    // A scheme that wrote parts has its counter past its last one by one stride.
    let seq_end = next
        .into_iter()
        .filter(|(scheme, seq)| task.first_seq.get(scheme).is_some_and(|f| seq > f))
        .map(|(scheme, seq)| (scheme, seq - task.seq_stride.max(1) + 1))
        .collect();
    Ok(ChunkDone {
        parts: published,
        rejects_files,
        rows: augmented.rows,
        written: augmented.written,
        rejects: augmented.rejects,
        seq_end,
    })
}
