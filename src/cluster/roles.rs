//! `lakeaug cluster scheduler` and `lakeaug cluster executor`: Ballista's scheduler and
//! executor embedded in lakeaug's binary, each with lakeaug's codec (so they can carry
//! chunk tasks and refuse another lakeaug version's, see [`super::codec`]).

use std::path::PathBuf;
use std::sync::Arc;

use ballista_core::registry::BallistaFunctionRegistry;
use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::execution::SessionStateDefaults;

use super::codec::LakeaugCodec;
use super::exec::{set_executor_env, ExecutorEnv};
use super::{bind_addr, scheduler_url, ClusterError};
use crate::pipeline::AugmenterCache;

/// How the scheduler is run.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// `HOST:PORT` to listen on.
    pub bind: String,
    /// Seconds without a heartbeat after which an executor is lost and its tasks re-run.
    pub executor_timeout_secs: u64,
    /// Attempts of a task that fails with an I/O error before its job fails.
    pub task_max_failures: usize,
}

/// How an executor is run.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler (`HOST:PORT`).
    pub scheduler: String,
    /// `HOST:PORT` of the executor's Arrow Flight service (results go back through it);
    /// its gRPC service listens on the next port.
    pub bind: String,
    /// The host name other machines reach it by (default: the bind host).
    pub external_host: Option<String>,
    pub work_dir: PathBuf,
    /// Tasks run at once (and worker threads of each).
    pub vcores: usize,
    pub heartbeat_secs: u64,
}

fn runtime() -> Result<tokio::runtime::Runtime, ClusterError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ClusterError::Runtime)
}

/// Run a scheduler until the process is stopped.
pub fn run_scheduler(opts: &SchedulerOptions) -> Result<(), ClusterError> {
    let (host, port) = bind_addr(&opts.bind)?;
    let addr: std::net::SocketAddr =
        format!("{host}:{port}")
            .parse()
            .map_err(|_| ClusterError::BadBind {
                addr: opts.bind.clone(),
            })?;
    let timeout = opts.executor_timeout_secs.max(1);
    let config = SchedulerConfig {
        bind_host: host.clone(),
        bind_port: port,
        external_host: host,
        executor_timeout_seconds: timeout,
        // Check for lost executors often enough that a short timeout means something.
        expire_dead_executor_interval_seconds: timeout.min(15),
        no_executors_grace_period_seconds: timeout,
        task_max_failures: opts.task_max_failures.max(1),
        override_physical_codec: Some(LakeaugCodec::shared()),
        ..SchedulerConfig::default()
    };
    let failed = |e: ballista_core::error::BallistaError| ClusterError::Ballista {
        role: "scheduler",
        message: e.to_string(),
    };
    runtime()?.block_on(async {
        let cluster = BallistaCluster::new_from_config(&config)
            .await
            .map_err(failed)?;
        eprintln!("lakeaug {} scheduler listening on {addr}", crate::VERSION);
        start_server(cluster, addr, Arc::new(config))
            .await
            .map_err(failed)
    })
}

/// All of DataFusion's functions (as a local session has them: Ballista's default
/// registry lacks the nested ones, e.g. `cardinality`) and lakeaug's UDFs: an executor
/// finds the functions a plan names here (lakeaug's UDFs also travel by name through
/// [`LakeaugCodec`]).
fn function_registry() -> BallistaFunctionRegistry {
    let mut registry = BallistaFunctionRegistry::default();
    let scalar = SessionStateDefaults::default_scalar_functions()
        .into_iter()
        .chain(crate::sql::udfs::lakeaug_udfs().into_iter().map(Arc::new));
    for udf in scalar {
        for name in std::iter::once(udf.name()).chain(udf.aliases().iter().map(String::as_str)) {
            registry
                .scalar_functions
                .insert(name.to_string(), udf.clone());
        }
    }
    for udaf in SessionStateDefaults::default_aggregate_functions() {
        for name in std::iter::once(udaf.name()).chain(udaf.aliases().iter().map(String::as_str)) {
            registry
                .aggregate_functions
                .insert(name.to_string(), udaf.clone());
        }
    }
    for udwf in SessionStateDefaults::default_window_functions() {
        for name in std::iter::once(udwf.name()).chain(udwf.aliases().iter().map(String::as_str)) {
            registry
                .window_functions
                .insert(name.to_string(), udwf.clone());
        }
    }
    registry
}

/// Run an executor until the process is stopped.
pub fn run_executor(opts: &ExecutorOptions) -> Result<(), ClusterError> {
    let (_, scheduler_host, scheduler_port) = scheduler_url(&opts.scheduler)?;
    let (host, port) = bind_addr(&opts.bind)?;
    std::fs::create_dir_all(&opts.work_dir).map_err(|e| ClusterError::WorkDir {
        path: opts.work_dir.display().to_string(),
        source: e,
    })?;
    let vcores = opts.vcores.max(1);
    // A task's rows are augmented on the global pool: as many threads as vcores, so that
    // executors sharing a machine share it as sized.
    rayon::ThreadPoolBuilder::new()
        .num_threads(vcores)
        .thread_name(|i| format!("lakeaug-worker-{i}"))
        .build_global()
        .ok();
    let external = opts.external_host.clone().unwrap_or_else(|| host.clone());
    let id = format!("lakeaug-{external}-{port}");
    set_executor_env(ExecutorEnv {
        id: id.clone(),
        work_dir: opts.work_dir.clone(),
        augmenters: AugmenterCache::default(),
    });
    let config = ExecutorProcessConfig {
        executor_id: id.clone(),
        bind_host: host,
        external_host: Some(external),
        port,
        grpc_port: port.saturating_add(1),
        scheduler_host,
        scheduler_port,
        vcores,
        work_dir: Some(opts.work_dir.display().to_string()),
        executor_heartbeat_interval_seconds: opts.heartbeat_secs.max(1),
        override_physical_codec: Some(LakeaugCodec::shared()),
        override_function_registry: Some(Arc::new(function_registry())),
        ..ExecutorProcessConfig::default()
    };
    eprintln!(
        "lakeaug {} executor {id} ({vcores} vcores) joining the scheduler at {}",
        crate::VERSION,
        opts.scheduler
    );
    runtime()?.block_on(async {
        start_executor_process(Arc::new(config))
            .await
            .map_err(|e| ClusterError::Ballista {
                role: "executor",
                message: e.to_string(),
            })
    })
}
