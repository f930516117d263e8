//! `lakeaug query --cluster`: SQL over an output folder, run on a Ballista cluster.
//!
//! The client builds the same session as a local query, with Ballista's settings
//! ([`SessionConfigExt::new_with_ballista`]: no round-robin repartitions, no dynamic
//! filters, which cannot cross stages) and `--cluster-partitions` partitions. It plans
//! each query physically here, so the committed-snapshot listing happens here and the
//! plan carries explicit file lists; the plan goes to the scheduler
//! ([`execute_physical_plan`]), which splits it into stages at its repartitions and runs
//! them on the executors. lakeaug's own parts of a plan (the `source` scan, the UDFs)
//! travel through [`LakeaugCodec`]. A plan that cannot be sent is an error, never run
//! here instead.

use std::sync::Arc;

use arrow::array::RecordBatch;
use ballista_core::execution_plans::execute_physical_plan;
use ballista_core::extension::SessionConfigExt;
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::DataFusionError;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::placeholder_row::PlaceholderRowExec;
use datafusion::physical_plan::streaming::StreamingTableExec;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::physical_plan::AsExecutionPlan;
use datafusion_proto::protobuf::PhysicalPlanNode;
use futures::future::BoxFuture;
use futures::TryStreamExt;

use super::codec::LakeaugCodec;
use super::{scheduler_url, ClusterError};
use crate::sql::PlanRunner;

/// Runs query plans on the Ballista cluster at a scheduler.
#[derive(Debug)]
pub struct ClusterQuery {
    /// The scheduler's gRPC URL (`http://HOST:PORT`).
    url: String,
    /// Target partitions of the plans.
    partitions: usize,
    codec: Arc<LakeaugCodec>,
    /// Ballista session of this process's queries.
    session_id: String,
}

impl ClusterQuery {
    /// Queries for the scheduler at `url` (`HOST:PORT`, `df://HOST:PORT`), planned with
    /// `partitions` target partitions.
    pub fn new(url: &str, partitions: usize) -> Result<ClusterQuery, ClusterError> {
        let (url, _, _) = scheduler_url(url)?;
        Ok(ClusterQuery {
            url,
            partitions: partitions.max(1),
            codec: LakeaugCodec::shared(),
            session_id: format!(
                "lakeaug-query-{}-{}",
                crate::state::lock::host_name(),
                std::process::id()
            ),
        })
    }

    /// Fails, before anything is submitted, when `plan` cannot be sent to the cluster or
    /// would not run there as it runs here.
    fn check_sendable(&self, plan: &Arc<dyn ExecutionPlan>) -> Result<(), DataFusionError> {
        if let Some(leaf) = unsplittable_leaf(plan) {
            return Err(DataFusionError::Plan(format!(
                "this query cannot run on the cluster: its plan reads {leaf}, a source of several partitions that Ballista cannot hand out one partition per task (every task would read all of it); run it without --cluster"
            )));
        }
        let Err(e) =
            PhysicalPlanNode::try_from_physical_plan(Arc::clone(plan), self.codec.as_ref())
        else {
            return Ok(());
        };
        let hint = if has_node::<StreamingTableExec>(plan) {
            " information_schema tables (SHOW TABLES, SHOW COLUMNS, information_schema.*) live in this process only: query them without --cluster."
        } else {
            ""
        };
        Err(DataFusionError::Plan(format!(
            "this query cannot run on the cluster: a part of its plan cannot be sent to the executors ({e}).{hint}"
        )))
    }
}

/// A leaf of several partitions other than those Ballista's scheduler narrows to a task's
/// partitions (file and in-memory scans, empty and one-row leaves): each task would read
/// it whole, multiplying its rows. (lakeaug's `source` scan is not a leaf: it reads what
/// an in-memory work list below it names.)
fn unsplittable_leaf(plan: &Arc<dyn ExecutionPlan>) -> Option<String> {
    let children = plan.children();
    if children.is_empty() {
        let splittable = plan.downcast_ref::<DataSourceExec>().is_some()
            || plan.downcast_ref::<EmptyExec>().is_some()
            || plan.downcast_ref::<PlaceholderRowExec>().is_some();
        let partitions = plan.properties().output_partitioning().partition_count();
        return (!splittable && partitions > 1).then(|| plan.name().to_string());
    }
    children.into_iter().find_map(unsplittable_leaf)
}

/// Whether `plan` has a node of type `T`.
fn has_node<T: ExecutionPlan>(plan: &Arc<dyn ExecutionPlan>) -> bool {
    plan.downcast_ref::<T>().is_some() || plan.children().into_iter().any(has_node::<T>)
}

