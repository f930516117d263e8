//! `lakeaug query --cluster` on a real Ballista cluster (a scheduler and two executors of
//! one vcore, our own binary, see `common::cluster`): every file in queries/ gives the
//! same output as the local `lakeaug query`, lakeaug's UDFs and the `source` table run on
//! the executors, both executors take tasks, and what cannot be distributed is refused.
//! One cluster for all of it, to keep the test fast.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common;
use crate::common::cluster::Cluster;

/// Four input files, one with two rows without image (rejects), one of several chunks.
fn lake(dir: &Path) -> PathBuf {
    let lake = dir.join("lake");
    common::write_gradient_input(&lake.join("a.parquet"), 9, 0, &[1, 5]);
    common::write_gradient_input(&lake.join("b.parquet"), 6, 1, &[]);
    common::write_gradient_input(&lake.join("big.parquet"), 44, 2, &[]);
    common::write_gradient_input(&lake.join("d.parquet"), 7, 3, &[]);
    lake
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `lakeaug query OUT --source LAKE ARGS...`, locally or on `cluster`.
fn query(out: &Path, lake: &Path, cluster: Option<&Cluster>, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lakeaug"));
    c.arg("query");
    if let Some(cluster) = cluster {
        c.args(["--cluster", &cluster.url]);
    }
    c.arg(out)
        .arg("--source")
        .arg(lake)
        .args(["--max-rows", "100000"])
        .args(args)
        .output()
        .unwrap()
}

/// The same query locally and on the cluster: both succeed with the same stdout, which is
/// returned.
fn same_on_cluster(out: &Path, lake: &Path, cluster: &Cluster, args: &[&str]) -> String {
    let local = query(out, lake, None, args);
    assert!(local.status.success(), "local {args:?}: {}", stderr(&local));
    let remote = query(out, lake, Some(cluster), args);
    assert!(
        remote.status.success(),
        "cluster {args:?}: {}",
        stderr(&remote)
    );
    let (local, remote) = (
        String::from_utf8(local.stdout).unwrap(),
        String::from_utf8(remote.stdout).unwrap(),
    );
    assert_eq!(remote, local, "{args:?}: the cluster's output differs");
    local
}

/// Job folders (Ballista's shuffle files) in an executor's work folder.
fn job_dirs(work: &Path) -> BTreeSet<String> {
    std::fs::read_dir(work)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn queries_on_the_cluster_equal_local_queries() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(dir.path());
    let out = dir.path().join("out");
    let run = common::small_run::small_run()
        .arg("--input")
        .arg(&lake)
        .arg("--output")
        .arg(&out)
        .args(["--chunk-rows", "8"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", stderr(&run));

    let cluster_dir = dir.path().join("cluster");
    let cluster = Cluster::start(&cluster_dir, 2, false);
    let works = [cluster_dir.join("work0"), cluster_dir.join("work1")];
    let before: Vec<_> = works.iter().map(|w| job_dirs(w)).collect();

    // Every shipped query file, in text form (every statement's result, all rows).
    let mut files: Vec<PathBuf> = std::fs::read_dir(common::repo_path("queries"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "{files:?}");
    for file in &files {
        let text = same_on_cluster(&out, &lake, &cluster, &["--file", file.to_str().unwrap()]);
        // A header, a rule and at least one row: never an empty comparison.
        assert!(text.lines().count() >= 4, "{}: {text}", file.display());
    }

    // Other formats: JSON of the manifests' table, Parquet (exact values) of the rejects.
    let run_history = common::repo_path("queries/run_history.sql");
    let json = same_on_cluster(
        &out,
        &lake,
        &cluster,
        &["--file", run_history.to_str().unwrap(), "--format", "json"],
    );
    assert!(json.contains("\"rows_read\":66"), "{json}");
    let parquet_of = |cluster: Option<&Cluster>, name: &str| {
        let file = dir.path().join(name);
        let o = query(
            &out,
            &lake,
            cluster,
            &[
                "SELECT * FROM rejects ORDER BY scheme, source_file, source_row",
                "--format",
                "parquet",
                "--out",
                file.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        crate::sql_fixture::read_batches(&file)
    };
    let (local, remote) = (
        parquet_of(None, "local.parquet"),
        parquet_of(Some(&cluster), "cluster.parquet"),
    );
    let all = |b: &[arrow::array::RecordBatch]| {
        arrow::compute::concat_batches(&b[0].schema(), b).unwrap()
    };
    let (local, remote) = (all(&local), all(&remote));
    assert_eq!(local.num_rows(), 2 * 3, "two null images x three schemes");
    // Same columns and values; strings may be Utf8 from the cluster where they are
    // Utf8View locally (Ballista turns DataFusion's view types off).
    assert_eq!(
        local.schema().fields().len(),
        remote.schema().fields().len()
    );
    for (i, field) in local.schema().fields().iter().enumerate() {
        assert_eq!(remote.schema().field(i).name(), field.name());
        let remote = arrow::compute::cast(remote.column(i), field.data_type()).unwrap();
        assert_eq!(&remote, local.column(i), "column {}", field.name());
    }

    // Each UDF, on `augmented` and on `source`, as CSV.
    let udfs = "SELECT scheme, count(*) AS n, \
        min(image_info(image)['width']) AS min_w, max(image_info(image)['height']) AS max_h, \
        sum(word_count(caption)) AS words, sum(token_count(input_ids)) AS tokens, \
        sum(word_edit_distance(caption, 'a small photo')) AS edits \
        FROM augmented GROUP BY scheme ORDER BY scheme";
    let csv = same_on_cluster(&out, &lake, &cluster, &[udfs, "--format", "csv"]);
    assert_eq!(csv.lines().count(), 1 + 3, "three schemes: {csv}");
    assert!(!csv.contains(",,"), "no null UDF results: {csv}");
    let source = "SELECT source_file, count(*) AS n, max(source_row) AS last, \
        count(image_info(image)) AS images, sum(word_count(caption)) AS words \
        FROM source GROUP BY source_file ORDER BY source_file";
    let csv = same_on_cluster(&out, &lake, &cluster, &[source, "--format", "csv"]);
    assert_eq!(csv.lines().count(), 1 + 4, "four input files: {csv}");
    assert!(csv.contains(",44,43,44,"), "big.parquet's 44 rows: {csv}");

    // Both executors ran tasks of these jobs (each keeps its shuffle files by job).
    for (work, before) in works.iter().zip(&before) {
        let new: Vec<_> = job_dirs(work).difference(before).cloned().collect();
        assert!(
            !new.is_empty(),
            "{} ran no task of the queries",
            work.display()
        );
    }

    // information_schema lives in the client: refused with a clear message, not run here.
    let o = query(&out, &lake, Some(&cluster), &["SHOW TABLES"]);
    assert!(!o.status.success(), "SHOW TABLES ran on the cluster?");
    let e = stderr(&o);
    assert!(
        e.contains("cannot run on the cluster") && e.contains("without --cluster"),
        "{e}"
    );

    // CREATE TABLE AS would run its query in the client: refused.
    let o = query(
        &out,
        &lake,
        Some(&cluster),
        &["CREATE TABLE t AS SELECT * FROM runs; SELECT count(*) FROM t"],
    );
    assert!(!o.status.success(), "CREATE TABLE AS ran with --cluster?");
    assert!(stderr(&o).contains("use CREATE VIEW"), "{}", stderr(&o));

    // A view (a session-only statement) then a query over it.
    same_on_cluster(
        &out,
        &lake,
        &cluster,
        &[
            "CREATE VIEW big AS SELECT * FROM augmented WHERE source_row >= 40; \
           SELECT scheme, count(*) AS n FROM big GROUP BY scheme ORDER BY scheme",
        ],
    );
}

#[test]
fn query_cluster_refuses_a_bad_address_the_prompt_and_no_scheduler() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = crate::sql_fixture::write_fixture(dir.path());
    let o = Command::new(env!("CARGO_BIN_EXE_lakeaug"))
        .args(["query", "--cluster", "nowhere"])
        .arg(&out)
        .arg("SELECT count(*) FROM augmented")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("not a scheduler address"),
        "{}",
        stderr(&o)
    );

    // The interactive prompt (stdin a terminal, through `script`) is refused up front.
    let prompt = format!(
        "'{}' query --cluster 127.0.0.1:1 '{}' < /dev/tty",
        env!("CARGO_BIN_EXE_lakeaug"),
        out.display()
    );
    let o = Command::new("script")
        .args(["-q", "-e", "-c", &prompt, "/dev/null"])
        .env("TERM", "dumb")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run script (util-linux)");
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(!o.status.success(), "{said}");
    assert!(
        said.contains("interactive prompt runs locally only"),
        "{said}"
    );

    // Nothing listens on this port: an error naming the cluster, never a local answer.
    let port = common::cluster::free_port_pair();
    let o = Command::new(env!("CARGO_BIN_EXE_lakeaug"))
        .args(["query", "--cluster", &format!("127.0.0.1:{port}")])
        .arg(&out)
        .arg("SELECT count(*) FROM augmented")
        .output()
        .unwrap();
    assert!(
        !o.status.success(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(
        stderr(&o).contains("could not run the query"),
        "{}",
        stderr(&o)
    );
}
