//! Opening one input file: schema checks from the footer, then streaming batches.

use std::fs::File;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
};

use super::columns::{CaptionColumn, ImageLayout};
use super::discover::InputFile;
use super::mapped::{MappedFile, DEFAULT_MAP_MIN_BYTES};
use super::remote::{fetch_error_of, BytesFetched, FetchError, RemoteObject, RemoteReader};
use crate::config::Columns;

/// Column names lakeaug writes itself; an input column with one of these names would be
/// ambiguous in the output.
pub const RESERVED_COLUMNS: &[&str] = &[
    "scheme",
    "input_ids",
    "input_ids_truncated",
    "mlm_input_ids",
    "mlm_labels",
    "run_id",
    "lakeaug_version",
    "created_at",
];

fn is_reserved(name: &str) -> bool {
    RESERVED_COLUMNS.contains(&name) || name.starts_with("source_") || name.starts_with("aug_")
}

/// A problem with a whole input file. Stops the run unless `--on-bad-file skip`.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{file}: cannot open: {reason}")]
    Open { file: String, reason: String },
    #[error("{file}: not a readable Parquet file ({reason}); is it truncated or another format?")]
    NotParquet { file: String, reason: String },
    #[error("{file}: has no column `{column}` (it has: {available}); pass {flag} NAME to use another column")]
    MissingColumn {
        file: String,
        column: String,
        available: String,
        flag: &'static str,
    },
    #[error("{file}: column `{column}` {reason}")]
    BadColumnType {
        file: String,
        column: String,
        reason: String,
    },
    #[error("{file}: column `{column}` is a name lakeaug writes itself; rename it in the input")]
    ReservedColumn { file: String, column: String },
    #[error("{file}: reading rows {first_row}.. failed: {reason}")]
    Read {
        file: String,
        first_row: u64,
        reason: String,
    },
    /// The Parquet decoder panicked on this file's data (a corrupt page the codec crates do
    /// not validate): the file is treated as unreadable instead of ending the run.
    #[error("{file}: corrupt data in rows {first_row}.. (the Parquet decoder failed: {reason}); rewrite or remove the file, or use --on-bad-file skip")]
    Corrupt {
        file: String,
        first_row: u64,
        reason: String,
    },
    /// A ranged GET of a remote input failed (after the store's retries): not a damaged
    /// file, so `--on-bad-file skip` does not skip it; the run (or cluster task) fails and
    /// a rerun goes on.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The pages hold another number of rows than the footer says.
    #[error("{file}: the footer says the file ends at row {expected}, its pages end at row {found}; the file is damaged (rewrite it)")]
    RowCountMismatch {
        file: String,
        expected: u64,
        found: u64,
    },
}

impl InputError {
    /// A failed fetch of a remote input's bytes, not a problem of the file.
    pub fn is_fetch(&self) -> bool {
        matches!(self, InputError::Fetch(_))
    }

    /// A failed fetch that may succeed when tried again (see [`FetchError::is_transient`]).
    pub fn is_transient(&self) -> bool {
        matches!(self, InputError::Fetch(e) if e.is_transient())
    }
}

/// The text of a caught panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

/// An input file whose footer has been read and whose columns have been checked.
pub struct OpenedInput {
    pub file: InputFile,
    /// The file's Arrow schema plus hive partition columns (utf8), as batches have it.
    pub schema: SchemaRef,
    pub num_rows: u64,
    pub image_index: usize,
    pub caption_index: usize,
    pub id_index: Option<usize>,
    pub image_layout: ImageLayout,
    metadata: ArrowReaderMetadata,
    /// Where a remote input's bytes come from (`None` for a local file).
    remote: Option<Arc<RemoteObject>>,
    /// Bytes fetched from remote inputs, counted for the run or task that opened this.
    fetched: BytesFetched,
}

impl OpenedInput {
    /// Read the footer and check the image, caption and id columns. No row data is read.
    pub fn open(file: &InputFile, columns: &Columns) -> Result<OpenedInput, InputError> {
        OpenedInput::open_counting(file, columns, &BytesFetched::default())
    }

