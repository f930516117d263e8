//! `lakeaug compact`: rewrite the committed snapshot's small part files into fewer, larger
//! ones, so that a lake of many tiny input files (one part per input file and scheme) does
//! not hand loaders thousands of tiny files.
//!
//! A compacted part (`scheme=<name>/part-<16 hex>-compact.parquet`) holds the rows of
//! several input files, and each of their records lists it among its outputs. Rows and
//! values are copied unchanged (same schema and metadata, same writer properties as a run),
//! in part-name order.
//!
//! One rewrite (compaction, or [`detach`]) is one atomic step, like a run's commit
//! (`pipeline::commit`), under the output's run lock:
//!
//! 1. write the new parts to staging;
//! 2. note, in the intent of every input file concerned (`state::journal`), the new parts
//!    and the old ones they replace;
//! 3. publish the new parts;
//! 4. commit: the snapshot (`files.json`), with every concerned record naming the new parts
//!    instead of the old, written as one object: from here a snapshot shows the new parts;
//! 5. delete the old parts, clear the intents.
//!
//! A crash before 4 leaves new parts no record names, after 4 old ones: either way the next
//! run's (or compaction's) journal recovery deletes exactly those.
//!
//! A changed input file whose rows share a compacted part with other files is first
//! *detached* by the run ([`detach`]): its rows go back to a part of its own, the others'
//! to a new compacted part, so replacing it (which deletes its old parts) leaves the other
//! files' rows alone.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use arrow::array::{Array, BooleanArray, RecordBatch, StringArray};
use arrow::compute::kernels::cmp::eq;
use arrow::compute::{cast, filter_record_batch, not, or};
use arrow::datatypes::{DataType, SchemaRef};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ArrowWriter;

use crate::state::lock::RunLock;
use crate::state::{journal, State, DATASET_PATH};
use crate::store::Store;
use crate::write::dataset::{remove_staging, writer_properties};
use crate::write::WriterOptions;

/// Rows of a compacted part at most (a part with at least half of it is left alone).
pub const DEFAULT_TARGET_ROWS: u64 = 100_000;
/// Bytes of a compacted part at most (a part with at least half of it is left alone).
pub const DEFAULT_TARGET_BYTES: u64 = 512 << 20;

/// How large compacted parts get.
#[derive(Debug, Clone)]
pub struct CompactOptions {
    pub target_rows: u64,
    pub target_bytes: u64,
}

impl Default for CompactOptions {
    fn default() -> Self {
        CompactOptions {
            target_rows: DEFAULT_TARGET_ROWS,
            target_bytes: DEFAULT_TARGET_BYTES,
        }
    }
}

/// What a compaction did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CompactSummary {
    /// Part files of the snapshot before and after.
    pub parts_before: usize,
    pub parts_after: usize,
    /// Parts rewritten, and the compacted parts written from them.
    pub parts_rewritten: usize,
    pub parts_written: usize,
    /// Rows copied (every row of the rewritten parts).
    pub rows: u64,
}

/// A part file of the snapshot: its size, rows, schema and the input files listing it.
struct Part {
    rel: String,
    bytes: u64,
    rows: u64,
    schema: SchemaRef,
    owners: BTreeSet<String>,
}

/// A new part in staging, and the input files (record keys) that will list it.
struct NewPart {
    staged: PathBuf,
    rel: String,
    owners: BTreeSet<String>,
}

/// One atomic replacement of `old` parts by `new` ones.
#[derive(Default)]
struct Rewrite {
    old: Vec<String>,
    new: Vec<NewPart>,
}

fn scheme_of(rel: &str) -> &str {
    rel.split_once('/').map_or("", |(folder, _)| folder)
}

/// The parts of the committed snapshot (part files, not rejects) and the keys of the
/// records listing each. Parts a partly processed file still refers to are left out:
/// their file is in flight.
fn snapshot_parts(state: &State) -> (BTreeMap<String, BTreeSet<String>>, BTreeSet<String>) {
    let mut owners: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut in_flight = BTreeSet::new();
    for (key, record) in &state.files {
        if record.partial.is_some() {
            in_flight.extend(record.referenced().cloned());
            continue;
        }
        for part in &record.outputs {
            owners.entry(part.clone()).or_default().insert(key.clone());
        }
    }
    (owners, in_flight)
}

