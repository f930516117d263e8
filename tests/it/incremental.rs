//! Nightly runs over a lake: incremental reruns, config changes, `--full`, the lock,
//! exit codes, and crash safety (aborts at named points and a real `kill -9`, each
//! resumed and compared value by value with an uninterrupted run).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common::{assert_same_values, gradient_jpeg, read_dir_batches};
use arrow::array::RecordBatch;
use lakeaug::config::Config;
use lakeaug::pipeline::{run, RunOptions, RunStatus};
use lakeaug::state::lock::{host_name, LockInfo, LOCK_PATH};
use lakeaug::state::{FileIdentity, FileRecord, Plan, State};
use lakeaug::store::LocalStore;

fn lakeaug() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lakeaug"))
}

/// Small images keep the tests fast; values do not depend on size.
fn config() -> Config {
    let mut c = Config::default();
    c.image.size = 32;
    c
}

/// `rows` rows of small gradient JPEGs; row 1 has a null image (a reject) when `with_reject`.
fn write_input(path: &Path, rows: usize, salt: u32, with_reject: bool) {
    let nulls: &[usize] = if with_reject { &[1] } else { &[] };
    common::write_gradient_input(path, rows, salt, nulls);
}

fn opts(lake: &Path, out: &Path) -> RunOptions {
    let mut o = RunOptions::new(
        vec![lake.to_string_lossy().into_owned()],
        out.to_path_buf(),
        config(),
    );
    o.threads = Some(2);
    o.batch_size = 4;
    o
}

/// A part name without its generation (`part-<id>-g2-00000` -> `part-<id>-g*-00000`): a
/// file processed twice has the values, not the names, of a file processed once.
fn without_generation(name: &str) -> String {
    let mut out = String::new();
    let mut rest = name;
    while let Some(i) = rest.find("-g") {
        let digits = rest[i + 2..]
            .chars()
            .take_while(char::is_ascii_digit)
            .count();
        out.push_str(&rest[..i + 2]);
        if digits > 0 && rest[i + 2 + digits..].starts_with('-') {
            out.push('*');
            rest = &rest[i + 2 + digits..];
        } else {
            rest = &rest[i + 2..];
        }
    }
    out + rest
}

/// Every published part (by name, generations aside) and the rejects tables, values
/// compared except `run_id`/`created_at`. No part of a superseded or uncommitted
/// generation may be left: the name lists must match exactly.
fn assert_same_dataset(a: &Path, b: &Path) {
    let pa = read_dir_batches(a);
    let pb = read_dir_batches(b);
    let names = |v: &[(String, RecordBatch)]| {
        v.iter()
            .map(|(n, _)| without_generation(n))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&pa), names(&pb), "part files differ");
    assert!(!pa.is_empty());
    for ((name, x), (_, y)) in pa.iter().zip(&pb) {
        assert_same_values(x, y, name);
    }
    let ra = read_dir_batches(&a.join("_rejects"));
    let rb = read_dir_batches(&b.join("_rejects"));
    assert_eq!(names(&ra), names(&rb), "rejects files differ");
    for ((name, x), (_, y)) in ra.iter().zip(&rb) {
        assert_same_values(x, y, name);
    }
}

fn parts(out: &Path) -> Vec<String> {
    read_dir_batches(out).into_iter().map(|(n, _)| n).collect()
}

