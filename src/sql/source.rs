//! The `source` table: the input tables of a run, with the lineage key
//! (`source_file`, `source_row`) that `augmented` rows carry.
//!
//! A DataFusion listing table exposes neither the file path nor the physical row
//! index (file scans are split into byte ranges and read in parallel), so this is a
//! small [`TableProvider`] of its own: one partition per input file, read front to
//! back with the parquet crate so `source_row` is the 0-based physical row. Only the
//! projected columns are decoded, so a caption join never reads image bytes.
//!
//! The scan is [`SourceScanExec`], made of a serializable [`SourceScanSpec`] and a work
//! list, so that `lakeaug query --cluster` can send it to executors (which open the files
//! by path) and each task reads only its own files.

use std::fmt;
use std::fs::File;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use arrow::array::{new_null_array, ArrayRef, Int64Array, RecordBatch, StringArray, UInt32Array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result as DfResult};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::{
    RecordBatchReceiverStreamBuilder, RecordBatchStreamAdapter,
};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    SendableRecordBatchStream,
};
use futures::{StreamExt, TryStreamExt};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use serde::{Deserialize, Serialize};

use super::error::SqlError;

/// Column holding the input file path exactly as `lakeaug run` records it.
pub const SOURCE_FILE: &str = "source_file";
/// Column holding the 0-based physical row index within the input file.
pub const SOURCE_ROW: &str = "source_row";

/// One input Parquet file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceFile {
    /// Where to open the file.
    pub path: PathBuf,
    /// The `source_file` value: the path as `lakeaug run` records it.
    pub display: String,
    /// Hive partition values (`key=value` folders below the input folder), in order.
    pub partition_values: Vec<(String, String)>,
}

fn opening(path: &Path, e: std::io::Error) -> SqlError {
    SqlError::io(format!("opening source {}", path.display()), e)
}

/// Finds the Parquet files behind `--source` arguments with the same discovery as
/// `lakeaug run --input` ([`crate::read::discover_inputs`]: a file, a folder searched
/// recursively with hive `key=value` folders, or a glob), so `display` is exactly the
/// `source_file` value the run recorded.
pub fn discover_sources(args: &[String]) -> Result<Vec<SourceFile>, SqlError> {
    let files = crate::read::discover_inputs(args)?;
    if files.is_empty() {
        return Err(SqlError::NoSources(args.join(" ")));
    }
    Ok(files
        .into_iter()
        .map(|f| SourceFile {
            // Absolute: a cluster's executors open it from another working folder.
            path: std::path::absolute(&f.path).unwrap_or(f.path),
            display: f.display,
            partition_values: f.partition_values,
        })
        .collect())
}

/// A [`TableProvider`] over input files with `source_file` and `source_row` columns.
///
/// Schema: the file columns (the first file's order, plus columns only later files
/// have), then hive partition columns (utf8), then `source_file` (utf8) and
/// `source_row` (int64). A column missing from a file reads as null; the same column
/// with different types in two files is an error.
#[derive(Debug)]
pub struct SourceTable {
    files: Vec<SourceFile>,
    schema: SchemaRef,
    /// Number of leading schema fields that come from the files themselves.
    n_file_fields: usize,
    /// Names of the partition columns (after the file fields).
    partition_cols: Vec<String>,
}

