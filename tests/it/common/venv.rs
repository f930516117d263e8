//! The Python environment of the tests that run Python (`.venv` at the repository root, or
//! `$INTEROP_VENV`), created and filled from a requirements file on first use, so that
//! `cargo test` alone runs everything.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

pub fn venv() -> PathBuf {
    match std::env::var_os("INTEROP_VENV") {
        Some(v) => PathBuf::from(v),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv"),
    }
}

/// The venv's python with `requirements` (relative to the repository root) installed;
/// `marker` (a file in the venv) remembers what was installed. `None` only when the
/// machine has no `python3` at all.
pub fn python_with(requirements: &str, marker: &str) -> Option<PathBuf> {
    // The tests of this binary run in parallel: one creates and fills the venv at a time.
    static FILLING: Mutex<()> = Mutex::new(());
    let _filling = FILLING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let venv = venv();
    let python = venv.join("bin/python");
    let requirements = Path::new(env!("CARGO_MANIFEST_DIR")).join(requirements);
    let wanted = std::fs::read_to_string(&requirements).expect("requirements file");
    let ready = venv.join(marker);
    if std::fs::read_to_string(&ready).ok().as_deref() == Some(wanted.as_str()) && python.exists() {
        return Some(python);
    }
    if !python.exists() {
        let status = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .status()
            .ok()?;
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
    Some(python)
}
