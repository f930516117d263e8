//! Runs every file in queries/ against lakeaug output and checks the results against
//! values computed independently from the Parquet files (parquet crate, plain Rust).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::sql_fixture::*;
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::{DataType, Float64Type};
use lakeaug::sql::{run_sql, session_for, QueryResult, SqlError};

/// The error of a session that must fail (SessionContext is not Debug).
fn session_err(r: Result<datafusion::prelude::SessionContext, SqlError>) -> String {
    match r {
        Ok(_) => panic!("session should have failed"),
        Err(e) => format!("{:#}", anyhow::Error::from(e)),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime")
}

fn query_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("queries")
        .join(name)
}

/// One result set flattened into a single batch with column accessors.
struct Table(RecordBatch);

impl Table {
    fn from(r: &QueryResult) -> Self {
        Table(concat_batches(&r.schema, &r.batches).expect("concat"))
    }
    fn len(&self) -> usize {
        self.0.num_rows()
    }
    fn col(&self, name: &str) -> &Arc<dyn Array> {
        self.0
            .column_by_name(name)
            .unwrap_or_else(|| panic!("result has no column {name}: {:?}", self.0.schema()))
    }
    fn str(&self, name: &str) -> Vec<Option<String>> {
        let c = cast(self.col(name), &DataType::Utf8).expect("cast");
        c.as_string::<i32>()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect()
    }
    fn f64(&self, name: &str) -> Vec<Option<f64>> {
        let c = cast(self.col(name), &DataType::Float64).expect("cast");
        c.as_primitive::<Float64Type>().iter().collect()
    }
    /// A histogram result (scheme, bucket_start, rows) as a map.
    fn histogram(&self) -> BTreeMap<(String, i64), i64> {
        self.str("scheme")
            .into_iter()
            .zip(self.f64("bucket_start"))
            .zip(self.f64("rows"))
            .map(|((s, b), n)| {
                (
                    (s.unwrap_or_default(), b.unwrap_or(f64::NAN) as i64),
                    n.unwrap_or(0.0) as i64,
                )
            })
            .collect()
    }
    fn row_of(&self, key: &str, value: &str) -> usize {
        self.str(key)
            .iter()
            .position(|v| v.as_deref() == Some(value))
            .unwrap_or_else(|| panic!("no row with {key} = {value}"))
    }
}

fn close(got: Option<f64>, want: f64, what: &str) {
    let got = got.unwrap_or_else(|| panic!("{what}: got NULL, want {want}"));
    // Queries round rates to 4 decimals; allow that rounding and nothing more.
    assert!((got - want).abs() <= 6e-5, "{what}: got {got}, want {want}");
}

