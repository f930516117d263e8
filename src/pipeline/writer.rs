//! The writer thread: writes output batches into staged part files and, at each chunk or
//! file end, publishes and commits them (see [`super::commit`]).

use std::sync::mpsc::Receiver;
use std::sync::Arc;

use arrow::array::RecordBatch;

use super::commit::{commit_chunk, ChunkCommit};
use super::RunError;
use crate::state::State;
use crate::store::Store;
use crate::write::DatasetWriter;

/// What the main thread sends the writer, in order.
pub(super) enum WriteMsg {
    /// Output rows of one scheme, of the input `source` whose parts are named `file_id`.
    Batch {
        source: Arc<str>,
        file_id: String,
        scheme: String,
        batch: RecordBatch,
    },
    /// Publish and commit a chunk (or the rest) of a file.
    Commit(Box<ChunkCommit>),
    /// Drop what is staged of the input `source` that failed.
    Discard { source: String, file_id: String },
}

/// What the writer thread hands back: the state with this run's commits, and what it
/// published.
pub(super) struct Written {
    pub writer: DatasetWriter,
    pub state: State,
    pub published: Vec<String>,
    pub rejects_files: Vec<String>,
}

/// Start the writer thread. On an error it removes what it staged and returns the error.
pub(super) fn spawn_writer(
    writer: DatasetWriter,
    store: Arc<dyn Store>,
    state: State,
    run_id: String,
    rx: Receiver<WriteMsg>,
) -> std::io::Result<std::thread::JoinHandle<Result<Written, RunError>>> {
    std::thread::Builder::new()
        .name("lakeaug-writer".into())
        .spawn(move || {
            let mut written = Written {
                writer,
                state,
                published: Vec::new(),
                rejects_files: Vec::new(),
            };
            for msg in rx {
                let what = msg.describe();
                let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    written.apply(msg, store.as_ref(), &run_id)
                }))
                .unwrap_or_else(|payload| {
                    Err(RunError::Thread(format!(
                        "the writer failed on {what} (internal panic caught: {})",
                        super::error::panic_message(payload.as_ref())
                    )))
                });
                if let Err(e) = applied {
                    written.writer.abort();
                    return Err(e);
                }
            }
            Ok(written)
        })
}

impl WriteMsg {
    /// What the message is about, for an error message.
    fn describe(&self) -> String {
        match self {
            WriteMsg::Batch { source, scheme, .. } => {
                format!("the output of {source}, scheme {scheme}")
            }
            WriteMsg::Commit(c) => format!("the commit of {}", c.identity.path),
            WriteMsg::Discard { source, .. } => format!("discarding the output of {source}"),
        }
    }
}

impl Written {
    fn apply(&mut self, msg: WriteMsg, store: &dyn Store, run_id: &str) -> Result<(), RunError> {
        match msg {
            WriteMsg::Batch {
                file_id,
                scheme,
                batch,
                ..
            } => {
                crate::crash::panic_point("write-batch");
                Ok(self.writer.write(&file_id, &scheme, &batch)?)
            }
            WriteMsg::Commit(c) => {
                let (parts, rejects) =
                    commit_chunk(&mut self.writer, store, &mut self.state, run_id, *c)?;
                self.published.extend(parts);
                self.rejects_files.extend(rejects);
                Ok(())
            }
            WriteMsg::Discard { file_id, .. } => Ok(self.writer.discard_file(&file_id)?),
        }
    }
}
