//! Part files of the augmented dataset: one writer per (input file, scheme), rolled over by
//! size, staged, then published by rename.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use super::{parquet_error, WriteError};
use crate::store::io_error;

/// Sizes of row groups and files.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct WriterOptions {
    /// A row group holds at most this many encoded bytes (the Parquet writer splits
    /// batches to stay under it) ...
    pub row_group_bytes: usize,
    /// ... or this many rows.
    pub row_group_rows: usize,
    /// A part file is closed, and the next one started, past this many bytes.
    pub max_file_bytes: usize,
    pub zstd_level: i32,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            // Every scheme has its own writer holding its open row group in memory, so
            // this bounds memory (3 schemes: under 50 MB) and keeps row groups a
            // convenient unit for loaders (about a thousand 224x224 JPEGs).
            row_group_bytes: 16 << 20,
            row_group_rows: 100_000,
            max_file_bytes: 1 << 30,
            zstd_level: 3,
        }
    }
}

/// A finished part file in staging and where it goes when its input file is committed.
#[derive(Debug, Clone)]
pub struct StagedFile {
    pub staged: PathBuf,
    /// Path relative to the output root, e.g. `scheme=aligned/part-...-00000.parquet`.
    pub relative: String,
    pub rows: u64,
}

struct OpenPart {
    writer: ArrowWriter<File>,
    staged: PathBuf,
    relative: String,
    rows: u64,
}

/// Writes output batches of one run into a local staging folder, part by part; the
/// caller publishes each input file's parts when that file is complete.
pub struct DatasetWriter {
    staging: PathBuf,
    schema: SchemaRef,
    props: WriterProperties,
    options: WriterOptions,
    /// Open parts by (file id, scheme), and the next sequence number of each.
    open: BTreeMap<(String, String), OpenPart>,
    next_seq: BTreeMap<(String, String), u32>,
    /// How far a part's number is past the previous one of its file and scheme: 1, but for
    /// a cluster task's writer, where other chunks of the file take the numbers between
    /// (see [`DatasetWriter::number_parts`]).
    seq_stride: u32,
    /// Closed parts by file id, not yet handed out.
    closed: BTreeMap<String, Vec<StagedFile>>,
}

/// Writer properties: zstd everywhere except the encoded images (already compressed),
/// which also get no dictionary and no min/max statistics.
pub fn writer_properties(
    schema: &SchemaRef,
    image_column: &str,
    options: &WriterOptions,
) -> Result<WriterProperties, WriteError> {
    let level =
        ZstdLevel::try_new(options.zstd_level).map_err(parquet_error(Path::new("(zstd level)")))?;
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_max_row_group_row_count(Some(options.row_group_rows.max(1)))
        .set_max_row_group_bytes(Some(options.row_group_bytes.max(1)))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_created_by(format!("lakeaug version {}", crate::VERSION));
    // Schema metadata (e.g. Hugging Face's `huggingface` features) also goes into the
    // footer's key-value metadata, where pyarrow-based readers look first.
    if !schema.metadata().is_empty() {
        let kv = schema
            .metadata()
            .iter()
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
            .collect();
        b = b.set_key_value_metadata(Some(kv));
    }
    let field = schema.field_with_name(image_column)?;
    let path = match field.data_type() {
        DataType::Struct(_) => ColumnPath::new(vec![image_column.to_string(), "bytes".into()]),
        _ => ColumnPath::new(vec![image_column.to_string()]),
    };
    b = b
        .set_column_compression(path.clone(), Compression::UNCOMPRESSED)
        .set_column_dictionary_enabled(path.clone(), false)
        .set_column_statistics_enabled(path, EnabledStatistics::None);
    Ok(b.build())
}

impl DatasetWriter {
    /// A writer staging its parts below `staging` (created; on the output's file system
    /// for a local output, so that publishing is a rename).
    pub fn new(
        staging: &Path,
        schema: SchemaRef,
        image_column: &str,
        options: WriterOptions,
    ) -> Result<Self, WriteError> {
        std::fs::create_dir_all(staging).map_err(io_error("create staging folder", staging))?;
        let props = writer_properties(&schema, image_column, &options)?;
        Ok(DatasetWriter {
            staging: staging.to_path_buf(),
            schema,
            props,
            options,
            open: BTreeMap::new(),
            next_seq: BTreeMap::new(),
            seq_stride: 1,
            closed: BTreeMap::new(),
        })
    }

