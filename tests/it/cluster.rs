//! `lakeaug run --cluster` on a real Ballista cluster: a scheduler and two executors
//! (`--vcores 1`) started from our own binary as child processes on loopback ports, killed
//! when the test ends. The output must equal a local run's value for value, its state the
//! same records; executors killed with `kill -9` and a killed driver must not change that.
//! The lake and the output are on a shared local folder, or on the moto S3 server.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::cluster::{Cluster, Proc};
use crate::common::moto::Env;
use crate::common::{assert_same_values, read_dir_batches};
use lakeaug::state::{FileRecord, State};
use lakeaug::store::LocalStore;

/// `rows` rows of small gradient JPEGs; rows 1 and 5 have no image (rejects) when
/// `with_rejects`.
fn write_input(path: &Path, rows: usize, salt: u32, with_rejects: bool) {
    let nulls: &[usize] = if with_rejects { &[1, 5] } else { &[] };
    common::write_gradient_input(path, rows, salt, nulls);
}

/// Four files: one with rejected rows, one of several chunks (of 8 rows).
fn lake_of_four(dir: &Path) -> PathBuf {
    let lake = dir.join("lake");
    write_input(&lake.join("a.parquet"), 9, 0, true);
    write_input(&lake.join("b.parquet"), 6, 1, false);
    write_input(&lake.join("big.parquet"), 44, 2, false);
    write_input(&lake.join("d.parquet"), 7, 3, false);
    lake
}

const CHUNKS: &[&str] = &["--chunk-rows", "8"];

fn local_run(lake: &Path, out: &Path, extra: &[&str]) -> Output {
    common::small_run::small_run()
        .arg("--input")
        .arg(lake)
        .arg("--output")
        .arg(out)
        .args(CHUNKS)
        .args(extra)
        .output()
        .unwrap()
}

fn cluster_command(cluster: &Cluster, lake: &Path, out: &Path, summary: &Path) -> Command {
    let mut c = common::small_run::small_run();
    c.arg("--input")
        .arg(lake)
        .arg("--output")
        .arg(out)
        .args(CHUNKS)
        .args([
            "--cluster",
            &cluster.url,
            "--shared-fs",
            "--cluster-jobs",
            "3",
        ])
        .arg("--summary-json")
        .arg(summary);
    c
}

fn cluster_run(cluster: &Cluster, lake: &Path, out: &Path, summary: &Path) -> Output {
    cluster_command(cluster, lake, out, summary)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Same part names and values (every column but run_id and created_at), same rejects.
fn assert_same_output(a: &Path, b: &Path) {
    for sub in ["", "_rejects"] {
        let (pa, pb) = (
            read_dir_batches(&a.join(sub)),
            read_dir_batches(&b.join(sub)),
        );
        let names = |v: &[(String, arrow::array::RecordBatch)]| {
            v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>()
        };
        assert_eq!(names(&pa), names(&pb), "files of {sub:?} differ");
        for ((name, x), (_, y)) in pa.iter().zip(&pb) {
            assert_same_values(x, y, name);
        }
    }
}

/// The committed records, without the run that wrote them.
fn records(out: &Path) -> Vec<FileRecord> {
    records_in(&LocalStore {
        root: out.to_path_buf(),
    })
}

/// The committed records of the output in `store`, without the run that wrote them.
fn records_in(store: &dyn lakeaug::store::Store) -> Vec<FileRecord> {
    State::load(store)
        .unwrap()
        .files
        .into_values()
        .map(|mut r| {
            r.run_id.clear();
            r
        })
        .collect()
}

fn summary_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn a_cluster_run_equals_a_local_run_and_goes_on_incrementally() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_of_four(dir.path());
    let reference = dir.path().join("reference");
    let local = local_run(&lake, &reference, &[]);
    assert!(local.status.success(), "{}", stderr(&local));

    let cluster = Cluster::start(&dir.path().join("cluster"), 2, false);
    let out = dir.path().join("out");
    let summary = dir.path().join("summary.json");
    let run = cluster_run(&cluster, &lake, &out, &summary);
    assert!(run.status.success(), "{}", stderr(&run));
    assert_same_output(&out, &reference);
    assert_eq!(records(&out), records(&reference));
    let s = summary_json(&summary);
    assert_eq!(s["rows_read"], 9 + 6 + 44 + 7);
    assert_eq!(s["rows_rejected"], 2 * 3, "two null images x three schemes");
    // 2 + 1 + 6 + 1 chunks, spread over both executors.
    let executors = s["executors"]
        .as_object()
        .expect("executors in the summary");
    assert_eq!(
        executors.len(),
        2,
        "both executors ran chunks: {executors:?}"
    );
    let chunks: u64 = executors.values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(chunks, 10);

    // Nothing new: exit 3, nothing submitted.
    let again = cluster_run(&cluster, &lake, &out, &summary);
    assert_eq!(again.status.code(), Some(3), "{}", stderr(&again));

    // A new file: only its rows are processed, and both outputs still agree.
    write_input(&lake.join("e.parquet"), 10, 4, false);
    let local = local_run(&lake, &reference, &[]);
    assert!(local.status.success(), "{}", stderr(&local));
    let run = cluster_run(&cluster, &lake, &out, &summary);
    assert!(run.status.success(), "{}", stderr(&run));
    let s = summary_json(&summary);
    assert_eq!(
        (s["rows_read"].as_u64(), s["files_processed"].as_u64()),
        (Some(10), Some(1))
    );
    assert_same_output(&out, &reference);
    assert_eq!(records(&out), records(&reference));
}

