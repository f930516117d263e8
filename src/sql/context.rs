//! The DataFusion session behind `lakeaug query`: tables over a lakeaug output folder.
//!
//! | table | contents |
//! |---|---|
//! | `augmented` | every `DIR/scheme=<name>/part-*.parquet`, with `scheme` as a hive partition column (filters on it prune files) |
//! | `rejects` | `DIR/_rejects/part-*.parquet` |
//! | `runs` | one row per run manifest `DIR/_lakeaug/runs/run-*.json` |
//! | `run_schemes` | one row per run and scheme: rows written and rejected, from the manifests |
//! | `source` | with `--source`: the input tables plus `source_file`, `source_row` |
//!
//! Staging files (`DIR/_lakeaug/staging/`) are never read: the listing only takes
//! `part-*.parquet` files directly below a `scheme=` folder. When the folder has lakeaug
//! state, `augmented` and `rejects` take only the files of its committed snapshot (each
//! input file's last complete generation), so a query during a run never sees an input
//! file's old and new parts side by side.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder, UInt64Builder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{MemTable, TableProvider};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::prelude::{SessionConfig, SessionContext};
use serde_json::Value;

use super::error::SqlError;
use super::snapshot::{committed_files, SnapshotStore};
use super::source::{discover_sources, SourceTable};
use super::udfs::register_udfs;

/// Names of the tables every session has (`source` only with `--source`).
type Result<T, E = SqlError> = std::result::Result<T, E>;

pub const TABLES: [&str; 4] = ["augmented", "rejects", "runs", "run_schemes"];

/// Builds a session over the lakeaug output folder `dir`, with the UDFs registered.
/// `sources` are `--source` paths (file, folder or glob); when non-empty they become
/// the `source` table.
///
/// Fails with a clear message when `dir` is not lakeaug output (neither `scheme=*`
/// partitions nor run manifests).
pub async fn session_for(dir: &Path, sources: &[String]) -> Result<SessionContext> {
    session_with(dir, sources, SessionConfig::new()).await
}

/// [`session_for`] starting from `config` (e.g. a cluster's settings, see
/// [`super::run::PlanRunner::session_config`]).
pub async fn session_with(
    dir: &Path,
    sources: &[String],
    config: SessionConfig,
) -> Result<SessionContext> {
    check_output_dir(dir)?;
    let dir = dir
        .canonicalize()
        .map_err(|e| SqlError::io(format!("resolving {}", dir.display()), e))?;

    let mut config = config.with_information_schema(true);
    // Files below non-`key=value` subfolders (`_rejects/`, `_lakeaug/staging/`) are not
    // part of `augmented`; this is the default, set explicitly because we rely on it.
    config
        .options_mut()
        .execution
        .listing_table_ignore_subdirectory = true;
    let ctx = SessionContext::new_with_config(config);
    register_udfs(&ctx);

    // With lakeaug state, read the committed snapshot only (see `super::snapshot`).
    let snapshot = committed_files(&dir)?;
    if let Some(files) = &snapshot {
        let url = ObjectStoreUrl::local_filesystem();
        let local = ctx.runtime_env().object_store(&url)?;
        ctx.register_object_store(
            url.as_ref(),
            Arc::new(SnapshotStore::new(local, &dir, files)?),
        );
    }
    let committed_under = |folder: &str| {
        snapshot
            .as_ref()
            .map(|files| files.iter().any(|f| f.starts_with(folder)))
    };

    let has_parts = match committed_under("scheme=") {
        Some(any) => any,
        None => !partition_files(&dir)?.is_empty(),
    };
    let augmented: Arc<dyn TableProvider> = if !has_parts {
        // Nothing written yet (or every row rejected): an empty table still answers
        // `count(*)` and the lineage/parameter queries.
        Arc::new(MemTable::try_new(lineage_schema(), vec![vec![]])?)
    } else {
        listing_table(&ctx, &dir, "part-*.parquet", true).await?
    };
    ctx.register_table("augmented", augmented)?;

    let rejects_dir = dir.join("_rejects");
    let has_rejects = match committed_under("_rejects/") {
        Some(any) => any,
        None => has_parquet(&rejects_dir)?,
    };
    let rejects: Arc<dyn TableProvider> = if has_rejects {
        listing_table(&ctx, &rejects_dir, "*.parquet", false).await?
    } else {
        Arc::new(MemTable::try_new(rejects_schema(), vec![vec![]])?)
    };
    ctx.register_table("rejects", rejects)?;

    let manifests = read_manifests(&dir)?;
    let (runs, run_schemes) = manifest_batches(&manifests)?;
    ctx.register_table(
        "runs",
        Arc::new(MemTable::try_new(runs.schema(), vec![vec![runs]])?),
    )?;
    ctx.register_table(
        "run_schemes",
        Arc::new(MemTable::try_new(
            run_schemes.schema(),
            vec![vec![run_schemes]],
        )?),
    )?;

    if !sources.is_empty() {
        let files = discover_sources(sources)?;
        ctx.register_table("source", Arc::new(SourceTable::try_new(files)?))?;
    }
    Ok(ctx)
}

