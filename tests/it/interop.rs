//! Existing Python readers (pyarrow, DuckDB, Polars, Hugging Face `datasets`, the loader
//! example) load lakeaug output as-is: runs `tests/interop/test_readers.py` with pytest
//! against this build's binary.
//!
//! The Python environment is `.venv` at the repository root (or `$INTEROP_VENV`). When it
//! does not exist yet, this test creates it and installs `tests/interop/requirements.txt`
//! (PyPI, a few minutes once), so `cargo test` alone runs everything.

use crate::common;

use std::path::Path;
use std::process::Command;

#[test]
fn python_readers_load_the_output() {
    let python = common::venv::python_with(
        "tests/interop/requirements.txt",
        ".lakeaug-interop-ready",
    )
    .expect(
        "python3 is needed for the interop tests (Debian: apt-get install python3 python3-venv)",
    );
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