/// The cluster's error, with what to check when an executor could not open a file.
fn on_cluster(url: &str, e: DataFusionError) -> DataFusionError {
    let message = e.to_string();
    let hint = if ["No such file", "not found", "NotFound"]
        .iter()
        .any(|m| message.contains(m))
    {
        " (executors open the output's files by the path this process sees: the output folder, and --source, must be on a file system every executor mounts at the same path)"
    } else {
        ""
    };
    DataFusionError::Execution(format!(
        "the cluster at {url} could not run the query: {message}{hint}"
    ))
}

impl PlanRunner for ClusterQuery {
    fn session_config(&self) -> SessionConfig {
        SessionConfig::new_with_ballista()
            .with_target_partitions(self.partitions)
            .with_ballista_physical_extension_codec(self.codec.clone())
    }

    fn collect<'a>(
        &'a self,
        ctx: &'a SessionContext,
        plan: Arc<dyn ExecutionPlan>,
    ) -> BoxFuture<'a, Result<Vec<RecordBatch>, DataFusionError>> {
        Box::pin(async move {
            self.check_sendable(&plan)?;
            // The session's settings as they are now (a `SET` before the query counts).
            let config = ctx.copied_config();
            let stream = execute_physical_plan::<PhysicalPlanNode>(
                self.url.clone(),
                &config.ballista_config(),
                plan,
                self.codec.as_ref(),
                self.session_id.clone(),
                config,
            )
            .await
            .map_err(|e| on_cluster(&self.url, e))?;
            stream
                .try_collect()
                .await
                .map_err(|e| on_cluster(&self.url, e))
        })
    }
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
    use datafusion::datasource::memory::MemorySourceConfig;
    use datafusion::execution::TaskContext;
    use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
    use datafusion::physical_plan::streaming::PartitionStream;
    use datafusion::physical_plan::SendableRecordBatchStream;

    use super::*;
    use crate::sql::source::{SourceFile, SourceScanExec, SourceScanSpec};

    /// A partition without rows.
    #[derive(Debug)]
    struct NoRows(SchemaRef);

    impl PartitionStream for NoRows {
        fn schema(&self) -> &SchemaRef {
            &self.0
        }

        fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
            Box::pin(RecordBatchStreamAdapter::new(
                self.0.clone(),
                futures::stream::empty(),
            ))
        }
    }

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]))
    }

    #[test]
    fn only_leaves_ballista_splits_by_task_are_sent() {
        let streaming = |n: usize| -> Arc<dyn ExecutionPlan> {
            let parts = (0..n)
                .map(|_| Arc::new(NoRows(schema())) as Arc<dyn PartitionStream>)
                .collect();
            Arc::new(
                StreamingTableExec::try_new(schema(), parts, None, vec![], false, None).unwrap(),
            )
        };
        assert_eq!(
            unsplittable_leaf(&streaming(2)).as_deref(),
            Some("StreamingTableExec")
        );
        assert_eq!(unsplittable_leaf(&streaming(1)), None);

        let memory: Arc<dyn ExecutionPlan> =
            MemorySourceConfig::try_new_exec(&[vec![], vec![]], schema(), None).unwrap();
        assert_eq!(unsplittable_leaf(&memory), None);

        // The source scan of three files: three partitions, narrowed by its work list.
        let file = |name: &str| SourceFile {
            path: name.into(),
            display: name.into(),
            partition_values: vec![],
        };
        let table_schema = Arc::new(Schema::new(vec![
            Field::new("caption", DataType::Utf8, true),
            Field::new("source_file", DataType::Utf8, false),
            Field::new("source_row", DataType::Int64, false),
        ]));
        let scan: Arc<dyn ExecutionPlan> = Arc::new(
            SourceScanExec::try_new(SourceScanSpec {
                files: vec![file("/a.parquet"), file("/b.parquet"), file("/c.parquet")],
                table_schema,
                n_file_fields: 1,
                partition_cols: vec![],
                indices: vec![0, 2],
            })
            .unwrap(),
        );
        assert_eq!(scan.properties().output_partitioning().partition_count(), 3);
        assert_eq!(unsplittable_leaf(&scan), None);

        let query = ClusterQuery::new("127.0.0.1:1", 4).unwrap();
        let e = query.check_sendable(&streaming(2)).unwrap_err().to_string();
        assert!(
            e.contains("cannot run on the cluster") && e.contains("StreamingTableExec"),
            "{e}"
        );
        query.check_sendable(&scan).unwrap();
    }
}
