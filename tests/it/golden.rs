//! Golden values: what users depend on byte for byte, recorded with lakeaug at commit
//! 6436100 (before the pipeline was restructured), so no refactor can change them
//! unnoticed: the default config's hash, per-row seeds, and the exact output of the
//! README's sample run for every built-in scheme and for a user-declared scheme.
//!
//! Output values are compared as one BLAKE3 digest per column and scheme (every column
//! but `run_id`, `created_at` and `lakeaug_version`, which differ per run or per release
//! by design), plus the part files' names and row counts. The expected digests are in
//! `tests/fixtures/golden/sample_runs.tsv`; a deliberate change of output values is
//! recorded by running this test with `LAKEAUG_BLESS_GOLDEN=1` and committing the diff,
//! with the reason in the commit message.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::common::{read_dir_batches, repo_path};
use arrow::array::{Array, RecordBatch};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use lakeaug::config::Config;
use lakeaug::rng::row_seed;

#[test]
fn default_config_hash_is_stable() {
    // The hash names the config an output was built with (`_lakeaug/state/dataset.json`):
    // if it changed, every existing output would refuse the next incremental run.
    assert_eq!(Config::default().hash(), "8b0aaa71279f9a3e");
}

#[test]
fn row_seeds_are_stable() {
    // Every augmentation draws from these: a change re-randomises every output row.
    let cases: [(u64, &str, u64, &str, u32, u64); 4] = [
        (
            0,
            "photos.parquet",
            0,
            "aligned",
            0,
            12_308_501_575_101_507_146,
        ),
        (
            0,
            "photos.parquet",
            1,
            "aligned",
            0,
            4_198_220_066_549_562_150,
        ),
        (
            7,
            "date=2026-11-27/a.parquet",
            123_456,
            "mixgen",
            3,
            11_786_669_846_056_188_235,
        ),
        (
            u64::MAX,
            "",
            u64::MAX,
            "",
            u32::MAX,
            17_591_962_771_528_880_842,
        ),
    ];
    let got: Vec<u64> = cases
        .iter()
        .map(|(seed, key, row, scheme, copy, _)| row_seed(*seed, key, *row, scheme, *copy))
        .collect();
    let want: Vec<u64> = cases.iter().map(|c| c.5).collect();
    assert_eq!(got, want);
}

/// Columns whose values differ between runs (or releases) by design.
const VARYING: [&str; 3] = ["run_id", "created_at", "lakeaug_version"];

/// One digest per column of `batch` (minus [`VARYING`]): type, then per row validity and
/// the value as arrow displays it (length-prefixed, so no two sequences collide).
fn column_digests(batch: &RecordBatch) -> Vec<(String, String)> {
    let options = FormatOptions::default();
    let mut out = Vec::new();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if VARYING.contains(&field.name().as_str()) {
            continue;
        }
        let mut h = blake3::Hasher::new();
        h.update(field.data_type().to_string().as_bytes());
        h.update(&(column.len() as u64).to_le_bytes());
        let formatter = ArrayFormatter::try_new(column.as_ref(), &options).unwrap();
        for i in 0..column.len() {
            if column.is_valid(i) {
                let value = formatter.value(i).to_string();
                h.update(&[1]);
                h.update(&(value.len() as u64).to_le_bytes());
                h.update(value.as_bytes());
            } else {
                h.update(&[0]);
            }
        }
        out.push((
            field.name().clone(),
            h.finalize().to_hex()[..32].to_string(),
        ));
    }
    out
}

/// `lakeaug run` on the README's sample data with `args`, from the repository root (so
/// `source_file` is the relative path the README uses); the lines describing its output.
fn golden_lines(run: &str, args: &[&str], config: Option<&str>) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lakeaug"));
    cmd.current_dir(repo_path(""))
        .args(["run", "--quiet", "--input", "sample_data/photos.parquet"])
        .arg("--output")
        .arg(&out)
        .args(args);
    if let Some(toml) = config {
        let path = dir.path().join("config.toml");
        std::fs::write(&path, toml).unwrap();
        cmd.arg("--config").arg(&path);
    }
    let result = cmd.output().unwrap();
    assert!(
        result.status.success(),
        "{run}: lakeaug run failed: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    describe_output(run, &out)
}