    /// [`OpenedInput::open`] counting the bytes fetched from a remote input, now and when
    /// its batches are read, in `fetched`. A remote input's footer is read by ranged GETs
    /// (see [`super::remote`]); nothing is downloaded whole.
    pub fn open_counting(
        file: &InputFile,
        columns: &Columns,
        fetched: &BytesFetched,
    ) -> Result<OpenedInput, InputError> {
        let name = || file.display.clone();
        let remote = match RemoteObject::of(file, fetched) {
            Some(Ok(object)) => Some(Arc::new(object)),
            Some(Err(e)) => {
                return Err(InputError::Open {
                    file: name(),
                    reason: e.to_string(),
                })
            }
            None => None,
        };
        // A hostile footer must not take the run down: a panic in the thrift decoder is a
        // file that is not readable Parquet.
        // (Unwind safety: a panic only leaves the footer unread; nothing is reused.)
        let guarded = |load: &dyn Fn() -> parquet::errors::Result<ArrowReaderMetadata>| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(load)).unwrap_or_else(|payload| {
                Err(parquet::errors::ParquetError::General(format!(
                    "the footer decoder failed: {}",
                    panic_message(payload.as_ref())
                )))
            })
        };
        let loaded = match &remote {
            Some(object) => guarded(&|| object.load_metadata(ArrowReaderOptions::new())),
            None => {
                let handle = File::open(&file.path).map_err(|e| InputError::Open {
                    file: name(),
                    reason: e.to_string(),
                })?;
                guarded(&|| ArrowReaderMetadata::load(&handle, ArrowReaderOptions::new()))
            }
        };
        let metadata = loaded.map_err(fetch_error_of).map_err(|e| match e {
            Ok(fetch) => InputError::Fetch(fetch),
            Err(e) => InputError::NotParquet {
                file: name(),
                reason: e.to_string(),
            },
        })?;
        let file_schema = metadata.schema().clone();

        let mut fields: Vec<Arc<Field>> = file_schema.fields().iter().cloned().collect();
        for (key, _) in &file.partition_values {
            if file_schema.field_with_name(key).is_err() {
                fields.push(Arc::new(Field::new(key, DataType::Utf8, false)));
            }
        }
        let schema = Arc::new(Schema::new_with_metadata(
            fields,
            file_schema.metadata().clone(),
        ));

        for f in schema.fields() {
            if is_reserved(f.name()) {
                return Err(InputError::ReservedColumn {
                    file: name(),
                    column: f.name().clone(),
                });
            }
        }
        let find = |column: &str, flag: &'static str| {
            schema
                .index_of(column)
                .map_err(|_| InputError::MissingColumn {
                    file: name(),
                    column: column.to_string(),
                    available: schema
                        .fields()
                        .iter()
                        .map(|f| f.name().as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    flag,
                })
        };
        let image_index = find(&columns.image, "--image-col")?;
        let caption_index = find(&columns.caption, "--caption-col")?;
        let id_index = columns
            .id
            .as_deref()
            .map(|c| find(c, "--id-col"))
            .transpose()?;
        let image_layout =
            ImageLayout::of(schema.field(image_index).data_type()).map_err(|reason| {
                InputError::BadColumnType {
                    file: name(),
                    column: columns.image.clone(),
                    reason,
                }
            })?;
        CaptionColumn::check(schema.field(caption_index).data_type()).map_err(|reason| {
            InputError::BadColumnType {
                file: name(),
                column: columns.caption.clone(),
                reason,
            }
        })?;
        let num_rows = metadata.metadata().file_metadata().num_rows().max(0) as u64;
        Ok(OpenedInput {
            file: file.clone(),
            schema,
            num_rows,
            image_index,
            caption_index,
            id_index,
            image_layout,
            metadata,
            remote,
            fetched: fetched.clone(),
        })
    }

    /// Bytes fetched from remote inputs so far by everything counting with this input
    /// (see [`OpenedInput::open_counting`]); 0 for local files.
    pub fn bytes_fetched(&self) -> u64 {
        self.fetched.get()
    }

    /// A fingerprint of the footer (schema, row groups, sizes), to notice changed files.
    pub fn footer_fingerprint(&self) -> String {
        let md = self.metadata.metadata();
        let mut h = blake3::Hasher::new();
        h.update(format!("{:?}", self.schema).as_bytes());
        for rg in md.row_groups() {
            h.update(&rg.num_rows().to_le_bytes());
            h.update(&rg.total_byte_size().to_le_bytes());
            h.update(&rg.compressed_size().to_le_bytes());
        }
        h.finalize().to_hex()[..16].to_string()
    }

    /// How [`OpenedInput::batches_from`] reads: the footer to read with, and the schema of
    /// the batches. A flat binary image column is read as `BinaryView`, so each image stays
    /// in the page read from the file instead of being copied into a fresh buffer for every
    /// batch (about 8 MB per batch of 128 COCO-sized JPEGs, page-faulted in each time).
    /// The output keeps the input's type: `build_image_column` builds it from the layout.
    fn read_plan(&self) -> (ArrowReaderMetadata, SchemaRef) {
        let unchanged = (self.metadata.clone(), self.schema.clone());
        if !matches!(
            self.image_layout,
            ImageLayout::Binary | ImageLayout::LargeBinary
        ) {
            return unchanged;
        }
        let as_view = |schema: &Schema| {
            let mut fields: Vec<Arc<Field>> = schema.fields().iter().cloned().collect();
            let image = &fields[self.image_index];
            fields[self.image_index] =
                Arc::new(image.as_ref().clone().with_data_type(DataType::BinaryView));
            Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
        };
        let options = ArrowReaderOptions::new().with_schema(as_view(self.metadata.schema()));
        match ArrowReaderMetadata::try_new(self.metadata.metadata().clone(), options) {
            Ok(metadata) => (metadata, as_view(&self.schema)),
            // A file the parquet reader will not convert is read as it is, with copies.
            Err(_) => unchanged,
        }
    }

    /// Stream the file's rows in batches of at most `batch_size` rounded up to an even
    /// number, each tagged with the 0-based index of its first row in the file.
    ///
    /// Every batch starts at an even row offset within the file (the reader fills batches
    /// across row groups), so schemes that pair rows (2k, 2k+1) always find both in one
    /// batch. This is the one place the rounding happens.
    pub fn batches(
        &self,
        batch_size: usize,
    ) -> Result<impl Iterator<Item = Result<(u64, RecordBatch), InputError>> + use<>, InputError>
    {
        self.batches_from(batch_size, 0)
    }

    /// [`OpenedInput::batches`] from row `start` (even) on: row groups wholly before it are
    /// not read at all, and the rows before it in its row group are skipped.
    pub fn batches_from(
        &self,
        batch_size: usize,
        start: u64,
    ) -> Result<impl Iterator<Item = Result<(u64, RecordBatch), InputError>> + use<>, InputError>
    {
        debug_assert!(start.is_multiple_of(2), "batches start at even rows");
        let display = self.file.display.clone();
        let (metadata, schema) = self.read_plan();
        let footer = self.metadata.metadata();
        let footer_rows: u64 = footer
            .row_groups()
            .iter()
            .map(|rg| rg.num_rows().max(0) as u64)
            .sum();
        // From `start` on: the row groups that hold rows from it, and the rows of the first
        // of them to skip.
        let mut groups = Vec::new();
        let mut first_row_of_kept = None;
        let mut row = 0u64;
        for (i, rg) in footer.row_groups().iter().enumerate() {
            let n = rg.num_rows().max(0) as u64;
            if row + n > start {
                groups.push(i);
                first_row_of_kept.get_or_insert(row);
            }
            row += n;
        }
        let kept_from = first_row_of_kept.unwrap_or(row);
        let kept_rows = row.saturating_sub(kept_from);
        let skip = (start.min(row) - kept_from) as usize;
        let from_start = (start > 0).then(|| {
            (
                groups.clone(),
                RowSelection::from(vec![
                    RowSelector::skip(skip),
                    RowSelector::select(kept_rows as usize - skip),
                ]),
            )
        });
        let batch_size = even_batch_size(batch_size);
        let not_parquet = |e: parquet::errors::ParquetError| InputError::NotParquet {
            file: display.clone(),
            reason: e.to_string(),
        };
        let (reader, remote) = match &self.remote {
            Some(object) => {
                let chunks = RemoteReader::new(object.clone(), footer, groups);
                let reader = build_reader(chunks.clone(), metadata, batch_size, from_start)
                    .map_err(not_parquet)?;
                (reader, Some(chunks))
            }
            None => {
                let handle = File::open(&self.file.path).map_err(|e| InputError::Open {
                    file: display.clone(),
                    reason: e.to_string(),
                })?;
                let handle = MappedFile::new(handle, &display, footer, DEFAULT_MAP_MIN_BYTES);
                let reader =
                    build_reader(handle, metadata, batch_size, from_start).map_err(not_parquet)?;
                (reader, None)
            }
        };
        let partitions = self.file.partition_values.clone();
        let checked = CheckedBatches {
            reader: Some(reader),
            remote,
            file: display.clone(),
            next_row: start,
            end_row: footer_rows.max(start),
        };
        Ok(checked.map(move |batch| {
            let (first_row, batch) = batch?;
            let batch = with_partition_columns(batch, &schema, &partitions).map_err(|e| {
                InputError::Read {
                    file: display.clone(),
                    first_row,
                    reason: e.to_string(),
                }
            })?;
            Ok((first_row, batch))
        }))
    }
}