fn close_tol(got: Option<f64>, want: f64, tol: f64, what: &str) {
    let got = got.unwrap_or_else(|| panic!("{what}: got NULL, want {want}"));
    assert!((got - want).abs() <= tol, "{what}: got {got}, want {want}");
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// SQL's `avg`: NULL over no values, else the mean within `tol`.
fn check_avg(got: Option<f64>, values: &[f64], tol: f64, what: &str) {
    if values.is_empty() {
        assert_eq!(got, None, "{what} is NULL");
    } else {
        close_tol(got, mean(values), tol, what);
    }
}

async fn run_file(ctx: &datafusion::prelude::SessionContext, name: &str) -> Vec<QueryResult> {
    let sql = std::fs::read_to_string(query_path(name)).expect("read query");
    run_sql(ctx, &sql)
        .await
        .unwrap_or_else(|e| panic!("{name} failed: {e:#}"))
}

/// Runs each query file on `dir` and checks it. `source` is the `--source` argument.
async fn check_queries(dir: &Path, source: &str, source_path: &Path) {
    let ctx = session_for(dir, &[source.to_string()])
        .await
        .expect("session");
    let rows = read_output(dir);
    let rejects = read_rejects(dir);
    assert!(!rows.is_empty(), "fixture has output rows");
    let schemes: BTreeSet<String> = rows.iter().map(|r| r.scheme.clone()).collect();
    let mut checked = BTreeSet::new();

    // --- scheme_summary.sql
    checked.insert("scheme_summary.sql");
    let res = run_file(&ctx, "scheme_summary.sql").await;
    let t = Table::from(&res[0]);
    let mut want: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for r in &rows {
        want.entry((r.run_id.clone(), r.scheme.clone()))
            .or_default()
            .0 += 1;
    }
    for r in &rejects {
        want.entry((r.run_id.clone(), r.scheme.clone()))
            .or_default()
            .1 += 1;
    }
    assert_eq!(t.len(), want.len(), "scheme_summary row count");
    let (run, sch, w, rj, rate) = (
        t.str("run_id"),
        t.str("scheme"),
        t.f64("rows_written"),
        t.f64("rows_rejected"),
        t.f64("reject_rate"),
    );
    for (i, ((wr, ws), (ww, wj))) in want.iter().enumerate() {
        assert_eq!(
            (run[i].as_deref(), sch[i].as_deref()),
            (Some(wr.as_str()), Some(ws.as_str()))
        );
        assert_eq!(w[i], Some(*ww as f64), "{wr}/{ws} written");
        assert_eq!(rj[i], Some(*wj as f64), "{wr}/{ws} rejected");
        close(rate[i], *wj as f64 / (*ww + *wj) as f64, "reject_rate");
    }

    // --- parameter_distribution.sql
    checked.insert("parameter_distribution.sql");
    let res = run_file(&ctx, "parameter_distribution.sql").await;
    assert_eq!(res.len(), 2, "summary + histogram");
    let t = Table::from(&res[0]);
    assert_eq!(t.len(), schemes.len());
    for s in &schemes {
        let i = t.row_of("scheme", s);
        let mine: Vec<&OutRow> = rows.iter().filter(|r| &r.scheme == s).collect();
        assert_eq!(t.f64("rows")[i], Some(mine.len() as f64));
        let flips: Vec<f64> = mine
            .iter()
            .filter_map(|r| r.hflip)
            .map(|f| f as u8 as f64)
            .collect();
        let stats = |v: Vec<f64>, name: &str, tol: f64| {
            check_avg(
                t.f64(&format!("{name}_mean"))[i],
                &v,
                tol,
                &format!("{s} {name} mean"),
            );
            if v.is_empty() {
                return;
            }
            let min = v.iter().cloned().fold(f64::INFINITY, f64::min);
            let max = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            close_tol(
                t.f64(&format!("{name}_min"))[i],
                min,
                tol,
                &format!("{s} {name} min"),
            );
            close_tol(
                t.f64(&format!("{name}_max"))[i],
                max,
                tol,
                &format!("{s} {name} max"),
            );
        };
        check_avg(
            t.f64("flip_rate")[i],
            &flips,
            6e-5,
            &format!("{s} flip_rate"),
        );
        stats(
            mine.iter()
                .filter_map(|r| r.brightness.map(f64::from))
                .collect(),
            "brightness",
            6e-5,
        );
        stats(
            mine.iter()
                .filter_map(|r| r.contrast.map(f64::from))
                .collect(),
            "contrast",
            6e-5,
        );
        stats(
            mine.iter()
                .filter_map(|r| r.rotate.map(f64::from))
                .collect(),
            "rotate",
            6e-4,
        );
        let es: Vec<f64> = mine
            .iter()
            .filter_map(|r| r.erase_size.map(f64::from))
            .collect();
        check_avg(
            t.f64("erase_size_mean")[i],
            &es,
            6e-3,
            &format!("{s} erase mean"),
        );
    }
    let h = Table::from(&res[1]);
    let mut want_h: BTreeMap<(String, i64), i64> = BTreeMap::new();
    for r in &rows {
        if let Some(d) = r.rotate {
            let b = ((f64::from(d) / 5.0).floor() as i64 * 5).min(10);
            *want_h.entry((r.scheme.clone(), b)).or_default() += 1;
        }
    }
    let got_h = h.histogram();
    assert_eq!(got_h, want_h, "rotation histogram");

    // --- caption_edits.sql
    checked.insert("caption_edits.sql");
    let captions = read_source_captions(source_path);
    let res = run_file(&ctx, "caption_edits.sql").await;
    let t = Table::from(&res[0]);
    assert_eq!(t.len(), schemes.len());
    for s in &schemes {
        let i = t.row_of("scheme", s);
        let mine: Vec<&OutRow> = rows
            .iter()
            .filter(|r| &r.scheme == s && r.source_file == source)
            .collect();
        let src = |r: &OutRow| captions[r.source_row as usize].clone().unwrap_or_default();
        let aug = |r: &OutRow| r.caption.clone().unwrap_or_default();
        assert_eq!(t.f64("rows")[i], Some(mine.len() as f64), "{s} joined rows");
        // The query's mean of a per-row value against the same mean computed here.
        let check_mean = |column: &str, value: &dyn Fn(&OutRow) -> f64, tol: f64| {
            let v: Vec<f64> = mine.iter().map(|r| value(r)).collect();
            close_tol(t.f64(column)[i], mean(&v), tol, &format!("{s} {column}"));
        };
        check_mean("share_changed", &|r| (src(r) != aug(r)) as u8 as f64, 6e-5);
        check_mean(
            "mean_words_replaced",
            &|r| r.words_replaced.as_ref().map_or(0, Vec::len) as f64,
            6e-5,
        );
        check_mean(
            "mean_words_deleted",
            &|r| r.words_deleted.as_ref().map_or(0, Vec::len) as f64,
            6e-5,
        );
        check_mean(
            "mean_edit_distance",
            &|r| word_distance(&src(r), &aug(r)) as f64,
            6e-5,
        );
        let max_dist = mine
            .iter()
            .map(|r| word_distance(&src(r), &aug(r)) as f64)
            .fold(0.0, f64::max);
        close_tol(t.f64("max_edit_distance")[i], max_dist, 0.0, "max dist");
        check_mean(
            "mean_source_words",
            &|r| src(r).split_whitespace().count() as f64,
            6e-3,
        );
        check_mean(
            "mean_augmented_words",
            &|r| aug(r).split_whitespace().count() as f64,
            6e-3,
        );
    }

    // --- token_lengths.sql
    checked.insert("token_lengths.sql");
    let res = run_file(&ctx, "token_lengths.sql").await;
    assert_eq!(res.len(), 2);
    let t = Table::from(&res[0]);
    let mut want_h: BTreeMap<(String, i64), i64> = BTreeMap::new();
    for s in &schemes {
        let mine: Vec<&OutRow> = rows
            .iter()
            .filter(|r| &r.scheme == s && r.input_ids.is_some())
            .collect();
        if mine.is_empty() {
            continue;
        }
        let i = t.row_of("scheme", s);
        let lens: Vec<f64> = mine
            .iter()
            .map(|r| {
                r.input_ids
                    .as_ref()
                    .map_or(0, |v| v.iter().filter(|&&id| id != 0).count()) as f64
            })
            .collect();
        for (r, l) in mine.iter().zip(&lens) {
            *want_h.entry((s.clone(), (*l as i64 / 8) * 8)).or_default() += 1;
            let _ = r;
        }
        assert_eq!(t.f64("rows")[i], Some(mine.len() as f64));
        close_tol(
            t.f64("mean_tokens")[i],
            mean(&lens),
            6e-3,
            &format!("{s} mean tokens"),
        );
        close_tol(
            t.f64("min_tokens")[i],
            lens.iter().cloned().fold(f64::INFINITY, f64::min),
            0.0,
            "min tokens",
        );
        close_tol(
            t.f64("max_tokens")[i],
            lens.iter().cloned().fold(0.0, f64::max),
            0.0,
            "max tokens",
        );
        let tr: Vec<f64> = mine
            .iter()
            .map(|r| r.truncated.unwrap_or(false) as u8 as f64)
            .collect();
        close_tol(
            t.f64("share_truncated")[i],
            mean(&tr),
            6e-5,
            &format!("{s} truncated"),
        );
    }
    let h = Table::from(&res[1]);
    let got_h = h.histogram();
    assert_eq!(got_h, want_h, "token histogram");

    // --- lineage_trace.sql
    checked.insert("lineage_trace.sql");
    let res = run_file(&ctx, "lineage_trace.sql").await;
    let t = Table::from(&res[0]);
    let first = rows
        .iter()
        .map(|r| (r.source_file.clone(), r.source_row))
        .min()
        .expect("rows");
    let mut want: Vec<(String, String, i64, u64)> = rows
        .iter()
        .filter(|r| (r.source_file.clone(), r.source_row) == first)
        .map(|r| (r.run_id.clone(), r.scheme.clone(), r.aug_copy, r.aug_seed))
        .collect();
    want.sort();
    let seeds = cast(t.col("aug_seed"), &DataType::UInt64).expect("cast");
    let seeds = seeds.as_primitive::<arrow::datatypes::UInt64Type>();
    let got: Vec<(String, String, i64, u64)> = (0..t.len())
        .map(|i| {
            (
                t.str("run_id")[i].clone().unwrap_or_default(),
                t.str("scheme")[i].clone().unwrap_or_default(),
                t.f64("aug_copy")[i].unwrap_or(-1.0) as i64,
                seeds.value(i),
            )
        })
        .collect();
    assert_eq!(got, want, "lineage of {first:?}");
    assert!(t
        .str("source_row")
        .iter()
        .all(|v| v.as_deref() == Some(&first.1.to_string()[..])));

    // --- rejects_by_reason.sql
    checked.insert("rejects_by_reason.sql");
    let res = run_file(&ctx, "rejects_by_reason.sql").await;
    let t = Table::from(&res[0]);
    let mut want: BTreeMap<(String, String, String), i64> = BTreeMap::new();
    for r in &rejects {
        *want
            .entry((r.scheme.clone(), r.stage.clone(), r.reason.clone()))
            .or_default() += 1;
    }
    assert_eq!(t.len(), want.len());
    for i in 0..t.len() {
        let key = (
            t.str("scheme")[i].clone().unwrap_or_default(),
            t.str("stage")[i].clone().unwrap_or_default(),
            t.str("reason")[i].clone().unwrap_or_default(),
        );
        let n = *want
            .get(&key)
            .unwrap_or_else(|| panic!("unexpected group {key:?}"));
        assert_eq!(t.f64("rejects")[i], Some(n as f64));
        close(
            t.f64("share_of_rejects")[i],
            n as f64 / rejects.len() as f64,
            "share_of_rejects",
        );
    }

    // --- run_history.sql
    checked.insert("run_history.sql");
    let res = run_file(&ctx, "run_history.sql").await;
    let t = Table::from(&res[0]);
    let mut manifests: Vec<serde_json::Value> = std::fs::read_dir(dir.join("_lakeaug/runs"))
        .expect("runs dir")
        .flatten()
        .map(|e| {
            serde_json::from_str(&std::fs::read_to_string(e.path()).expect("read")).expect("json")
        })
        .collect();
    manifests.sort_by_key(|m| {
        (
            m["started_at"].as_str().unwrap_or("").to_string(),
            m["run_id"].as_str().unwrap_or("").to_string(),
        )
    });
    assert_eq!(t.len(), manifests.len());
    for (i, m) in manifests.iter().enumerate() {
        assert_eq!(t.str("run_id")[i].as_deref(), m["run_id"].as_str());
        assert_eq!(t.f64("rows_written")[i], m["rows_written"].as_f64());
        assert_eq!(t.f64("rows_read")[i], m["rows_read"].as_f64());
        assert_eq!(t.f64("rows_rejected")[i], m["rows_rejected"].as_f64());
        close_tol(
            t.f64("rows_per_sec")[i],
            m["rows_per_sec"].as_f64().unwrap_or(f64::NAN),
            0.051,
            "rows_per_sec",
        );
        close_tol(
            t.f64("duration_secs")[i],
            m["duration_secs"].as_f64().unwrap_or(f64::NAN),
            0.0051,
            "duration",
        );
        assert_eq!(
            t.str("config_hash")[i].as_deref(),
            m["config_hash"].as_str()
        );
    }

    // --- consistency.sql
    checked.insert("consistency.sql");
    let res = run_file(&ctx, "consistency.sql").await;
    let t = Table::from(&res[0]);
    assert_eq!(t.len(), schemes.len());
    for s in &schemes {
        let i = t.row_of("scheme", s);
        let mine: Vec<&OutRow> = rows.iter().filter(|r| &r.scheme == s).collect();
        let count = |f: &dyn Fn(&OutRow) -> bool| mine.iter().filter(|r| f(r)).count() as f64;
        let total = |f: &dyn Fn(&OutRow) -> Option<usize>| {
            mine.iter().filter_map(|r| f(r)).sum::<usize>() as f64
        };
        let want = [
            ("rows", mine.len() as f64),
            ("flipped", count(&|r| r.hflip == Some(true))),
            (
                "captions_mirrored",
                count(&|r| {
                    r.hflip_caption_swaps
                        .as_ref()
                        .is_some_and(|v| !v.is_empty())
                }),
            ),
            (
                "words_mirrored",
                total(&|r| r.hflip_caption_swaps.as_ref().map(Vec::len)),
            ),
            ("flips_skipped", count(&|r| r.hflip_skipped == Some(true))),
            ("hue_shifted", count(&|r| r.hue.is_some())),
            ("hue_skipped", count(&|r| r.hue_skipped == Some(true))),
            (
                "synonyms",
                total(&|r| r.synonym_words.as_ref().map(Vec::len)),
            ),
            ("blurred", count(&|r| r.blur_sigma.is_some())),
            ("erased", count(&|r| r.erase_size.is_some())),
            ("hedged", count(&|r| r.hedge.is_some())),
            ("mixed", count(&|r| r.mix_partner_row.is_some())),
            (
                "hedged_without_cause",
                count(&|r| r.hedge.is_some() && r.blur_sigma.is_none() && r.erase_size.is_none()),
            ),
        ];
        for (column, value) in want {
            assert_eq!(t.f64(column)[i], Some(value), "{s} {column}");
        }
        let lambdas: Vec<f64> = mine
            .iter()
            .filter_map(|r| r.mix_lambda.map(f64::from))
            .collect();
        check_avg(
            t.f64("mix_lambda_mean")[i],
            &lambdas,
            6e-5,
            &format!("{s} mix_lambda_mean"),
        );
    }

    // Every shipped query must be checked above.
    let shipped: BTreeSet<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("queries"))
            .expect("queries dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
    let checked: BTreeSet<String> = checked.into_iter().map(str::to_string).collect();
    assert_eq!(shipped, checked, "every queries/*.sql file has a check");
}

#[test]
fn queries_on_synthetic_output() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (out, source) = write_fixture(tmp.path());
    // Guard against a vacuous fixture: it must contain rejects, truncation, edits.
    let rows = read_output(&out);
    assert!(!read_rejects(&out).is_empty());
    assert!(rows.iter().any(|r| r.truncated == Some(true)));
    assert!(rows
        .iter()
        .any(|r| r.words_replaced.as_ref().is_some_and(|v| !v.is_empty())));
    runtime().block_on(check_queries(&out, &source, Path::new(&source)));
}