    /// Append a batch of `scheme` rows that came from the input file whose parts are named
    /// after `file_id` (its [`part_stem`]).
    pub fn write(
        &mut self,
        file_id: &str,
        scheme: &str,
        batch: &RecordBatch,
    ) -> Result<(), WriteError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        // The image column in the layout of `--hf-features`, when the schema asks for it.
        let batch = &crate::hf_features::conform(batch, &self.schema)?;
        let key = (file_id.to_string(), scheme.to_string());
        if !self.open.contains_key(&key) {
            let seq = self.next_seq.entry(key.clone()).or_insert(0);
            let relative = crate::layout::part_rel(scheme, file_id, *seq);
            *seq = seq.saturating_add(self.seq_stride);
            let staged = self.staging.join(&relative);
            let dir = staged.parent().unwrap_or(&self.staging);
            std::fs::create_dir_all(dir).map_err(io_error("create folder", dir))?;
            let file = File::create(&staged).map_err(io_error("create", &staged))?;
            let writer = ArrowWriter::try_new(file, self.schema.clone(), Some(self.props.clone()))
                .map_err(parquet_error(&staged))?;
            self.open.insert(
                key.clone(),
                OpenPart {
                    writer,
                    staged,
                    relative,
                    rows: 0,
                },
            );
        }
        // Present: inserted above when missing.
        let Some(part) = self.open.get_mut(&key) else {
            return Ok(());
        };
        let groups_before = part.writer.flushed_row_groups().len();
        part.writer
            .write(batch)
            .map_err(parquet_error(&part.staged))?;
        part.rows += batch.num_rows() as u64;
        if part.writer.flushed_row_groups().len() > groups_before {
            // A row group just went to the file: make it durable now, while the workers
            // compute, so that closing the part only waits for its last row group.
            part.writer
                .inner()
                .sync_data()
                .map_err(io_error("sync", &part.staged))?;
        }
        if part.writer.bytes_written() + part.writer.in_progress_size()
            >= self.options.max_file_bytes
        {
            if let Some(part) = self.open.remove(&key) {
                self.close(file_id, part)?;
            }
        }
        Ok(())
    }

    fn close(&mut self, file_id: &str, part: OpenPart) -> Result<(), WriteError> {
        let file = part
            .writer
            .into_inner()
            .map_err(parquet_error(&part.staged))?;
        file.sync_all().map_err(io_error("sync", &part.staged))?;
        self.closed
            .entry(file_id.to_string())
            .or_default()
            .push(StagedFile {
                staged: part.staged,
                relative: part.relative,
                rows: part.rows,
            });
        Ok(())
    }

    /// Close every open part of one input file and hand out all its parts (sorted by
    /// name), ready to publish.
    pub fn finish_file(&mut self, file_id: &str) -> Result<Vec<StagedFile>, WriteError> {
        let (parts, _) = self.finish_chunk(file_id)?;
        self.next_seq.retain(|(f, _), _| f != file_id);
        Ok(parts)
    }

    /// Close the open parts of one input file at a chunk boundary and hand them out; the
    /// file's next parts continue the numbering, returned per scheme.
    pub fn finish_chunk(
        &mut self,
        file_id: &str,
    ) -> Result<(Vec<StagedFile>, BTreeMap<String, u32>), WriteError> {
        let keys: Vec<_> = self
            .open
            .keys()
            .filter(|(f, _)| f == file_id)
            .cloned()
            .collect();
        for key in keys {
            if let Some(part) = self.open.remove(&key) {
                self.close(file_id, part)?;
            }
        }
        let mut parts = self.closed.remove(file_id).unwrap_or_default();
        parts.sort_by(|a, b| a.relative.cmp(&b.relative));
        let next = self
            .next_seq
            .iter()
            .filter(|((f, _), _)| f == file_id)
            .map(|((_, scheme), seq)| (scheme.clone(), *seq))
            .collect();
        Ok((parts, next))
    }

    /// Number a resumed file's next parts after those an earlier run committed.
    pub fn continue_parts(&mut self, file_id: &str, next_seq: &BTreeMap<String, u32>) {
        for (scheme, seq) in next_seq {
            self.next_seq
                .insert((file_id.to_string(), scheme.clone()), *seq);
        }
    }

    /// Number the parts of `file_id` from `first` (per scheme; 0 for others) on, each part
    /// of a scheme `stride` past its previous one: chunks of one file written by different
    /// cluster tasks interleave their numbers instead of colliding.
    pub fn number_parts(&mut self, file_id: &str, first: &BTreeMap<String, u32>, stride: u32) {
        self.continue_parts(file_id, first);
        self.seq_stride = stride.max(1);
    }

    /// Drop everything written for one input file (it turned out to be bad).
    pub fn discard_file(&mut self, file_id: &str) -> Result<(), WriteError> {
        for s in self.finish_file(file_id)? {
            std::fs::remove_file(&s.staged).ok();
        }
        Ok(())
    }

    /// Remove everything still staged.
    pub fn abort(self) {
        // Open writers are dropped with `self`; their files go with the folder.
        remove_staging(&self.staging);
    }

    /// Where staged files live (for tests and error messages).
    pub fn staging_dir(&self) -> &Path {
        &self.staging
    }
}