/// Parquet's reader over `handle` with the footer `metadata`, in batches of `batch_size`,
/// from the row groups and selection of `from_start` when given (else the whole file).
fn build_reader<T: parquet::file::reader::ChunkReader + 'static>(
    handle: T,
    metadata: ArrowReaderMetadata,
    batch_size: usize,
    from_start: Option<(Vec<usize>, RowSelection)>,
) -> Result<ParquetRecordBatchReader, parquet::errors::ParquetError> {
    let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(handle, metadata)
        .with_batch_size(batch_size);
    if let Some((groups, selection)) = from_start {
        builder = builder
            .with_row_groups(groups)
            .with_row_selection(selection);
    }
    builder.build()
}

/// The batches of a file's reader, each with its first row, checked against the footer:
/// a panic inside the decoder (arrow/parquet on a corrupt page) becomes
/// [`InputError::Corrupt`], and more or fewer rows than the footer's row counts become
/// [`InputError::RowCountMismatch`]. Ends after the first error.
struct CheckedBatches {
    /// `None` once ended.
    reader: Option<ParquetRecordBatchReader>,
    /// A remote input's byte ranges: a read error caused by a failed GET is
    /// [`InputError::Fetch`], not a damaged file.
    remote: Option<RemoteReader>,
    file: String,
    /// The file row of the next batch's first row.
    next_row: u64,
    /// The row the footer says the file ends at.
    end_row: u64,
}

