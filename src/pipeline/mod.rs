//! The `lakeaug run` job: read → augment → write, with reading, computing and writing
//! overlapped on separate threads, and the result published atomically at the end.
//!
//! ```text
//! reader thread ──batches──▶ main thread (rayon pool: decode, augment, encode, tokenize)
//!                                  └──output batches──▶ writer thread (Parquet, staging)
//! ```
//! Both channels are bounded, so memory stays at a few batches whatever the input size.

mod augment;
mod summary;

pub use augment::{output_schema, token_fields, Augmenter, BatchOutput, Reject, Stage};
pub use summary::RunSummary;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::config::Config;
use crate::kernels::tokens::TextTokenizer;
use crate::lineage::RunStamp;
use crate::read::{discover_inputs, InputError, OpenedInput};
use crate::write::dataset::file_id;
use crate::write::manifest::{rfc3339_micros, ManifestInput, SchemeCounts, SkippedFile};
use crate::write::{rejects::write_rejects, DatasetWriter, Manifest, WriterOptions};

/// What to do with an input file that cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BadFilePolicy {
    /// Stop the run; nothing is published.
    #[default]
    Fail,
    /// Record the file in the manifest and go on without it.
    Skip,
}

/// Everything `lakeaug run` needs besides the config.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub inputs: Vec<String>,
    pub output: PathBuf,
    pub config: Config,
    /// Worker threads (`None`: one per core).
    pub threads: Option<usize>,
    /// Rows per batch read from Parquet.
    pub batch_size: usize,
    pub on_bad_file: BadFilePolicy,
    pub writer: WriterOptions,
    /// Draw a progress bar (only shown when stderr is a terminal).
    pub progress: bool,
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
        }
    }
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

enum ReadMsg {
    Batch {
        file: usize,
        first_row: u64,
        batch: RecordBatch,
    },
    FileDone {
        file: usize,
    },
    FileFailed {
        file: usize,
        error: InputError,
    },
}

enum WriteMsg {
    Batch {
        file_id: String,
        scheme: String,
        batch: RecordBatch,
    },
    FileDone {
        file_id: String,
    },
    Discard {
        file_id: String,
    },
}

fn reader_thread(
    inputs: Vec<std::sync::Arc<OpenedInput>>,
    batch_size: usize,
    tx: SyncSender<ReadMsg>,
) {
    for (file, handle) in inputs.into_iter().enumerate() {
        let batches = match handle.batches(batch_size) {
            Ok(b) => b,
            Err(error) => {
                if tx.send(ReadMsg::FileFailed { file, error }).is_err() {
                    return;
                }
                continue;
            }
        };
        let mut failed = false;
        for item in batches {
            let msg = match item {
                Ok((first_row, batch)) => ReadMsg::Batch {
                    file,
                    first_row,
                    batch,
                },
                Err(error) => {
                    failed = true;
                    ReadMsg::FileFailed { file, error }
                }
            };
            if tx.send(msg).is_err() {
                return;
            }
            if failed {
                break;
            }
        }
        if !failed && tx.send(ReadMsg::FileDone { file }).is_err() {
            return;
        }
    }
}