#[test]
fn reruns_process_only_new_and_changed_files() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let out = dir.path().join("out");
    write_input(&lake.join("day=1/a.parquet"), 5, 0, true);
    write_input(&lake.join("day=1/b.parquet"), 4, 1, false);

    let first = run(&opts(&lake, &out)).unwrap();
    assert_eq!(first.status, RunStatus::Processed);
    assert_eq!(first.manifest.inputs.len(), 2);
    assert_eq!(first.manifest.rows_read, 9);
    assert_eq!(first.manifest.rows_rejected, 3); // the null image, once per scheme
    assert_eq!(first.footers_read, 2);

    // Nothing new: nothing read, nothing written, a distinct status.
    let before = parts(&out);
    let again = run(&opts(&lake, &out)).unwrap();
    assert_eq!(again.status, RunStatus::NothingToDo);
    assert_eq!(again.footers_read, 0);
    assert_eq!(again.manifest.unchanged_files, 2);
    assert_eq!(parts(&out), before);

    // A new file: only it is read and processed.
    write_input(&lake.join("day=2/c.parquet"), 3, 2, false);
    let added = run(&opts(&lake, &out)).unwrap();
    assert_eq!(added.status, RunStatus::Processed);
    assert_eq!(added.footers_read, 1);
    let processed: Vec<_> = added
        .manifest
        .inputs
        .iter()
        .map(|i| i.path.clone())
        .collect();
    assert_eq!(
        processed,
        vec![format!("{}/day=2/c.parquet", lake.display())]
    );
    assert_eq!(added.manifest.unchanged_files, 2);
    let plans: Vec<_> = added.planned.iter().map(|p| p.plan).collect();
    assert_eq!(plans, vec![Plan::Unchanged, Plan::Unchanged, Plan::New]);

    // A changed file (fewer rows now, no reject): reprocessed, its old outputs replaced,
    // its old rejects gone.
    std::thread::sleep(Duration::from_millis(20));
    write_input(&lake.join("day=1/a.parquet"), 2, 9, false);
    let changed = run(&opts(&lake, &out)).unwrap();
    assert_eq!(changed.manifest.inputs.len(), 1);
    assert_eq!(changed.planned[0].plan, Plan::Changed);
    assert_eq!(changed.manifest.rows_read, 2);

    // The result equals one fresh run over the lake as it is now.
    let fresh = dir.path().join("fresh");
    run(&opts(&lake, &fresh)).unwrap();
    assert_same_dataset(&out, &fresh);
    assert!(read_dir_batches(&out.join("_rejects")).is_empty());

    // The SQL side still reads the output: 2 + 4 + 3 rows x 3 schemes.
    let state = State::load(&LocalStore { root: out.clone() }).unwrap();
    assert_eq!(state.files.len(), 3);
    assert_eq!(state.files.values().map(|r| r.rows).sum::<u64>(), 9);
}

