//! Processing a run's files as chunk tasks that run elsewhere (`lakeaug run --cluster`).
//! The driver keeps everything up to processing (lock, recovery, planning, drift,
//! generations, resume points) and stays the only writer of state: each task publishes
//! its chunk's parts ([`super::chunk::run_chunk`]) and the driver commits the chunks of
//! each file in order as their results arrive, as the local writer commits them.
//!
//! A result that arrives before an earlier chunk of its file is held until that one is
//! committed (a record's resume point is a prefix of the file). A run killed at any point
//! leaves published-but-uncommitted chunks noted in their intents: the next run deletes
//! them and redoes those chunks.

use std::collections::BTreeMap;
use std::sync::Arc;

use indicatif::ProgressBar;

use super::chunk::{ChunkDone, ChunkOutcome, ChunkReport, ChunkTask};
use super::commit::commit_published;
use super::context::Job;
use super::tally::{progress_bar, FileTask, RunTally};
use super::{BadFilePolicy, RunError, RunStatus, RunSummary};
use crate::read::OpenedInput;
use crate::state::{journal, State};
use crate::store::Store;
use crate::write::manifest::SkippedFile;

/// Runs chunk tasks somewhere else (a cluster) and hands back their results.
pub trait ChunkRunner: Send + Sync + std::fmt::Debug {
    /// Tasks kept in flight at once (recorded as the manifest's `threads`).
    fn parallelism(&self) -> usize;
    /// Run `tasks`, calling `done(index, report)` for each as it finishes, in any order.
    /// Stops at the first error, of a task (after the cluster's retries) or of `done`.
    fn run(
        &self,
        tasks: Vec<ChunkTask>,
        done: &mut dyn FnMut(usize, ChunkReport) -> Result<(), RunError>,
    ) -> Result<(), RunError>;
}

/// One task of the run: chunk number `i` (of this run's chunks of `file`).
struct Chunk {
    file: usize,
    i: u32,
    chunk: u64,
    end_row: u64,
}

/// Where one file's commits stand.
struct FileProgress {
    /// This run's chunks of it, and the next one to commit.
    count: u32,
    next: u32,
    /// Results that arrived before an earlier chunk's (index into the tasks).
    waiting: BTreeMap<u32, (usize, ChunkOutcome)>,
    /// The file was given up (`--on-bad-file skip`): its later results are discarded.
    failed: bool,
    /// Part numbers: the first chunk's per scheme, and past the highest published.
    first_seq: BTreeMap<String, u32>,
    seq_end: BTreeMap<String, u32>,
}

/// The driver's side while tasks run: commits in file order, the tally, the progress.
struct Driver<'a> {
    job: &'a Job<'a>,
    store: Arc<dyn Store>,
    state: State,
    tally: RunTally,
    chunks: Vec<Chunk>,
    files: Vec<FileProgress>,
    schemes: Vec<String>,
    published: Vec<String>,
    rejects_files: Vec<String>,
    executors: BTreeMap<String, u64>,
    bar: ProgressBar,
}

/// Chunks `start..num_rows` of a file in `chunk_rows`: `(first_row, end_row)` each.
fn chunk_bounds(start: u64, num_rows: u64, chunk_rows: u64) -> Vec<(u64, u64)> {
    let chunk_rows = chunk_rows.max(1);
    let mut out = Vec::new();
    let mut first = start;
    while first < num_rows {
        let end = first.saturating_add(chunk_rows).min(num_rows);
        out.push((first, end));
        first = end;
    }
    out
}