#[test]
#[allow(clippy::needless_range_loop)] // rows are checked by index across columns
fn tables_udfs_and_staging_exclusion() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (out, source) = write_fixture(tmp.path());
    let rows = read_output(&out);
    runtime().block_on(async {
        let ctx = session_for(&out, std::slice::from_ref(&source)).await.expect("session");
        let one = |sql: &'static str| {
            let ctx = ctx.clone();
            async move { Table::from(&run_sql(&ctx, sql).await.expect(sql)[0]) }
        };
        // Staging files are not part of `augmented`.
        let t = one("SELECT count(*) AS n, sum(CASE WHEN caption = 'staging junk' THEN 1 ELSE 0 END) AS junk FROM augmented").await;
        assert_eq!(t.f64("n")[0], Some(rows.len() as f64));
        assert_eq!(t.f64("junk")[0], Some(0.0));

        // The source table: physical row order and the lineage key.
        let t = one("SELECT source_file, source_row, caption FROM source ORDER BY source_row").await;
        assert_eq!(t.len(), CAPTIONS.len());
        for i in 0..CAPTIONS.len() {
            assert_eq!(t.str("source_file")[i].as_deref(), Some(source.as_str()));
            assert_eq!(t.f64("source_row")[i], Some(i as f64));
            assert_eq!(t.str("caption")[i].as_deref(), Some(CAPTIONS[i]));
        }
        // Only a computed column projected (no file columns read).
        let t = one("SELECT max(source_row) AS m FROM source").await;
        assert_eq!(t.f64("m")[0], Some((CAPTIONS.len() - 1) as f64));

        // image_info on the source PNGs: the fixture encodes image i as (20+i)x(10+2i).
        let t = one("SELECT source_row, image_info(image)['format'] AS f, image_info(image)['width'] AS w, image_info(image)['height'] AS h FROM source ORDER BY source_row").await;
        for i in 0..CAPTIONS.len() {
            assert_eq!(t.str("f")[i].as_deref(), Some("png"));
            assert_eq!(t.f64("w")[i], Some(20.0 + i as f64));
            assert_eq!(t.f64("h")[i], Some(10.0 + 2.0 * i as f64));
        }
        // ... and on augmented JPEGs: 24 x (16 + source_row).
        let t = one("SELECT count(*) AS bad FROM augmented WHERE image_info(image)['format'] <> 'jpeg' OR image_info(image)['width'] <> 24 OR image_info(image)['height'] <> 16 + source_row").await;
        assert_eq!(t.f64("bad")[0], Some(0.0));

        // Scalar UDF values checked by hand.
        let t = one("SELECT word_count('  a b\tc ') AS wc, word_count('') AS wc0, word_edit_distance('a red car', 'a crimson car parked') AS d, token_count([101, 7, 102, 0, 0]) AS tc, token_count([5, 5, 1], 5) AS tc5, image_info(CAST('nope' AS BYTEA)) IS NULL AS bad_img").await;
        assert_eq!(t.f64("wc")[0], Some(3.0));
        assert_eq!(t.f64("wc0")[0], Some(0.0));
        assert_eq!(t.f64("d")[0], Some(2.0));
        assert_eq!(t.f64("tc")[0], Some(3.0));
        assert_eq!(t.f64("tc5")[0], Some(1.0));
        assert_eq!(t.str("bad_img")[0].as_deref(), Some("true"));

        // runs / run_schemes come from the manifests.
        let t = one("SELECT run_id, CAST(started_at AS VARCHAR) AS s, seed FROM runs ORDER BY run_id").await;
        assert_eq!(t.str("run_id"), vec![Some("r1".into()), Some("r2".into())]);
        assert!(t.str("s")[0].as_deref().unwrap_or("").starts_with("2025-03-01T10:00:00"));
        assert_eq!(t.f64("seed"), vec![Some(7.0), Some(8.0)]);
        let t = one("SELECT sum(rejected) AS r FROM run_schemes WHERE scheme = 'cross_modal'").await;
        assert_eq!(t.f64("r")[0], Some(read_rejects(&out).len() as f64));

        // `WHERE scheme = ...` prunes partition files: the plan lists only that folder.
        let t = one("EXPLAIN SELECT caption FROM augmented WHERE scheme = 'cross_modal'").await;
        let plan = t.str("plan").into_iter().flatten().collect::<Vec<_>>().join("\n");
        assert!(plan.contains("scheme=cross_modal"), "{plan}");
        assert!(!plan.contains("scheme=aligned"), "aligned files pruned: {plan}");
    });
}

