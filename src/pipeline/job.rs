//! Processing the files of a run: open them, start the reader and writer threads, hand
//! each batch to the worker pool, and turn what comes back, in reading order, into
//! written batches and commits.
//!
//! ```text
//! reader thread ──batches, file events──▶ main thread ──batch──▶ worker pool (augment)
//!                                             │ ◀──output batches, rejects──┘
//!                                             └──batches, commits──▶ writer thread
//! ```

use std::collections::VecDeque;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

use indicatif::ProgressBar;

use super::augment::{augment_caught, file_schema};
use super::commit::continue_numbering;
use super::context::Job;
use super::inputs::{open_inputs, OpenedInputs};
use super::reader::{spawn_reader, FileEvent, ReadMsg, ReadPlan};
use super::tally::{progress_bar, FileTask, RunTally};
use super::writer::{spawn_writer, WriteMsg, Written};
use super::{
    drift, load_tokenizer, AugmentError, Augmenter, BadFilePolicy, BatchOutput, FileContext,
    PlannedFile, RunError, RunStatus, RunSummary, WORK_ITEM_BYTES,
};
use crate::layout::part_stem;
use crate::lineage::RunStamp;
use crate::read::OpenedInput;
use crate::state::{FileIdentity, Plan, State};
use crate::write::DatasetWriter;

/// The threads a job started and the channel to its writer, until it finishes.
struct Started {
    reader: std::thread::JoinHandle<()>,
    writer: std::thread::JoinHandle<Result<Written, RunError>>,
    read_rx: Receiver<ReadMsg>,
    write_tx: SyncSender<WriteMsg>,
    augmenter: Augmenter,
    pool: rayon::ThreadPool,
    threads: usize,
}

