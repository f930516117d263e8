//! Running SQL text on a session: statements in order, errors a user can act on.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{DdlStatement, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::DFParser;
use futures::future::BoxFuture;

use super::context::TABLES;
use super::error::SqlError;

/// The result of one SQL statement.
#[derive(Debug, Clone)]
pub struct QueryResult {
    /// Output schema (empty for DDL such as `CREATE VIEW`).
    pub schema: SchemaRef,
    /// Output batches.
    pub batches: Vec<RecordBatch>,
}

impl QueryResult {
    /// Total number of rows.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }
}

/// Runs the physical plans of queries somewhere other than this process: `lakeaug query
/// --cluster` (`crate::cluster::query`). This module knows nothing of where.
pub trait PlanRunner: Send + Sync {
    /// The configuration sessions are made with, so that plans suit where they run.
    fn session_config(&self) -> SessionConfig;

    /// Runs `plan`, planned on `ctx`, to completion. A plan that cannot run there is an
    /// error: it never falls back to running here.
    fn collect<'a>(
        &'a self,
        ctx: &'a SessionContext,
        plan: Arc<dyn ExecutionPlan>,
    ) -> BoxFuture<'a, Result<Vec<RecordBatch>, DataFusionError>>;
}

/// Parses `sql` (one or more statements) and runs each in order on `ctx`, collecting
/// every result. Errors name the failing statement's position and, for unknown tables,
/// list the tables that exist.
pub async fn run_sql(ctx: &SessionContext, sql: &str) -> Result<Vec<QueryResult>, SqlError> {
    run_sql_on(ctx, sql, None).await
}

/// Whether a statement's plan only touches the session itself (views, settings, table
/// descriptions, EXPLAIN without ANALYZE): it reads no data, so it runs here even when
/// queries run elsewhere.
fn session_only(plan: &LogicalPlan) -> bool {
    matches!(
        plan,
        LogicalPlan::Ddl(_)
            | LogicalPlan::Statement(_)
            | LogicalPlan::DescribeTable(_)
            | LogicalPlan::Explain(_)
    )
}

/// [`run_sql`], with the queries' physical plans run by `runner` when one is given.
pub async fn run_sql_on(
    ctx: &SessionContext,
    sql: &str,
    runner: Option<&dyn PlanRunner>,
) -> Result<Vec<QueryResult>, SqlError> {
    let statements = DFParser::parse_sql(sql).map_err(|e| explain(ctx, e))?;
    if statements.is_empty() {
        return Err(SqlError::NoStatement);
    }
    let total = statements.len();
    let mut out = Vec::with_capacity(total);
    for (i, statement) in statements.into_iter().enumerate() {
        let result = async {
            let plan = ctx.state().statement_to_plan(statement).await?;
            if runner.is_some() && matches!(plan, LogicalPlan::Ddl(DdlStatement::CreateMemoryTable(_))) {
                // Its query would run here, while every other query runs elsewhere.
                return Err(DataFusionError::Plan(
                    "CREATE TABLE ... AS would run its query in this process, not on the cluster: use CREATE VIEW with --cluster".into(),
                ));
            }
            let runner = runner.filter(|_| !session_only(&plan));
            let df = ctx.execute_logical_plan(plan).await?;
            let schema = df.schema().inner().clone();
            let batches = match runner {
                None => df.collect().await?,
                Some(runner) => {
                    runner
                        .collect(ctx, df.create_physical_plan().await?)
                        .await?
                }
            };
            Ok::<_, DataFusionError>(QueryResult { schema, batches })
        }
        .await;
        match result {
            Ok(r) => out.push(r),
            Err(e) if total > 1 => {
                return Err(SqlError::Statement {
                    index: i + 1,
                    total,
                    source: Box::new(explain(ctx, e)),
                })
            }
            Err(e) => return Err(explain(ctx, e)),
        }
    }
    Ok(out)
}

/// Turns a DataFusion error into a message a user can act on.
pub fn explain(ctx: &SessionContext, e: DataFusionError) -> SqlError {
    let msg = e.to_string();
    let lower = msg.to_lowercase();
    if lower.contains("table '") && lower.contains("not found") {
        let mut tables: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
        let has_source = ctx.table_exist("source").unwrap_or(false);
        if has_source {
            tables.push("source".into());
        }
        let hint = if !has_source && lower.contains(".source'") {
            "; `source` needs --source PATH (the run's input)"
        } else {
            ""
        };
        return SqlError::UnknownTable {
            message: msg,
            tables: tables.join(", "),
            hint,
        };
    }
    if let DataFusionError::SQL(..) = e.find_root() {
        return SqlError::Syntax(msg);
    }
    SqlError::DataFusion(e)
}
