//! The run's tally: what each input file has produced since its last commit, what the run
//! has committed in all, and what it skipped. Its transitions are the run's events, in the
//! order the reader sent them: a batch done, a chunk done, a file done, a file failed; at
//! the end it goes into the manifest.
//!
//! Counts reach the run's totals only when a chunk or file is handed over to be committed,
//! so a file that fails half-way under `--on-bad-file skip` leaves only its committed
//! chunks in them.

use std::collections::BTreeMap;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::commit::ChunkCommit;
use crate::layout::Reject;
use crate::state::{add_counts, FileIdentity, SchemeCounts};
use crate::write::manifest::{ManifestInput, SkippedFile};
use crate::write::Manifest;

/// One input file as this run processes it.
#[derive(Debug, Clone)]
pub(super) struct FileTask {
    pub key: String,
    /// Which processing of the file this is (see [`crate::state`]).
    pub generation: u32,
    /// The stem of its part names ([`crate::layout::part_stem`]).
    pub stem: String,
    pub identity: FileIdentity,
    /// Rows in the file, by its footer.
    pub num_rows: u64,
    /// The first row this run reads (after the rows a killed run committed).
    pub start: u64,
    /// The chunk size the file is committed in.
    pub chunk_rows: u64,
}

/// A file's progress in this run since its last commit.
#[derive(Debug, Default)]
struct Pending {
    first_row: u64,
    rows: u64,
    counts: BTreeMap<String, SchemeCounts>,
    rejects: Vec<Reject>,
}

/// The run's counts, per file and in all.
#[derive(Debug)]
pub(super) struct RunTally {
    files: Vec<FileTask>,
    pending: Vec<Pending>,
    /// Rows of each file committed by this run.
    committed_rows: Vec<u64>,
    totals: BTreeMap<String, SchemeCounts>,
    rejects: Vec<Reject>,
    rows_read: u64,
    inputs: Vec<ManifestInput>,
    skipped: Vec<SkippedFile>,
    /// Whether each file is done or failed.
    finished: Vec<bool>,
}

/// A file read to its end gave other than the rows its footer counts.
#[derive(Debug, thiserror::Error)]
#[error("{file}: its footer counts {expected} rows, but {read} were read; the file is damaged: rewrite it, or use --on-bad-file skip to go on without it")]
pub struct RowsMissing {
    pub file: String,
    pub expected: u64,
    pub read: u64,
}

/// The rows written and rejected of a run do not add up to rows x schemes x copies.
#[derive(Debug, thiserror::Error)]
#[error("internal error: {rows_read} rows x {schemes} schemes x {copies} copies = {expected}, but {written} written + {rejected} rejected")]
pub struct CountMismatch {
    pub rows_read: u64,
    pub schemes: usize,
    pub copies: u32,
    pub expected: u64,
    pub written: u64,
    pub rejected: u64,
}

