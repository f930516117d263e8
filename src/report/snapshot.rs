//! What the report reads: one committed snapshot of the output, as the `lakeaug query`
//! session sees it, its run manifests, and the results of the shipped `queries/*.sql`.

use std::path::PathBuf;

use arrow::array::{Array, RecordBatch};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::SessionContext;

use super::dist::{self, DistResult};
use super::{sql_str, ReportError, ReportOptions};
use crate::config::Config;
use crate::schemes::{Scheme, TextContext};
use crate::sql::source::{discover_sources, SourceFile};
use crate::write::Manifest;

/// A shipped query: its file name (under `queries/`) and text, compiled in so the
/// report runs exactly what the repository ships.
#[derive(Debug, Clone, Copy)]
pub struct ShippedQuery {
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! shipped {
    ($name:literal) => {
        ShippedQuery {
            name: $name,
            sql: include_str!(concat!("../../queries/", $name, ".sql")),
        }
    };
}

pub const SCHEME_SUMMARY: ShippedQuery = shipped!("scheme_summary");
pub const REJECTS_BY_REASON: ShippedQuery = shipped!("rejects_by_reason");
pub const TOKEN_LENGTHS: ShippedQuery = shipped!("token_lengths");
pub const PARAMETER_DISTRIBUTION: ShippedQuery = shipped!("parameter_distribution");
pub const RUN_HISTORY: ShippedQuery = shipped!("run_history");
pub const CONSISTENCY: ShippedQuery = shipped!("consistency");
pub const CAPTION_EDITS: ShippedQuery = shipped!("caption_edits");

/// Every shipped query the report shows (`caption_edits` only when the sources are found).
pub const SHIPPED: [ShippedQuery; 7] = [
    SCHEME_SUMMARY,
    REJECTS_BY_REASON,
    TOKEN_LENGTHS,
    PARAMETER_DISTRIBUTION,
    RUN_HISTORY,
    CONSISTENCY,
    CAPTION_EDITS,
];

/// One cell of a query result as the page shows it. Numeric cells carry a metric key
/// (`<query>.<statement>.<row>.<column>`, all 0-based) that the page writes as a
/// `data-metric` attribute, so a test can rerun the query and compare every number.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub text: String,
    pub metric: Option<String>,
}

/// The result of one statement of a shipped query.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryTable {
    pub query: &'static str,
    pub statement: usize,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl QueryTable {
    /// The cell of `column` in row `row`.
    pub fn cell(&self, row: usize, column: &str) -> Option<&Cell> {
        let c = self.columns.iter().position(|n| n == column)?;
        self.rows.get(row)?.get(c)
    }

    /// The values of `column`, parsed as numbers (nulls and text skipped).
    pub fn numbers(&self, column: &str) -> Vec<f64> {
        (0..self.rows.len())
            .filter_map(|r| self.cell(r, column)?.text.parse().ok())
            .collect()
    }

    /// The text of `column` in every row.
    pub fn texts(&self, column: &str) -> Vec<String> {
        (0..self.rows.len())
            .filter_map(|r| Some(self.cell(r, column)?.text.clone()))
            .collect()
    }
}

/// Formats every value of `batches` as text, the way `arrow`'s display does (which is
/// what the tests use to compare). Nulls are empty.
pub fn table_of(query: &'static str, statement: usize, batches: &[RecordBatch]) -> QueryTable {
    let mut columns = Vec::new();
    let mut rows = Vec::new();
    let options = FormatOptions::default();
    for batch in batches {
        if columns.is_empty() {
            columns = batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
        }
        let formatters: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).ok())
            .collect();
        for i in 0..batch.num_rows() {
            let row = rows.len();
            let cells = batch
                .columns()
                .iter()
                .zip(&formatters)
                .enumerate()
                .map(|(c, (array, f))| {
                    let text = match f {
                        Some(f) if array.is_valid(i) => f.value(i).to_string(),
                        _ => String::new(),
                    };
                    let numeric = array.data_type().is_numeric() && array.is_valid(i);
                    Cell {
                        metric: numeric.then(|| format!("{query}.{statement}.{row}.{c}")),
                        text,
                    }
                })
                .collect();
            rows.push(cells);
        }
    }
    QueryTable {
        query,
        statement,
        columns,
        rows,
    }
}