impl SourceTable {
    /// Opens the footers of `files` and builds the table schema.
    pub fn try_new(files: Vec<SourceFile>) -> Result<Self, SqlError> {
        if files.is_empty() {
            return Err(SqlError::NoSourceFiles);
        }
        let mut fields: Vec<Field> = Vec::new();
        let mut partition_cols: Vec<String> = Vec::new();
        for f in &files {
            let file = File::open(&f.path).map_err(|e| opening(&f.path, e))?;
            let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|source| {
                SqlError::SourceFooter {
                    path: f.path.clone(),
                    source,
                }
            })?;
            for field in builder.schema().fields() {
                match fields.iter().find(|x| x.name() == field.name()) {
                    Some(existing) if existing.data_type() != field.data_type() => {
                        return Err(SqlError::SourceTypes {
                            column: field.name().clone(),
                            first: existing.data_type().clone(),
                            other: field.data_type().clone(),
                            path: f.path.clone(),
                        })
                    }
                    Some(_) => {}
                    None => fields.push(field.as_ref().clone().with_nullable(true)),
                }
            }
            for (k, _) in &f.partition_values {
                if !partition_cols.contains(k) {
                    partition_cols.push(k.clone());
                }
            }
        }
        // A partition key that is also a stored column stays the stored column.
        partition_cols.retain(|k| !fields.iter().any(|f| f.name() == k));
        for reserved in [SOURCE_FILE, SOURCE_ROW] {
            if fields.iter().any(|f| f.name() == reserved)
                || partition_cols.iter().any(|k| k == reserved)
            {
                return Err(SqlError::SourceReserved(reserved));
            }
        }
        let n_file_fields = fields.len();
        for k in &partition_cols {
            fields.push(Field::new(k, DataType::Utf8, true));
        }
        fields.push(Field::new(SOURCE_FILE, DataType::Utf8, false));
        fields.push(Field::new(SOURCE_ROW, DataType::Int64, false));
        Ok(Self {
            files,
            schema: Arc::new(Schema::new(fields)),
            n_file_fields,
            partition_cols,
        })
    }

    /// The files this table reads, in `source` order.
    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    fn plan(&self, projection: Option<&Vec<usize>>) -> DfResult<Arc<dyn ExecutionPlan>> {
        let indices: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        Ok(Arc::new(SourceScanExec::try_new(SourceScanSpec {
            files: self.files.clone(),
            table_schema: Arc::clone(&self.schema),
            n_file_fields: self.n_file_fields,
            partition_cols: self.partition_cols.clone(),
            indices,
        })?))
    }
}

impl TableProvider for SourceTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    // `TableProvider` is an `async_trait`; this is its expansion written out, so the
    // crate needs no `async-trait` dependency. Planning is synchronous anyway.
    fn scan<'life0, 'life1, 'life2, 'life3, 'async_trait>(
        &'life0 self,
        _state: &'life1 dyn Session,
        projection: Option<&'life2 Vec<usize>>,
        _filters: &'life3 [Expr],
        _limit: Option<usize>,
    ) -> Pin<Box<dyn Future<Output = DfResult<Arc<dyn ExecutionPlan>>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        'life3: 'async_trait,
        Self: 'async_trait,
    {
        let plan = self.plan(projection);
        Box::pin(std::future::ready(plan))
    }
}

/// Everything a [`SourceScanExec`] needs, and all it is made of: serializable, so the
/// cluster codec can carry the scan to executors (which open the files by path).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceScanSpec {
    /// The input files, one partition each, in `source` order.
    pub files: Vec<SourceFile>,
    /// The whole table's schema (see [`SourceTable`]).
    #[serde(with = "ipc_schema")]
    pub table_schema: SchemaRef,
    /// Number of leading `table_schema` fields that come from the files themselves.
    pub n_file_fields: usize,
    /// Names of the partition columns (after the file fields).
    pub partition_cols: Vec<String>,
    /// Projected table column indices, in output order.
    pub indices: Vec<usize>,
}

/// A schema as the bytes of an empty Arrow IPC stream (Arrow's own schema encoding).
mod ipc_schema {
    use std::sync::Arc;

    use arrow::datatypes::SchemaRef;
    use arrow::ipc::reader::StreamReader;
    use arrow::ipc::writer::StreamWriter;
    use serde::{de::Error as _, ser::Error as _, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(schema: &SchemaRef, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = Vec::new();
        StreamWriter::try_new(&mut buf, schema)
            .and_then(|mut w| w.finish())
            .map_err(S::Error::custom)?;
        s.serialize_bytes(&buf)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SchemaRef, D::Error> {
        let buf = Vec::<u8>::deserialize(d)?;
        let reader =
            StreamReader::try_new(std::io::Cursor::new(buf), None).map_err(D::Error::custom)?;
        Ok(Arc::clone(&reader.schema()))
    }
}

/// The `source` table's scan: one partition per input file, each file read front to back
/// on a blocking thread (see [`FilePartition::read`]).
///
/// Which files a partition reads comes from its one child, a work list: an in-memory
/// table (`DataSourceExec` over `MemorySourceConfig`) with one row per file (its index in
/// [`SourceScanSpec::files`]), one partition per file. A leaf Ballista does not know
/// would be read whole by every task of a stage (its scheduler narrows only the leaves it
/// knows, such as in-memory tables, to a task's partitions); as an interior node over a
/// work list, each task reads just the files of its partitions.
#[derive(Debug)]
pub struct SourceScanExec {
    spec: Arc<SourceScanSpec>,
    /// The work list: file indices (u32), as many partitions as this node has.
    input: Arc<dyn ExecutionPlan>,
    /// The projected output schema.
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

/// The work list's one column.
const FILE_INDEX: &str = "file_index";

fn work_list_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(
        FILE_INDEX,
        DataType::UInt32,
        false,
    )]))
}