#[test]
fn clear_errors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (out, _source) = write_fixture(tmp.path());
    runtime().block_on(async {
        let ctx = session_for(&out, &[]).await.expect("session");
        let e = format!(
            "{:#}",
            anyhow::Error::from(
                run_sql(&ctx, "SELECT * FROM nope")
                    .await
                    .expect_err("unknown table")
            )
        );
        assert!(
            e.contains("nope") && e.contains("available tables: augmented, rejects, runs"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            anyhow::Error::from(
                run_sql(&ctx, "SELECT * FROM source")
                    .await
                    .expect_err("no source")
            )
        );
        assert!(e.contains("--source"), "{e}");
        let e = format!(
            "{:#}",
            anyhow::Error::from(run_sql(&ctx, "SELEKT 1").await.expect_err("bad sql"))
        );
        assert!(e.contains("SQL syntax error"), "{e}");
        let e = format!(
            "{:#}",
            anyhow::Error::from(run_sql(&ctx, "-- only a comment").await.expect_err("empty"))
        );
        assert!(e.contains("no SQL statement"), "{e}");

        // A folder that is not lakeaug output.
        let e = session_err(session_for(&tmp.path().join("input"), &[]).await);
        assert!(e.contains("not lakeaug output"), "{e}");
        let e = session_err(session_for(&tmp.path().join("missing"), &[]).await);
        assert!(e.contains("no such folder"), "{e}");
        let e = session_err(session_for(&out, &["/no/such/input.parquet".into()]).await);
        assert!(e.contains("/no/such/input.parquet"), "{e}");
    });
}

