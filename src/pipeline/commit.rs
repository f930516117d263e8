//! Committing progress: publish a chunk's (or a whole file's) parts and rejects, then write
//! the file's record. The record is the commit point: until it is written, the next run
//! redoes that chunk, writing the same part names again.

use std::collections::BTreeMap;

use super::Reject;
use crate::state::{FileRecord, Partial, State};
use crate::store::Store;
use crate::write::dataset::file_id;
use crate::write::manifest::SchemeCounts;
use crate::write::rejects::rejects_parquet;
use crate::write::DatasetWriter;

/// What the main thread hands the writer when a chunk or a whole input file is done.
pub struct ChunkCommit {
    /// The file's identity (key, path, size, time, ETag, footer fingerprint); rows, counts
    /// and outputs are filled in here from this chunk and what was committed before.
    pub identity: FileRecord,
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

/// `_rejects/part-<file id>-<chunk>.parquet`: one chunk's rejected rows (chunk 0 is the
/// whole of a file smaller than a chunk).
fn rejects_rel(file_id: &str, chunk: u64) -> String {
    format!("_rejects/part-{file_id}-{chunk:05}.parquet")
}

fn same_identity(a: &FileRecord, b: &FileRecord) -> bool {
    a.key == b.key
        && a.size == b.size
        && a.modified_us == b.modified_us
        && a.etag == b.etag
        && a.footer_fingerprint == b.footer_fingerprint
}

/// What is already committed of this very file (same identity, partly done) to build on,
/// and what a previous version of it left that is to be replaced.
fn base_of(state: &State, identity: &FileRecord) -> (Option<FileRecord>, Vec<String>) {
    match state.files.get(&identity.key) {
        Some(r) if r.partial.is_some() && same_identity(r, identity) => {
            let replaces = r
                .partial
                .as_ref()
                .map(|p| p.replaces.clone())
                .unwrap_or_default();
            (Some(r.clone()), replaces)
        }
        Some(old) => {
            let mut replaces: Vec<String> = old.outputs.clone();
            replaces.extend(old.rejects.iter().cloned());
            if let Some(p) = &old.partial {
                replaces.extend(p.replaces.iter().cloned());
            }
            (None, replaces)
        }
        None => (None, Vec::new()),
    }
}

/// Where a resumed file's part numbering goes on: seed the writer with it.
pub fn continue_numbering(writer: &mut DatasetWriter, record: &FileRecord) {
    if let Some(p) = &record.partial {
        writer.continue_parts(&file_id(&record.key), &p.next_seq);
    }
}

/// Publish, clean up and commit one chunk. Returns the parts and rejects tables published.
pub fn commit_chunk(
    writer: &mut DatasetWriter,
    store: &dyn Store,
    state: &mut State,
    run_id: &str,
    c: ChunkCommit,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let id = file_id(&c.identity.key);
    let finished = c.rows_done.is_none();
    let (parts, next_seq) = if finished {
        (writer.finish_file(&id)?, BTreeMap::new())
    } else {
        writer.finish_chunk(&id)?
    };
    crate::crash::point("before-publish");
    let mut published = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        store.publish_file(&part.staged, &part.relative)?;
        published.push(part.relative.clone());
        if i == 0 {
            crate::crash::point("mid-publish");
        }
    }
    let mut rejects = Vec::new();
    if !c.rejects.is_empty() {
        let rel = rejects_rel(&id, c.first_row / c.chunk_rows.max(1));
        store.put(&rel, &rejects_parquet(&c.rejects, run_id)?)?;
        rejects.push(rel);
    }

    let (base, mut replaces) = base_of(state, &c.identity);
    let mut record = base.unwrap_or_else(|| FileRecord {
        rows: 0,
        outputs: Vec::new(),
        rejects: Vec::new(),
        per_scheme: BTreeMap::new(),
        partial: None,
        ..c.identity.clone()
    });
    record.run_id = run_id.to_string();
    record.rows += c.rows;
    for (scheme, n) in &c.counts {
        let t = record.per_scheme.entry(scheme.clone()).or_default();
        t.written += n.written;
        t.rejected += n.rejected;
    }
    for p in published.iter().chain(&rejects) {
        if !record.outputs.contains(p) && !record.rejects.contains(p) {
            if p.starts_with("_rejects/") {
                record.rejects.push(p.clone());
            } else {
                record.outputs.push(p.clone());
            }
        }
    }
    replaces.retain(|old| !record.outputs.contains(old) && !record.rejects.contains(old));
    record.partial = match c.rows_done {
        None => {
            // What the previous version had and this one does not produce goes now.
            for old in &replaces {
                store.delete(old)?;
            }
            None
        }
        Some(rows_done) => Some(Partial {
            rows_done,
            chunk_rows: c.chunk_rows,
            next_seq,
            replaces,
        }),
    };
    crate::crash::point("before-commit");
    state.commit(store, record)?;
    crate::crash::point("after-commit");
    Ok((published, rejects))
}