#[test]
fn ten_thousand_processed_files_and_one_new_touch_only_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let out = dir.path().join("out");
    // 10,000 "processed" files that are not Parquet at all: opening any of them would
    // fail the run, so success proves planning never read them.
    let mut records = Vec::new();
    for i in 0..10_000 {
        let key = format!("old/f{i:05}.parquet");
        let path = lake.join(&key);
        if i % 1000 == 0 {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        }
        std::fs::write(&path, b"not parquet").unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        records.push(FileRecord {
            key: key.clone(),
            generation: 1,
            identity: FileIdentity {
                path: path.to_string_lossy().into_owned(),
                size: meta.len(),
                modified_us: meta.modified().ok().and_then(lakeaug::state::micros),
                etag: None,
                footer_fingerprint: "x".into(),
            },
            rows: 1,
            outputs: vec![],
            rejects: vec![],
            per_scheme: Default::default(),
            run_id: "synthetic".into(),
            partial: None,
        });
    }
    // Build the dataset's config record with a first real run, then add the synthetic
    // records to its state.
    write_input(&lake.join("new/first.parquet"), 2, 0, false);
    let first = run(&opts(&lake.join("new"), &out)).unwrap();
    assert_eq!(first.manifest.inputs.len(), 1);
    let store = LocalStore { root: out.clone() };
    let mut all = State::load(&store)
        .unwrap()
        .files
        .into_values()
        .collect::<Vec<_>>();
    for r in &mut all {
        r.key = format!("new/{}", r.key);
    }
    all.extend(records);
    State::write_snapshot(&store, all).unwrap();

    write_input(&lake.join("new/second.parquet"), 2, 1, false);
    let started = Instant::now();
    let s = run(&opts(&lake, &out)).unwrap();
    assert_eq!(s.status, RunStatus::Processed);
    assert_eq!(s.footers_read, 1, "only the new file's footer is read");
    assert_eq!(s.manifest.inputs.len(), 1);
    assert!(s.manifest.inputs[0].path.ends_with("new/second.parquet"));
    assert_eq!(s.manifest.unchanged_files, 10_001);
    // Not a timing assertion, just a record in the test log.
    println!(
        "10,002 inputs planned in {:.2} s, run took {:.2} s",
        s.planning_secs,
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn another_config_is_refused_and_full_rebuilds_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let out = dir.path().join("out");
    write_input(&lake.join("a.parquet"), 3, 0, true);
    let first = run(&opts(&lake, &out)).unwrap();
    let old_hash = first.manifest.config_hash.clone();

    let mut other = opts(&lake, &out);
    other.config.seed = 7;
    let new_hash = other.config.hash();
    let before = parts(&out);
    let err = run(&other).unwrap_err().to_string();
    assert!(err.contains(&old_hash) && err.contains(&new_hash), "{err}");
    assert!(err.contains("--full"), "{err}");
    assert_eq!(parts(&out), before, "a refused run changes nothing");

    other.full = true;
    let full = run(&other).unwrap();
    assert!(full.manifest.full_rebuild);
    let fresh = dir.path().join("fresh");
    let mut fresh_opts = opts(&lake, &fresh);
    fresh_opts.config.seed = 7;
    run(&fresh_opts).unwrap();
    assert_same_dataset(&out, &fresh);
    // The old run's manifest went with the old dataset; no build folder is left behind.
    let runs: Vec<_> = std::fs::read_dir(out.join("_lakeaug/runs"))
        .unwrap()
        .collect();
    assert_eq!(runs.len(), 1);
    let siblings: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("lakeaug-full"))
        .collect();
    assert!(siblings.is_empty(), "{siblings:?}");
    // And the new config is now the dataset's: the old one is refused.
    let err = run(&opts(&lake, &out)).unwrap_err().to_string();
    assert!(err.contains(&new_hash) && err.contains(&old_hash), "{err}");
}

