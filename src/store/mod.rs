//! Where the output dataset lives: a local folder or an object store prefix
//! (`s3://bucket/prefix`), behind one small synchronous interface.
//!
//! Every write is atomic per object: a local file is written beside its target and renamed
//! into place; an S3 object becomes visible only when its upload completes. Multipart
//! uploads are announced in `_lakeaug/uploads/` before they start, so a run killed during
//! an upload leaves a note that the next run uses to abort it (S3 keeps unfinished uploads,
//! invisible but billed, until they are aborted).

mod local;
mod s3;

pub use local::LocalStore;
pub use s3::{input_client, io_runtime, runtime, s3_client, split_url, S3Store};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

/// A local file operation that failed: what was being done to which path, and why.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {path}")]
pub struct IoError {
    pub action: &'static str,
    pub path: String,
    #[source]
    pub source: std::io::Error,
}

/// An [`IoError`] maker for doing `action` to `path`, for `map_err`.
pub fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> IoError {
    let path = path.display().to_string();
    move |source| IoError {
        action,
        path,
        source,
    }
}

/// Why a store operation failed: what was being done to which object, and the cause.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Io(#[from] IoError),
    /// A request to the object store.
    #[error("cannot {action} {location}")]
    Remote {
        action: &'static str,
        location: String,
        #[source]
        source: object_store::Error,
    },
    #[error("{location}: only s3:// URLs are supported for object stores")]
    UnsupportedUrl { location: String },
    #[error("cannot set up S3 access for {url}")]
    Setup {
        url: String,
        #[source]
        source: object_store::Error,
    },
    #[error("cannot start the I/O runtime")]
    Runtime(#[source] std::io::Error),
}

/// A store operation's result.
pub type StoreResult<T> = Result<T, StoreError>;

/// One object (or file) below a store's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// Path relative to the root, `/`-separated.
    pub rel: String,
    pub size: u64,
    pub modified: Option<SystemTime>,
    /// Object stores' entity tag (changes whenever the content does); `None` for local files.
    pub etag: Option<String>,
}

/// Which version of an object a compare-and-swap expects: the object store's ETag (and
/// version id where the store has one); for local files, a hash of the content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion {
    pub e_tag: Option<String>,
    pub version: Option<String>,
}

impl ObjectVersion {
    pub(crate) fn of_content(bytes: &[u8]) -> ObjectVersion {
        ObjectVersion {
            e_tag: Some(blake3::hash(bytes).to_hex().to_string()),
            version: None,
        }
    }
}

/// The operations a run needs from the place its output lives.
pub trait Store: Send + Sync {
    /// The root as the user wrote it (`out/`, `s3://bucket/prefix`).
    fn describe(&self) -> String;
    /// The local folder, when the store is one (atomic folder swap, staging beside it).
    fn local_root(&self) -> Option<&Path>;
    /// Make the finished local file `local` visible at `rel`, atomically, consuming it.
    fn publish_file(&self, local: &Path, rel: &str) -> StoreResult<()>;
    /// Write `bytes` at `rel`, atomically, replacing what is there.
    fn put(&self, rel: &str, bytes: &[u8]) -> StoreResult<()>;
    /// Write `bytes` at `rel` only if nothing is there; `false` if something is.
    fn put_if_absent(&self, rel: &str, bytes: &[u8]) -> StoreResult<bool>;
    /// The content at `rel` and its version, `None` if there is nothing.
    fn get_versioned(&self, rel: &str) -> StoreResult<Option<(Vec<u8>, ObjectVersion)>>;
    /// Replace `rel` with `bytes` only if it still is at `version` (compare-and-swap);
    /// `false` if it changed or is gone. Of several callers holding the same version,
    /// exactly one succeeds.
    fn replace_if(&self, rel: &str, bytes: &[u8], version: &ObjectVersion) -> StoreResult<bool>;
    /// The content at `rel`, `None` if there is nothing.
    fn get(&self, rel: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Remove `rel`; nothing there is fine.
    fn delete(&self, rel: &str) -> StoreResult<()>;
    /// Every object below the folder `prefix` (recursive), in no particular order.
    fn list(&self, prefix: &str) -> StoreResult<Vec<StoredObject>>;
    /// Abort unfinished uploads announced under `_lakeaug/uploads/` by runs that died.
    fn abort_stale_uploads(&self) -> StoreResult<usize> {
        Ok(0)
    }
}

/// `s3://...` (or another URL scheme) rather than a local path.
pub fn is_url(s: &str) -> bool {
    s.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric())
    })
}

/// Open the output location: a local folder (created if missing) or `s3://bucket/prefix`.
pub fn open_store(location: &str) -> StoreResult<Arc<dyn Store>> {
    if is_url(location) {
        Ok(Arc::new(S3Store::open(location)?))
    } else {
        let root = PathBuf::from(location);
        std::fs::create_dir_all(&root).map_err(io_error("create output folder", &root))?;
        Ok(Arc::new(LocalStore { root }))
    }
}

/// Write `bytes` to `path` atomically (temporary file in the same folder, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", unique_suffix()));
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// `<pid>-<n>`: unique among the temporary files of all threads of all live processes.
pub fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_local_paths() {
        assert!(is_url("s3://bucket/prefix"));
        assert!(!is_url("out/dir"));
        assert!(!is_url("/abs/path"));
        assert_eq!(
            split_url("s3://bucket/a/b/"),
            ("s3://bucket".to_string(), "a/b".to_string())
        );
        assert_eq!(
            split_url("s3://bucket"),
            ("s3://bucket".to_string(), String::new())
        );
    }
}