impl Job<'_> {
    /// Open, augment, publish and commit the files of `todo`, on top of `state`.
    pub fn process(
        &self,
        mut state: State,
        todo: &[PlannedFile],
        footers_read: &mut u64,
    ) -> Result<RunSummary, RunError> {
        let config = &self.opts.config;
        let store = self.target.store.clone();
        let OpenedInputs {
            inputs,
            skipped,
            schema,
        } = open_inputs(
            todo,
            &config.columns,
            self.opts.on_bad_file,
            footers_read,
            &self.fetched,
        )?;
        let planning_secs = self.clock.started.elapsed().as_secs_f64();
        drift::check_or_record(
            &mut state,
            store.as_ref(),
            &inputs,
            config,
            &self.clock.run_id,
        )?;

        // What the part files hold: with `--hf-features`, the image as a `datasets` Image
        // (the writer converts the augmenter's batches, see `crate::hf_features`).
        let file_schema = file_schema(config, &schema)?;
        let mut writer = DatasetWriter::new(
            &self.target.staging,
            file_schema,
            &config.columns.image,
            self.opts.writer.clone(),
        )?;
        let chunk_rows = even_chunk_rows(self.opts.chunk_rows);
        let (tasks, plans) = plan_reading(&inputs, &state, todo, chunk_rows, &mut writer);
        if let Some(runner) = &self.opts.remote {
            // Tasks elsewhere write the parts; nothing is staged here.
            writer.abort();
            let summary =
                super::remote::process(self, runner.as_ref(), state, &inputs, skipped, tasks)?;
            return Ok(RunSummary {
                planning_secs,
                ..summary
            });
        }
        let bar = progress_bar(self.opts.progress, &tasks);
        let started = self.start(plans, writer, state)?;
        let contexts = inputs
            .iter()
            .map(|input| Arc::new(FileContext::new(input, schema.clone())))
            .collect();
        let schemes: Vec<String> = started
            .augmenter
            .schemes
            .iter()
            .map(|s| s.name.clone())
            .collect();
        let mut dispatch = Dispatch {
            tally: RunTally::new(tasks, schemes.iter().map(String::as_str), skipped),
            schemes,
            contexts,
            write_tx: started.write_tx.clone(),
            bar,
            on_bad_file: self.opts.on_bad_file,
        };
        let result = dispatch.drive(&started, started.threads + 1);
        let summary = self.finish(started, dispatch, result)?;
        Ok(RunSummary {
            planning_secs,
            ..summary
        })
    }

    /// Start the reader first (its first row group, read and decompressed whole, then
    /// overlaps the tokenizer's loading), then the workers and the writer.
    fn start(
        &self,
        plans: Vec<ReadPlan>,
        writer: DatasetWriter,
        state: State,
    ) -> Result<Started, RunError> {
        let config = &self.opts.config;
        let (read_tx, read_rx) = sync_channel::<ReadMsg>(2);
        // Rounding the batch size up to even must not overflow, whatever the caller gave.
        let batch_size = self.opts.batch_size.min(usize::MAX / 4);
        let reader = spawn_reader(plans, batch_size, read_tx)
            .map_err(|e| RunError::Thread(format!("cannot start the reader thread: {e}")))?;
        let threads = self.opts.threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
        let stamp = RunStamp {
            run_id: self.clock.run_id.clone(),
            created_at_us: self.clock.started_us,
        };
        let (augmenter, pool) = match start_workers(config, stamp, threads) {
            Ok(ready) => ready,
            Err(e) => {
                // Nothing was staged yet: leave no empty staging folder behind.
                writer.abort();
                return Err(e);
            }
        };
        let (write_tx, write_rx) = sync_channel::<WriteMsg>(2 * augmenter.schemes.len().max(1));
        let store = self.target.store.clone();
        let writer = spawn_writer(writer, store, state, self.clock.run_id.clone(), write_rx)
            .map_err(|e| RunError::Thread(format!("cannot start the writer thread: {e}")))?;
        Ok(Started {
            reader,
            writer,
            read_rx,
            write_tx,
            augmenter,
            pool,
            threads,
        })
    }

    /// Stop the threads, check the counts, write the manifest.
    fn finish(
        &self,
        started: Started,
        dispatch: Dispatch,
        result: Result<(), RunError>,
    ) -> Result<RunSummary, RunError> {
        let Started {
            reader,
            writer,
            read_rx,
            write_tx,
            augmenter,
            threads,
            ..
        } = started;
        let Dispatch {
            tally,
            write_tx: dispatch_tx,
            bar,
            ..
        } = dispatch;
        drop(read_rx);
        drop((write_tx, dispatch_tx));
        let _ = reader.join();
        let written = writer
            .join()
            .map_err(|_| RunError::Thread("the writer thread panicked".into()))?;
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
        let store = self.target.store.as_ref();
        written.state.compact(store)?;
        tally.reconcile(augmenter.schemes.len(), self.opts.config.copies)?;

        let manifest = self.manifest(tally, written.published, written.rejects_files, threads);
        crate::crash::point("before-manifest");
        manifest.0.write(store)?;
        Ok(RunSummary {
            manifest: manifest.0,
            rejects: manifest.1,
            status: RunStatus::Processed,
            planned: Vec::new(),
            footers_read: 0,
            planning_secs: 0.0,
            output: self.opts.output.to_string_lossy().into_owned(),
            executors: Default::default(),
        })
    }
}

/// `--chunk-rows` rounded up to an even number (at least 2), without overflowing.
pub(super) fn even_chunk_rows(rows: u64) -> u64 {
    rows.max(2)
        .checked_next_multiple_of(2)
        .unwrap_or(u64::MAX - 1)
}