impl RunTally {
    /// A tally of `files`, every scheme of `schemes` at zero, and the files `skipped`
    /// before reading (they could not be opened).
    pub fn new<'s>(
        files: Vec<FileTask>,
        schemes: impl IntoIterator<Item = &'s str>,
        skipped: Vec<SkippedFile>,
    ) -> RunTally {
        RunTally {
            pending: files
                .iter()
                .map(|f| Pending {
                    first_row: f.start,
                    ..Pending::default()
                })
                .collect(),
            committed_rows: vec![0; files.len()],
            finished: vec![false; files.len()],
            files,
            totals: schemes
                .into_iter()
                .map(|s| (s.to_string(), SchemeCounts::default()))
                .collect(),
            rejects: Vec::new(),
            rows_read: 0,
            inputs: Vec::new(),
            skipped,
        }
    }

    pub fn file(&self, file: usize) -> &FileTask {
        &self.files[file]
    }

    /// `rows` input rows of `file` were augmented: `written` output rows per scheme, and
    /// `rejects`.
    pub fn batch_done<'s>(
        &mut self,
        file: usize,
        rows: u64,
        written: impl IntoIterator<Item = (&'s str, u64)>,
        rejects: Vec<Reject>,
    ) {
        let p = &mut self.pending[file];
        p.rows += rows;
        for (scheme, n) in written {
            p.counts.entry(scheme.to_string()).or_default().written += n;
        }
        for r in &rejects {
            p.counts.entry(r.scheme.clone()).or_default().rejected += 1;
        }
        p.rejects.extend(rejects);
    }

    /// The rows of `file` before `rows_done` are all augmented: the chunk to commit.
    pub fn chunk_done(&mut self, file: usize, rows_done: u64) -> ChunkCommit {
        self.take_commit(file, Some(rows_done))
    }

    /// `file` is read to its end: the rest of it to commit. It goes into the manifest.
    /// An error (nothing changed) when the rows read do not add up to its footer's count.
    pub fn file_done(&mut self, file: usize) -> Result<ChunkCommit, RowsMissing> {
        let task = &self.files[file];
        let p = &self.pending[file];
        let read = p.first_row.saturating_add(p.rows);
        if read != task.num_rows {
            return Err(RowsMissing {
                file: task.identity.path.clone(),
                expected: task.num_rows,
                read,
            });
        }
        self.finished[file] = true;
        let commit = self.take_commit(file, None);
        self.inputs.push(ManifestInput::new(
            &self.files[file].identity,
            self.committed_rows[file],
        ));
        Ok(commit)
    }

    /// The first file neither done nor failed, if any (all are, once the reader is done).
    pub fn unfinished(&self) -> Option<&FileTask> {
        self.files
            .iter()
            .zip(&self.finished)
            .find_map(|(task, done)| (!done).then_some(task))
    }

    /// `file` could not be read to its end: what it produced since its last commit is
    /// dropped, and it is listed as skipped for `reason`. Returns its rows never
    /// processed (for the progress bar).
    pub fn file_failed(&mut self, file: usize, reason: String) -> u64 {
        self.finished[file] = true;
        let task = &self.files[file];
        let dropped = std::mem::take(&mut self.pending[file]);
        self.skipped.push(SkippedFile {
            path: task.identity.path.clone(),
            reason,
        });
        task.num_rows
            .saturating_sub(dropped.first_row.saturating_add(dropped.rows))
    }

    /// Hand `file`'s pending rows over to be committed, and count them in the totals.
    fn take_commit(&mut self, file: usize, rows_done: Option<u64>) -> ChunkCommit {
        let task = &self.files[file];
        let p = std::mem::take(&mut self.pending[file]);
        self.pending[file].first_row = rows_done.unwrap_or(task.num_rows);
        add_counts(&mut self.totals, &p.counts);
        self.rejects.extend(p.rejects.iter().cloned());
        self.committed_rows[file] += p.rows;
        self.rows_read += p.rows;
        ChunkCommit {
            key: task.key.clone(),
            generation: task.generation,
            identity: task.identity.clone(),
            first_row: p.first_row,
            chunk_rows: task.chunk_rows,
            rows: p.rows,
            counts: p.counts,
            rejects: p.rejects,
            rows_done,
        }
    }

    pub fn rows_written(&self) -> u64 {
        self.totals.values().map(|c| c.written).sum()
    }

    pub fn rows_rejected(&self) -> u64 {
        self.totals.values().map(|c| c.rejected).sum()
    }

    /// Check that every row read became `schemes` x `copies` rows written or rejected.
    pub fn reconcile(&self, schemes: usize, copies: u32) -> Result<(), CountMismatch> {
        let expected = self
            .rows_read
            .saturating_mul(schemes as u64)
            .saturating_mul(u64::from(copies));
        let (written, rejected) = (self.rows_written(), self.rows_rejected());
        if written.checked_add(rejected) == Some(expected) {
            return Ok(());
        }
        Err(CountMismatch {
            rows_read: self.rows_read,
            schemes,
            copies,
            expected,
            written,
            rejected,
        })
    }

    /// Fill in what the run read, wrote, rejected and skipped (and its throughput from
    /// `manifest.duration_secs`); the rejected rows.
    pub fn into_manifest(self, manifest: &mut Manifest) -> Vec<Reject> {
        manifest.rows_written = self.rows_written();
        manifest.rows_rejected = self.rows_rejected();
        manifest.rows_read = self.rows_read;
        // Milli-rows/s are plenty, and short decimals read back from the JSON manifest as
        // the very same f64.
        manifest.rows_per_sec = if manifest.duration_secs > 0.0 {
            super::round_to(self.rows_read as f64 / manifest.duration_secs, 1e3)
        } else {
            0.0
        };
        manifest.inputs = self.inputs;
        manifest.skipped_files = self.skipped;
        manifest.per_scheme = self.totals;
        self.rejects
    }
}

