//! Runs against a real S3-compatible server on loopback: moto's server mode, started here
//! from the Python environment `.venv` (created from `tests/s3/requirements.txt` when
//! missing, like the interop tests). A full run, an incremental run, killed runs resumed
//! (also inside a multipart upload, which the next run aborts), pyarrow reading the
//! result from the server, and concurrent takeovers of a stale lock (one winner).
//!
//! Skips, loudly, only when no `python3` exists at all; CI has one, so there it runs.

use crate::common;
use crate::common::moto::{code, root, Env};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

impl Env {
    /// Run `s3://lake/in` into `s3://out/ds`, expecting exit code `want`; the summary JSON.
    fn run_ds(&self, want: i32) -> serde_json::Value {
        let summary = self.home.path().join("summary.json");
        let args = [
            "--input",
            "s3://lake/in",
            "--output",
            "s3://out/ds",
            "--summary-json",
            summary.to_str().unwrap(),
        ];
        let out = self.lakeaug(&args, &[]);
        assert_eq!(
            code(&out),
            Some(want),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap()
    }

    /// Run into `s3://out/<name>` killed at `point`, check `after_kill`, resume, and compare
    /// the values with the uninterrupted `s3://out/ds`.
    fn kill_then_resume(
        &self,
        name: &str,
        point: &str,
        env: &[(&str, &str)],
        after_kill: impl Fn(&Env),
    ) {
        let output = format!("s3://out/{name}");
        let args = ["--input", "s3://lake/in", "--output", output.as_str()];
        let mut crash_env = env.to_vec();
        crash_env.push(("LAKEAUG_CRASH_AT", point));
        let killed = self.lakeaug(&args, &crash_env);
        assert_ne!(
            code(&killed),
            Some(0),
            "{point}: the run should have aborted"
        );
        after_kill(self);
        let resumed = self.lakeaug(&args, env);
        assert_eq!(
            code(&resumed),
            Some(0),
            "{point}: {}",
            String::from_utf8_lossy(&resumed.stderr)
        );
        self.helper(&["compare", "out/ds", &format!("out/{name}")]);
    }
}

fn input_file(dir: &Path, name: &str, rows: usize, salt: u32) -> PathBuf {
    let path = dir.join(name);
    let images = (0..rows)
        .map(|i| (i != 1 || salt != 0).then(|| common::gradient_jpeg(20 + i as u32 % 5, 16 + salt)))
        .collect();
    let captions: Vec<String> = (0..rows)
        .map(|i| format!("photo {i} of a gradient, batch {salt}"))
        .collect();
    common::write_pairs(
        &path,
        images,
        captions.iter().map(|s| Some(s.as_str())).collect(),
    );
    path
}

#[test]
fn s3_full_incremental_killed_and_read_back_with_pyarrow() {
    let Some(env) = Env::start() else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    env.helper(&["mkbucket", "lake"]);
    env.helper(&["mkbucket", "out"]);
    for (name, rows, salt) in [("a.parquet", 5, 0), ("b.parquet", 4, 1)] {
        let f = input_file(local.path(), name, rows, salt);
        env.helper(&[
            "upload",
            f.to_str().unwrap(),
            "lake",
            &format!("in/day=1/{name}"),
        ]);
    }
    // Full run from S3 to S3.
    let first = env.run_ds(0);
    assert_eq!(first["files_processed"], 2);
    assert_eq!(first["rows_rejected"], 3);
    let keys = env.helper(&["keys", "out", "ds/"]);
    assert_eq!(keys.matches("ds/scheme=").count(), 6, "{keys}");
    assert!(keys.contains("ds/_rejects/part-"), "{keys}");
    assert!(!keys.contains("ds/_lakeaug/lock.json"), "{keys}");
    assert!(!keys.contains("ds/_lakeaug/uploads/"), "{keys}");
    assert_eq!(env.helper(&["count", "out/ds"]).trim(), "24"); // (5 + 4) x 3 - 3 rejected

    // Nothing new: exit 3.
    assert_eq!(env.run_ds(3)["status"], "nothing_to_do");

    // One new object: only it is processed.
    let c = input_file(local.path(), "c.parquet", 3, 2);
    env.helper(&["upload", c.to_str().unwrap(), "lake", "in/day=2/c.parquet"]);
    let added = env.run_ds(0);
    assert_eq!(added["files_processed"], 1);
    assert_eq!(added["files_unchanged"], 2);
    assert_eq!(env.helper(&["count", "out/ds"]).trim(), "33");

    // Killed mid-publication, then resumed: the same values as the uninterrupted output.
    env.kill_then_resume("ds2", "mid-publish:2", &[], |_| ());

    // Killed inside a multipart upload: the unfinished upload is invisible, and the next
    // run aborts it before finishing the work.
    env.kill_then_resume(
        "ds3",
        "s3-multipart-started:2",
        &[("LAKEAUG_MULTIPART_THRESHOLD", "1")],
        |env| assert_eq!(env.helper(&["uploads", "out"]).trim(), "1"),
    );
    assert_eq!(env.helper(&["uploads", "out"]).trim(), "0");

    // A second run while the lock is held by a live run on another host: refused (exit 4).
    let lock = local.path().join("lock.json");
    let now_us = lakeaug::state::micros(std::time::SystemTime::now()).unwrap();
    std::fs::write(
        &lock,
        format!(
            r#"{{"run_id":"20260101T000000Z-0badc0de","pid":4242,"host":"other-node","started_at":"2026-01-01T00:00:00.000000Z","heartbeat_us":{now_us}}}"#
        ),
    )
    .unwrap();
    env.helper(&[
        "upload",
        lock.to_str().unwrap(),
        "out",
        "ds/_lakeaug/lock.json",
    ]);
    let locked = env.run_ds(4);
    let err = locked["error"].as_str().unwrap();
    assert!(
        err.contains("pid 4242") && err.contains("other-node"),
        "{err}"
    );

    stale_lock_takeovers_race_with_one_winner(&env);
    documented_cronjob_script_runs_as_written(&env);
}

/// The shell script of the Kubernetes CronJob in docs/nightly.md (the folded `args` scalar of the
/// ```yaml block), with its bucket paths, summary file and binary moved to this test's.
fn documented_cronjob_script() -> String {
    let doc = std::fs::read_to_string(root().join("docs/nightly.md")).unwrap();
    let yaml = doc
        .split("```yaml\n")
        .nth(1)
        .expect("docs/nightly.md has a ```yaml block")
        .split("```")
        .next()
        .unwrap();
    let mut lines = yaml.lines().skip_while(|l| l.trim() != "args:");
    lines.next().expect("an args: key");
    let start = lines.next().expect("the folded script");
    assert_eq!(start.trim(), "- >-", "the script is a folded scalar");
    let indent = start.len() - start.trim_start().len();
    // A folded scalar without blank or more-indented lines joins its lines with spaces.
    lines
        .take_while(|l| l.len() - l.trim_start().len() > indent)
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The CronJob's script against the moto server: a first run processes the lake and
/// prints its summary; a second finds nothing new, which lakeaug reports as exit 3 and the
/// script turns into a success for the Job.
fn documented_cronjob_script_runs_as_written(env: &Env) {
    let summary = env.home.path().join("last-run.json");
    let mut script = documented_cronjob_script();
    for (from, to) in [
        ("/usr/local/bin/lakeaug", env!("CARGO_BIN_EXE_lakeaug")),
        ("s3://my-lake/raw/", "s3://lake/in/"),
        ("s3://my-lake/augmented/", "s3://out/k8s/"),
        ("/tmp/last-run.json", summary.to_str().unwrap()),
    ] {
        assert!(
            script.contains(from),
            "the CronJob script has no {from}: {script}"
        );
        script = script.replace(from, to);
    }
    let run = || {
        env.isolated(Command::new("/bin/sh").args(["-c", &script]))
            .output()
            .unwrap()
    };
    let printed = |o: &Output| -> serde_json::Value {
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
    };
    let first = run();
    assert_eq!(
        code(&first),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let s = printed(&first);
    assert_eq!(s["status"], "processed", "{s}");
    assert_eq!(s["files_processed"], 3, "{s}");
    let again = run();
    assert_eq!(
        code(&again),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(printed(&again)["status"], "nothing_to_do");
    assert_eq!(env.helper(&["count", "out/k8s"]).trim(), "33");
}

/// Several runs take over the same stale lock on the server at once: the conditional PUT
/// (`If-Match` on the stale lock's ETag) lets exactly one of them win. The library reads
/// the store's settings from the environment, as the binary does, so the race runs in a
/// child process of this test binary with the server's settings in its environment
/// (setting them here would leak into the other tests running in this binary).
fn stale_lock_takeovers_race_with_one_winner(env: &Env) {
    env.run_child("s3::stale_lock_race_child", "the stale-lock race");
}

/// The body of [`stale_lock_takeovers_race_with_one_winner`], run only as its child.
#[test]
#[ignore = "run by s3_full_incremental_killed_and_read_back_with_pyarrow with moto's address"]
fn stale_lock_race_child() {
    use lakeaug::state::lock::LOCK_PATH;
    use lakeaug::store::{S3Store, Store};
    use std::sync::Arc;
    assert!(
        std::env::var_os("LAKEAUG_TEST_MOTO").is_some(),
        "run only as a child of the S3 test, which sets the server's address"
    );
    let open = || -> Arc<dyn Store> { Arc::new(S3Store::open("s3://out/locks").unwrap()) };

    // The server honours both conditions: If-None-Match: * and If-Match: <ETag>.
    let store = open();
    store
        .put(LOCK_PATH, &common::lock_race::dead_lock())
        .unwrap();
    assert!(!store.put_if_absent(LOCK_PATH, b"{}").unwrap());
    let (_, seen_by_a) = store.get_versioned(LOCK_PATH).unwrap().unwrap();
    let (_, seen_by_b) = store.get_versioned(LOCK_PATH).unwrap().unwrap();
    assert!(seen_by_a.e_tag.is_some());
    // (Locks differ in content, run id at least: S3's ETag is a hash of the content.)
    assert!(store
        .replace_if(LOCK_PATH, b"{\"a\":1}", &seen_by_a)
        .unwrap());
    assert!(
        !store
            .replace_if(LOCK_PATH, b"{\"b\":1}", &seen_by_b)
            .unwrap(),
        "the second takeover of the same version must be refused"
    );
    assert_eq!(store.get(LOCK_PATH).unwrap().unwrap(), b"{\"a\":1}");

    common::lock_race::race_takeovers(open, 5, 6);
}