/// The keys of an S3 output's parts and rejects, relative to the output, sorted.
fn part_keys(env: &Env, bucket: &str, prefix: &str) -> Vec<String> {
    env.helper(&["keys", bucket, &format!("{prefix}/")])
        .lines()
        .filter_map(|k| k.strip_prefix(&format!("{prefix}/")).map(str::to_string))
        .filter(|k| k.starts_with("scheme=") || k.starts_with("_rejects/"))
        .collect()
}

/// Everything on the moto S3 server, no shared file system: the lake is read from S3 by
/// the executors and the output written there, and it equals a local run's value for value.
#[test]
fn a_cluster_run_from_and_to_s3_equals_a_local_run() {
    let Some(env) = Env::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_of_four(dir.path());
    env.helper(&["mkbucket", "lake"]);
    env.helper(&["mkbucket", "out"]);
    for name in ["a.parquet", "b.parquet", "big.parquet", "d.parquet"] {
        let local = lake.join(name);
        env.helper(&[
            "upload",
            local.to_str().unwrap(),
            "lake",
            &format!("in/{name}"),
        ]);
    }
    let cluster = Cluster::start_with_env(&dir.path().join("cluster"), 2, false, &env.vars());
    let summary = dir.path().join("summary.json");
    let run = |output: &str, on_cluster: bool| {
        let mut args = vec!["--input", "s3://lake/in", "--output", output];
        args.extend(CHUNKS);
        args.extend(["--summary-json", summary.to_str().unwrap()]);
        if on_cluster {
            args.extend(["--cluster", &cluster.url, "--cluster-jobs", "3"]);
        }
        env.lakeaug(&args, &[])
    };

    let local = run("s3://out/reference", false);
    assert!(local.status.success(), "{}", stderr(&local));
    let local_summary = summary_json(&summary);
    let o = run("s3://out/cluster", true);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = summary_json(&summary);
    for key in ["rows_read", "rows_written", "rows_rejected"] {
        assert_eq!(s[key], local_summary[key], "{key}");
    }
    assert_eq!(s["rows_read"], 9 + 6 + 44 + 7);
    let executors = s["executors"]
        .as_object()
        .expect("executors in the summary");
    assert_eq!(
        executors.len(),
        2,
        "both executors ran chunks: {executors:?}"
    );

    // Same part and reject files, and pyarrow reads the same values from both.
    let reference = part_keys(&env, "out", "reference");
    assert!(
        reference.iter().any(|k| k.starts_with("_rejects/")),
        "{reference:?}"
    );
    assert_eq!(part_keys(&env, "out", "cluster"), reference);
    env.helper(&["compare", "out/reference", "out/cluster"]);

    env.run_child(
        "cluster::s3_committed_records_child",
        "the comparison of the committed state",
    );

    // Nothing new: exit 3.
    let again = run("s3://out/cluster", true);
    assert_eq!(again.status.code(), Some(3), "{}", stderr(&again));

    // A new file: only its rows are processed, and both outputs still agree.
    write_input(&lake.join("e.parquet"), 10, 4, false);
    let e = lake.join("e.parquet");
    env.helper(&["upload", e.to_str().unwrap(), "lake", "in/e.parquet"]);
    let local = run("s3://out/reference", false);
    assert!(local.status.success(), "{}", stderr(&local));
    let o = run("s3://out/cluster", true);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = summary_json(&summary);
    assert_eq!(
        (s["rows_read"].as_u64(), s["files_processed"].as_u64()),
        (Some(10), Some(1))
    );
    assert_eq!(
        part_keys(&env, "out", "cluster"),
        part_keys(&env, "out", "reference")
    );
    env.helper(&["compare", "out/reference", "out/cluster"]);
    env.run_child(
        "cluster::s3_committed_records_child",
        "the comparison of the committed state",
    );
}

