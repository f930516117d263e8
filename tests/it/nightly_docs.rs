//! The cron line of docs/nightly.md ("Running nightly", linked from the README), run as
//! written: taken from docs/nightly.md, with only its paths moved into a temporary folder and the binary under test.
//! So the documented line is known to work, and this test fails if it changes unchecked.

use crate::common;

use std::path::Path;
use std::process::Command;

/// The command of the one crontab line in docs/nightly.md's ```cron block.
fn documented_cron_command() -> String {
    let doc = std::fs::read_to_string(common::repo_path("docs/nightly.md")).unwrap();
    let block = doc
        .split("```cron\n")
        .nth(1)
        .expect("docs/nightly.md has a ```cron block")
        .split("```")
        .next()
        .unwrap();
    let line = block
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .expect("a crontab line");
    // Five time fields, then the command.
    line.splitn(6, ' ').nth(5).expect("a command").to_string()
}

/// Replace `from` by `to` in `cmd`, insisting that `from` is there.
fn moved(cmd: String, from: &str, to: &Path) -> String {
    assert!(
        cmd.contains(from),
        "the cron line of docs/nightly.md no longer has {from}: {cmd}"
    );
    cmd.replace(from, to.to_str().unwrap())
}

fn run_cron(cmd: &str) -> Option<i32> {
    Command::new("/bin/sh")
        .args(["-c", cmd])
        .status()
        .unwrap()
        .code()
}

#[test]
fn the_documented_cron_line_works_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (lake, out, etc, log) = (
        d.join("lake"),
        d.join("augmented"),
        d.join("etc"),
        d.join("log"),
    );
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::create_dir_all(&log).unwrap();
    // The config as docs/nightly.md says to make one: the template with every default.
    let template = Command::new(env!("CARGO_BIN_EXE_lakeaug"))
        .args(["schemes", "--config-template"])
        .output()
        .unwrap();
    assert!(template.status.success());
    std::fs::write(etc.join("nightly.toml"), &template.stdout).unwrap();
    let images = (0..3)
        .map(|i| Some(common::gradient_jpeg(20 + i, 18)))
        .collect();
    common::write_pairs(
        &lake.join("day=1/a.parquet"),
        images,
        vec![
            Some("a red photo"),
            Some("a blue photo"),
            Some("a small cat"),
        ],
    );

    let mut cmd = documented_cron_command();
    cmd = moved(
        cmd,
        "/usr/local/bin/lakeaug",
        Path::new(env!("CARGO_BIN_EXE_lakeaug")),
    );
    cmd = moved(cmd, "/etc/lakeaug/nightly.toml", &etc.join("nightly.toml"));
    cmd = moved(cmd, "/var/log/lakeaug", &log);
    cmd = moved(cmd, "/data/lake", &lake);
    cmd = moved(cmd, "/data/augmented", &out);
    assert!(
        !cmd.contains(" /data") && !cmd.contains(" /var") && !cmd.contains(" /etc"),
        "{cmd}"
    );

    // First night: processed (exit 0), quiet (nothing in the log for cron to mail), and
    // the summary says what happened.
    assert_eq!(run_cron(&cmd), Some(0));
    let summary = || -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(log.join("last-run.json")).unwrap()).unwrap()
    };
    let first = summary();
    assert_eq!(first["status"], "processed");
    assert_eq!(first["files_processed"], 1);
    assert_eq!(first["rows_read"], 3);
    assert_eq!(std::fs::read_to_string(log.join("run.log")).unwrap(), "");
    assert!(out.join("_lakeaug/state/dataset.json").exists());

    // Next night, nothing new: exit 3.
    assert_eq!(run_cron(&cmd), Some(3));
    assert_eq!(summary()["status"], "nothing_to_do");

    // A new file arrives: only it is processed.
    let images = (0..2)
        .map(|i| Some(common::gradient_jpeg(22 + i, 19)))
        .collect();
    common::write_pairs(
        &lake.join("day=2/b.parquet"),
        images,
        vec![Some("a dog"), Some("a tree")],
    );
    assert_eq!(run_cron(&cmd), Some(0));
    assert_eq!(summary()["files_processed"], 1);
    assert_eq!(summary()["files_unchanged"], 1);
    assert_eq!(std::fs::read_to_string(log.join("run.log")).unwrap(), "");
}