/// Part names with their row counts, and per scheme (parts concatenated in name order)
/// one digest per column; the rejects tables likewise.
fn describe_output(run: &str, out: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    let mut by_table: BTreeMap<String, Vec<RecordBatch>> = BTreeMap::new();
    for (rel, batch) in read_dir_batches(out) {
        lines.push(format!("{run}\tpart\t{rel}\t{}", batch.num_rows()));
        let table = rel.split('/').next().unwrap_or_default().to_string();
        by_table.entry(table).or_default().push(batch);
    }
    let rejects = out.join("_rejects");
    if rejects.exists() {
        for (rel, batch) in read_dir_batches(&rejects) {
            lines.push(format!("{run}\tpart\t_rejects/{rel}\t{}", batch.num_rows()));
            by_table
                .entry("_rejects".to_string())
                .or_default()
                .push(batch);
        }
    }
    for (table, batches) in by_table {
        let all = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
        for (column, digest) in column_digests(&all) {
            lines.push(format!("{run}\t{table}\t{column}\t{digest}"));
        }
    }
    lines
}

const USER_SCHEME: &str = r#"schemes = ["gentle"]

[scheme.gentle]
image = [
  { op = "hflip", p = 0.5, captions = "swap" },
  { op = "color_jitter", brightness = 0.1, saturation = 0.1, hue = 0.02 },
  { op = "gaussian_blur", sigma = [0.5, 1.5], p = 0.2 },
]
text = [
  { op = "one_of", ops = [{ op = "synonym", max_words = 1 }, { op = "reorder" }] },
]
mlm = { select_prob = 0.15, mask_prob = 0.8, random_prob = 0.1 }
"#;

#[test]
fn sample_runs_match_the_recorded_output() {
    let mut lines = Vec::new();
    // The README's first command, as given (the default schemes).
    lines.extend(golden_lines("readme", &[], None));
    // Every built-in scheme on its own: which schemes run together can change how a
    // source is decoded (reduced JPEG decoding is off when any scheme crops the source).
    for scheme in lakeaug::schemes::BUILTIN_SCHEMES {
        lines.extend(golden_lines(scheme, &["--schemes", scheme], None));
    }
    // All of them together, with copies, small batches and chunks (several parts per
    // scheme, batches cut at chunk boundaries, MixGen pairs across batches).
    let all = lakeaug::schemes::BUILTIN_SCHEMES.join(",");
    lines.extend(golden_lines(
        "all-copies",
        &[
            "--schemes",
            &all,
            "--copies",
            "3",
            "--batch-size",
            "4",
            "--chunk-rows",
            "6",
            "--threads",
            "2",
        ],
        None,
    ));
    lines.extend(golden_lines("user-scheme", &[], Some(USER_SCHEME)));

    let fixture = repo_path("tests/fixtures/golden/sample_runs.tsv");
    let got = lines.join("\n") + "\n";
    if std::env::var_os("LAKEAUG_BLESS_GOLDEN").is_some() {
        std::fs::create_dir_all(fixture.parent().unwrap()).unwrap();
        std::fs::write(&fixture, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&fixture).unwrap();
    let want_lines: Vec<&str> = want.lines().collect();
    let got_lines: Vec<&str> = got.lines().collect();
    let differing: Vec<String> = got_lines
        .iter()
        .filter(|l| !want_lines.contains(l))
        .map(|l| format!("  now: {l}"))
        .chain(
            want_lines
                .iter()
                .filter(|l| !got_lines.contains(l))
                .map(|l| format!("  was: {l}")),
        )
        .collect();
    assert!(
        differing.is_empty() && got_lines.len() == want_lines.len(),
        "the output differs from the recorded golden output ({}):\n{}",
        fixture.display(),
        differing.join("\n")
    );
}
