//! Part files of the augmented dataset: one writer per (input file, scheme), rolled over by
//! size, staged, then published by rename.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Context;
use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

/// Sizes of row groups and files.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// A row group is closed once its encoded size reaches this many bytes ...
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
            row_group_bytes: 128 << 20,
            row_group_rows: 100_000,
            max_file_bytes: 1 << 30,
            zstd_level: 3,
        }
    }
}

/// A staged file and where it goes when the run is published.
#[derive(Debug, Clone)]
pub struct StagedFile {
    pub staged: PathBuf,
    /// Path relative to the output folder, e.g. `scheme=aligned/part-...-00000.parquet`.
    pub relative: String,
    pub rows: u64,
}

struct OpenPart {
    writer: ArrowWriter<File>,
    staged: PathBuf,
    relative: String,
    rows: u64,
}

/// Writes output batches of one run into staging.
pub struct DatasetWriter {
    output: PathBuf,
    staging: PathBuf,
    schema: SchemaRef,
    props: WriterProperties,
    options: WriterOptions,
    /// Open parts by (file id, scheme), and the next sequence number of each.
    open: BTreeMap<(String, String), OpenPart>,
    next_seq: BTreeMap<(String, String), u32>,
    staged: Vec<StagedFile>,
}

/// Stable 16-hex id of an input file, from its key: part names are deterministic.
pub fn file_id(key: &str) -> String {
    blake3::hash(key.as_bytes()).to_hex()[..16].to_string()
}

/// Writer properties: zstd everywhere except the encoded images (already compressed),
/// which also get no dictionary and no min/max statistics.
pub fn writer_properties(
    schema: &SchemaRef,
    image_column: &str,
    options: &WriterOptions,
) -> anyhow::Result<WriterProperties> {
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(options.zstd_level)?))
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
    pub fn new(
        output: &Path,
        run_id: &str,
        schema: SchemaRef,
        image_column: &str,
        options: WriterOptions,
    ) -> anyhow::Result<Self> {
        let staging = output.join("_lakeaug").join("staging").join(run_id);
        std::fs::create_dir_all(&staging)
            .with_context(|| format!("cannot create staging folder {}", staging.display()))?;
        let props = writer_properties(&schema, image_column, &options)?;
        Ok(DatasetWriter {
            output: output.to_path_buf(),
            staging,
            schema,
            props,
            options,
            open: BTreeMap::new(),
            next_seq: BTreeMap::new(),
            staged: Vec::new(),
        })
    }

    /// Append a batch of `scheme` rows that came from the input file with id `file_id`.
    pub fn write(
        &mut self,
        file_id: &str,
        scheme: &str,
        batch: &RecordBatch,
    ) -> anyhow::Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let key = (file_id.to_string(), scheme.to_string());
        if !self.open.contains_key(&key) {
            let seq = self.next_seq.entry(key.clone()).or_insert(0);
            let relative = format!("scheme={scheme}/part-{file_id}-{seq:05}.parquet");
            *seq += 1;
            let staged = self.staging.join(&relative);
            std::fs::create_dir_all(staged.parent().expect("has parent"))?;
            let file = File::create(&staged)
                .with_context(|| format!("cannot create {}", staged.display()))?;
            let writer = ArrowWriter::try_new(file, self.schema.clone(), Some(self.props.clone()))?;
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
        let part = self.open.get_mut(&key).expect("just inserted");
        part.writer.write(batch)?;
        part.rows += batch.num_rows() as u64;
        if part.writer.bytes_written() + part.writer.in_progress_size()
            >= self.options.max_file_bytes
        {
            let part = self.open.remove(&key).expect("present");
            self.close(part)?;
        }
        Ok(())
    }

    fn close(&mut self, part: OpenPart) -> anyhow::Result<()> {
        let file = part.writer.into_inner()?;
        file.sync_all()?;
        self.staged.push(StagedFile {
            staged: part.staged,
            relative: part.relative,
            rows: part.rows,
        });
        Ok(())
    }

    /// Close every open part of one input file.
    pub fn finish_file(&mut self, file_id: &str) -> anyhow::Result<()> {
        let keys: Vec<_> = self
            .open
            .keys()
            .filter(|(f, _)| f == file_id)
            .cloned()
            .collect();
        for key in keys {
            let part = self.open.remove(&key).expect("present");
            self.close(part)?;
        }
        Ok(())
    }

    /// Drop everything written for one input file (it turned out to be bad).
    pub fn discard_file(&mut self, file_id: &str) -> anyhow::Result<()> {
        self.finish_file(file_id)?;
        let prefix = format!("part-{file_id}-");
        let (gone, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.staged)
            .into_iter()
            .partition(|s| s.relative.contains(&prefix));
        for s in gone {
            std::fs::remove_file(&s.staged).ok();
        }
        self.staged = keep;
        Ok(())
    }

    /// Close all parts and move them into place. Returns the published relative paths.
    pub fn publish(mut self) -> anyhow::Result<Vec<StagedFile>> {
        let keys: Vec<_> = self.open.keys().cloned().collect();
        for key in keys {
            let part = self.open.remove(&key).expect("present");
            self.close(part)?;
        }
        for s in &self.staged {
            let target = self.output.join(&s.relative);
            std::fs::create_dir_all(target.parent().expect("has parent"))?;
            std::fs::rename(&s.staged, &target).with_context(|| {
                format!(
                    "cannot publish {} to {}",
                    s.staged.display(),
                    target.display()
                )
            })?;
        }
        self.remove_staging();
        let mut staged = std::mem::take(&mut self.staged);
        staged.sort_by(|a, b| a.relative.cmp(&b.relative));
        Ok(staged)
    }

    /// Remove everything this run staged; nothing is published.
    pub fn abort(self) {
        // Open writers are dropped with `self`; their files go with the folder.
        self.remove_staging();
    }

    /// Remove this run's staging folder, and `_lakeaug/staging` itself once empty.
    fn remove_staging(&self) {
        std::fs::remove_dir_all(&self.staging).ok();
        if let Some(parent) = self.staging.parent() {
            std::fs::remove_dir(parent).ok();
        }
    }

    /// Where staged files live (for tests and error messages).
    pub fn staging_dir(&self) -> &Path {
        &self.staging
    }
}