/// The tasks of `files` (opened as `inputs`), and each one's place.
fn make_tasks(
    job: &Job,
    state: &State,
    inputs: &[Arc<OpenedInput>],
    files: &[FileTask],
    schemes: &[String],
    output: &str,
) -> (Vec<ChunkTask>, Vec<Chunk>, Vec<FileProgress>) {
    let opts = job.opts;
    let config_toml = opts.config.to_toml();
    let config_hash = opts.config.hash();
    let (mut tasks, mut chunks, mut progress) = (Vec::new(), Vec::new(), Vec::new());
    for (f, (task, input)) in files.iter().zip(inputs).enumerate() {
        // A resumed file numbers its parts on from those its record names.
        let resumed = state
            .files
            .get(&task.key)
            .and_then(|r| r.partial.as_ref())
            .filter(|_| task.start > 0);
        let first_seq: BTreeMap<String, u32> = schemes
            .iter()
            .map(|s| {
                let seq = resumed.and_then(|p| p.next_seq.get(s)).copied();
                (s.clone(), seq.unwrap_or(0))
            })
            .collect();
        let bounds = chunk_bounds(task.start, task.num_rows, task.chunk_rows);
        let count = u32::try_from(bounds.len()).unwrap_or(u32::MAX);
        let mut file = input.file.clone();
        // Executors have other working folders: they get absolute paths.
        if let Ok(abs) = std::path::absolute(&file.path) {
            file.path = abs;
        }
        for (i, (first_row, end_row)) in (0..count).zip(bounds) {
            let chunk = first_row / task.chunk_rows.max(1);
            tasks.push(ChunkTask {
                run_id: job.clock.run_id.clone(),
                created_at_us: job.clock.started_us,
                output: output.to_string(),
                config_toml: config_toml.clone(),
                config_hash: config_hash.clone(),
                writer: opts.writer.clone(),
                batch_size: opts.batch_size,
                file: file.clone(),
                footer_fingerprint: task.identity.footer_fingerprint.clone(),
                generation: task.generation,
                chunk,
                first_row,
                end_row,
                chunk_rows: task.chunk_rows,
                first_seq: first_seq
                    .iter()
                    .map(|(s, q)| (s.clone(), q.saturating_add(i)))
                    .collect(),
                seq_stride: count,
            });
            chunks.push(Chunk {
                file: f,
                i,
                chunk,
                end_row,
            });
        }
        progress.push(FileProgress {
            count,
            next: 0,
            waiting: BTreeMap::new(),
            failed: false,
            seq_end: first_seq.clone(),
            first_seq,
        });
    }
    (tasks, chunks, progress)
}

/// Process `files` (opened as `inputs`) with `runner`, on top of `state`.
pub(super) fn process(
    job: &Job,
    runner: &dyn ChunkRunner,
    state: State,
    inputs: &[Arc<OpenedInput>],
    skipped: Vec<SkippedFile>,
    files: Vec<FileTask>,
) -> Result<RunSummary, RunError> {
    let opts = job.opts;
    let store = job.target.store.clone();
    let output = match store.local_root() {
        Some(root) => std::path::absolute(root)
            .unwrap_or_else(|_| root.to_path_buf())
            .to_string_lossy()
            .into_owned(),
        None => opts.output.to_string_lossy().into_owned(),
    };
    let schemes: Vec<String> = crate::schemes::Scheme::from_config(&opts.config)
        .map_err(|e| RunError::InvalidConfig(e.to_string()))?
        .into_iter()
        .map(|s| s.name)
        .collect();
    let (tasks, chunks, progress) = make_tasks(job, &state, inputs, &files, &schemes, &output);
    let bar = progress_bar(opts.progress, &files);
    let mut driver = Driver {
        job,
        store,
        state,
        tally: RunTally::new(files, schemes.iter().map(String::as_str), skipped),
        chunks,
        files: progress,
        schemes,
        published: Vec::new(),
        rejects_files: Vec::new(),
        executors: BTreeMap::new(),
        bar,
    };
    // A file with no rows left to read has no task: it completes at once.
    for f in 0..driver.files.len() {
        if driver.files[f].count == 0 {
            driver.complete_empty(f)?;
        }
    }
    runner.run(tasks, &mut |index, report| driver.arrived(index, report))?;
    driver.finish(runner.parallelism())
}

