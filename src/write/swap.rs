//! `--full` rebuilds into a sibling folder, then swaps it with the output in one step, so
//! readers see the old dataset or the new one, never a mix.

use std::path::{Path, PathBuf};

use super::WriteError;
use crate::store::io_error;

const BUILD_MARK: &str = ".lakeaug-full-";

/// `<parent>/<name>.lakeaug-full-<config hash>`: where a `--full` run builds the new
/// dataset (same file system as `output`, so the swap is a rename). Named by the config
/// it builds, so a killed `--full` run's folder is found and continued by the next
/// `--full` run with the same config.
pub fn sibling_build_dir(output: &Path, config_hash: &str) -> Result<PathBuf, WriteError> {
    let abs = std::fs::canonicalize(output).map_err(io_error("resolve", output))?;
    let name = abs
        .file_name()
        .ok_or_else(|| WriteError::NoFolderName {
            path: abs.display().to_string(),
        })?
        .to_string_lossy()
        .into_owned();
    Ok(abs.with_file_name(format!("{name}{BUILD_MARK}{config_hash}")))
}

/// Remove the sibling build folders that `--full` runs of `output` left when they were
/// killed, except `keep` (the one this run continues). Call with the output's lock held
/// (no live run is building one then).
pub fn remove_stale_builds(output: &Path, keep: Option<&Path>) -> usize {
    let Ok(abs) = std::fs::canonicalize(output) else {
        return 0;
    };
    let (Some(parent), Some(name)) = (abs.parent(), abs.file_name()) else {
        return 0;
    };
    let prefix = format!("{}{BUILD_MARK}", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(parent) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(&prefix)
            && keep != Some(e.path().as_path())
            && std::fs::remove_dir_all(e.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// Exchange two folders atomically (Linux `renameat2(RENAME_EXCHANGE)`). Where that is not
/// available, falls back to two renames (a moment in which `b` does not exist).
pub fn exchange_dirs(a: &Path, b: &Path) -> Result<(), WriteError> {
    let swap_error = || {
        let what = format!("{} and {}", a.display(), b.display());
        move |source| {
            WriteError::Io(crate::store::IoError {
                action: "swap",
                path: what,
                source,
            })
        }
    };
    #[cfg(target_os = "linux")]
    {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let c_path = |p: &Path| {
            CString::new(p.as_os_str().as_bytes())
                .map_err(|e| swap_error()(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))
        };
        let (ca, cb) = (c_path(a)?, c_path(b)?);
        // SAFETY: `ca` and `cb` are NUL-terminated C strings that outlive the call;
        // renameat2 only reads them, and AT_FDCWD makes them relative to the current
        // folder. No memory of ours is written.
        let r = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                ca.as_ptr(),
                libc::AT_FDCWD,
                cb.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        if r == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        if !matches!(err.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) {
            return Err(swap_error()(err));
        }
    }
    let aside = a.with_extension("swap-aside");
    std::fs::rename(b, &aside).map_err(swap_error())?;
    std::fs::rename(a, b).map_err(swap_error())?;
    std::fs::rename(&aside, a).map_err(swap_error())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchange_swaps_contents() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        std::fs::write(a.join("x"), b"from a").unwrap();
        std::fs::write(b.join("y"), b"from b").unwrap();
        exchange_dirs(&a, &b).unwrap();
        assert_eq!(std::fs::read(b.join("x")).unwrap(), b"from a");
        assert_eq!(std::fs::read(a.join("y")).unwrap(), b"from b");
        assert!(!a.join("x").exists());

        let sib = sibling_build_dir(&a, "h1").unwrap();
        assert!(sib.to_string_lossy().ends_with("/a.lakeaug-full-h1"));
        let other = sibling_build_dir(&a, "h2").unwrap();
        std::fs::create_dir(&sib).unwrap();
        std::fs::create_dir(&other).unwrap();
        assert_eq!(remove_stale_builds(&a, Some(&sib)), 1);
        assert!(sib.exists() && !other.exists());
        assert_eq!(remove_stale_builds(&a, None), 1);
        assert!(!sib.exists());
    }
}