impl SourceScanExec {
    /// A scan of `spec`'s files, one partition each.
    pub fn try_new(spec: SourceScanSpec) -> DfResult<Self> {
        let partitions = (0..spec.files.len())
            .map(|i| {
                let index = UInt32Array::from(vec![i as u32]);
                RecordBatch::try_new(work_list_schema(), vec![Arc::new(index)])
                    .map(|batch| vec![batch])
            })
            .collect::<Result<Vec<_>, _>>()?;
        let input = MemorySourceConfig::try_new_exec(&partitions, work_list_schema(), None)?;
        Self::with_input(spec, input)
    }

    /// A scan of `spec`'s files whose partitions read the files listed by `input`'s
    /// (checks that `spec` is consistent: it may come from another process).
    pub fn with_input(spec: SourceScanSpec, input: Arc<dyn ExecutionPlan>) -> DfResult<Self> {
        let width = spec.table_schema.fields().len();
        if spec.n_file_fields + spec.partition_cols.len() + 2 != width
            || spec.indices.iter().any(|&i| i >= width)
            || input.schema().fields() != work_list_schema().fields()
        {
            return Err(DataFusionError::Internal(format!(
                "inconsistent source scan: {width} table columns, {} file columns, {} partition columns, projection {:?}, work list {}",
                spec.n_file_fields,
                spec.partition_cols.len(),
                spec.indices,
                input.schema()
            )));
        }
        let schema = Arc::new(spec.table_schema.project(&spec.indices)?);
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(
                input.properties().output_partitioning().partition_count(),
            ),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(Self {
            spec: Arc::new(spec),
            input,
            schema,
            properties: Arc::new(properties),
        })
    }

    /// What the scan is made of (all but the work list, its child).
    pub fn spec(&self) -> &SourceScanSpec {
        &self.spec
    }

    /// The reader of file `index`.
    fn file(&self, index: usize) -> DfResult<FilePartition> {
        let spec = &self.spec;
        let file = spec.files.get(index).ok_or_else(|| {
            DataFusionError::Internal(format!(
                "source scan: file {index} of {} asked for",
                spec.files.len()
            ))
        })?;
        Ok(FilePartition {
            file: file.clone(),
            table_schema: Arc::clone(&spec.table_schema),
            n_file_fields: spec.n_file_fields,
            partition_cols: spec.partition_cols.clone(),
            indices: spec.indices.clone(),
            schema: Arc::clone(&self.schema),
        })
    }
}

impl DisplayAs for SourceScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let names: Vec<&str> = self
            .schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        write!(
            f,
            "LakeaugSourceScanExec: {} files, projection=[{}]",
            self.spec.files.len(),
            names.join(", ")
        )
    }
}

impl ExecutionPlan for SourceScanExec {
    fn name(&self) -> &'static str {
        "LakeaugSourceScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    /// Each partition is one file's rows in file order: the work list is never to be
    /// repartitioned for parallelism (that would only move whole files around).
    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let [input] = <[_; 1]>::try_from(children).map_err(|c| {
            DataFusionError::Internal(format!(
                "LakeaugSourceScanExec has one child, given {}",
                c.len()
            ))
        })?;
        Ok(Arc::new(Self::with_input(
            self.spec.as_ref().clone(),
            input,
        )?))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let work = self.input.execute(partition, context)?;
        let files: Vec<FilePartition> = (0..self.spec.files.len())
            .map(|i| self.file(i))
            .collect::<DfResult<_>>()?;
        // The file indices this partition lists, in order, then each file's batches.
        let indices = work
            .map(|batch| {
                let batch = batch?;
                let column = batch
                    .column(0)
                    .as_any()
                    .downcast_ref::<UInt32Array>()
                    .ok_or_else(|| {
                        DataFusionError::Internal("source scan: work list is not u32".into())
                    })?;
                Ok::<_, DataFusionError>(futures::stream::iter(
                    column
                        .values()
                        .to_vec()
                        .into_iter()
                        .map(Ok::<u32, DataFusionError>),
                ))
            })
            .try_flatten();
        let batches = indices
            .and_then(move |i| {
                let file = files
                    .get(i as usize)
                    .cloned()
                    .ok_or_else(|| DataFusionError::Internal(format!("source scan: no file {i}")));
                futures::future::ready(file.map(FilePartition::stream))
            })
            .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            batches,
        )))
    }
}