impl CheckedBatches {
    fn mismatch(&self, found: u64) -> InputError {
        InputError::RowCountMismatch {
            file: self.file.clone(),
            expected: self.end_row,
            found,
        }
    }
}

impl Iterator for CheckedBatches {
    type Item = Result<(u64, RecordBatch), InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        let reader = self.reader.as_mut()?;
        let first_row = self.next_row;
        // The reader is dropped after a panic, never used again in whatever state it
        // was left.
        let next = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reader.next()));
        let item = match next {
            Err(payload) => Some(Err(InputError::Corrupt {
                file: self.file.clone(),
                first_row,
                reason: panic_message(payload.as_ref()),
            })),
            Ok(None) if first_row != self.end_row => Some(Err(self.mismatch(first_row))),
            Ok(None) => None,
            Ok(Some(Err(e))) => Some(Err(
                match self.remote.as_ref().and_then(|r| r.take_fetch_error()) {
                    Some(fetch) => InputError::Fetch(fetch),
                    None => InputError::Read {
                        file: self.file.clone(),
                        first_row,
                        reason: e.to_string(),
                    },
                },
            )),
            Ok(Some(Ok(batch))) => {
                self.next_row += batch.num_rows() as u64;
                if self.next_row > self.end_row {
                    // More rows than the footer announces: refused before any is used.
                    let mut found = self.next_row;
                    while let Ok(Some(Ok(b))) =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reader.next()))
                    {
                        found += b.num_rows() as u64;
                    }
                    Some(Err(self.mismatch(found)))
                } else {
                    return Some(Ok((first_row, batch)));
                }
            }
        };
        self.reader = None;
        item
    }
}