/// The committed records of `s3://out/cluster` and `s3://out/reference` are the same
/// (without the runs that wrote them). Run by the test above with moto's settings.
#[test]
#[ignore = "run by a_cluster_run_from_and_to_s3_equals_a_local_run with moto's address"]
fn s3_committed_records_child() {
    assert!(
        std::env::var_os("LAKEAUG_TEST_MOTO").is_some(),
        "run only as a child of the S3 test, which sets the server's address"
    );
    let records = |url: &str| records_in(&lakeaug::store::S3Store::open(url).unwrap());
    let reference = records("s3://out/reference");
    assert!(!reference.is_empty());
    assert_eq!(records("s3://out/cluster"), reference);
}

#[test]
fn a_local_output_needs_shared_fs_and_full_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_of_four(dir.path());
    let out = dir.path().join("out");
    let o = common::small_run::small_run()
        .arg("--input")
        .arg(&lake)
        .arg("--output")
        .arg(&out)
        .args(["--cluster", "127.0.0.1:1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--shared-fs"), "{}", stderr(&o));
    assert!(!out.exists(), "nothing written");
    let o = common::small_run::small_run()
        .arg("--input")
        .arg(&lake)
        .arg("--output")
        .arg(&out)
        .args(["--cluster", "127.0.0.1:1", "--shared-fs", "--full"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("--full cannot run on a cluster"),
        "{}",
        stderr(&o)
    );
}

/// Wait until `out` has at least `n` commits, or `child` ended.
fn wait_for_commits(out: &Path, n: usize, child: &mut Child) {
    let commits = out.join("_lakeaug/state/commits");
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline {
        if std::fs::read_dir(&commits).is_ok_and(|d| d.count() >= n) {
            return;
        }
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A lake whose tasks take a while: one file of 12 chunks and two small ones.
fn slow_lake(dir: &Path) -> PathBuf {
    let lake = dir.join("lake");
    write_input(&lake.join("big.parquet"), 96, 5, true);
    write_input(&lake.join("b.parquet"), 6, 1, false);
    write_input(&lake.join("c.parquet"), 8, 2, false);
    lake
}

/// A cluster run over [`slow_lake`] under way: its reference (a local run), the cluster,
/// and the driver, once it has committed two chunks.
struct Interrupted {
    dir: tempfile::TempDir,
    lake: PathBuf,
    reference: PathBuf,
    out: PathBuf,
    cluster: Cluster,
    driver: Proc,
}

impl Interrupted {
    fn start(fast: bool) -> Interrupted {
        let dir = tempfile::tempdir().unwrap();
        let lake = slow_lake(dir.path());
        let reference = dir.path().join("reference");
        let local = local_run(&lake, &reference, &[]);
        assert!(local.status.success(), "{}", stderr(&local));
        let cluster = Cluster::start(&dir.path().join("cluster"), 2, fast);
        let out = dir.path().join("out");
        let mut driver = cluster_command(&cluster, &lake, &out, &dir.path().join("s.json"))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for_commits(&out, 2, &mut driver);
        Interrupted {
            dir,
            lake,
            reference,
            out,
            cluster,
            driver: Proc(driver),
        }
    }

    fn assert_equals_reference(&self) {
        assert_same_output(&self.out, &self.reference);
        assert_eq!(records(&self.out), records(&self.reference));
    }
}

#[test]
fn an_executor_killed_mid_run_leaves_the_result_unchanged() {
    let mut run = Interrupted::start(true);
    let was_running = run.driver.0.try_wait().unwrap().is_none();
    drop(run.cluster.executors.remove(0)); // SIGKILL
                                           // Its stderr holds only warnings (--quiet): a pipe does not fill.
    let status = run.driver.0.wait().unwrap();
    let mut err = String::new();
    if let Some(mut e) = run.driver.0.stderr.take() {
        std::io::Read::read_to_string(&mut e, &mut err).ok();
    }
    assert!(status.success(), "{err}");
    run.assert_equals_reference();
    println!("executor killed while the run was going: {was_running}");
}

#[test]
fn a_killed_driver_is_resumed_by_the_next_run() {
    let mut run = Interrupted::start(false);
    let was_running = run.driver.0.try_wait().unwrap().is_none();
    run.driver.0.kill().ok(); // SIGKILL
    run.driver.0.wait().unwrap();
    let summary = run.dir.path().join("resumed.json");
    let resumed = cluster_run(&run.cluster, &run.lake, &run.out, &summary);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    run.assert_equals_reference();
    println!("driver killed while running: {was_running}");
}