/// Errors unless `dir` looks like lakeaug output.
fn check_output_dir(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Err(SqlError::NoSuchFolder(dir.to_path_buf()));
    }
    if !dir.is_dir() {
        return Err(SqlError::NotAFolder(dir.to_path_buf()));
    }
    let has_runs = dir.join("_lakeaug").join("runs").is_dir();
    let has_schemes = std::fs::read_dir(dir)
        .map_err(|e| listing(dir, e))?
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().starts_with("scheme=") && e.path().is_dir());
    if !has_runs && !has_schemes {
        return Err(SqlError::NotOutput(dir.to_path_buf()));
    }
    Ok(())
}

fn listing(dir: &Path, e: std::io::Error) -> SqlError {
    SqlError::io(format!("cannot list folder {}", dir.display()), e)
}

/// `DIR/scheme=*/part-*.parquet`, sorted.
fn partition_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| listing(dir, e))? {
        let entry = entry.map_err(|e| listing(dir, e))?;
        if !entry.file_name().to_string_lossy().starts_with("scheme=") || !entry.path().is_dir() {
            continue;
        }
        let folder = entry.path();
        for f in std::fs::read_dir(&folder).map_err(|e| listing(&folder, e))? {
            let f = f.map_err(|e| listing(&folder, e))?;
            let name = f.file_name().to_string_lossy().into_owned();
            if name.starts_with("part-") && name.ends_with(".parquet") {
                out.push(f.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

fn has_parquet(dir: &Path) -> Result<bool> {
    if !dir.is_dir() {
        return Ok(false);
    }
    for entry in std::fs::read_dir(dir).map_err(|e| listing(dir, e))? {
        if entry
            .map_err(|e| listing(dir, e))?
            .file_name()
            .to_string_lossy()
            .ends_with(".parquet")
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A Parquet listing table over `dir`, taking files whose name matches `glob`
/// directly below `dir` (or below its `scheme=` folders when `scheme_partition`).
async fn listing_table(
    ctx: &SessionContext,
    dir: &Path,
    glob: &str,
    scheme_partition: bool,
) -> Result<Arc<dyn TableProvider>> {
    let dir_str = dir.to_str().ok_or(SqlError::NotUtf8)?;
    if dir_str.contains(['*', '?', '[']) {
        return Err(SqlError::GlobInPath(dir_str.to_string()));
    }
    let url =
        ListingTableUrl::parse(format!("{}/", dir_str.trim_end_matches('/')))?.with_glob(glob)?;
    let state = ctx.state();
    let format = ParquetFormat::default().with_options(state.table_options().parquet.clone());
    let mut options = ListingOptions::new(Arc::new(format)).with_file_extension(".parquet");
    if scheme_partition {
        options = options.with_table_partition_cols(vec![("scheme".to_string(), DataType::Utf8)]);
    }
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .infer_schema(&state)
        .await
        .map_err(|source| SqlError::Schemas {
            dir: dir.to_path_buf(),
            source,
        })?;
    Ok(Arc::new(ListingTable::try_new(config)?))
}

/// The lakeaug columns of `augmented` (without input columns), used when no
/// partition file exists yet: the writer's own token and lineage fields, plus `scheme`.
pub fn lineage_schema() -> SchemaRef {
    let mut fields = crate::layout::added_fields();
    fields.push(Field::new("scheme", DataType::Utf8, true));
    Arc::new(Schema::new(fields))
}

/// Schema of `DIR/_rejects/part-*.parquet` (as the writer defines it).
pub fn rejects_schema() -> SchemaRef {
    crate::layout::rejects_schema()
}

/// A parsed run manifest and where it was read from.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Path of the JSON file.
    pub path: PathBuf,
    /// Its content.
    pub json: Value,
}

/// Reads every `DIR/_lakeaug/runs/*.json`, sorted by file name. A manifest that is not
/// valid JSON is an error naming the file (a manifest is written last and atomically,
/// so a broken one means something else wrote there).
pub fn read_manifests(dir: &Path) -> Result<Vec<Manifest>> {
    let runs_dir = dir.join("_lakeaug").join("runs");
    if !runs_dir.is_dir() {
        return Ok(vec![]);
    }
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&runs_dir)
        .map_err(|e| listing(&runs_dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| SqlError::io(format!("reading run manifest {}", path.display()), e))?;
            let json = match serde_json::from_str(&text) {
                Ok(json) => json,
                Err(source) => return Err(SqlError::ManifestJson { path, source }),
            };
            Ok(Manifest { path, json })
        })
        .collect()
}

/// Schema of the `runs` table.
pub fn runs_schema() -> SchemaRef {
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("run_id", DataType::Utf8, true),
        Field::new("lakeaug_version", DataType::Utf8, true),
        Field::new("started_at", ts.clone(), true),
        Field::new("finished_at", ts, true),
        Field::new("duration_secs", DataType::Float64, true),
        Field::new("seed", DataType::UInt64, true),
        Field::new("config_hash", DataType::Utf8, true),
        Field::new("rows_read", DataType::Int64, true),
        Field::new("rows_written", DataType::Int64, true),
        Field::new("rows_rejected", DataType::Int64, true),
        Field::new("rows_per_sec", DataType::Float64, true),
        Field::new("threads", DataType::Int64, true),
        Field::new("input_files", DataType::Int64, true),
        Field::new("skipped_files", DataType::Int64, true),
        Field::new("output_files", DataType::Int64, true),
        Field::new("config", DataType::Utf8, true),
        Field::new("manifest_path", DataType::Utf8, true),
    ]))
}

