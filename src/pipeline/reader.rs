//! The reader thread: streams the input files' rows in batches, cut at chunk boundaries,
//! followed by events that say where each file stands (a chunk done, the file done, the
//! file failed). Everything goes through one bounded channel in reading order, so an
//! event is handled after every batch sent before it.

use std::sync::mpsc::SyncSender;
use std::sync::Arc;

use arrow::array::RecordBatch;

use crate::read::{InputError, OpenedInput};

/// What the reader thread sends, in reading order.
pub(super) enum ReadMsg {
    Batch {
        file: usize,
        first_row: u64,
        batch: RecordBatch,
    },
    Event(FileEvent),
}

/// A point in an input file's progress, handled after every batch sent before it.
pub(super) enum FileEvent {
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
pub(super) struct ReadPlan {
    pub input: Arc<OpenedInput>,
    pub start: u64,
    pub chunk_rows: u64,
}

/// One piece of a batch: `len` rows from batch row `offset`, and, if the piece ends a
/// chunk (before the file's end), the rows of the file done with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Piece {
    pub offset: usize,
    pub len: usize,
    pub chunk_done: Option<u64>,
}

/// How a batch of `rows` rows starting at file row `first_row` is cut at the chunk
/// boundaries of a file of `file_rows` rows: at every multiple of `chunk_rows` (even, so
/// every piece still starts at an even row). A `chunk_rows` of 0 is taken as 1.
pub(super) fn cut_at_chunks(
    first_row: u64,
    rows: usize,
    chunk_rows: u64,
    file_rows: u64,
) -> Vec<Piece> {
    let chunk_rows = chunk_rows.max(1);
    let mut pieces = Vec::new();
    let mut offset = 0;
    while offset < rows {
        let row = first_row + offset as u64;
        let to_boundary = chunk_rows - row % chunk_rows;
        let len = usize::try_from(to_boundary).map_or(rows - offset, |b| b.min(rows - offset));
        offset += len;
        let end = row + len as u64;
        let chunk_done = (end.is_multiple_of(chunk_rows) && end < file_rows).then_some(end);
        pieces.push(Piece {
            offset: offset - len,
            len,
            chunk_done,
        });
    }
    pieces
}

/// The receiver is gone: the run stopped, the reader stops too.
struct Disconnected;

/// Start the reader thread over `plans` (one per file, in order).
pub(super) fn spawn_reader(
    plans: Vec<ReadPlan>,
    batch_size: usize,
    tx: SyncSender<ReadMsg>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("lakeaug-reader".into())
        .spawn(move || {
            for (file, plan) in plans.into_iter().enumerate() {
                // The row the reader is at, for a panic's message.
                let at_row = std::cell::Cell::new(plan.start);
                let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    read_file(file, &plan, batch_size, &tx, &at_row)
                }));
                let sent = match read {
                    Ok(sent) => sent,
                    // A panic while reading (a bug in a decoder on a damaged file) fails
                    // this file like a read error; the other files are still read.
                    Err(payload) => tx
                        .send(ReadMsg::Event(FileEvent::FileFailed {
                            file,
                            error: InputError::Read {
                                file: plan.input.file.display.clone(),
                                first_row: at_row.get(),
                                reason: format!(
                                    "the Parquet reader failed (internal panic caught: {})",
                                    super::error::panic_message(payload.as_ref())
                                ),
                            },
                        }))
                        .map_err(|_| Disconnected),
                };
                if sent.is_err() {
                    return;
                }
            }
        })
}

/// Send one file's batches, cut at its chunk boundaries, then whether it was read whole.
fn read_file(
    file: usize,
    plan: &ReadPlan,
    batch_size: usize,
    tx: &SyncSender<ReadMsg>,
    at_row: &std::cell::Cell<u64>,
) -> Result<(), Disconnected> {
    let send = |msg: ReadMsg| tx.send(msg).map_err(|_| Disconnected);
    let failed = |error: InputError| ReadMsg::Event(FileEvent::FileFailed { file, error });
    let batches = match plan.input.batches_from(batch_size, plan.start) {
        Ok(b) => b,
        Err(error) => return send(failed(error)),
    };
    for item in batches {
        crate::crash::panic_point("read-batch");
        let (first_row, batch) = match item {
            Ok(b) => b,
            Err(error) => return send(failed(error)),
        };
        at_row.set(first_row + batch.num_rows() as u64);
        let n = batch.num_rows();
        for piece in cut_at_chunks(first_row, n, plan.chunk_rows, plan.input.num_rows) {
            let part = if piece.len == n {
                batch.clone()
            } else {
                batch.slice(piece.offset, piece.len)
            };
            send(ReadMsg::Batch {
                file,
                first_row: first_row + piece.offset as u64,
                batch: part,
            })?;
            if let Some(rows_done) = piece.chunk_done {
                send(ReadMsg::Event(FileEvent::ChunkDone { file, rows_done }))?;
            }
        }
    }
    send(ReadMsg::Event(FileEvent::FileDone { file }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(offset: usize, len: usize, chunk_done: Option<u64>) -> Piece {
        Piece {
            offset,
            len,
            chunk_done,
        }
    }

    #[test]
    fn a_batch_inside_one_chunk_stays_whole() {
        assert_eq!(cut_at_chunks(0, 4, 10, 100), vec![piece(0, 4, None)]);
        assert_eq!(cut_at_chunks(12, 6, 10, 100), vec![piece(0, 6, None)]);
    }

    #[test]
    fn a_batch_is_cut_at_each_chunk_boundary_it_crosses() {
        // Rows 8..30 with chunks of 10: 8..10 | 10..20 | 20..30, the last ending a chunk.
        assert_eq!(
            cut_at_chunks(8, 22, 10, 100),
            vec![
                piece(0, 2, Some(10)),
                piece(2, 10, Some(20)),
                piece(12, 10, Some(30))
            ]
        );
    }

    #[test]
    fn the_end_of_the_file_is_no_chunk_boundary() {
        // The file's last rows end a chunk exactly: the file's end says so, not a chunk.
        assert_eq!(cut_at_chunks(16, 4, 10, 20), vec![piece(0, 4, None)]);
        assert_eq!(
            cut_at_chunks(6, 14, 10, 20),
            vec![piece(0, 4, Some(10)), piece(4, 10, None)]
        );
    }

    #[test]
    fn every_piece_starts_at_an_even_row_with_even_chunks() {
        for first in (0..40).step_by(2) {
            for rows in 1..30 {
                let pieces = cut_at_chunks(first, rows, 6, 1000);
                assert_eq!(pieces.iter().map(|p| p.len).sum::<usize>(), rows);
                let mut next = 0;
                for p in &pieces {
                    assert_eq!(p.offset, next);
                    assert!((first + p.offset as u64).is_multiple_of(2));
                    next += p.len;
                }
            }
        }
    }

    #[test]
    fn a_zero_chunk_size_does_not_divide_by_zero() {
        assert_eq!(
            cut_at_chunks(0, 2, 0, 10),
            vec![piece(0, 1, Some(1)), piece(1, 1, Some(2))]
        );
    }
}