/// The output's snapshot, manifests and configuration.
pub struct Snapshot {
    pub ctx: SessionContext,
    /// The output folder as given on the command line.
    pub output: PathBuf,
    /// Committed part and rejects files (`None`: an output without lakeaug state, read
    /// as the folder holds it).
    pub committed: Option<Vec<String>>,
    /// The run manifests, oldest first.
    pub manifests: Vec<Manifest>,
    /// The last run's configuration (defaults if the output has no manifest).
    pub config: Config,
    /// The schemes shown, in the config's order.
    pub schemes: Vec<Scheme>,
    /// The input files, found from `--source` or the manifests' inputs.
    pub sources: Vec<SourceFile>,
    /// Why sources are missing, when they are.
    pub source_note: Option<String>,
    pub text: TextContext,
}

impl Snapshot {
    pub async fn open(opts: &ReportOptions) -> Result<Snapshot, ReportError> {
        let dir = &opts.output;
        let committed = crate::sql::snapshot::committed_files(dir)
            .map_err(|e| ReportError::read(format!("reading {}", dir.display()), e))?;
        let manifests = crate::sql::context::read_manifests(dir)
            .map_err(|e| ReportError::read(format!("reading {}", dir.display()), e))?
            .into_iter()
            .map(|m| {
                serde_json::from_value::<Manifest>(m.json)
                    .map_err(|e| ReportError::read(format!("run manifest {}", m.path.display()), e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let config = manifests
            .last()
            .map(|m| m.config.clone())
            .unwrap_or_default();
        let names = match &opts.schemes {
            Some(names) => names.clone(),
            None => config.schemes.clone(),
        };
        let schemes = names
            .iter()
            .map(|n| Scheme::named(&config, n).map_err(anyhow::Error::from))
            .collect::<anyhow::Result<Vec<_>>>()
            .map_err(|e| ReportError::read("--schemes", e))?;
        let text = TextContext::from_config(&config.text)
            .map_err(|e| ReportError::read("the config's [text] section", e))?;

        let (sources, source_note) = find_sources(opts, &manifests);
        let source_args: Vec<String> = if sources.is_empty() {
            Vec::new()
        } else {
            source_arguments(opts, &manifests)
        };
        let ctx = crate::sql::session_for(dir, &source_args)
            .await
            .map_err(|e| ReportError::read(format!("opening {}", dir.display()), e))?;
        // Late materialisation: the image column is decoded only for rows that pass the
        // filter on `source_digest` (the samples), not for every row of a row group.
        ctx.sql("SET datafusion.execution.parquet.pushdown_filters = true")
            .await
            .map_err(|e| ReportError::read("configuring the session", e))?;
        Ok(Snapshot {
            ctx,
            output: dir.clone(),
            committed,
            manifests,
            config,
            schemes,
            sources,
            source_note,
            text,
        })
    }

    /// A short id of the committed file list (BLAKE3, 16 hex digits), to tell snapshots
    /// apart.
    pub fn snapshot_id(&self) -> Option<String> {
        self.committed.as_ref().map(|files| {
            let mut h = blake3::Hasher::new();
            for f in files {
                h.update(f.as_bytes());
                h.update(b"\n");
            }
            h.finalize().to_hex()[..16].to_string()
        })
    }

    /// Runs `sql` on the session; every statement's batches.
    pub async fn sql(&self, sql: &str) -> Result<Vec<Vec<RecordBatch>>, ReportError> {
        crate::sql::run_sql(&self.ctx, sql)
            .await
            .map(|results| results.into_iter().map(|r| r.batches).collect())
            .map_err(|e| ReportError::read(format!("running `{}`", one_line(sql)), e))
    }

    /// Runs a shipped query; one table per statement.
    pub async fn shipped(&self, q: ShippedQuery) -> Result<Vec<QueryTable>, ReportError> {
        Ok(self
            .sql(q.sql)
            .await
            .map_err(|e| match e {
                ReportError::Read { source, .. } => {
                    ReportError::read(format!("running queries/{}.sql", q.name), source)
                }
                other => other,
            })?
            .iter()
            .enumerate()
            .map(|(i, batches)| table_of(q.name, i, batches))
            .collect())
    }

    /// The sections that do not depend on the sample.
    pub async fn fixed_sections(&self) -> Result<Fixed, ReportError> {
        let mut tables = Vec::new();
        for q in SHIPPED {
            if q.name == CAPTION_EDITS.name && self.sources.is_empty() {
                continue;
            }
            tables.push((q.name, self.shipped(q).await?));
        }
        let mut dists = Vec::new();
        for scheme in &self.schemes {
            dists.push(self.distributions(scheme).await?);
        }
        let stats = self.totals().await?;
        Ok(Fixed {
            tables,
            dists,
            stats,
        })
    }

    async fn distributions(&self, scheme: &Scheme) -> Result<SchemeDists, ReportError> {
        let specs = dist::specs_for(scheme, &self.config);
        let mut results = Vec::new();
        if !specs.is_empty() {
            let select: Vec<String> = specs
                .iter()
                .enumerate()
                .map(|(i, s)| format!("{} AS v{i}", s.expr))
                .collect();
            let sql = format!(
                "SELECT {} FROM augmented WHERE scheme = {}",
                select.join(", "),
                sql_str(&scheme.name)
            );
            let batches = self.sql(&sql).await?.pop().unwrap_or_default();
            for (i, spec) in specs.into_iter().enumerate() {
                let values = dist::column_values(&batches, i)
                    .map_err(|e| ReportError::read(format!("reading {}", spec.column), e))?;
                results.push(dist::evaluate(spec, values));
            }
        }
        Ok(SchemeDists {
            scheme: scheme.name.clone(),
            results,
        })
    }

    /// Whole-output figures: rows written and rejected, distinct source rows, and the
    /// token-length histogram (one token per bin).
    async fn totals(&self) -> Result<Totals, ReportError> {
        let one = |b: &[Vec<RecordBatch>]| -> i64 {
            b.first()
                .and_then(|bs| bs.first())
                .and_then(|batch| {
                    let a = batch.column(0);
                    arrow::compute::cast(a, &arrow::datatypes::DataType::Int64).ok()
                })
                .map(|a| {
                    let a = a
                        .as_any()
                        .downcast_ref::<arrow::array::Int64Array>()
                        .map(|x| if x.is_valid(0) { x.value(0) } else { 0 });
                    a.unwrap_or(0)
                })
                .unwrap_or(0)
        };
        let written = one(&self.sql("SELECT count(*) FROM augmented").await?);
        let rejected = one(&self.sql("SELECT count(*) FROM rejects").await?);
        let source_rows = one(&self
            .sql("SELECT count(*) FROM (SELECT DISTINCT source_file, source_row FROM augmented)")
            .await?);
        let truncated = one(&self
            .sql("SELECT count(*) FROM augmented WHERE input_ids_truncated")
            .await?);
        Ok(Totals {
            written,
            rejected,
            source_rows,
            truncated,
        })
    }
}

/// The sections that do not depend on the sample size.
pub struct Fixed {
    /// Shipped query results by query name.
    pub tables: Vec<(&'static str, Vec<QueryTable>)>,
    pub dists: Vec<SchemeDists>,
    pub stats: Totals,
}

impl Fixed {
    pub fn table(&self, query: &str, statement: usize) -> Option<&QueryTable> {
        self.tables
            .iter()
            .find(|(n, _)| *n == query)
            .and_then(|(_, t)| t.get(statement))
    }
}

/// Row counts of the whole snapshot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Totals {
    pub written: i64,
    pub rejected: i64,
    pub source_rows: i64,
    /// Rows whose token ids were cut at `--max-tokens`.
    pub truncated: i64,
}

/// The distributions of one scheme's parameters.
pub struct SchemeDists {
    pub scheme: String,
    pub results: Vec<DistResult>,
}

/// The `--source` arguments: given ones, else the manifests' recorded input paths.
fn source_arguments(opts: &ReportOptions, manifests: &[Manifest]) -> Vec<String> {
    if !opts.sources.is_empty() {
        return opts.sources.clone();
    }
    let mut paths: Vec<String> = manifests
        .iter()
        .flat_map(|m| m.inputs.iter().map(|i| i.path.clone()))
        .filter(|p| !p.starts_with("s3://") && std::path::Path::new(p).is_file())
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// The input files, or why there are none. Recorded input paths are relative to where
/// the run was started; from elsewhere `--source` names them.
fn find_sources(opts: &ReportOptions, manifests: &[Manifest]) -> (Vec<SourceFile>, Option<String>) {
    let args = source_arguments(opts, manifests);
    if args.is_empty() {
        let note = if manifests.is_empty() {
            "the output has no run manifest naming its inputs; pass --source".to_string()
        } else {
            "the inputs recorded in the manifests are not found from here (relative to \
             where the run started, or on S3); pass --source PATH as given to `lakeaug run \
             --input`"
                .to_string()
        };
        return (Vec::new(), Some(note));
    }
    match discover_sources(&args) {
        Ok(files) => (files, None),
        Err(e) => (Vec::new(), Some(format!("{e:#}"))),
    }
}

fn one_line(sql: &str) -> String {
    let s: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(120).collect::<String>())
    } else {
        s
    }
}