/// Batches of a part file: read in place for a local output, else fetched whole (the
/// parts compacted are small by definition).
fn read_part(store: &dyn Store, rel: &str) -> anyhow::Result<ParquetRecordBatchReader> {
    let what = || format!("{}/{rel}", store.describe());
    let reader = match store.local_root() {
        Some(root) => {
            let file =
                File::open(root.join(rel)).with_context(|| format!("cannot open {}", what()))?;
            ParquetRecordBatchReaderBuilder::try_new(file)
                .with_context(|| format!("{} is not a readable Parquet file", what()))?
                .build()?
        }
        None => {
            let bytes = store
                .get(rel)?
                .with_context(|| format!("{} is listed by the state but missing", what()))?;
            ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
                .with_context(|| format!("{} is not a readable Parquet file", what()))?
                .build()?
        }
    };
    Ok(reader)
}

/// Rows, size and schema of a part, from its footer.
fn describe_part(store: &dyn Store, rel: &str, owners: BTreeSet<String>) -> anyhow::Result<Part> {
    let what = || format!("{}/{rel}", store.describe());
    let (builder_rows, schema, bytes) = match store.local_root() {
        Some(root) => {
            let file =
                File::open(root.join(rel)).with_context(|| format!("cannot open {}", what()))?;
            let bytes = file.metadata()?.len();
            let b = ParquetRecordBatchReaderBuilder::try_new(file)
                .with_context(|| format!("{} is not a readable Parquet file", what()))?;
            (
                b.metadata().file_metadata().num_rows(),
                b.schema().clone(),
                bytes,
            )
        }
        None => {
            let data = store
                .get(rel)?
                .with_context(|| format!("{} is listed by the state but missing", what()))?;
            let bytes = data.len() as u64;
            let b = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(data))
                .with_context(|| format!("{} is not a readable Parquet file", what()))?;
            (
                b.metadata().file_metadata().num_rows(),
                b.schema().clone(),
                bytes,
            )
        }
    };
    Ok(Part {
        rel: rel.to_string(),
        bytes,
        rows: builder_rows.max(0) as u64,
        schema,
        owners,
    })
}

/// Where new parts are written before publication: under the output for a local one (so
/// publishing is a rename), else a local temporary folder.
fn staging_dir(store: &dyn Store, id: &str) -> PathBuf {
    match store.local_root() {
        Some(root) => root.join("_lakeaug").join("staging").join(id),
        None => std::env::temp_dir().join(format!("lakeaug-{id}")),
    }
}

/// Writes new parts with a run's writer properties.
struct PartWriter<'a> {
    staging: &'a Path,
    image_column: &'a str,
}

impl PartWriter<'_> {
    fn create(
        &self,
        rel: &str,
        schema: &SchemaRef,
    ) -> anyhow::Result<(PathBuf, ArrowWriter<File>)> {
        let staged = self.staging.join(rel);
        if let Some(dir) = staged.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create staging folder {}", dir.display()))?;
        }
        let file =
            File::create(&staged).with_context(|| format!("cannot create {}", staged.display()))?;
        let props = writer_properties(schema, self.image_column, &WriterOptions::default())?;
        Ok((
            staged,
            ArrowWriter::try_new(file, schema.clone(), Some(props))?,
        ))
    }

    fn finish(writer: ArrowWriter<File>) -> anyhow::Result<()> {
        writer.into_inner()?.sync_all()?;
        Ok(())
    }
}

/// `scheme=<name>/part-<16 hex>-compact.parquet`, the hex digest naming what went into it
/// (so the name is new: a rewrite never overwrites a part in view).
fn compacted_name(scheme: &str, origin: &[&str]) -> String {
    let digest = blake3::hash(origin.join("\n").as_bytes()).to_hex();
    format!("{scheme}/part-{}-compact.parquet", &digest[..16])
}

/// Replace the parts of each rewrite atomically (see the module doc).
fn apply(store: &dyn Store, state: &mut State, rewrites: Vec<Rewrite>) -> anyhow::Result<()> {
    let (owners, _) = snapshot_parts(state);
    let mut records = state.files.clone();
    let mut notes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for rw in &rewrites {
        for old in &rw.old {
            for key in owners.get(old).into_iter().flatten() {
                notes.entry(key.clone()).or_default().push(old.clone());
                if let Some(r) = records.get_mut(key) {
                    r.outputs.retain(|o| o != old);
                }
            }
        }
        for new in &rw.new {
            for key in &new.owners {
                notes.entry(key.clone()).or_default().push(new.rel.clone());
                if let Some(r) = records.get_mut(key) {
                    r.outputs.push(new.rel.clone());
                    r.outputs.sort();
                }
            }
        }
    }
    for (key, files) in &notes {
        journal::announce(store, key, files)?;
    }
    crate::crash::point("compact-before-publish");
    for rw in &rewrites {
        for new in &rw.new {
            store.publish_file(&new.staged, &new.rel)?;
        }
    }
    crate::crash::point("compact-before-commit");
    State::write_snapshot(store, records.values().cloned().collect())?;
    state.files = records;
    crate::crash::point("compact-after-commit");
    for rw in &rewrites {
        for old in &rw.old {
            store.delete(old)?;
        }
    }
    for key in notes.keys() {
        journal::clear(store, key)?;
    }
    Ok(())
}