/// Runs the real binary on sample_data (cwd = crate root, so `source_file` is
/// `sample_data/photos.parquet`).
fn lakeaug_run(out: &Path, extra: &[&str]) {
    lakeaug_run_on("sample_data/photos.parquet", out, extra);
}

fn lakeaug_run_on(input: &str, out: &Path, extra: &[&str]) {
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_lakeaug"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--input", input, "--output"])
        .arg(out)
        .args(extra)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("spawn lakeaug");
    assert!(status.success(), "lakeaug run {extra:?} failed");
}

/// A query session reads the committed snapshot it started from. A file of that snapshot
/// that a later run removed (it replaced that input's outputs) is a clear error, whether
/// it went before the session listed the folder or after: never rows silently left out.
#[test]
fn snapshot_file_gone_is_an_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    lakeaug_run(&out, &[]);
    let part = std::fs::read_dir(out.join("scheme=aligned"))
        .expect("aligned partition")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "parquet"))
        .expect("a part file");
    let aside = tmp.path().join("aside.parquet");
    let sql = "SELECT count(*) AS n, sum(length(caption)) AS chars FROM augmented";
    let gone = |r: Result<Vec<QueryResult>, SqlError>| {
        let e = format!("{:#}", anyhow::Error::from(r.expect_err("the query fails")));
        assert!(e.contains("no longer in the output folder"), "{e}");
        assert!(e.contains(&*part.to_string_lossy()), "names the file: {e}");
    };
    runtime().block_on(async {
        let ctx = session_for(&out, &[]).await.expect("session");
        // Gone before the first listing.
        std::fs::rename(&part, &aside).expect("move aside");
        gone(run_sql(&ctx, sql).await);
        // Back: the same session reads it.
        std::fs::rename(&aside, &part).expect("move back");
        let t = Table::from(&run_sql(&ctx, sql).await.expect("query")[0]);
        assert_eq!(t.f64("n")[0], Some(45.0));
        // Gone after the session listed it (the listing is cached): the read fails.
        std::fs::rename(&part, &aside).expect("move aside");
        gone(run_sql(&ctx, sql).await);
    });
}