fn writer_thread(
    mut writer: DatasetWriter,
    rx: Receiver<WriteMsg>,
) -> anyhow::Result<DatasetWriter> {
    for msg in rx {
        let result = match msg {
            WriteMsg::Batch {
                file_id,
                scheme,
                batch,
            } => writer.write(&file_id, &scheme, &batch),
            WriteMsg::FileDone { file_id } => writer.finish_file(&file_id),
            WriteMsg::Discard { file_id } => writer.discard_file(&file_id),
        };
        if let Err(e) = result {
            writer.abort();
            return Err(e);
        }
    }
    Ok(writer)
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

/// Run the job. On error nothing is published; staged files are removed.
pub fn run(opts: &RunOptions) -> anyhow::Result<RunSummary> {
    let started = Instant::now();
    let started_us = now_micros();
    let config = &opts.config;
    config
        .validate()
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    let run_id = new_run_id(started_us);

    // Plan: list files and check every footer before reading any data.
    let files = discover_inputs(&opts.inputs)?;
    let mut inputs = Vec::new();
    let mut skipped = Vec::new();
    for f in &files {
        match OpenedInput::open(f, &config.columns) {
            Ok(o) => inputs.push(std::sync::Arc::new(o)),
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

    let tokenizer = load_tokenizer(config)?;
    let stamp = RunStamp {
        run_id: run_id.clone(),
        created_at_us: started_us,
    };
    let augmenter = Augmenter::new(config.clone(), tokenizer, stamp)?;
    let threads = opts.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("lakeaug-worker-{i}"))
        .build()
        .context("cannot start worker threads")?;

    std::fs::create_dir_all(&opts.output)
        .with_context(|| format!("cannot create output folder {}", opts.output.display()))?;
    let writer = DatasetWriter::new(
        &opts.output,
        &run_id,
        schema.clone(),
        &config.columns.image,
        opts.writer.clone(),
    )?;

    let total_rows: u64 = inputs.iter().map(|i| i.num_rows).sum();
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

    let (read_tx, read_rx) = sync_channel::<ReadMsg>(2);
    let (write_tx, write_rx) = sync_channel::<WriteMsg>(2 * augmenter.schemes.len().max(1));
    let handles = inputs.clone();
    let batch_size = opts.batch_size.max(1);
    let reader = std::thread::Builder::new()
        .name("lakeaug-reader".into())
        .spawn(move || reader_thread(handles, batch_size, read_tx))?;
    let writer = std::thread::Builder::new()
        .name("lakeaug-writer".into())
        .spawn(move || writer_thread(writer, write_rx))?;

    // Counts are kept per file and merged when the file completes, so a file that fails
    // half-way under `--on-bad-file skip` leaves no trace in the totals.
    let mut per_file_rows = vec![0u64; inputs.len()];
    let mut per_file_counts: Vec<BTreeMap<String, SchemeCounts>> =
        vec![BTreeMap::new(); inputs.len()];
    let mut per_file_rejects: Vec<Vec<Reject>> = vec![Vec::new(); inputs.len()];
    let mut totals: BTreeMap<String, SchemeCounts> = augmenter
        .schemes
        .iter()
        .map(|s| (s.name.clone(), SchemeCounts::default()))
        .collect();
    let mut rejects: Vec<Reject> = Vec::new();
    let mut rows_read = 0u64;
    let mut manifest_inputs = Vec::new();

    let result: anyhow::Result<()> = (|| {
        for msg in read_rx.iter() {
            match msg {
                ReadMsg::Batch {
                    file,
                    first_row,
                    batch,
                } => {
                    let input = &inputs[file];
                    let out = pool
                        .install(|| augmenter.augment_batch(input, &schema, first_row, &batch))?;
                    per_file_rows[file] += batch.num_rows() as u64;
                    let id = file_id(&input.file.key);
                    for (scheme, out_batch) in augmenter.schemes.iter().zip(out.batches) {
                        per_file_counts[file]
                            .entry(scheme.name.clone())
                            .or_default()
                            .written += out_batch.num_rows() as u64;
                        write_tx
                            .send(WriteMsg::Batch {
                                file_id: id.clone(),
                                scheme: scheme.name.clone(),
                                batch: out_batch,
                            })
                            .map_err(|_| anyhow::anyhow!("the writer stopped"))?;
                    }
                    for r in &out.rejects {
                        per_file_counts[file]
                            .entry(r.scheme.clone())
                            .or_default()
                            .rejected += 1;
                    }
                    per_file_rejects[file].extend(out.rejects);
                    bar.inc(batch.num_rows() as u64);
                }
                ReadMsg::FileDone { file } => {
                    let input = &inputs[file];
                    write_tx
                        .send(WriteMsg::FileDone {
                            file_id: file_id(&input.file.key),
                        })
                        .map_err(|_| anyhow::anyhow!("the writer stopped"))?;
                    rows_read += per_file_rows[file];
                    for (scheme, c) in std::mem::take(&mut per_file_counts[file]) {
                        let t = totals.entry(scheme).or_default();
                        t.written += c.written;
                        t.rejected += c.rejected;
                    }
                    rejects.append(&mut per_file_rejects[file]);
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
                ReadMsg::FileFailed { file, error } => {
                    if opts.on_bad_file == BadFilePolicy::Fail {
                        return Err(anyhow::Error::new(error).context("input file could not be read (use --on-bad-file skip to go on without it)"));
                    }
                    let input = &inputs[file];
                    write_tx
                        .send(WriteMsg::Discard {
                            file_id: file_id(&input.file.key),
                        })
                        .map_err(|_| anyhow::anyhow!("the writer stopped"))?;
                    bar.inc(input.num_rows.saturating_sub(per_file_rows[file]));
                    per_file_counts[file].clear();
                    per_file_rejects[file].clear();
                    skipped.push(SkippedFile {
                        path: input.file.display.clone(),
                        reason: error.to_string(),
                    });
                }
            }
        }
        Ok(())
    })();
    drop(read_rx);
    drop(write_tx);
    let _ = reader.join();
    let writer = writer
        .join()
        .map_err(|_| anyhow::anyhow!("the writer thread panicked"))?;
    bar.finish_and_clear();
    let writer = match (result, writer) {
        (Ok(()), Ok(w)) => w,
        (Err(e), Ok(w)) => {
            w.abort();
            return Err(e);
        }
        (Err(e), Err(_)) | (Ok(()), Err(e)) => return Err(e),
    };

    let rows_written: u64 = totals.values().map(|c| c.written).sum();
    let rows_rejected: u64 = totals.values().map(|c| c.rejected).sum();
    let expected = rows_read * augmenter.schemes.len() as u64 * u64::from(config.copies);
    if rows_written + rows_rejected != expected {
        writer.abort();
        bail!("internal error: {rows_read} rows x {} schemes x {} copies = {expected}, but {rows_written} written + {rows_rejected} rejected", augmenter.schemes.len(), config.copies);
    }

    let published = writer.publish()?;
    let rejects_rel = format!("_rejects/run-{run_id}.parquet");
    write_rejects(&opts.output.join(&rejects_rel), &rejects, &run_id)?;

    let duration = started.elapsed().as_secs_f64();
    let manifest = Manifest {
        run_id: run_id.clone(),
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
            rows_read as f64 / duration
        } else {
            0.0
        },
        threads,
        per_scheme: totals,
        output_files: published.iter().map(|s| s.relative.clone()).collect(),
        rejects_file: rejects_rel,
    };
    manifest.write(&opts.output)?;
    Ok(RunSummary { manifest, rejects })
}