/// Compact the output at `output` (see the module doc). Takes the run lock (fails like a
/// run when another holds it) and finishes what killed runs left first.
pub fn compact(output: &str, options: &CompactOptions) -> anyhow::Result<CompactSummary> {
    let store: Arc<dyn Store> = if crate::store::is_url(output) {
        crate::store::open_store(output)?
    } else {
        if !Path::new(output).join(DATASET_PATH).exists() {
            bail!("{output} is not a lakeaug output (no {DATASET_PATH}): pass the --output folder of `lakeaug run`");
        }
        crate::store::open_store(output)?
    };
    let id = format!(
        "compact-{}-{}",
        crate::state::micros(std::time::SystemTime::now()).unwrap_or(0),
        std::process::id()
    );
    let lock = RunLock::acquire(store.clone(), &id)?;
    let mut state = State::load(store.as_ref())?;
    let Some(dataset) = state.dataset.clone() else {
        bail!(
            "{} is not a lakeaug output (no {DATASET_PATH})",
            store.describe()
        );
    };
    journal::recover(store.as_ref(), &state)?;
    state.compact(store.as_ref())?;

    let staging = staging_dir(store.as_ref(), &id);
    let result = compact_locked(
        store.as_ref(),
        &mut state,
        &dataset.config.columns.image,
        &staging,
        options,
    );
    remove_staging(&staging);
    lock.release()?;
    result
}

fn compact_locked(
    store: &dyn Store,
    state: &mut State,
    image_column: &str,
    staging: &Path,
    options: &CompactOptions,
) -> anyhow::Result<CompactSummary> {
    let (owners, in_flight) = snapshot_parts(state);
    let mut summary = CompactSummary {
        parts_before: owners.len(),
        ..CompactSummary::default()
    };
    // Small parts of each scheme, in name order.
    let mut small: BTreeMap<String, Vec<Part>> = BTreeMap::new();
    for (rel, keys) in owners {
        if in_flight.contains(&rel) {
            continue;
        }
        let part = describe_part(store, &rel, keys)?;
        if part.rows * 2 < options.target_rows && part.bytes * 2 < options.target_bytes {
            small
                .entry(scheme_of(&rel).to_string())
                .or_default()
                .push(part);
        }
    }
    // Pack them greedily into groups under the targets, one schema per group.
    let mut groups: Vec<Vec<Part>> = Vec::new();
    for parts in small.into_values() {
        let mut group: Vec<Part> = Vec::new();
        for part in parts {
            let fits = group
                .first()
                .is_some_and(|first| first.schema == part.schema)
                && group.iter().map(|p| p.rows).sum::<u64>() + part.rows <= options.target_rows
                && group.iter().map(|p| p.bytes).sum::<u64>() + part.bytes <= options.target_bytes;
            if !fits && !group.is_empty() {
                groups.push(std::mem::take(&mut group));
            }
            group.push(part);
        }
        groups.push(group);
    }
    groups.retain(|g| g.len() > 1); // one part alone gains nothing

    let writer = PartWriter {
        staging,
        image_column,
    };
    let mut rewrite = Rewrite::default();
    for group in &groups {
        // Groups of two parts or more were kept: `group[0]` exists.
        let origin: Vec<&str> = group.iter().map(|p| p.rel.as_str()).collect();
        let rel = compacted_name(scheme_of(&group[0].rel), &origin);
        let (staged, mut out) = writer.create(&rel, &group[0].schema)?;
        let mut rows = 0u64;
        for part in group {
            for batch in read_part(store, &part.rel)? {
                let batch = batch
                    .with_context(|| format!("cannot read {}/{}", store.describe(), part.rel))?;
                rows += batch.num_rows() as u64;
                out.write(&batch)?;
            }
        }
        PartWriter::finish(out)?;
        let expected: u64 = group.iter().map(|p| p.rows).sum();
        if rows != expected {
            bail!("compacting into {rel}: read {rows} rows where the footers say {expected}; nothing was changed");
        }
        summary.rows += rows;
        summary.parts_rewritten += group.len();
        summary.parts_written += 1;
        rewrite.old.extend(group.iter().map(|p| p.rel.clone()));
        rewrite.new.push(NewPart {
            staged,
            rel,
            owners: group
                .iter()
                .flat_map(|p| p.owners.iter().cloned())
                .collect(),
        });
    }
    summary.parts_after = summary.parts_before - summary.parts_rewritten + summary.parts_written;
    if !rewrite.new.is_empty() {
        apply(store, state, vec![rewrite])?;
    }
    Ok(summary)
}