/// Schema of the `run_schemes` table.
pub fn run_schemes_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("run_id", DataType::Utf8, true),
        Field::new("scheme", DataType::Utf8, true),
        Field::new("written", DataType::Int64, true),
        Field::new("rejected", DataType::Int64, true),
    ]))
}

/// Microseconds since the epoch of an RFC 3339 timestamp (`2025-01-02T03:04:05.123Z`
/// or with a `+hh:mm` offset); `None` when it does not parse.
pub fn parse_rfc3339_micros(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.timestamp_micros())
}

/// Builds the `runs` and `run_schemes` batches from manifests. Missing or mistyped
/// fields become nulls: an older manifest still lists.
pub fn manifest_batches(manifests: &[Manifest]) -> Result<(RecordBatch, RecordBatch)> {
    let n = manifests.len();
    let mut run_id = StringBuilder::new();
    let mut version = StringBuilder::new();
    let mut started = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut finished = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut duration = Float64Builder::with_capacity(n);
    let mut seed = UInt64Builder::with_capacity(n);
    let mut config_hash = StringBuilder::new();
    let mut rows_read = Int64Builder::with_capacity(n);
    let mut rows_written = Int64Builder::with_capacity(n);
    let mut rows_rejected = Int64Builder::with_capacity(n);
    let mut rows_per_sec = Float64Builder::with_capacity(n);
    let mut threads = Int64Builder::with_capacity(n);
    let mut input_files = Int64Builder::with_capacity(n);
    let mut skipped_files = Int64Builder::with_capacity(n);
    let mut output_files = Int64Builder::with_capacity(n);
    let mut config = StringBuilder::new();
    let mut manifest_path = StringBuilder::new();

    let mut s_run = StringBuilder::new();
    let mut s_scheme = StringBuilder::new();
    let mut s_written = Int64Builder::new();
    let mut s_rejected = Int64Builder::new();

    for m in manifests {
        let j = &m.json;
        let str_of = |k: &str| j.get(k).and_then(Value::as_str);
        let ts_of = |k: &str| str_of(k).and_then(parse_rfc3339_micros);
        let len_of = |k: &str| j.get(k).and_then(Value::as_array).map(|a| a.len() as i64);
        let id = str_of("run_id");
        run_id.append_option(id);
        version.append_option(str_of("lakeaug_version"));
        started.append_option(ts_of("started_at"));
        finished.append_option(ts_of("finished_at"));
        duration.append_option(j.get("duration_secs").and_then(Value::as_f64));
        seed.append_option(j.get("seed").and_then(Value::as_u64));
        config_hash.append_option(str_of("config_hash"));
        rows_read.append_option(j.get("rows_read").and_then(Value::as_i64));
        rows_written.append_option(j.get("rows_written").and_then(Value::as_i64));
        rows_rejected.append_option(j.get("rows_rejected").and_then(Value::as_i64));
        rows_per_sec.append_option(j.get("rows_per_sec").and_then(Value::as_f64));
        threads.append_option(j.get("threads").and_then(Value::as_i64));
        input_files.append_option(len_of("inputs"));
        skipped_files.append_option(len_of("skipped_files"));
        output_files.append_option(len_of("output_files"));
        config.append_option(j.get("config").map(|c| c.to_string()));
        manifest_path.append_value(m.path.display().to_string());

        if let Some(per) = j.get("per_scheme").and_then(Value::as_object) {
            for (scheme, counts) in per {
                s_run.append_option(id);
                s_scheme.append_value(scheme);
                s_written.append_option(counts.get("written").and_then(Value::as_i64));
                s_rejected.append_option(counts.get("rejected").and_then(Value::as_i64));
            }
        }
    }
    let runs_cols: Vec<ArrayRef> = vec![
        Arc::new(run_id.finish()),
        Arc::new(version.finish()),
        Arc::new(started.finish()),
        Arc::new(finished.finish()),
        Arc::new(duration.finish()),
        Arc::new(seed.finish()),
        Arc::new(config_hash.finish()),
        Arc::new(rows_read.finish()),
        Arc::new(rows_written.finish()),
        Arc::new(rows_rejected.finish()),
        Arc::new(rows_per_sec.finish()),
        Arc::new(threads.finish()),
        Arc::new(input_files.finish()),
        Arc::new(skipped_files.finish()),
        Arc::new(output_files.finish()),
        Arc::new(config.finish()),
        Arc::new(manifest_path.finish()),
    ];
    let runs = RecordBatch::try_new(runs_schema(), runs_cols)?;
    let scheme_cols: Vec<ArrayRef> = vec![
        Arc::new(s_run.finish()),
        Arc::new(s_scheme.finish()),
        Arc::new(s_written.finish()),
        Arc::new(s_rejected.finish()),
    ];
    let run_schemes = RecordBatch::try_new(run_schemes_schema(), scheme_cols)?;
    Ok((runs, run_schemes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_parses_known_instants() {
        // 2000-01-01T00:00:00Z is 946684800 s after the epoch (date -d @946684800).
        assert_eq!(
            parse_rfc3339_micros("2000-01-01T00:00:00Z"),
            Some(946_684_800_000_000)
        );
        assert_eq!(
            parse_rfc3339_micros("2000-01-01T01:00:00.5+01:00"),
            Some(946_684_800_500_000)
        );
        assert_eq!(parse_rfc3339_micros("1970-01-01T00:00:00.000001Z"), Some(1));
        assert_eq!(parse_rfc3339_micros("garbage"), None);
        assert_eq!(parse_rfc3339_micros("2000-13-01T00:00:00Z"), None);
    }
}
