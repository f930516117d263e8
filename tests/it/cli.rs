//! The `lakeaug` binary: help, exit codes, summary.

use crate::common;

use std::process::Command;

fn lakeaug() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lakeaug"))
}

#[test]
fn help_teaches_with_examples() {
    let out = lakeaug().args(["run", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "--input",
        "--schemes",
        "--copies",
        "--seed",
        "--threads",
        "--on-bad-file",
        "Examples:",
        "_rejects",
        "--full",
        "--dry-run",
        "--summary-json",
        "s3://",
        "Exit codes: 0 done",
        "3 nothing to do",
    ] {
        assert!(help.contains(needle), "run --help lacks {needle}");
    }
}

#[test]
fn schemes_lists_every_parameter_and_template_parses() {
    let out = lakeaug().arg("schemes").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "aligned",
        "cross_modal",
        "pseudo_label",
        "hflip_prob",
        "rotate_degrees",
        "patch_fraction",
        "select_prob",
        "random_word",
    ] {
        assert!(text.contains(needle), "schemes output lacks {needle}");
    }
    let out = lakeaug()
        .args(["schemes", "--config-template"])
        .output()
        .unwrap();
    let toml = String::from_utf8(out.stdout).unwrap();
    let parsed =
        lakeaug::config::Config::from_toml(&toml, std::path::Path::new("template")).unwrap();
    assert_eq!(parsed, lakeaug::config::Config::default());
}

#[test]
fn schemes_describes_a_config_and_points_at_a_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "schemes = [\"gentle\"]\n[scheme.gentle]\nimage = [{ op = \"gaussian_blur\", sigma = [0.5, 1.0] }]\n",
    )
    .unwrap();
    let out = lakeaug()
        .args(["schemes", "--config"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("gentle\n  image  { op = \"gaussian_blur\", kernel_size = 0, p = 1.0, sigma = [0.5, 1.0] }"),
        "{text}"
    );
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "seed = 1\n\n[scheme.gentle]\nimage = [\n  { op = \"rotate\", degrees = -3 },\n]\n",
    )
    .unwrap();
    let out = lakeaug()
        .args(["schemes", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("bad.toml, line 5") && err.contains("degrees = -3"),
        "{err}"
    );
}

#[test]
fn run_prints_a_summary_and_fails_cleanly_on_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let out = lakeaug()
        .args(["run", "--input", &common::sample_photos(), "--output"])
        .arg(&out_dir)
        .args(["--schemes", "aligned,cross_modal", "--threads", "2"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("15 rows read") && stderr.contains("= 30 written + 0 rejected"),
        "{stderr}"
    );

    let bad = dir.path().join("bad.parquet");
    std::fs::write(&bad, b"PAR1 nonsense").unwrap();
    let out = lakeaug()
        .args(["run", "--input"])
        .arg(&bad)
        .arg("--output")
        .arg(dir.path().join("out2"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error:")
            && stderr.contains("bad.parquet")
            && stderr.contains("--on-bad-file skip"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    let out = lakeaug()
        .args([
            "run",
            "--input",
            "x.parquet",
            "--output",
            "o",
            "--schemes",
            "nope",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown scheme `nope`"));
}
