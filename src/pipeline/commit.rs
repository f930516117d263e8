//! Committing progress: publish a chunk's (or a whole file's) parts and rejects, then write
//! the file's record. The record is the commit point: until it is written, the next run
//! redoes that chunk.
//!
//! One step, for a chunk of input file F being processed as generation G:
//!
//! 1. note in F's intent (see [`crate::state::journal`]) the files the step may leave:
//!    G's new parts and rejects, and, when the step completes F, the previous version's;
//! 2. publish G's parts and rejects (new names: the previous version is untouched);
//! 3. commit F's record naming them: from here a snapshot shows G (once complete);
//! 4. completing F: delete the previous version's files; then clear the intent.
//!
//! A crash before 3 leaves G's files unreferenced, after 3 the old version's: either way
//! the next run deletes exactly those, by the intent.

use std::collections::BTreeMap;

use crate::layout::{part_stem, rejects_rel, Reject};
use crate::state::{add_counts, journal, FileIdentity, FileRecord, Partial, SchemeCounts, State};
use crate::store::Store;
use crate::write::rejects::rejects_parquet;
use crate::write::{DatasetWriter, StagedFile};

/// What the main thread hands the writer when a chunk or a whole input file is done.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkCommit {
    /// The file's key, and which processing of it this is.
    pub key: String,
    pub generation: u32,
    /// Which version of the file was read.
    pub identity: FileIdentity,
    /// First row of this chunk, and the chunk size (chunks start at multiples of it).
    pub first_row: u64,
    pub chunk_rows: u64,
    /// Rows of this chunk.
    pub rows: u64,
    pub counts: BTreeMap<String, SchemeCounts>,
    pub rejects: Vec<Reject>,
    /// `None` when this completes the file, else the rows committed with this chunk.
    pub rows_done: Option<u64>,
}

/// Whether `record` is of the very processing `c` continues: same key and generation,
/// same file content.
fn same_processing(record: &FileRecord, c: &ChunkCommit) -> bool {
    record.key == c.key
        && record.generation == c.generation
        && record.identity.same_content(&c.identity)
}

/// What is already committed of this very file (same identity and generation, partly
/// done) to build on; what a previous version of it left that is to be deleted when this
/// one completes; and which of those are its last complete version (still what a
/// snapshot shows).
fn base_of(state: &State, c: &ChunkCommit) -> (Option<FileRecord>, Vec<String>, Vec<String>) {
    match state.files.get(&c.key) {
        Some(r) if same_processing(r, c) && r.partial.is_some() => {
            let p = r.partial.as_ref().map_or((Vec::new(), Vec::new()), |p| {
                (p.replaces.clone(), p.visible.clone())
            });
            (Some(r.clone()), p.0, p.1)
        }
        Some(old) => (
            None,
            old.referenced().cloned().collect(),
            old.visible_files(),
        ),
        None => (None, Vec::new(), Vec::new()),
    }
}

/// Where a resumed file's part numbering goes on: seed the writer with it.
pub fn continue_numbering(writer: &mut DatasetWriter, record: &FileRecord) {
    if let Some(p) = &record.partial {
        writer.continue_parts(&part_stem(&record.key, record.generation), &p.next_seq);
    }
}

/// Publish, clean up and commit one chunk. Returns the parts and rejects tables published.
pub fn commit_chunk(
    writer: &mut DatasetWriter,
    store: &dyn Store,
    state: &mut State,
    run_id: &str,
    c: ChunkCommit,
) -> Result<(Vec<String>, Vec<String>), super::RunError> {
    let key = c.key.clone();
    let stem = part_stem(&key, c.generation);
    let finished = c.rows_done.is_none();
    let (parts, next_seq) = if finished {
        (writer.finish_file(&stem)?, BTreeMap::new())
    } else {
        writer.finish_chunk(&stem)?
    };
    let rejects_file =
        (!c.rejects.is_empty()).then(|| rejects_rel(&stem, c.first_row / c.chunk_rows.max(1)));
    let (base, replaces, visible) = base_of(state, &c);

    let mut may_leave: Vec<String> = parts.iter().map(|p| p.relative.clone()).collect();
    may_leave.extend(rejects_file.iter().cloned());
    if finished {
        may_leave.extend(replaces.iter().cloned());
    }
    journal::announce(store, &key, &may_leave)?;
    crate::crash::point("before-publish");
    let (published, rejects) = publish(store, &parts, rejects_file, &c.rejects, run_id)?;
    let base = Base {
        record: base,
        replaces,
        visible,
    };
    commit_record(
        store,
        state,
        run_id,
        c,
        base,
        (&published, &rejects),
        next_seq,
    )?;
    Ok((published, rejects))
}