/// Give each of the input files `keys` (about to be replaced by a run) its rows back in
/// parts of its own, where `lakeaug compact` put them in parts shared with other files; the
/// other files' rows go to a new compacted part. Call with the run lock held, after journal
/// recovery. Returns the shared parts rewritten (0 when nothing was compacted).
pub fn detach(
    store: &dyn Store,
    state: &mut State,
    keys: &[&str],
    image_column: &str,
    staging: &Path,
) -> anyhow::Result<usize> {
    let (owners, _) = snapshot_parts(state);
    // Shared parts holding rows of files to detach, and which of those files.
    let mut shared: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for key in keys {
        let Some(record) = state.files.get(*key) else {
            continue;
        };
        for rel in &record.outputs {
            if owners.get(rel).is_some_and(|o| o.len() > 1) {
                shared
                    .entry(rel.clone())
                    .or_default()
                    .insert(key.to_string());
            }
        }
    }
    let writer = PartWriter {
        staging,
        image_column,
    };
    let mut rewrites = Vec::new();
    // `shared` was built from `owners` and `state.files`: the lookups below cannot miss.
    for (rel, leaving) in &shared {
        let part = describe_part(store, rel, owners[rel].clone())?;
        let scheme = scheme_of(rel);
        // One new part per leaving file (matched by `source_file`, its record's path), one
        // for the rest.
        let mut outs = Vec::new();
        for key in leaving {
            let name = compacted_name(scheme, &["detach", rel.as_str(), key.as_str()]);
            let (staged, w) = writer.create(&name, &part.schema)?;
            let path = StringArray::new_scalar(state.files[key].identity.path.as_str());
            outs.push((key.clone(), path, name, staged, w, 0usize));
        }
        let rest_name = compacted_name(scheme, &["rest", rel.as_str()]);
        let (rest_staged, mut rest) = writer.create(&rest_name, &part.schema)?;
        let mut rest_rows = 0;
        for batch in read_part(store, rel)? {
            let batch = batch?;
            let files = source_files(&batch, store, rel)?;
            let mut taken = BooleanArray::from(vec![false; batch.num_rows()]);
            for (_, path, _, _, w, rows) in outs.iter_mut() {
                let is_this = eq(&files, path)?;
                let own = filter_record_batch(&batch, &is_this)?;
                *rows += own.num_rows();
                w.write(&own)?;
                taken = or(&taken, &is_this)?;
            }
            let others = filter_record_batch(&batch, &not(&taken)?)?;
            rest_rows += others.num_rows();
            rest.write(&others)?;
        }
        PartWriter::finish(rest)?;
        let mut rewrite = Rewrite {
            old: vec![rel.clone()],
            new: Vec::new(),
        };
        for (key, _, name, staged, w, rows) in outs {
            PartWriter::finish(w)?;
            if rows == 0 {
                bail!(
                    "{}/{rel} is listed by input {key} but holds none of its rows (source_file = {}); \
                     the state is inconsistent: rebuild with `lakeaug run --full`",
                    store.describe(),
                    state.files[&key].identity.path
                );
            }
            rewrite.new.push(NewPart {
                staged,
                rel: name,
                owners: BTreeSet::from([key]),
            });
        }
        let others: BTreeSet<String> = owners[rel].difference(leaving).cloned().collect();
        if rest_rows > 0 && others.is_empty() {
            bail!(
                "{}/{rel} holds {rest_rows} rows of input files that no state record lists with it; \
                 the state is inconsistent: rebuild with `lakeaug run --full`",
                store.describe()
            );
        }
        if rest_rows > 0 {
            rewrite.new.push(NewPart {
                staged: rest_staged,
                rel: rest_name,
                owners: others,
            });
        }
        rewrites.push(rewrite);
    }
    let n = rewrites.len();
    if n > 0 {
        state.compact(store)?;
        apply(store, state, rewrites)?;
        remove_staging(staging);
    }
    Ok(n)
}

/// The batch's `source_file` column as plain strings.
fn source_files(
    batch: &RecordBatch,
    store: &dyn Store,
    rel: &str,
) -> anyhow::Result<Arc<dyn Array>> {
    let column = batch.column_by_name("source_file").with_context(|| {
        format!(
            "{}/{rel} has no source_file column: not a lakeaug part",
            store.describe()
        )
    })?;
    Ok(cast(column, &DataType::Utf8)?)
}