/// `n` rounded up to an even number, at least 2 (at most `usize::MAX - 1`: never wraps).
pub fn even_batch_size(n: usize) -> usize {
    n.clamp(2, usize::MAX - 1).div_ceil(2) * 2
}

fn with_partition_columns(
    batch: RecordBatch,
    schema: &SchemaRef,
    partitions: &[(String, String)],
) -> Result<RecordBatch, arrow::error::ArrowError> {
    if schema.fields().len() == batch.num_columns() {
        return RecordBatch::try_new(schema.clone(), batch.columns().to_vec());
    }
    let mut columns = batch.columns().to_vec();
    for field in schema.fields().iter().skip(batch.num_columns()) {
        let value = partitions
            .iter()
            .find(|(k, _)| k == field.name())
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        let column: ArrayRef = Arc::new(StringArray::from(vec![value; batch.num_rows()]));
        columns.push(column);
    }
    RecordBatch::try_new(schema.clone(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray, BinaryArray, LargeBinaryArray};
    use parquet::arrow::ArrowWriter;

    /// Writes a 5-row file (row 3's image null) with the image column as `images` and
    /// opens it: the batches carry the image bytes as `BinaryView`, unchanged.
    fn read_back(images: ArrayRef) -> Vec<Option<Vec<u8>>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let schema = Arc::new(Schema::new(vec![
            Field::new("image", images.data_type().clone(), true),
            Field::new("caption", DataType::Utf8, true),
        ]));
        let captions: ArrayRef = Arc::new(StringArray::from(vec!["a", "b", "c", "d", "e"]));
        let batch = RecordBatch::try_new(schema.clone(), vec![images, captions]).unwrap();
        let mut w = ArrowWriter::try_new(File::create(&path).unwrap(), schema, None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let file = crate::read::discover::discover_inputs(&[path.display().to_string()])
            .unwrap()
            .remove(0);
        let input = OpenedInput::open(&file, &Columns::default()).unwrap();
        assert_eq!(
            input.schema.field(0).data_type(),
            batch.schema().field(0).data_type()
        );
        let mut out = Vec::new();
        for b in input.batches(2).unwrap() {
            let (_, b) = b.unwrap();
            assert_eq!(b.schema().field(0).data_type(), &DataType::BinaryView);
            let col = b.column(0).as_binary_view();
            out.extend((0..col.len()).map(|i| col.is_valid(i).then(|| col.value(i).to_vec())));
        }
        out
    }

    fn rows() -> Vec<Option<Vec<u8>>> {
        // Short values are inlined in the view, longer ones point into the page.
        vec![
            Some(b"\xff\xd8short".to_vec()),
            Some(vec![7u8; 5000]),
            Some(Vec::new()),
            None,
            Some((0..=255u8).cycle().take(70_000).collect()),
        ]
    }

    #[test]
    fn binary_and_large_binary_images_are_read_as_views_with_the_same_bytes() {
        let binary = BinaryArray::from_iter(rows());
        assert_eq!(read_back(Arc::new(binary)), rows());
        let large = LargeBinaryArray::from_iter(rows());
        assert_eq!(read_back(Arc::new(large)), rows());
    }
}