/// Which processing of each input this is, where its reading starts and in which chunks:
/// after the committed rows of a partly done file, with the chunk size it was started
/// with (so chunk and part names stay those of one run). A resumed file goes on with its
/// generation (and its part numbering, seeded into `writer`), any other processing
/// starts the next one (see [`crate::state`]).
fn plan_reading(
    inputs: &[Arc<OpenedInput>],
    state: &State,
    todo: &[PlannedFile],
    chunk_rows: u64,
    writer: &mut DatasetWriter,
) -> (Vec<FileTask>, Vec<ReadPlan>) {
    inputs
        .iter()
        .map(|input| {
            let key = &input.file.key;
            let resuming = todo
                .iter()
                .any(|p| &p.file.key == key && p.plan == Plan::Resume);
            let previous = state.files.get(key);
            let resumed = previous.filter(|_| resuming);
            if let Some(r) = resumed {
                continue_numbering(writer, r);
            }
            let generation = match previous {
                Some(r) if resuming => r.generation,
                Some(r) => r.generation + 1,
                None => 1,
            };
            let partial = resumed.and_then(|r| r.partial.as_ref());
            let (start, chunk_rows) =
                partial.map_or((0, chunk_rows), |p| (p.rows_done, p.chunk_rows));
            let task = FileTask {
                key: key.clone(),
                generation,
                stem: part_stem(key, generation),
                identity: FileIdentity::of(&input.file, input.footer_fingerprint()),
                num_rows: input.num_rows,
                start,
                chunk_rows,
            };
            let plan = ReadPlan {
                input: input.clone(),
                start,
                chunk_rows,
            };
            (task, plan)
        })
        .unzip()
}

/// The augmenter (tokenizer loaded) and the worker pool.
fn start_workers(
    config: &crate::config::Config,
    stamp: RunStamp,
    threads: usize,
) -> Result<(Augmenter, rayon::ThreadPool), RunError> {
    let tokenizer = load_tokenizer(config)?;
    let augmenter = Augmenter::new(config.clone(), tokenizer, stamp)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("lakeaug-worker-{i}"))
        .build()
        .map_err(|e| RunError::Thread(format!("cannot start worker threads: {e}")))?;
    Ok((augmenter, pool))
}

/// What the reader sent, in its order: batches being augmented by the pool, and the file
/// and chunk events that follow them.
enum InFlight {
    Batch {
        file: usize,
        rows: u64,
        out: Receiver<Result<BatchOutput, AugmentError>>,
    },
    Event(FileEvent),
}

/// The main thread's part: hands batches to the pool and their outputs, in reading
/// order, to the writer, with the tally's commits between them.
struct Dispatch {
    tally: RunTally,
    /// The schemes' names, in the order of a batch's outputs.
    schemes: Vec<String>,
    /// Each input file's context, as the workers need it.
    contexts: Vec<Arc<FileContext>>,
    write_tx: SyncSender<WriteMsg>,
    bar: ProgressBar,
    on_bad_file: BadFilePolicy,
}

impl Dispatch {
    /// Batches are handed to the pool as they arrive, and their outputs taken in reading
    /// order, with up to `window` batches in flight: the workers never wait for each
    /// other at a batch boundary, and one batch's serial steps (tokenizing, lineage,
    /// assembling columns) overlap other batches' image work. Each batch's output is a
    /// function of that batch alone, so the values do not depend on the scheduling.
    fn drive(&mut self, started: &Started, window: usize) -> Result<(), RunError> {
        let augmenter = &started.augmenter;
        started.pool.in_place_scope(|scope| {
            let mut queue: VecDeque<InFlight> = VecDeque::new();
            for msg in started.read_rx.iter() {
                match msg {
                    ReadMsg::Batch {
                        file,
                        first_row,
                        batch,
                    } => {
                        // Cut into work items of bounded output, each in flight on its own.
                        for item in augmenter.work_items(batch.num_rows(), WORK_ITEM_BYTES) {
                            // A row counts once, with its first copies.
                            let rows = if item.copies.start == 0 {
                                item.rows.len() as u64
                            } else {
                                0
                            };
                            let (tx, out) = sync_channel(1);
                            let (context, batch) = (self.contexts[file].clone(), batch.clone());
                            scope.spawn(move |_| {
                                let out =
                                    augment_caught(augmenter, &batch, &context, first_row, &item);
                                // The receiver is gone only when the run already failed.
                                let _ = tx.send(out);
                            });
                            queue.push_back(InFlight::Batch { file, rows, out });
                            self.handle_ready(&mut queue, window)?;
                        }
                    }
                    ReadMsg::Event(event) => queue.push_back(InFlight::Event(event)),
                }
                self.handle_ready(&mut queue, window)?;
            }
            queue.into_iter().try_for_each(|item| self.handle(item))?;
            // The reader ends every file with an event; one missing means rows unaccounted.
            match self.tally.unfinished() {
                Some(task) => Err(RunError::Thread(format!(
                    "the reader stopped before the end of {}: rerun (files committed so far stay)",
                    task.identity.path
                ))),
                None => Ok(()),
            }
        })
    }