/// The progress bar of a run: the rows still to read of `tasks`.
pub(super) fn progress_bar(show: bool, tasks: &[FileTask]) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let total: u64 = tasks
        .iter()
        .map(|t| t.num_rows - t.start.min(t.num_rows))
        .sum();
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    // The template is a constant; a bad one would show the default style, not fail.
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} rows  {per_sec}  ETA {eta}",
    ) {
        bar.set_style(style);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Stage;

    fn task(key: &str, num_rows: u64, start: u64) -> FileTask {
        FileTask {
            key: key.into(),
            generation: 2,
            stem: crate::layout::part_stem(key, 2),
            identity: FileIdentity {
                path: format!("lake/{key}"),
                size: 100,
                modified_us: Some(1_000_000),
                etag: None,
                footer_fingerprint: "fp".into(),
            },
            num_rows,
            start,
            chunk_rows: 4,
        }
    }

    fn reject(row: i64, scheme: &str) -> Reject {
        Reject {
            source_file: "lake/a".into(),
            source_row: row,
            id: None,
            scheme: scheme.into(),
            copy: 0,
            stage: Stage::Decode,
            reason: "image is null".into(),
        }
    }

    fn counts(written: u64, rejected: u64) -> SchemeCounts {
        SchemeCounts { written, rejected }
    }

    #[test]
    fn chunks_and_files_commit_what_was_done_since_the_last_commit() {
        let mut t = RunTally::new(vec![task("a", 6, 0)], ["s1", "s2"], Vec::new());
        t.batch_done(0, 4, [("s1", 4), ("s2", 3)], vec![reject(1, "s2")]);
        let c = t.chunk_done(0, 4);
        assert_eq!((c.first_row, c.rows, c.rows_done), (0, 4, Some(4)));
        assert_eq!((c.key.as_str(), c.generation, c.chunk_rows), ("a", 2, 4));
        assert_eq!(c.counts["s1"], counts(4, 0));
        assert_eq!(c.counts["s2"], counts(3, 1));
        assert_eq!(c.rejects, vec![reject(1, "s2")]);
        assert!(t.inputs.is_empty(), "a chunk does not complete the file");

        t.batch_done(0, 2, [("s1", 2), ("s2", 2)], Vec::new());
        assert!(t.unfinished().is_some());
        let c = t.file_done(0).unwrap();
        assert!(t.unfinished().is_none());
        assert_eq!((c.first_row, c.rows, c.rows_done), (4, 2, None));
        assert_eq!(c.counts["s1"], counts(2, 0));
        assert!(c.rejects.is_empty());
        assert_eq!(t.reconcile(2, 1).map_err(|e| e.to_string()), Ok(()));

        let mut m = Manifest::new("r", 0, 0, 2.0, &crate::config::Config::default());
        let rejects = t.into_manifest(&mut m);
        assert_eq!(rejects, vec![reject(1, "s2")]);
        assert_eq!((m.rows_read, m.rows_written, m.rows_rejected), (6, 11, 1));
        assert_eq!(m.rows_per_sec, 3.0);
        assert_eq!(m.per_scheme["s1"], counts(6, 0));
        assert_eq!(m.per_scheme["s2"], counts(5, 1));
        assert_eq!(m.inputs.len(), 1);
        assert_eq!((m.inputs[0].path.as_str(), m.inputs[0].rows), ("lake/a", 6));
        assert_eq!(
            m.inputs[0].modified.as_deref(),
            Some("1970-01-01T00:00:01.000000Z")
        );
    }

    #[test]
    fn a_resumed_file_starts_at_its_committed_rows() {
        let mut t = RunTally::new(vec![task("a", 10, 8)], ["s"], Vec::new());
        t.batch_done(0, 2, [("s", 2)], Vec::new());
        let c = t.file_done(0).unwrap();
        assert_eq!((c.first_row, c.rows), (8, 2));
        // The manifest counts what this run read of the file.
        assert_eq!(t.inputs[0].rows, 2);
    }

    #[test]
    fn a_failed_file_keeps_only_its_committed_chunks() {
        let opened_late = SkippedFile {
            path: "lake/bad".into(),
            reason: "not Parquet".into(),
        };
        let mut t = RunTally::new(
            vec![task("a", 10, 0), task("b", 2, 0)],
            ["s"],
            vec![opened_late.clone()],
        );
        t.batch_done(0, 4, [("s", 4)], Vec::new());
        t.chunk_done(0, 4);
        t.batch_done(0, 2, [("s", 1)], vec![reject(5, "s")]);
        // Rows 6..10 were never processed; rows 4..6 are dropped with the file.
        assert_eq!(t.file_failed(0, "page damaged".into()), 4);
        t.batch_done(1, 2, [("s", 2)], Vec::new());
        t.file_done(1).unwrap();
        assert!(t.unfinished().is_none());
        assert_eq!(t.reconcile(1, 1).map_err(|e| e.to_string()), Ok(()));

        let mut m = Manifest::new("r", 0, 0, 0.0, &crate::config::Config::default());
        let rejects = t.into_manifest(&mut m);
        assert!(rejects.is_empty());
        assert_eq!((m.rows_read, m.rows_written, m.rows_rejected), (6, 6, 0));
        assert_eq!(m.rows_per_sec, 0.0);
        assert_eq!(m.skipped_files.len(), 2);
        assert_eq!(m.skipped_files[0], opened_late);
        assert_eq!(m.skipped_files[1].path, "lake/a");
        assert_eq!(m.skipped_files[1].reason, "page damaged");
        assert_eq!(m.inputs.len(), 1, "only the file read whole is an input");
    }

    #[test]
    fn counts_that_do_not_add_up_are_an_error() {
        let mut t = RunTally::new(vec![task("a", 2, 0)], ["s"], Vec::new());
        t.batch_done(0, 2, [("s", 1)], Vec::new());
        t.file_done(0).unwrap();
        let err = t.reconcile(1, 1).unwrap_err();
        assert_eq!((err.expected, err.written, err.rejected), (2, 1, 0));
    }

    #[test]
    fn a_file_that_ends_short_of_its_footer_count_is_not_done() {
        let mut t = RunTally::new(vec![task("a", 10, 0)], ["s"], Vec::new());
        t.batch_done(0, 4, [("s", 4)], Vec::new());
        t.chunk_done(0, 4);
        t.batch_done(0, 4, [("s", 4)], Vec::new());
        let err = t.file_done(0).unwrap_err();
        assert_eq!((err.expected, err.read), (10, 8));
        assert!(err.to_string().contains("lake/a"), "{err}");
        assert!(t.unfinished().is_some(), "nothing changed");
        assert!(t.inputs.is_empty());
    }
}
