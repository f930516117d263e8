//! Remote inputs are read by byte ranges, not downloaded: measured with the runs'
//! `input_bytes_fetched` against moto's S3 server, on the local path and on a Ballista
//! cluster's executors, with the values checked against runs over the same files on disk.
//!
//! The bounds are exact up to the footer reads: each file open fetches at most
//! `FOOTER_HINT` bytes of footer (one GET), and every row group read is fetched once, whole.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use arrow::array::{ArrayRef, BinaryArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use crate::common;
use crate::common::cluster::Cluster;
use crate::common::moto::{code, Env};
use lakeaug::read::remote::FOOTER_HINT;
use lakeaug::state::State;
use lakeaug::store::LocalStore;

const HINT: u64 = FOOTER_HINT as u64;

/// `rows` rows of textured JPEGs (15-20 KB each, so the file is mostly image bytes), in
/// row groups of `group_rows`.
fn write_grouped(path: &Path, rows: usize, group_rows: usize, salt: u32) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("image", DataType::Binary, true),
        Field::new("caption", DataType::Utf8, true),
    ]));
    let images: Vec<Vec<u8>> = (0..rows as u32)
        .map(|i| common::turbo_jpeg(&common::textured(128 + (i + salt) % 32, 128), false))
        .collect();
    let captions: Vec<String> = (0..rows)
        .map(|i| format!("a textured photo number {i} of a lake at dawn {salt}"))
        .collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(0..rows as i64)),
        Arc::new(BinaryArray::from_iter_values(images.iter())),
        Arc::new(StringArray::from_iter_values(captions.iter())),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(group_rows))
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(file, schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// Each row group's (first row, end row, compressed bytes) in the file at `path`.
fn row_groups(path: &Path) -> Vec<(u64, u64, u64)> {
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap();
    let mut row = 0;
    builder
        .metadata()
        .row_groups()
        .iter()
        .map(|rg| {
            let first = row;
            row += rg.num_rows() as u64;
            (first, row, rg.compressed_size() as u64)
        })
        .collect()
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

/// `lakeaug run` (small images, as the other S3 tests run it) with `args` against the
/// server, expecting exit code `want`; its summary JSON.
fn run(env: &Env, args: &[&str], extra_env: &[(&str, &str)], want: i32) -> serde_json::Value {
    let summary = env.home.path().join("ranges-summary.json");
    std::fs::remove_file(&summary).ok();
    let mut all = args.to_vec();
    all.extend(["--summary-json", summary.to_str().unwrap()]);
    let out = env.lakeaug(&all, extra_env);
    assert_eq!(
        code(&out),
        Some(want),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap()
}

fn fetched(summary: &serde_json::Value) -> u64 {
    summary["input_bytes_fetched"]
        .as_u64()
        .unwrap_or_else(|| panic!("no input_bytes_fetched in {summary}"))
}

/// Both outputs hold the same part files with the same values, but for `source_file`
/// (the input's path as given: `s3://…` in one, a local path in the other), which must
/// name the same file below the input root.
fn assert_same_values_but_source(from_s3: &Path, from_disk: &Path) {
    let a = common::read_dir_batches(from_s3);
    let b = common::read_dir_batches(from_disk);
    assert!(!a.is_empty(), "no output in {}", from_s3.display());
    let names = |v: &[(String, RecordBatch)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b), "different part files");
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        let source = x.schema().index_of("source_file").unwrap();
        let (sx, sy) = (x.column(source), y.column(source));
        let (sx, sy) = (
            sx.as_any().downcast_ref::<StringArray>().unwrap(),
            sy.as_any().downcast_ref::<StringArray>().unwrap(),
        );
        for (p, q) in sx.iter().zip(sy.iter()) {
            let (p, q) = (p.unwrap(), q.unwrap());
            let key = p
                .strip_prefix("s3://lake/")
                .unwrap_or_else(|| panic!("{p}"));
            assert!(q.ends_with(key), "{name}: {p} vs {q}");
        }
        let mut x = x.clone();
        let mut y = y.clone();
        x.remove_column(source);
        y.remove_column(source);
        common::assert_same_values(&x, &y, name);
    }
}

/// Run the local folder `input` (what the S3 run read) with `extra` options into a
/// sibling of `from_s3`, and check that it gives the same values.
fn assert_same_as_disk_run(input: &Path, from_s3: &Path, extra: &[&str]) {
    let from_disk = from_s3.with_file_name("from-disk");
    let local = common::small_run::small_run()
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(&from_disk)
        .args(extra)
        .output()
        .unwrap();
    assert_eq!(
        code(&local),
        Some(0),
        "{}",
        String::from_utf8_lossy(&local.stderr)
    );
    assert_same_values_but_source(from_s3, &from_disk);
}

/// A folder of two inputs (`in/day=1/big.parquet`, 48 rows in 6 row groups, and
/// `in/day=2/small.parquet`), uploaded to `s3://lake/in/` as well.
fn lake_of_two(env: &Env, dir: &Path) -> (PathBuf, Vec<PathBuf>) {
    let lake = dir.join("lake");
    let files = vec![
        lake.join("in/day=1/big.parquet"),
        lake.join("in/day=2/small.parquet"),
    ];
    write_grouped(&files[0], 48, 8, 0);
    write_grouped(&files[1], 10, 4, 1);
    for f in &files {
        let key = f.strip_prefix(&lake).unwrap().to_str().unwrap();
        env.helper(&["upload", f.to_str().unwrap(), "lake", key]);
    }
    (lake, files)
}

#[test]
fn s3_inputs_are_read_by_ranges_and_a_rerun_fetches_footers_only() {
    let Some(env) = Env::start() else {
        return;
    };
    env.helper(&["mkbucket", "lake"]);
    let dir = tempfile::tempdir().unwrap();
    let (lake, files) = lake_of_two(&env, dir.path());
    let total: u64 = files.iter().map(|f| size(f)).sum();
    let data: u64 = files
        .iter()
        .flat_map(|f| row_groups(f))
        .map(|(_, _, bytes)| bytes)
        .sum();
    let from_s3 = dir.path().join("from-s3");
    let out = from_s3.to_str().unwrap();

    // The first run reads every row group once, and each footer with one GET: not a
    // byte more (an object downloaded whole would also fetch its footer twice).
    let summary = env.home.path().join("first.json");
    let mut first = Command::new(env!("CARGO_BIN_EXE_lakeaug"));
    first
        .args(["run", "--size", "32", "--batch-size", "4", "--threads", "2"])
        .args(["--input", "s3://lake/in", "--output", out, "--summary-json"])
        .arg(&summary);
    let first = env.isolated(&mut first).output().unwrap();
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert_eq!(code(&first), Some(0), "{stderr}");
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(s["files_processed"], 2, "{s}");
    let all = fetched(&s);
    eprintln!("first run: fetched {all} bytes; objects {total} bytes, their row groups {data}");
    assert!(
        data <= all && all <= data + 2 * HINT,
        "fetched {all} bytes for row groups of {data} bytes (+ two footers of at most {HINT})"
    );
    assert!(
        stderr.contains(&format!("{all} bytes (")) && stderr.contains("fetched from remote inputs"),
        "the summary line says what was fetched: {stderr}"
    );

    // Nothing new: planned from the listing alone, nothing fetched.
    let again = run(&env, &["--input", "s3://lake/in", "--output", out], &[], 3);
    assert_eq!(again["status"], "nothing_to_do");
    assert_eq!(fetched(&again), 0, "{again}");

    // Nothing new, footers verified: each footer fetched with one small GET, nothing else.
    let verified = run(
        &env,
        &[
            "--input",
            "s3://lake/in",
            "--output",
            out,
            "--verify-footers",
        ],
        &[],
        3,
    );
    assert_eq!(verified["status"], "nothing_to_do");
    let footers = fetched(&verified);
    eprintln!("--verify-footers rerun: fetched {footers} bytes of {total}");
    assert!(
        footers > 0 && footers <= 2 * HINT && footers * 20 < total,
        "fetched {footers} bytes to verify two footers of objects of {total} bytes"
    );

    // The same values as a run over the same files on disk.
    assert_same_as_disk_run(&lake.join("in"), &from_s3, &[]);
}

#[test]
fn a_resumed_s3_input_fetches_only_its_remaining_row_groups() {
    let Some(env) = Env::start() else {
        return;
    };
    env.helper(&["mkbucket", "lake"]);
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("lake/big/big.parquet");
    write_grouped(&big, 48, 8, 2);
    env.helper(&["upload", big.to_str().unwrap(), "lake", "big/big.parquet"]);
    let out = dir.path().join("out");
    let args = [
        "--input",
        "s3://lake/big",
        "--output",
        out.to_str().unwrap(),
        "--chunk-rows",
        "16",
    ];

    // Killed after its second chunk's commit: the file's record says where to go on.
    let killed = env.lakeaug(&args, &[("LAKEAUG_CRASH_AT", "after-commit:2")]);
    assert_ne!(code(&killed), Some(0), "the run should have been killed");
    let state = State::load(&LocalStore { root: out.clone() }).unwrap();
    let rows_done = state.files["big.parquet"]
        .partial
        .as_ref()
        .expect("a partly done file")
        .rows_done;
    assert!(rows_done > 0 && rows_done < 48, "{rows_done}");

    let resumed = run(&env, &args, &[], 0);
    assert_eq!(resumed["rows_read"], 48 - rows_done, "{resumed}");
    let groups = row_groups(&big);
    let left: u64 = groups
        .iter()
        .filter(|(_, end, _)| *end > rows_done)
        .map(|(_, _, bytes)| bytes)
        .sum();
    let skipped: u64 = groups.iter().map(|(_, _, b)| b).sum::<u64>() - left;
    let got = fetched(&resumed);
    eprintln!(
        "resumed at row {rows_done}: fetched {got} bytes of an object of {}; its row groups left {left}",
        size(&big)
    );
    assert!(skipped > 0, "the resume point skips whole row groups");
    assert!(
        left <= got && got <= left + HINT,
        "fetched {got} bytes for the row groups left ({left} bytes) and a footer"
    );

    // The same values as an uninterrupted run over the file on disk.
    assert_same_as_disk_run(big.parent().unwrap(), &out, &["--chunk-rows", "16"]);
}

#[test]
fn cluster_tasks_fetch_only_the_row_groups_of_their_chunks() {
    let Some(env) = Env::start() else {
        return;
    };
    env.helper(&["mkbucket", "lake"]);
    env.helper(&["mkbucket", "out"]);
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.parquet");
    write_grouped(&big, 48, 8, 3);
    env.helper(&["upload", big.to_str().unwrap(), "lake", "big/big.parquet"]);
    let chunked = ["--input", "s3://lake/big", "--chunk-rows", "16"];

    let cluster = Cluster::start_with_env(&dir.path().join("cluster"), 2, false, &env.vars());
    let mut args = chunked.to_vec();
    args.extend([
        "--output",
        "s3://out/cluster",
        "--cluster",
        &cluster.url,
        "--cluster-jobs",
        "3",
    ]);
    let on_cluster = run(&env, &args, &[], 0);
    let executors = on_cluster["executors"].as_object().expect("executors");
    assert_eq!(
        executors.values().map(|n| n.as_u64().unwrap()).sum::<u64>(),
        3
    );
    // Three tasks of 16 rows = two row groups each: each fetches its footer and its own row
    // groups; the driver fetched the footer once to plan. (Downloading the object for each
    // task would fetch it three times.)
    let data: u64 = row_groups(&big).iter().map(|(_, _, b)| b).sum();
    let got = fetched(&on_cluster);
    eprintln!(
        "3 cluster tasks: fetched {got} bytes of an object of {} (row groups {data})",
        size(&big)
    );
    assert!(
        data <= got && got <= data + 4 * HINT,
        "fetched {got} bytes for row groups of {data} bytes and four footers"
    );

    // The same values as the local path's run over the same object.
    let mut args = chunked.to_vec();
    args.extend(["--output", "s3://out/local"]);
    run(&env, &args, &[], 0);
    env.helper(&["compare", "out/local", "out/cluster"]);
}

/// Against the server: a GET refused because the object was replaced (`If-Match` on the
/// listed ETag) or deleted is an [`InputError::Fetch`] naming the object, the byte range
/// and what to do, not a damaged file. The library reads the store's settings from the
/// environment, so the checks run in a child process of this test binary with the
/// server's settings in its environment (see `s3::stale_lock_race_child`).
#[test]
fn a_failed_ranged_get_names_the_object_and_range_and_is_no_bad_file() {
    let Some(env) = Env::start() else {
        return;
    };
    env.helper(&["mkbucket", "lake"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.parquet");
    write_grouped(&file, 48, 8, 4);
    env.helper(&["upload", file.to_str().unwrap(), "lake", "f/a.parquet"]);
    env.run_child("s3_ranges::failed_gets_child", "the failed-GET checks");
}

/// The body of [`a_failed_ranged_get_names_the_object_and_range_and_is_no_bad_file`].
#[test]
#[ignore = "run by a_failed_ranged_get_names_the_object_and_range_and_is_no_bad_file with moto's address"]
fn failed_gets_child() {
    use lakeaug::config::Columns;
    use lakeaug::read::{discover_inputs, InputError, OpenedInput};
    use lakeaug::store::{S3Store, Store};
    assert!(
        std::env::var_os("LAKEAUG_TEST_MOTO").is_some(),
        "run only as a child of the S3 test, which sets the server's address"
    );
    let files = discover_inputs(&["s3://lake/f".to_string()]).unwrap();
    assert_eq!(files.len(), 1);
    let url = "s3://lake/f/a.parquet";
    assert_eq!(files[0].remote.as_deref(), Some(url));

    // Listed with another ETag than the object has now: the footer's GET is refused.
    let mut replaced = files[0].clone();
    replaced.etag = Some("\"0123456789abcdef0123456789abcdef\"".into());
    let err = OpenedInput::open(&replaced, &Columns::default())
        .err()
        .expect("a replaced object must not be read");
    let text = err.to_string();
    assert!(
        matches!(err, InputError::Fetch(_)) && err.is_fetch() && !err.is_transient(),
        "{err:?}"
    );
    assert!(
        text.starts_with(&format!("{url}: cannot read bytes "))
            && text.contains("replaced since it was listed")
            && text.contains("rerun to process its new content"),
        "{text}"
    );

    // Deleted while it is read: the rows before are read, the next row group's GET fails.
    let input = OpenedInput::open(&files[0], &Columns::default()).unwrap();
    let mut batches = input.batches(4).unwrap();
    let (first_row, batch) = batches.next().unwrap().unwrap();
    assert_eq!((first_row, batch.num_rows()), (0, 4));
    let before = input.bytes_fetched();
    S3Store::open("s3://lake/f")
        .unwrap()
        .delete("a.parquet")
        .unwrap();
    // Rows 4..8 are in the row group already fetched; row 8 on needs the next one.
    let (first_row, _) = batches.next().unwrap().unwrap();
    assert_eq!(first_row, 4);
    let err = batches.next().unwrap().err().expect("the object is gone");
    let text = err.to_string();
    assert!(err.is_fetch() && !err.is_transient(), "{err:?}");
    assert!(
        text.starts_with(&format!("{url}: cannot read bytes "))
            && text.contains("deleted since it was listed"),
        "{text}"
    );
    assert_eq!(
        input.bytes_fetched(),
        before,
        "nothing fetched from a deleted object"
    );
    assert!(batches.next().is_none(), "the batches end after the error");
}