    /// Handle what is at the front of `queue` once `window` batches are in flight; events
    /// at the front (everything before them is handled) go at once.
    fn handle_ready(
        &mut self,
        queue: &mut VecDeque<InFlight>,
        window: usize,
    ) -> Result<(), RunError> {
        while let Some(front) = queue.front() {
            if matches!(front, InFlight::Batch { .. }) && batches_in(queue) < window {
                break;
            }
            if let Some(item) = queue.pop_front() {
                self.handle(item)?;
            }
        }
        Ok(())
    }

    fn handle(&mut self, item: InFlight) -> Result<(), RunError> {
        match item {
            InFlight::Batch { file, rows, out } => {
                let out = out
                    .recv()
                    .map_err(|_| RunError::Thread("a worker thread stopped".into()))??;
                self.batch_done(file, rows, out)
            }
            InFlight::Event(FileEvent::ChunkDone { file, rows_done }) => {
                let commit = self.tally.chunk_done(file, rows_done);
                self.send(WriteMsg::Commit(Box::new(commit)))
            }
            InFlight::Event(FileEvent::FileDone { file }) => match self.tally.file_done(file) {
                Ok(commit) => self.send(WriteMsg::Commit(Box::new(commit))),
                // Never commit a file with rows unaccounted for.
                Err(missing) => {
                    let reason = missing.to_string();
                    self.file_failed(file, reason, missing.into())
                }
            },
            InFlight::Event(FileEvent::FileFailed { file, error }) => {
                let reason = error.to_string();
                self.file_failed(file, reason, RunError::InputFailed(error))
            }
        }
    }

    fn batch_done(&mut self, file: usize, rows: u64, out: BatchOutput) -> Result<(), RunError> {
        let task = self.tally.file(file);
        let (file_id, source) = (
            task.stem.clone(),
            Arc::<str>::from(task.identity.path.as_str()),
        );
        let written = self
            .schemes
            .iter()
            .zip(&out.batches)
            .map(|(scheme, batch)| (scheme.as_str(), batch.num_rows() as u64));
        self.tally.batch_done(file, rows, written, out.rejects);
        for (scheme, batch) in self.schemes.iter().zip(out.batches) {
            self.send(WriteMsg::Batch {
                source: source.clone(),
                file_id: file_id.clone(),
                scheme: scheme.clone(),
                batch,
            })?;
        }
        self.bar.inc(rows);
        crate::crash::point("mid-file");
        Ok(())
    }

    /// `file` failed: the run fails with `error`, or under `--on-bad-file skip` the file
    /// is skipped for `reason` and what it staged since its last commit discarded.
    fn file_failed(
        &mut self,
        file: usize,
        reason: String,
        error: RunError,
    ) -> Result<(), RunError> {
        // A failed fetch of a remote input is no bad file: never skipped.
        let fetch = matches!(&error, RunError::InputFailed(e) if e.is_fetch());
        if self.on_bad_file == BadFilePolicy::Fail || fetch {
            return Err(error);
        }
        let task = self.tally.file(file);
        let (file_id, source) = (task.stem.clone(), task.identity.path.clone());
        self.send(WriteMsg::Discard { source, file_id })?;
        let unread = self.tally.file_failed(file, reason);
        self.bar.inc(unread);
        Ok(())
    }

    fn send(&self, msg: WriteMsg) -> Result<(), RunError> {
        self.write_tx
            .send(msg)
            .map_err(|_| RunError::Thread("the writer stopped".into()))
    }
}

/// Batches (not events) in `queue`.
fn batches_in(queue: &VecDeque<InFlight>) -> usize {
    queue
        .iter()
        .filter(|i| matches!(i, InFlight::Batch { .. }))
        .count()
}