/// One input file as a stream of projected batches.
#[derive(Debug, Clone)]
struct FilePartition {
    file: SourceFile,
    table_schema: SchemaRef,
    n_file_fields: usize,
    partition_cols: Vec<String>,
    /// Projected table column indices, in output order.
    indices: Vec<usize>,
    /// Projected output schema.
    schema: SchemaRef,
}

impl FilePartition {
    fn stream(self) -> SendableRecordBatchStream {
        let mut builder = RecordBatchReceiverStreamBuilder::new(Arc::clone(&self.schema), 2);
        let tx = builder.tx();
        // Parquet decoding is blocking work: keep it off the async worker threads.
        builder.spawn_blocking(move || {
            let mut emit = |batch: DfResult<RecordBatch>| tx.blocking_send(batch).is_ok();
            if let Err(e) = self.read(&mut emit) {
                // The receiver may be gone (query cancelled); nothing left to do then.
                let _ = emit(Err(e));
            }
            Ok(())
        });
        builder.build()
    }
}

impl FilePartition {
    /// Reads the file front to back, calling `emit` per batch until it returns false.
    fn read(&self, emit: &mut dyn FnMut(DfResult<RecordBatch>) -> bool) -> DfResult<()> {
        let file = File::open(&self.file.path)
            .map_err(|e| DataFusionError::External(opening(&self.file.path, e).into()))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
        let file_schema = Arc::clone(builder.schema());
        // Table file-column index -> position in this file's arrow schema (None: missing).
        let wanted_file_cols: Vec<usize> = self
            .indices
            .iter()
            .copied()
            .filter(|&i| i < self.n_file_fields)
            .collect();
        let mut roots: Vec<usize> = wanted_file_cols
            .iter()
            .filter_map(|&i| file_schema.index_of(self.table_schema.field(i).name()).ok())
            .collect();
        roots.sort_unstable();
        roots.dedup();
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        let reader = builder
            .with_projection(mask)
            .with_batch_size(4096)
            .build()?;

        let mut next_row: i64 = 0;
        for batch in reader {
            let batch = batch?;
            let n = batch.num_rows();
            let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.indices.len());
            for &i in &self.indices {
                let field = self.table_schema.field(i);
                let col: ArrayRef = if i < self.n_file_fields {
                    match batch.column_by_name(field.name()) {
                        Some(c) if c.data_type() == field.data_type() => Arc::clone(c),
                        Some(c) => cast(c, field.data_type())?,
                        None => new_null_array(field.data_type(), n),
                    }
                } else if i < self.n_file_fields + self.partition_cols.len() {
                    let key = &self.partition_cols[i - self.n_file_fields];
                    let value = self
                        .file
                        .partition_values
                        .iter()
                        .find(|(k, _)| k == key)
                        .map(|(_, v)| v.as_str());
                    Arc::new(StringArray::from(vec![value; n]))
                } else if field.name() == SOURCE_FILE {
                    Arc::new(StringArray::from(vec![self.file.display.as_str(); n]))
                } else {
                    let end = next_row + n as i64;
                    Arc::new(Int64Array::from_iter_values(next_row..end))
                };
                columns.push(col);
            }
            next_row += n as i64;
            let out = RecordBatch::try_new_with_options(
                Arc::clone(&self.schema),
                columns,
                &arrow::array::RecordBatchOptions::new().with_row_count(Some(n)),
            )?;
            if !emit(Ok(out)) {
                break;
            }
        }
        Ok(())
    }
}