/// The consistency schemes (and one declared with `captions = "skip"`) on the synthetic
/// input, whose captions name a side ("on the left") and colours, so every column of
/// consistency.sql has something to count.
#[test]
fn queries_on_consistency_schemes_output() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (_, source) = write_fixture(tmp.path());
    let config = tmp.path().join("skip.toml");
    std::fs::write(
        &config,
        "[[scheme.flip_or_skip.image]]\nop = \"hflip\"\np = 0.5\ncaptions = \"skip\"\n",
    )
    .expect("write config");
    let out = tmp.path().join("consistency_out");
    let schemes = "consistent,light,sync,mixgen,flip_or_skip";
    let config = config.display().to_string();
    lakeaug_run_on(
        &source,
        &out,
        &["--schemes", schemes, "--copies", "4", "--config", &config],
    );
    // Guard against a vacuous run: each rule the query counts acted at least once.
    let rows = read_output(&out);
    let any = |f: &dyn Fn(&OutRow) -> bool| rows.iter().any(f);
    assert!(any(&|r| r
        .hflip_caption_swaps
        .as_ref()
        .is_some_and(|v| !v.is_empty())));
    assert!(any(&|r| r.hflip_skipped == Some(true)));
    assert!(any(&|r| r.hue_skipped == Some(true)));
    assert!(any(&|r| r
        .synonym_words
        .as_ref()
        .is_some_and(|v| !v.is_empty())));
    assert!(any(&|r| r.hedge.is_some()));
    assert!(any(&|r| r.mix_partner_row.is_some()));
    runtime().block_on(check_queries(&out, &source, Path::new(&source)));
}

#[test]
fn queries_on_sample_data_output() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    // Two runs into one folder; the second has another config, so it rebuilds (`--full`,
    // which an output built with another config requires) and run_history lists its manifest.
    lakeaug_run(&out, &[]);
    lakeaug_run(&out, &["--seed", "5", "--copies", "2", "--full"]);
    let rows = read_output(&out);
    // A re-run may replace the partition files of the same input (the part name is
    // derived from the input), so only the second run's 15 x 3 x 2 rows are certain.
    assert!(
        rows.len() >= 15 * 3 * 2,
        "rows of the second run: {}",
        rows.len()
    );
    let source = "sample_data/photos.parquet";
    let source_path = Path::new(env!("CARGO_MANIFEST_DIR")).join(source);
    runtime().block_on(check_queries(&out, source, &source_path));
}
