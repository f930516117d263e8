//! `lakeaug run --cluster`: each chunk task goes to the Ballista scheduler as a job of its
//! own ([`execute_physical_plan`]), up to K at once, so results stream back as tasks
//! finish and the driver commits them one by one (a Ballista job returns its result only
//! once it is whole). A lost executor's task is re-run by the scheduler; the client only
//! waits longer.

use std::sync::Arc;

use ballista_core::execution_plans::execute_physical_plan;
use ballista_core::extension::SessionConfigExt;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionConfig;
use datafusion_proto::protobuf::PhysicalPlanNode;
use futures::TryStreamExt;

use super::codec::LakeaugCodec;
use super::exec::ChunkExec;
use super::{scheduler_url, ClusterError};
use crate::pipeline::{ChunkReport, ChunkRunner, ChunkTask, RunError};

/// Runs a run's chunk tasks on a Ballista cluster.
#[derive(Debug)]
pub struct BallistaRunner {
    /// The scheduler's gRPC URL (`http://HOST:PORT`).
    url: String,
    /// Jobs in flight at once.
    jobs: usize,
}

impl BallistaRunner {
    /// A runner for the scheduler at `url` (`HOST:PORT`, `df://HOST:PORT`), keeping `jobs`
    /// jobs in flight.
    pub fn new(url: &str, jobs: usize) -> Result<BallistaRunner, ClusterError> {
        let (url, _, _) = scheduler_url(url)?;
        Ok(BallistaRunner {
            url,
            jobs: jobs.max(1),
        })
    }
}

/// A job's one row back as the task's report.
fn report_of(
    batches: &[arrow::array::RecordBatch],
    task: &ChunkTask,
) -> Result<ChunkReport, RunError> {
    let missing = || {
        RunError::Remote(format!(
            "the cluster returned no result row for {}",
            describe(task)
        ))
    };
    let batch = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .ok_or_else(missing)?;
    let json = batch
        .column_by_name("report")
        .and_then(|c| c.as_any().downcast_ref::<arrow::array::StringArray>())
        .map(|a| a.value(0).to_string())
        .ok_or_else(missing)?;
    serde_json::from_str(&json)
        .map_err(|e| RunError::Remote(format!("cannot read the result of {}: {e}", describe(task))))
}

/// Attempts of one task by the driver. A task is idempotent (its parts and intent have
/// fixed names and contents), so a job that failed for a reason outside it (its result
/// lost with an executor that died after finishing, a dropped connection) is submitted
/// again; Ballista's own retries cover failures inside a job.
const SUBMISSIONS: u32 = 3;

/// Errors no resubmission can cure (another version, a lost lock, a changed, replaced or
/// deleted input).
fn is_permanent(e: &RunError) -> bool {
    let m = e.to_string();
    [
        "lakeaug version mismatch",
        "no longer holds the output's lock",
        "changed since run",
        "config arrived with hash",
        "was replaced since it was listed",
        "was deleted since it was listed",
    ]
    .iter()
    .any(|p| m.contains(p))
}

/// What every job of a run is submitted with.
struct Session {
    config: SessionConfig,
    codec: Arc<LakeaugCodec>,
    id: String,
}

/// `FILE rows A..B`, for messages.
fn describe(task: &ChunkTask) -> String {
    format!(
        "{} rows {}..{}",
        task.file.display, task.first_row, task.end_row
    )
}

/// What submits a run's jobs: shared by the tasks in flight.
struct Submitter {
    /// The scheduler's gRPC URL.
    url: String,
    session: Session,
}

impl Submitter {
    async fn submit_with_retries(&self, task: &ChunkTask) -> Result<ChunkReport, RunError> {
        let mut attempt = 1;
        loop {
            match self.submit(task).await {
                Err(e) if attempt < SUBMISSIONS && !is_permanent(&e) => {
                    eprintln!("warning: {e} (submitting it again)");
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
                other => return other,
            }
        }
    }

    async fn submit(&self, task: &ChunkTask) -> Result<ChunkReport, RunError> {
        let failed = |e: datafusion::error::DataFusionError| {
            RunError::Remote(format!(
                "the cluster at {} could not run the task for {}: {e}. Chunks committed so far stay: fix the cause and rerun",
                self.url,
                describe(task)
            ))
        };
        let session = &self.session;
        let plan: Arc<dyn ExecutionPlan> = Arc::new(ChunkExec::new(task.clone()));
        let stream = execute_physical_plan::<PhysicalPlanNode>(
            self.url.clone(),
            &session.config.ballista_config(),
            plan,
            session.codec.as_ref(),
            session.id.clone(),
            session.config.clone(),
        )
        .await
        .map_err(failed)?;
        let batches: Vec<_> = stream.try_collect().await.map_err(failed)?;
        report_of(&batches, task)
    }
}

impl ChunkRunner for BallistaRunner {
    fn parallelism(&self) -> usize {
        self.jobs
    }

    fn run(
        &self,
        tasks: Vec<ChunkTask>,
        done: &mut dyn FnMut(usize, ChunkReport) -> Result<(), RunError>,
    ) -> Result<(), RunError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| RunError::Remote(ClusterError::Runtime(e).to_string()))?;
        let codec = LakeaugCodec::shared();
        let submitter = Arc::new(Submitter {
            url: self.url.clone(),
            session: Session {
                config: SessionConfig::new_with_ballista()
                    .with_ballista_physical_extension_codec(codec.clone()),
                codec,
                id: format!(
                    "lakeaug-{}",
                    tasks.first().map_or("idle", |t| t.run_id.as_str())
                ),
            },
        });
        // Jobs run as tasks of the runtime, so they go on while `done` commits on this
        // thread; `done` runs outside the runtime because committing to an object store
        // blocks on a runtime of its own.
        let mut queue = tasks.into_iter().enumerate();
        let mut in_flight = tokio::task::JoinSet::new();
        loop {
            while in_flight.len() < self.jobs {
                let Some((index, task)) = queue.next() else {
                    break;
                };
                let submitter = submitter.clone();
                in_flight.spawn_on(
                    async move { (index, submitter.submit_with_retries(&task).await) },
                    rt.handle(),
                );
            }
            let Some(joined) = rt.block_on(in_flight.join_next()) else {
                return Ok(());
            };
            let (index, report) = joined.map_err(|e| {
                RunError::Remote(format!("a cluster job's client task failed: {e}"))
            })?;
            done(index, report?)?;
        }
    }
}
