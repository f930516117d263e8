//! The plan node of a cluster job: one chunk task. On the executor it runs
//! [`run_chunk`] (read → augment → write → publish) on a blocking thread and returns one
//! small row: the chunk, the executor, and the [`ChunkReport`] as JSON.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use arrow::array::{RecordBatch, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    SendableRecordBatchStream,
};

use crate::pipeline::{run_chunk, AugmenterCache, ChunkError, ChunkReport, ChunkTask};

/// What an executor process lends its tasks: its name (reported with each result), its
/// working folder (`--work-dir`; tasks read remote inputs by byte ranges, so nothing is
/// copied there), and the augmenter of the run it works for.
pub struct ExecutorEnv {
    pub id: String,
    pub work_dir: PathBuf,
    pub augmenters: AugmenterCache,
}

static EXECUTOR: OnceLock<ExecutorEnv> = OnceLock::new();

/// Set this process's executor environment (once, by `lakeaug cluster executor`).
pub fn set_executor_env(env: ExecutorEnv) {
    // Set once at start; a second call (none is made) would keep the first.
    let _ = EXECUTOR.set(env);
}

fn executor_env() -> &'static ExecutorEnv {
    EXECUTOR.get_or_init(|| ExecutorEnv {
        id: format!("{}-{}", crate::state::lock::host_name(), std::process::id()),
        work_dir: std::env::temp_dir(),
        augmenters: AugmenterCache::default(),
    })
}

/// The row a task returns.
pub fn result_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("chunk", DataType::UInt64, false),
        Field::new("executor", DataType::Utf8, false),
        Field::new("report", DataType::Utf8, false),
    ]))
}

/// One chunk task as a leaf plan node with one partition.
#[derive(Debug)]
pub struct ChunkExec {
    pub task: ChunkTask,
    properties: Arc<PlanProperties>,
}

impl ChunkExec {
    pub fn new(task: ChunkTask) -> ChunkExec {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(result_schema()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        ChunkExec {
            task,
            properties: Arc::new(properties),
        }
    }
}

impl DisplayAs for ChunkExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "LakeaugChunkExec: {} rows {}..{}",
            self.task.file.display, self.task.first_row, self.task.end_row
        )
    }
}

/// A task's error as Ballista sees it: store errors are I/O errors, which it retries
/// (up to the scheduler's `task_max_failures`); the others fail the job at once.
fn to_datafusion(e: ChunkError) -> DataFusionError {
    if e.is_transient() {
        DataFusionError::IoError(std::io::Error::other(e.to_string()))
    } else {
        DataFusionError::Execution(e.to_string())
    }
}

/// Run the task here, as the executor's blocking work: its one result row.
fn run_here(task: &ChunkTask) -> Result<RecordBatch> {
    let env = executor_env();
    let (outcome, input_bytes_fetched) =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_chunk(task, &env.augmenters)
        }))
        .map_err(|_| {
            DataFusionError::Execution(format!(
                "the task for {} rows {}..{} panicked (a bug: please report it)",
                task.file.display, task.first_row, task.end_row
            ))
        })?
        .map_err(to_datafusion)?;
    let report = ChunkReport {
        outcome,
        executor: env.id.clone(),
        input_bytes_fetched,
    };
    let json = serde_json::to_string(&report)
        .map_err(|e| DataFusionError::Execution(format!("cannot encode a task's result: {e}")))?;
    let batch = RecordBatch::try_new(
        result_schema(),
        vec![
            Arc::new(UInt64Array::from(vec![task.chunk])),
            Arc::new(StringArray::from(vec![env.id.clone()])),
            Arc::new(StringArray::from(vec![json])),
        ],
    )?;
    Ok(batch)
}

impl ExecutionPlan for ChunkExec {
    fn name(&self) -> &'static str {
        "LakeaugChunkExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(DataFusionError::Internal(format!(
                "LakeaugChunkExec has one partition, asked for {partition}"
            )));
        }
        let task = self.task.clone();
        let work = async move {
            tokio::task::spawn_blocking(move || run_here(&task))
                .await
                .map_err(|e| DataFusionError::Execution(format!("a chunk task stopped: {e}")))?
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            result_schema(),
            futures::stream::once(work),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::{FetchError, InputError};

    fn fetch_failed(source: object_store::Error) -> ChunkError {
        ChunkError::Fetch(InputError::Fetch(FetchError {
            url: "s3://lake/in/a.parquet".into(),
            range: 100..200,
            source,
        }))
    }

    #[test]
    fn a_failed_fetch_is_retried_by_ballista_unless_the_object_is_gone_or_replaced() {
        let network = fetch_failed(object_store::Error::Generic {
            store: "S3",
            source: "connection reset".into(),
        });
        match to_datafusion(network) {
            DataFusionError::IoError(e) => {
                let m = e.to_string();
                assert!(
                    m.contains("s3://lake/in/a.parquet") && m.contains("bytes 100..200"),
                    "{m}"
                );
            }
            other => panic!("not retried: {other}"),
        }
        for source in [
            object_store::Error::NotFound {
                path: "in/a.parquet".into(),
                source: "gone".into(),
            },
            object_store::Error::Precondition {
                path: "in/a.parquet".into(),
                source: "etag".into(),
            },
        ] {
            assert!(matches!(
                to_datafusion(fetch_failed(source)),
                DataFusionError::Execution(_)
            ));
        }
    }
}