fn cli_run(lake: &Path, out: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = common::small_run::small_run();
    c.arg("--input")
        .arg(lake)
        .arg("--output")
        .arg(out)
        .args(extra);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn lake_of_three(dir: &Path) -> PathBuf {
    let lake = dir.join("lake");
    write_input(&lake.join("a.parquet"), 9, 0, true);
    write_input(&lake.join("b.parquet"), 6, 1, false);
    write_input(&lake.join("c.parquet"), 7, 2, false);
    lake
}

/// Chunks of 4 rows: files of 9, 6 and 7 rows are committed in several steps.
const CHUNKS: &[&str] = &["--chunk-rows", "4"];

#[test]
fn killed_at_any_point_a_rerun_gives_the_uninterrupted_result() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_of_three(dir.path());
    let reference = dir.path().join("reference");
    let ok = cli_run(&lake, &reference, CHUNKS, &[]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    for point in [
        "mid-file:3",
        "before-publish:2",
        "mid-publish:1",
        "mid-publish:3",
        "before-commit:2",
        "after-commit:1",
        "after-commit:4",
        "before-manifest",
    ] {
        let out = dir.path().join(format!("out-{}", point.replace(':', "-")));
        let crashed = cli_run(&lake, &out, CHUNKS, &[("LAKEAUG_CRASH_AT", point)]);
        assert!(
            !crashed.status.success(),
            "{point}: the run should have aborted"
        );
        // No visible partial file: every published part is complete Parquet (reading
        // them all would panic otherwise) and staging is never read.
        let _ = read_dir_batches(&out);
        resume_and_compare(&lake, &out, &reference, point);
    }
}

/// Rerun after a kill at `point`: it must succeed (exit 3 when the kill came after the last
/// commit) and leave exactly `reference`'s files and values, and no staging, lock or intent.
fn resume_and_compare(lake: &Path, out: &Path, reference: &Path, point: &str) {
    let resumed = cli_run(lake, out, CHUNKS, &[]);
    assert!(
        matches!(resumed.status.code(), Some(0) | Some(3)),
        "{point}: {}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert_same_dataset(out, reference);
    assert!(
        !out.join("_lakeaug/staging").exists(),
        "{point}: staging left"
    );
    assert!(!out.join(LOCK_PATH).exists(), "{point}: lock left");
    assert!(intents_left(out).is_empty(), "{point}: intent left");
}

#[test]
fn a_large_file_resumes_after_its_last_committed_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    write_input(&lake.join("big.parquet"), 11, 0, true);
    let reference = dir.path().join("reference");
    assert!(cli_run(&lake, &reference, CHUNKS, &[]).status.success());

    let out = dir.path().join("out");
    // Killed right after the second chunk (rows 0..8) was committed.
    let crashed = cli_run(
        &lake,
        &out,
        CHUNKS,
        &[("LAKEAUG_CRASH_AT", "after-commit:2")],
    );
    assert!(!crashed.status.success());
    let state = State::load(&LocalStore { root: out.clone() }).unwrap();
    let record = &state.files["big.parquet"];
    assert_eq!(record.partial.as_ref().unwrap().rows_done, 8);
    assert_eq!(record.rows, 8);
    // The dry run says it resumes; the rerun reads only the 3 rows left.
    let dry = cli_run(&lake, &out, &["--dry-run"], &[]);
    assert!(String::from_utf8_lossy(&dry.stdout).contains("process  resume"));
    let summary = dir.path().join("summary.json");
    // A different --chunk-rows now does not matter: the file keeps the one it started with.
    let resumed = cli_run(
        &lake,
        &out,
        &[
            "--chunk-rows",
            "6",
            "--summary-json",
            summary.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(
        resumed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(json["rows_read"], 3);
    assert_same_dataset(&out, &reference);
    let record = &State::load(&LocalStore { root: out.clone() })
        .unwrap()
        .files["big.parquet"];
    assert!(record.partial.is_none());
    assert_eq!(record.rows, 11);
    assert_eq!(record.outputs.len(), 9); // 3 chunks x 3 schemes
}

#[test]
fn a_real_kill_9_mid_run_resumes_to_the_uninterrupted_result() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    for i in 0..6 {
        write_input(&lake.join(format!("f{i}.parquet")), 8, i, i == 2);
    }
    let reference = dir.path().join("reference");
    assert!(cli_run(&lake, &reference, &[], &[]).status.success());

    let out = dir.path().join("out");
    let mut child = lakeaug()
        .args([
            "run",
            "--quiet",
            "--size",
            "32",
            "--batch-size",
            "2",
            "--threads",
            "1",
        ])
        .arg("--input")
        .arg(&lake)
        .arg("--output")
        .arg(&out)
        .spawn()
        .unwrap();
    // Kill it once at least one file is committed (and before it finishes, if we can).
    let commits = out.join("_lakeaug/state/commits");
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if std::fs::read_dir(&commits).is_ok_and(|d| d.count() > 0) {
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let was_running = child.try_wait().unwrap().is_none();
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    child.wait().unwrap();
    let _ = read_dir_batches(&out);
    let resumed = cli_run(&lake, &out, &[], &[]);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert_same_dataset(&out, &reference);
    println!("killed while running: {was_running}");
}

#[test]
fn lock_exit_codes_dry_run_and_summary_json() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_of_three(dir.path());
    let out = dir.path().join("out");

    // Dry run on a new output: lists all three, creates nothing, exit 0 (work to do).
    let dry = cli_run(&lake, &out, &["--dry-run"], &[]);
    assert_eq!(dry.status.code(), Some(0));
    let text = String::from_utf8_lossy(&dry.stdout);
    assert_eq!(text.matches("process  new").count(), 3, "{text}");
    assert!(
        text.contains("would process 3 file(s) (3 new, 0 changed, 0 to resume), skip 0 unchanged"),
        "{text}"
    );
    assert!(!out.exists());

    // A live holder (this test process, on this host): fail fast naming it, exit 4.
    std::fs::create_dir_all(out.join("_lakeaug")).unwrap();
    let holder = LockInfo {
        run_id: "20260101T000000Z-deadbeef".into(),
        pid: std::process::id(),
        host: host_name(),
        started_at: "2026-01-01T00:00:00.000000Z".into(),
        heartbeat_us: lakeaug::state::micros(std::time::SystemTime::now()).unwrap(),
    };
    std::fs::write(out.join(LOCK_PATH), serde_json::to_vec(&holder).unwrap()).unwrap();
    let summary = dir.path().join("summary.json");
    let locked = cli_run(
        &lake,
        &out,
        &["--summary-json", summary.to_str().unwrap()],
        &[],
    );
    assert_eq!(locked.status.code(), Some(4));
    let err = String::from_utf8_lossy(&locked.stderr);
    for needle in [
        "20260101T000000Z-deadbeef".to_string(),
        format!("pid {}", std::process::id()),
        host_name(),
        "2026-01-01T00:00:00".to_string(),
    ] {
        assert!(err.contains(&needle), "lock error lacks {needle}: {err}");
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(json["status"], "failed");
    assert_eq!(json["exit_code"], 4);

    // A dead holder (an exited process) is taken over.
    let mut exited = Command::new("true").spawn().unwrap();
    let dead_pid = exited.id();
    exited.wait().unwrap();
    let stale = LockInfo {
        pid: dead_pid,
        ..holder
    };
    std::fs::write(out.join(LOCK_PATH), serde_json::to_vec(&stale).unwrap()).unwrap();
    let done = cli_run(
        &lake,
        &out,
        &["--summary-json", summary.to_str().unwrap()],
        &[],
    );
    assert_eq!(
        done.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(json["status"], "processed");
    assert_eq!(json["files_processed"], 3);
    assert_eq!(json["rows_read"], 22);
    assert_eq!(json["rows_written"], 63);
    assert_eq!(json["rows_rejected"], 3);
    assert_eq!(json["per_scheme"]["aligned"]["rejected"], 1);
    assert_eq!(json["rejects_files"].as_array().unwrap().len(), 1);
    assert!(json["run_id"].as_str().unwrap().len() > 10);
    assert!(json["rows_per_sec"].as_f64().unwrap() > 0.0);
    assert!(!out.join(LOCK_PATH).exists());

    // Nothing to do: exit 3, also for a dry run.
    let nothing = cli_run(
        &lake,
        &out,
        &["--summary-json", summary.to_str().unwrap()],
        &[],
    );
    assert_eq!(nothing.status.code(), Some(3));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(json["status"], "nothing_to_do");
    assert_eq!(json["files_unchanged"], 3);
    let dry = cli_run(&lake, &out, &["--dry-run"], &[]);
    assert_eq!(dry.status.code(), Some(3));
    assert_eq!(
        String::from_utf8_lossy(&dry.stdout)
            .matches("skip     unchanged")
            .count(),
        3
    );

    // A different seed: refused (exit 1) naming both hashes.
    let refused = cli_run(&lake, &out, &["--seed", "5"], &[]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("config hash"));
}

#[test]
fn batches_start_at_even_rows() {
    assert_eq!(lakeaug::read::even_batch_size(1), 2);
    assert_eq!(lakeaug::read::even_batch_size(3), 4);
    assert_eq!(lakeaug::read::even_batch_size(128), 128);
    // Whatever size is asked for, every batch of a file starts at an even row.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.parquet");
    write_input(&path, 11, 0, false);
    let files = lakeaug::read::discover_inputs(&[path.to_string_lossy().into_owned()]).unwrap();
    let input =
        lakeaug::read::OpenedInput::open(&files[0], &lakeaug::config::Columns::default()).unwrap();
    for asked in [1, 3, 5] {
        let firsts: Vec<u64> = input
            .batches(asked)
            .unwrap()
            .map(|b| b.unwrap().0)
            .collect();
        let step = lakeaug::read::even_batch_size(asked) as u64;
        let expected: Vec<u64> = (0..11).step_by(step as usize).collect();
        assert_eq!(firsts, expected, "batch size {asked}");
        assert!(firsts.iter().all(|r| r % 2 == 0));
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// Rows in the given part files of `out` (relative names; rejects tables excluded).
fn rows_in(out: &Path, files: &[String]) -> usize {
    files
        .iter()
        .filter(|f| f.starts_with("scheme="))
        .map(|f| {
            let file = std::fs::File::open(out.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
            parquet::file::reader::FileReader::metadata(
                &parquet::file::serialized_reader::SerializedFileReader::new(file).unwrap(),
            )
            .file_metadata()
            .num_rows() as usize
        })
        .sum()
}

/// `SELECT count(*) FROM <table>` through `lakeaug query`.
fn query_count(out: &Path, table: &str) -> usize {
    let o = lakeaug()
        .arg("query")
        .arg(out)
        .arg(format!("SELECT count(*) AS n FROM {table}"))
        .args(["--format", "csv"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    text.lines().last().unwrap().trim().parse().unwrap()
}

fn intents_left(out: &Path) -> Vec<String> {
    std::fs::read_dir(out.join("_lakeaug/state/intents"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A changed input file (fewer rows, so fewer chunks, and no reject any more) is
/// reprocessed as a new generation. Killed at every step of that replacement, the output
/// always holds a consistent committed snapshot (the old version or the new one, every
/// file of it present) that `lakeaug query` reads while the folder itself may hold both;
/// and the rerun ends with exactly the files and values of an uninterrupted run: no part
/// or rejects table of the old version or of an uncommitted generation is left.
#[test]
fn a_changed_file_killed_at_any_step_of_its_replacement_resumes_to_the_uninterrupted_result() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_of_three(dir.path());
    let before = dir.path().join("before");
    assert!(cli_run(&lake, &before, CHUNKS, &[]).status.success());
    let old_rows = query_count(&before, "augmented");
    assert_eq!(old_rows, (9 + 6 + 7) * 3 - 3);
    assert_eq!(query_count(&before, "rejects"), 3);

    // a.parquet: 9 rows (3 chunks, a reject) -> 5 rows (2 chunks, no reject).
    write_input(&lake.join("a.parquet"), 5, 3, false);
    let new_rows = (5 + 6 + 7) * 3;
    let reference = dir.path().join("reference");
    assert!(cli_run(&lake, &reference, CHUNKS, &[]).status.success());
    let uninterrupted = dir.path().join("uninterrupted");
    copy_dir(&before, &uninterrupted);
    assert!(cli_run(&lake, &uninterrupted, CHUNKS, &[]).status.success());
    assert_same_dataset(&uninterrupted, &reference);
    assert!(intents_left(&uninterrupted).is_empty());
    let names = parts(&uninterrupted);
    assert!(names.iter().any(|n| n.contains("-g2-")), "{names:?}");

    // (point, what the committed snapshot holds after the kill: the old version or new)
    for (point, shows_new) in [
        ("before-publish:1", false),
        ("mid-publish:1", false),
        ("before-commit:1", false),
        ("after-commit:1", false), // first chunk committed: the old version still shows
        ("before-publish:2", false),
        ("mid-publish:2", false),
        ("before-commit:2", false),
        ("after-commit:2", true), // new version committed, old one not yet deleted
        ("mid-replace:1", true),
        ("before-intent-clear:2", true),
        ("before-manifest", true),
    ] {
        let out = dir.path().join(format!("out-{}", point.replace(':', "-")));
        copy_dir(&before, &out);
        let crashed = cli_run(&lake, &out, CHUNKS, &[("LAKEAUG_CRASH_AT", point)]);
        assert!(!crashed.status.success(), "{point}: should have aborted");

        // The committed snapshot is whole and is one version: every file it lists exists.
        let state = State::load(&LocalStore { root: out.clone() }).unwrap();
        let snapshot = state.snapshot_files();
        let want = if shows_new { new_rows } else { old_rows };
        assert_eq!(rows_in(&out, &snapshot), want, "{point}: snapshot");
        assert_eq!(query_count(&out, "augmented"), want, "{point}: query");
        assert_eq!(
            query_count(&out, "rejects"),
            if shows_new { 0 } else { 3 },
            "{point}: query rejects"
        );

        resume_and_compare(&lake, &out, &reference, point);
        assert_eq!(parts(&out), names, "{point}: part names");
        assert_eq!(query_count(&out, "augmented"), new_rows, "{point}");
    }

    // Mid-update the folder itself may hold both versions (what plain-folder readers can
    // briefly see), while the snapshot holds one.
    let out = dir.path().join("mixed");
    copy_dir(&before, &out);
    cli_run(
        &lake,
        &out,
        CHUNKS,
        &[("LAKEAUG_CRASH_AT", "after-commit:2")],
    );
    let folder_rows: usize = read_dir_batches(&out)
        .iter()
        .map(|(_, b)| b.num_rows())
        .sum();
    assert_eq!(folder_rows, old_rows + 5 * 3);
    assert_eq!(query_count(&out, "augmented"), new_rows);
}

/// A killed `--full` rebuild is continued by the next `--full` run with the same config
/// (files it committed are not redone), then swapped in; a `--full` run with another
/// config discards it and starts over.
#[test]
fn a_killed_full_rebuild_resumes_and_another_config_starts_over() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_of_three(dir.path());
    let reference = |seed: &str| {
        let r = dir.path().join(format!("reference-{seed}"));
        assert!(
            cli_run(&lake, &r, &["--chunk-rows", "4", "--seed", seed], &[])
                .status
                .success()
        );
        r
    };
    let (ref7, ref8) = (reference("7"), reference("8"));
    let summary = dir.path().join("summary.json");
    let full = |out: &Path, seed: &str, crash: Option<&str>| {
        let args = [
            "--chunk-rows",
            "4",
            "--seed",
            seed,
            "--full",
            "--summary-json",
            summary.to_str().unwrap(),
        ];
        let env: Vec<(&str, &str)> = crash.map(|c| ("LAKEAUG_CRASH_AT", c)).into_iter().collect();
        let o = cli_run(&lake, out, &args, &env);
        if crash.is_some() {
            assert!(!o.status.success(), "{crash:?}: should have aborted");
            return serde_json::Value::Null;
        }
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap()
    };
    let builds = || -> Vec<String> {
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("lakeaug-full"))
            .collect()
    };

    // Killed once a.parquet (9 rows: 3 chunks) is committed in the build: the rerun reads
    // only b and c, and the result is that of an uninterrupted run.
    let out = dir.path().join("out");
    assert!(cli_run(&lake, &out, CHUNKS, &[]).status.success());
    let before = parts(&out);
    full(&out, "7", Some("after-commit:3"));
    assert_eq!(
        parts(&out),
        before,
        "the output is untouched until the swap"
    );
    assert_eq!(builds().len(), 1);
    let resumed = full(&out, "7", None);
    assert_eq!(resumed["rows_read"], 6 + 7);
    assert_eq!(resumed["files_processed"], 2);
    assert_same_dataset(&out, &ref7);
    assert!(builds().is_empty(), "{:?}", builds());

    // Killed just before the swap: the rerun only swaps.
    let out = dir.path().join("out-swap");
    assert!(cli_run(&lake, &out, CHUNKS, &[]).status.success());
    full(&out, "7", Some("before-swap"));
    assert_eq!(parts(&out), before);
    let swapped = full(&out, "7", None);
    assert_eq!(swapped["rows_read"], 0);
    assert_eq!(swapped["status"], "processed");
    assert_same_dataset(&out, &ref7);
    assert!(builds().is_empty(), "{:?}", builds());

    // Killed with seed 7, rebuilt with seed 8: the seed-7 build is discarded.
    let out = dir.path().join("out-other");
    assert!(cli_run(&lake, &out, CHUNKS, &[]).status.success());
    full(&out, "7", Some("after-commit:3"));
    let other = full(&out, "8", None);
    assert_eq!(other["rows_read"], 9 + 6 + 7);
    assert_same_dataset(&out, &ref8);
    assert!(builds().is_empty(), "{:?}", builds());
}

/// Many runs take over the same stale lock of a local output at the same moment: exactly
/// one gets it, the others are refused naming the winner.
#[test]
fn concurrent_takeovers_of_one_stale_lock_have_exactly_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    common::lock_race::race_takeovers(
        move || std::sync::Arc::new(LocalStore { root: root.clone() }),
        20,
        8,
    );
}

/// `id` as text instead of int64, and an extra `score` column: a drifted schema.
fn write_drifted(path: &Path, rows: usize) {
    use arrow::array::{ArrayRef, BinaryArray, Float64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("image", DataType::Binary, true),
        Field::new("caption", DataType::Utf8, true),
        Field::new("score", DataType::Float64, true),
    ]));
    let images: Vec<Vec<u8>> = (0..rows)
        .map(|i| gradient_jpeg(20 + i as u32, 18))
        .collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            (0..rows).map(|i| format!("r{i}")),
        )),
        Arc::new(
            images
                .iter()
                .map(|v| Some(v.as_slice()))
                .collect::<BinaryArray>(),
        ),
        Arc::new(StringArray::from_iter_values(
            (0..rows).map(|i| format!("a drifted photo {i}")),
        )),
        Arc::new(Float64Array::from_iter_values((0..rows).map(|i| i as f64))),
    ];
    common::write_batch(path, RecordBatch::try_new(schema, columns).unwrap());
}

/// An input file whose columns drifted since the output was built (changed in place, or a
/// new file) is refused before anything is published, naming the file and each differing
/// column; `--full` rebuilds once every input has the new columns.
#[test]
fn schema_drift_across_runs_is_refused_naming_file_and_columns() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let out = dir.path().join("out");
    write_input(&lake.join("a.parquet"), 4, 0, false);
    write_input(&lake.join("b.parquet"), 4, 1, false);
    run(&opts(&lake, &out)).unwrap();
    let before = parts(&out);
    let state_before = State::load(&LocalStore { root: out.clone() }).unwrap();
    let recorded = state_before.dataset.as_ref().unwrap().input_columns.clone();
    assert_eq!(
        recorded.unwrap(),
        vec!["id: Int64", "image: Binary", "caption: Utf8"]
    );

    std::thread::sleep(Duration::from_millis(20));
    write_drifted(&lake.join("b.parquet"), 3);
    let err = format!("{:#}", run(&opts(&lake, &out)).unwrap_err());
    assert!(err.contains("b.parquet"), "{err}");
    assert!(
        err.contains("`id: Utf8` here but `id: Int64` in the output"),
        "{err}"
    );
    assert!(err.contains("new column `score: Float64`"), "{err}");
    assert_eq!(parts(&out), before, "nothing published");
    let state_after = State::load(&LocalStore { root: out.clone() }).unwrap();
    assert_eq!(state_after.files, state_before.files);

    // A new file with a column missing is refused too.
    std::fs::remove_file(lake.join("b.parquet")).unwrap();
    write_drifted(&lake.join("c.parquet"), 2);
    let err = format!("{:#}", run(&opts(&lake, &out)).unwrap_err());
    assert!(err.contains("c.parquet"), "{err}");

    // Once every input has the new columns, --full rebuilds with them.
    write_drifted(&lake.join("a.parquet"), 2);
    let mut full = opts(&lake, &out);
    full.full = true;
    let rebuilt = run(&full).unwrap();
    assert_eq!(rebuilt.manifest.rows_read, 4);
    let state = State::load(&LocalStore { root: out.clone() }).unwrap();
    assert!(state.dataset.unwrap().input_columns.unwrap()[3] == "score: Float64");
}