/// Step 2 of a chunk step (after its intent is written): publish the staged `parts`
/// (atomic per object) and write `rejects` to `rejects_file`. Returns what was published.
pub fn publish(
    store: &dyn Store,
    parts: &[StagedFile],
    rejects_file: Option<String>,
    rejects: &[Reject],
    run_id: &str,
) -> Result<(Vec<String>, Vec<String>), super::RunError> {
    let mut published = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        store.publish_file(&part.staged, &part.relative)?;
        published.push(part.relative.clone());
        if i == 0 {
            crate::crash::point("mid-publish");
        }
    }
    let mut written = Vec::new();
    if let Some(rel) = rejects_file {
        store.put(&rel, &rejects_parquet(rejects, run_id)?)?;
        written.push(rel);
    }
    Ok((published, written))
}

/// What a chunk's record builds on: see [`base_of`].
struct Base {
    record: Option<FileRecord>,
    replaces: Vec<String>,
    visible: Vec<String>,
}

/// Commit a chunk that a cluster task already published (`parts` and `rejects`, noted in
/// the intent of chunk `chunk`, see [`journal::announce_chunk`]): the rest of a local
/// chunk step, run by the driver, the only writer of state. Completing the file notes the
/// previous version's files first, as the local step does.
#[allow(clippy::too_many_arguments)]
pub fn commit_published(
    store: &dyn Store,
    state: &mut State,
    run_id: &str,
    c: ChunkCommit,
    chunk: u64,
    parts: &[String],
    rejects: &[String],
    next_seq: BTreeMap<String, u32>,
) -> Result<(), super::RunError> {
    let key = c.key.clone();
    let (record, replaces, visible) = base_of(state, &c);
    if c.rows_done.is_none() && !replaces.is_empty() {
        let mut may_leave: Vec<String> = parts.iter().chain(rejects).cloned().collect();
        may_leave.extend(replaces.iter().cloned());
        journal::announce(store, &key, &may_leave)?;
    }
    let base = Base {
        record,
        replaces,
        visible,
    };
    commit_record(store, state, run_id, c, base, (parts, rejects), next_seq)?;
    journal::clear_chunk(store, &key, chunk)?;
    Ok(())
}

/// Steps 3 and 4 of a chunk step: the record naming the published `files` (parts,
/// rejects), then the previous version's files deleted when the file is complete, then
/// the intent cleared.
fn commit_record(
    store: &dyn Store,
    state: &mut State,
    run_id: &str,
    c: ChunkCommit,
    base: Base,
    files: (&[String], &[String]),
    next_seq: BTreeMap<String, u32>,
) -> Result<(), super::RunError> {
    let (published, rejects) = files;
    let key = c.key.clone();
    let finished = c.rows_done.is_none();
    let Base {
        record: base,
        mut replaces,
        visible,
    } = base;
    let mut record = base.unwrap_or_else(|| {
        FileRecord::empty(
            c.key.clone(),
            c.generation,
            c.identity.clone(),
            run_id.to_string(),
        )
    });
    record.run_id = run_id.to_string();
    record.rows += c.rows;
    add_counts(&mut record.per_scheme, &c.counts);
    for p in published.iter().chain(rejects) {
        if !record.outputs.contains(p) && !record.rejects.contains(p) {
            if p.starts_with("_rejects/") {
                record.rejects.push(p.clone());
            } else {
                record.outputs.push(p.clone());
            }
        }
    }
    replaces.retain(|old| !record.outputs.contains(old) && !record.rejects.contains(old));
    record.partial = c.rows_done.map(|rows_done| Partial {
        rows_done,
        chunk_rows: c.chunk_rows,
        next_seq,
        replaces: replaces.clone(),
        visible,
    });
    crate::crash::point("before-commit");
    state.commit(store, record)?;
    crate::crash::point("after-commit");
    if finished {
        // The previous version's files go only now that the record names the new one.
        for (i, old) in replaces.iter().enumerate() {
            store.delete(old)?;
            if i == 0 {
                crate::crash::point("mid-replace");
            }
        }
    }
    crate::crash::point("before-intent-clear");
    journal::clear(store, &key)?;
    Ok(())
}
