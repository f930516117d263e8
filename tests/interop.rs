//! Existing Python readers (pyarrow, DuckDB, Polars, Hugging Face `datasets`, the loader
//! example) load lakeaug output as-is: runs `tests/interop/test_readers.py` with pytest
//! against this build's binary.
//!
//! The Python environment is `.venv` at the repository root (or `$INTEROP_VENV`). When it
//! does not exist yet, this test creates it and installs `tests/interop/requirements.txt`
//! (PyPI, a few minutes once), so `cargo test` alone runs everything.

use std::path::{Path, PathBuf};
use std::process::Command;

fn venv() -> PathBuf {
    match std::env::var_os("INTEROP_VENV") {
        Some(v) => PathBuf::from(v),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv"),
    }
}

fn ensure_venv(venv: &Path) -> PathBuf {
    let python = venv.join("bin/python");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ready = venv.join(".lakeaug-interop-ready");
    let requirements = root.join("tests/interop/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements).expect("tests/interop/requirements.txt");
    if std::fs::read_to_string(&ready).ok().as_deref() == Some(wanted.as_str()) && python.exists() {
        return python;
    }
    if !python.exists() {
        let status = Command::new("python3").arg("-m").arg("venv").arg(venv).status().expect(
            "python3 is needed for the interop tests (Debian: apt-get install python3 python3-venv)",
        );
        assert!(
            status.success(),
            "python3 -m venv {} failed",
            venv.display()
        );
    }
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&requirements)
        .status()
        .expect("pip");
    assert!(
        status.success(),
        "pip install -r {} failed",
        requirements.display()
    );
    std::fs::write(&ready, wanted).expect("mark venv ready");
    python
}

#[test]
fn python_readers_load_the_output() {
    let python = ensure_venv(&venv());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(&python)
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/interop",
        ])
        .current_dir(root)
        .env("LAKEAUG_BIN", env!("CARGO_BIN_EXE_lakeaug"))
        .output()
        .expect("run pytest");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "pytest failed:\n{stdout}\n{stderr}"
    );
    // pytest exits 0 only when tests ran and passed; make sure some did.
    assert!(stdout.contains(" passed"), "pytest ran no test:\n{stdout}");
}