/// Remove a run's staging folder, and its parent (`_lakeaug/staging`) once empty.
pub fn remove_staging(staging: &Path) {
    std::fs::remove_dir_all(staging).ok();
    if let Some(parent) = staging.parent() {
        std::fs::remove_dir(parent).ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{AsArray, BinaryArray, Int64Array};
    use arrow::datatypes::{Field, Int64Type, Schema};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::sync::Arc;

    /// Row `i`'s image: 10 KiB of incompressible bytes, as encoded images are.
    fn image(i: i64) -> Vec<u8> {
        let mut state = i as u64 + 1;
        (0..10_240)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                (state >> 56) as u8
            })
            .collect()
    }

    fn batch(schema: &SchemaRef, first: i64, rows: i64) -> RecordBatch {
        let ids = Int64Array::from_iter_values(first..first + rows);
        let images = BinaryArray::from_iter_values((first..first + rows).map(image));
        RecordBatch::try_new(schema.clone(), vec![Arc::new(ids), Arc::new(images)]).unwrap()
    }

    #[test]
    fn row_groups_close_at_the_byte_limit_and_keep_every_row_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("image", DataType::Binary, false),
        ]));
        let options = WriterOptions {
            row_group_bytes: 100 << 10,
            ..WriterOptions::default()
        };
        let mut writer = DatasetWriter::new(dir.path(), schema.clone(), "image", options).unwrap();
        // Ten batches of 4 rows of 10 KiB. The writer splits batches to stay under the
        // limit: 9 rows per row group (10 would be 100 KiB of images alone, plus the ids).
        for b in 0..10 {
            writer
                .write("f", "aligned", &batch(&schema, b * 4, 4))
                .unwrap();
        }
        let parts = writer.finish_file("f").unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].rows, 40);
        assert_eq!(parts[0].relative, "scheme=aligned/part-f-00000.parquet");

        let file = File::open(&parts[0].staged).unwrap();
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        let groups: Vec<i64> = builder
            .metadata()
            .row_groups()
            .iter()
            .map(|rg| rg.num_rows())
            .collect();
        assert_eq!(groups, vec![9, 9, 9, 9, 4]);
        let mut expected = 0i64;
        for batch in builder.build().unwrap() {
            let batch = batch.unwrap();
            let ids = batch.column(0).as_primitive::<Int64Type>();
            let images = batch.column(1).as_binary::<i32>();
            for (id, bytes) in ids.values().iter().zip(images.iter()) {
                assert_eq!(*id, expected);
                assert_eq!(bytes, Some(image(expected).as_slice()));
                expected += 1;
            }
        }
        assert_eq!(expected, 40);
    }
}