impl Driver<'_> {
    fn arrived(&mut self, index: usize, report: ChunkReport) -> Result<(), RunError> {
        *self.executors.entry(report.executor).or_default() += 1;
        self.job.fetched.add(report.input_bytes_fetched);
        let (f, i) = (self.chunks[index].file, self.chunks[index].i);
        if self.files[f].failed {
            return self.discard(index, &report.outcome);
        }
        self.files[f].waiting.insert(i, (index, report.outcome));
        loop {
            let p = &mut self.files[f];
            let Some((index, outcome)) = p.waiting.remove(&p.next) else {
                return Ok(());
            };
            p.next += 1;
            match outcome {
                ChunkOutcome::Done(done) => self.commit(index, done)?,
                ChunkOutcome::BadFile { reason, .. } => self.file_failed(f, reason)?,
            }
            if self.files[f].failed {
                for (_, (index, outcome)) in std::mem::take(&mut self.files[f].waiting) {
                    self.discard(index, &outcome)?;
                }
                return Ok(());
            }
        }
    }

    /// Commit the next chunk of its file, as the local writer would.
    fn commit(&mut self, index: usize, done: ChunkDone) -> Result<(), RunError> {
        let (f, i, chunk, end_row) = {
            let c = &self.chunks[index];
            (c.file, c.i, c.chunk, c.end_row)
        };
        let written = done.written.iter().map(|(s, n)| (s.as_str(), *n));
        self.tally
            .batch_done(f, done.rows, written, done.rejects.clone());
        let last = i + 1 == self.files[f].count;
        let commit = if last {
            match self.tally.file_done(f) {
                Ok(c) => c,
                Err(missing) => {
                    self.discard(index, &ChunkOutcome::Done(done))?;
                    return self.file_failed(f, missing.to_string());
                }
            }
        } else {
            self.tally.chunk_done(f, end_row)
        };
        let p = &mut self.files[f];
        for (scheme, end) in &done.seq_end {
            let e = p.seq_end.entry(scheme.clone()).or_default();
            *e = (*e).max(*end);
        }
        // The next chunk's numbers, past every part published so far: a resumed run
        // (local or cluster) numbers on from there without reusing a name.
        let next_seq = match last {
            true => BTreeMap::new(),
            false => self
                .schemes
                .iter()
                .map(|s| {
                    let planned = p
                        .first_seq
                        .get(s)
                        .copied()
                        .unwrap_or(0)
                        .saturating_add(i + 1);
                    let seen = p.seq_end.get(s).copied().unwrap_or(0);
                    (s.clone(), planned.max(seen))
                })
                .collect(),
        };
        self.commit_files(commit, chunk, &done.parts, &done.rejects_files, next_seq)?;
        self.published.extend(done.parts);
        self.rejects_files.extend(done.rejects_files);
        self.bar.inc(done.rows);
        crate::crash::point("mid-file");
        Ok(())
    }

    /// A file whose rows are all committed by earlier runs' chunks: only its record's
    /// completion is left.
    fn complete_empty(&mut self, f: usize) -> Result<(), RunError> {
        let commit = match self.tally.file_done(f) {
            Ok(c) => c,
            Err(missing) => return self.file_failed(f, missing.to_string()),
        };
        let chunk = commit.first_row / commit.chunk_rows.max(1);
        self.commit_files(commit, chunk, &[], &[], BTreeMap::new())
    }

    /// Commit chunk `chunk` with the `parts` and `rejects` its task published.
    fn commit_files(
        &mut self,
        commit: super::commit::ChunkCommit,
        chunk: u64,
        parts: &[String],
        rejects: &[String],
        next_seq: BTreeMap<String, u32>,
    ) -> Result<(), RunError> {
        let store = self.store.clone();
        let run_id = &self.job.clock.run_id;
        commit_published(
            store.as_ref(),
            &mut self.state,
            run_id,
            commit,
            chunk,
            parts,
            rejects,
            next_seq,
        )
    }

    /// The file cannot be read: the run fails, or under `--on-bad-file skip` the file is
    /// skipped with its committed chunks kept (as a local run does).
    fn file_failed(&mut self, f: usize, reason: String) -> Result<(), RunError> {
        if self.job.opts.on_bad_file == BadFilePolicy::Fail {
            return Err(RunError::RemoteInputFailed(reason));
        }
        self.files[f].failed = true;
        let unread = self.tally.file_failed(f, reason);
        self.bar.inc(unread);
        Ok(())
    }

    /// Delete what a task of a given-up file published, and its intent.
    fn discard(&mut self, index: usize, outcome: &ChunkOutcome) -> Result<(), RunError> {
        if let ChunkOutcome::Done(done) = outcome {
            for rel in done.parts.iter().chain(&done.rejects_files) {
                self.store.delete(rel)?;
            }
            let key = &self.tally.file(self.chunks[index].file).key;
            journal::clear_chunk(self.store.as_ref(), key, self.chunks[index].chunk)?;
        }
        Ok(())
    }

    /// Check every file ended, then write the manifest.
    fn finish(mut self, parallelism: usize) -> Result<RunSummary, RunError> {
        self.bar.finish_and_clear();
        if let Some(task) = self.tally.unfinished() {
            return Err(RunError::Thread(format!(
                "the cluster returned no result for part of {}: rerun (chunks committed so far stay)",
                task.identity.path
            )));
        }
        let store = self.store.clone();
        self.state.compact(store.as_ref())?;
        let opts = self.job.opts;
        self.tally
            .reconcile(self.schemes.len(), opts.config.copies)?;
        let (manifest, rejects) =
            self.job
                .manifest(self.tally, self.published, self.rejects_files, parallelism);
        crate::crash::point("before-manifest");
        manifest.write(store.as_ref())?;
        Ok(RunSummary {
            manifest,
            rejects,
            status: RunStatus::Processed,
            planned: Vec::new(),
            footers_read: 0,
            planning_secs: 0.0,
            output: opts.output.to_string_lossy().into_owned(),
            executors: self.executors,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::chunk_bounds;

    #[test]
    fn chunks_cover_the_rows_left_in_chunk_sized_steps() {
        assert_eq!(chunk_bounds(0, 10, 4), vec![(0, 4), (4, 8), (8, 10)]);
        assert_eq!(chunk_bounds(8, 10, 4), vec![(8, 10)]);
        assert_eq!(chunk_bounds(0, 8, 4), vec![(0, 4), (4, 8)]);
        assert!(chunk_bounds(10, 10, 4).is_empty());
    }
}
