//! Where the output dataset lives: a local folder or an object store prefix
//! (`s3://bucket/prefix`), behind one small synchronous interface.
//!
//! Every write is atomic per object: a local file is written beside its target and renamed
//! into place; an S3 object becomes visible only when its upload completes. Multipart
//! uploads are announced in `_lakeaug/uploads/` before they start, so a run killed during
//! an upload leaves a note that the next run uses to abort it (S3 keeps unfinished uploads,
//! invisible but billed, until they are aborted).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{anyhow, bail, Context};
use futures::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder, S3ConditionalPut};
use object_store::multipart::MultipartStore;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};

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
    fn of_content(bytes: &[u8]) -> ObjectVersion {
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
    fn publish_file(&self, local: &Path, rel: &str) -> anyhow::Result<()>;
    /// Write `bytes` at `rel`, atomically, replacing what is there.
    fn put(&self, rel: &str, bytes: &[u8]) -> anyhow::Result<()>;
    /// Write `bytes` at `rel` only if nothing is there; `false` if something is.
    fn put_if_absent(&self, rel: &str, bytes: &[u8]) -> anyhow::Result<bool>;
    /// The content at `rel` and its version, `None` if there is nothing.
    fn get_versioned(&self, rel: &str) -> anyhow::Result<Option<(Vec<u8>, ObjectVersion)>>;
    /// Replace `rel` with `bytes` only if it still is at `version` (compare-and-swap);
    /// `false` if it changed or is gone. Of several callers holding the same version,
    /// exactly one succeeds.
    fn replace_if(&self, rel: &str, bytes: &[u8], version: &ObjectVersion) -> anyhow::Result<bool>;
    /// The content at `rel`, `None` if there is nothing.
    fn get(&self, rel: &str) -> anyhow::Result<Option<Vec<u8>>>;
    /// Remove `rel`; nothing there is fine.
    fn delete(&self, rel: &str) -> anyhow::Result<()>;
    /// Every object below the folder `prefix` (recursive), in no particular order.
    fn list(&self, prefix: &str) -> anyhow::Result<Vec<StoredObject>>;
    /// Abort unfinished uploads announced under `_lakeaug/uploads/` by runs that died.
    fn abort_stale_uploads(&self) -> anyhow::Result<usize> {
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
pub fn open_store(location: &str) -> anyhow::Result<Arc<dyn Store>> {
    if is_url(location) {
        Ok(Arc::new(S3Store::open(location)?))
    } else {
        let root = PathBuf::from(location);
        std::fs::create_dir_all(&root)
            .with_context(|| format!("cannot create output folder {}", root.display()))?;
        Ok(Arc::new(LocalStore { root }))
    }
}

/// An output folder on a local (or mounted) file system.
pub struct LocalStore {
    pub root: PathBuf,
}

impl Store for LocalStore {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn local_root(&self) -> Option<&Path> {
        Some(&self.root)
    }

    fn publish_file(&self, local: &Path, rel: &str) -> anyhow::Result<()> {
        let target = self.root.join(rel);
        std::fs::create_dir_all(target.parent().expect("has parent"))?;
        std::fs::rename(local, &target)
            .with_context(|| format!("cannot publish {} to {}", local.display(), target.display()))
    }

    fn put(&self, rel: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let path = self.root.join(rel);
        crate::write::write_atomic(&path, bytes)
            .with_context(|| format!("cannot write {}", path.display()))
    }

    fn put_if_absent(&self, rel: &str, bytes: &[u8]) -> anyhow::Result<bool> {
        // Write a private file, then hard-link it to the name: the link fails if the name
        // exists, and a reader never sees a half-written file.
        let path = self.root.join(rel);
        let dir = path.parent().expect("has parent");
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(
            ".{}.new-{}",
            path.file_name().unwrap_or_default().to_string_lossy(),
            crate::write::unique_suffix()
        ));
        crate::write::write_atomic(&tmp, bytes)?;
        let linked = std::fs::hard_link(&tmp, &path);
        std::fs::remove_file(&tmp).ok();
        match linked {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
        }
    }

    fn get_versioned(&self, rel: &str) -> anyhow::Result<Option<(Vec<u8>, ObjectVersion)>> {
        Ok(self.get(rel)?.map(|b| {
            let v = ObjectVersion::of_content(&b);
            (b, v)
        }))
    }

    fn replace_if(&self, rel: &str, bytes: &[u8], version: &ObjectVersion) -> anyhow::Result<bool> {
        // A file system has no compare-and-swap on a name, so the read-compare-rename runs
        // under an exclusive `flock` of a guard file beside it: the kernel releases it
        // when its holder dies, so a killed run never leaves it held.
        let path = self.root.join(rel);
        let dir = path.parent().expect("has parent");
        std::fs::create_dir_all(dir)?;
        let guard_path = dir.join(format!(
            ".{}.guard",
            path.file_name().unwrap_or_default().to_string_lossy()
        ));
        let guard = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&guard_path)
            .with_context(|| format!("cannot open {}", guard_path.display()))?;
        let _held = FileLock::exclusive(&guard)
            .with_context(|| format!("cannot lock {}", guard_path.display()))?;
        match self.get(rel)? {
            Some(current) if ObjectVersion::of_content(&current) == *version => {
                crate::write::write_atomic(&path, bytes)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn get(&self, rel: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let path = self.root.join(rel);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    fn delete(&self, rel: &str) -> anyhow::Result<()> {
        let path = self.root.join(rel);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
        }
    }

    fn list(&self, prefix: &str) -> anyhow::Result<Vec<StoredObject>> {
        let mut out = Vec::new();
        list_local(&self.root, prefix.trim_end_matches('/'), &mut out)?;
        Ok(out)
    }
}

/// An exclusive `flock` on an open file, released on drop (or when the process dies).
struct FileLock<'a>(&'a std::fs::File);

impl<'a> FileLock<'a> {
    fn exclusive(file: &'a std::fs::File) -> std::io::Result<FileLock<'a>> {
        use std::os::fd::AsRawFd;
        loop {
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
                return Ok(FileLock(file));
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

impl Drop for FileLock<'_> {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

fn list_local(root: &Path, rel: &str, out: &mut Vec<StoredObject>) -> anyhow::Result<()> {
    let dir = root.join(rel);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let child = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let meta = entry.metadata()?;
        if meta.is_dir() {
            list_local(root, &child, out)?;
        } else {
            out.push(StoredObject {
                rel: child,
                size: meta.len(),
                modified: meta.modified().ok(),
                etag: None,
            });
        }
    }
    Ok(())
}

/// Uploads of at least this many bytes go as multipart uploads, in parts of this size (S3
/// needs parts of at least 5 MiB except the last). `LAKEAUG_MULTIPART_THRESHOLD` lowers the
/// threshold (tests use it to send small files through the multipart path).
const MULTIPART_PART_BYTES: usize = 8 << 20;

/// A bucket and prefix on S3 or an S3-compatible server.
///
/// Credentials, region and endpoint come from the standard AWS environment variables
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
/// `AWS_ENDPOINT_URL`, web identity and container credentials, instance metadata) and, for
/// what those leave unset, from `~/.aws/credentials` and `~/.aws/config` (profile
/// `AWS_PROFILE`, default `default`).
pub struct S3Store {
    url: String,
    prefix: String,
    s3: Arc<AmazonS3>,
    runtime: tokio::runtime::Runtime,
    multipart_threshold: usize,
}

/// Build an S3 client for `url` (`s3://bucket/...`) from the environment and AWS files.
pub fn s3_client(url: &str) -> anyhow::Result<AmazonS3> {
    if !url.starts_with("s3://") && !url.starts_with("s3a://") {
        bail!("{url}: only s3:// URLs are supported for object stores");
    }
    let mut b = AmazonS3Builder::from_env()
        .with_url(url)
        .with_conditional_put(S3ConditionalPut::ETagMatch);
    for (key, value) in aws_files::settings() {
        if std::env::var_os(key.to_ascii_uppercase()).is_none() {
            if let Ok(k) = key.parse() {
                b = b.with_config(k, value);
            }
        }
    }
    let endpoint = b.get_config_value(&object_store::aws::AmazonS3ConfigKey::Endpoint);
    if endpoint
        .as_deref()
        .is_some_and(|e| e.starts_with("http://"))
    {
        b = b.with_allow_http(true);
    }
    if endpoint.is_some() && std::env::var_os("AWS_VIRTUAL_HOSTED_STYLE_REQUEST").is_none() {
        // S3-compatible servers (MinIO, moto, Ceph) are reached by path, not bucket host.
        b = b.with_virtual_hosted_style_request(false);
    }
    if b.get_config_value(&object_store::aws::AmazonS3ConfigKey::Region)
        .is_none()
    {
        b = b.with_region("us-east-1");
    }
    b.build()
        .with_context(|| format!("cannot set up S3 access for {url}"))
}

/// Split `s3://bucket/a/b` into (`s3://bucket`, `a/b`).
pub fn split_url(url: &str) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("s3", url));
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (
        format!("{scheme}://{bucket}"),
        prefix.trim_matches('/').to_string(),
    )
}

/// A current-thread tokio runtime to drive object store calls from synchronous code.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the I/O runtime")
}

impl S3Store {
    pub fn open(url: &str) -> anyhow::Result<S3Store> {
        let (_, prefix) = split_url(url);
        let multipart_threshold = std::env::var("LAKEAUG_MULTIPART_THRESHOLD")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(MULTIPART_PART_BYTES);
        Ok(S3Store {
            url: url.trim_end_matches('/').to_string(),
            prefix,
            s3: Arc::new(s3_client(url)?),
            runtime: runtime()?,
            multipart_threshold,
        })
    }

    fn path(&self, rel: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(rel)
        } else {
            ObjectPath::from(format!("{}/{rel}", self.prefix))
        }
    }

    fn rel_of(&self, path: &ObjectPath) -> String {
        let s = path.as_ref();
        if self.prefix.is_empty() {
            s.to_string()
        } else {
            s.strip_prefix(&self.prefix)
                .unwrap_or(s)
                .trim_start_matches('/')
                .to_string()
        }
    }

    /// A PUT that the server makes only if its condition holds: `false` when it did not.
    fn put_conditional(
        &self,
        rel: &str,
        bytes: &[u8],
        mode: PutMode,
        what: &str,
    ) -> anyhow::Result<bool> {
        let opts = PutOptions {
            mode,
            ..Default::default()
        };
        match self.runtime.block_on(self.s3.put_opts(
            &self.path(rel),
            PutPayload::from(bytes.to_vec()),
            opts,
        )) {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. })
            | Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(anyhow!(e)).with_context(|| format!("cannot {what} {}/{rel}", self.url)),
        }
    }

    fn upload_note(rel: &str) -> String {
        format!(
            "_lakeaug/uploads/{}.json",
            &blake3::hash(rel.as_bytes()).to_hex()[..16]
        )
    }

    fn multipart(&self, path: &ObjectPath, rel: &str, data: &[u8]) -> anyhow::Result<()> {
        let s3 = self.s3.clone();
        let id = self.runtime.block_on(s3.create_multipart(path))?;
        let note = serde_json::json!({ "path": path.as_ref(), "upload_id": id });
        self.put(&Self::upload_note(rel), note.to_string().as_bytes())?;
        crate::crash::point("s3-multipart-started");
        let result: anyhow::Result<()> = self.runtime.block_on(async {
            let mut parts = Vec::new();
            for (i, chunk) in data.chunks(MULTIPART_PART_BYTES).enumerate() {
                parts.push(
                    s3.put_part(path, &id, i, PutPayload::from(chunk.to_vec()))
                        .await?,
                );
            }
            s3.complete_multipart(path, &id, parts).await?;
            Ok(())
        });
        if let Err(e) = result {
            self.runtime.block_on(s3.abort_multipart(path, &id)).ok();
            self.delete(&Self::upload_note(rel)).ok();
            return Err(e);
        }
        self.delete(&Self::upload_note(rel))
    }
}

impl Store for S3Store {
    fn describe(&self) -> String {
        self.url.clone()
    }

    fn local_root(&self) -> Option<&Path> {
        None
    }

    fn publish_file(&self, local: &Path, rel: &str) -> anyhow::Result<()> {
        let data =
            std::fs::read(local).with_context(|| format!("cannot read {}", local.display()))?;
        let path = self.path(rel);
        let uploaded = if data.len() >= self.multipart_threshold {
            self.multipart(&path, rel, &data)
        } else {
            self.runtime
                .block_on(self.s3.put(&path, PutPayload::from(data)))
                .map(|_| ())
                .map_err(anyhow::Error::from)
        };
        uploaded.with_context(|| format!("cannot upload {}/{rel}", self.url))?;
        std::fs::remove_file(local).ok();
        Ok(())
    }

    fn put(&self, rel: &str, bytes: &[u8]) -> anyhow::Result<()> {
        self.runtime
            .block_on(
                self.s3
                    .put(&self.path(rel), PutPayload::from(bytes.to_vec())),
            )
            .with_context(|| format!("cannot write {}/{rel}", self.url))?;
        Ok(())
    }

    fn put_if_absent(&self, rel: &str, bytes: &[u8]) -> anyhow::Result<bool> {
        // `If-None-Match: *`: the server refuses it when the object exists.
        self.put_conditional(rel, bytes, PutMode::Create, "create")
    }

    fn get(&self, rel: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self.get_versioned(rel)?.map(|(b, _)| b))
    }

    fn get_versioned(&self, rel: &str) -> anyhow::Result<Option<(Vec<u8>, ObjectVersion)>> {
        let path = self.path(rel);
        let result = self.runtime.block_on(async {
            let r = self.s3.get(&path).await?;
            let version = ObjectVersion {
                e_tag: r.meta.e_tag.clone(),
                version: r.meta.version.clone(),
            };
            r.bytes().await.map(|b| (b, version))
        });
        match result {
            Ok((b, v)) => Ok(Some((b.to_vec(), v))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(anyhow!(e)).with_context(|| format!("cannot read {}/{rel}", self.url)),
        }
    }

    fn replace_if(&self, rel: &str, bytes: &[u8], version: &ObjectVersion) -> anyhow::Result<bool> {
        // `If-Match: <ETag>` (set up by `S3ConditionalPut::ETagMatch`): the server refuses
        // it once the object has changed.
        let mode = PutMode::Update(UpdateVersion {
            e_tag: version.e_tag.clone(),
            version: version.version.clone(),
        });
        self.put_conditional(rel, bytes, mode, "replace")
    }

    fn delete(&self, rel: &str) -> anyhow::Result<()> {
        match self.runtime.block_on(self.s3.delete(&self.path(rel))) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(anyhow!(e)).with_context(|| format!("cannot delete {}/{rel}", self.url)),
        }
    }

    fn list(&self, prefix: &str) -> anyhow::Result<Vec<StoredObject>> {
        let path = self.path(prefix.trim_end_matches('/'));
        let metas: Vec<object_store::ObjectMeta> = self
            .runtime
            .block_on(self.s3.list(Some(&path)).try_collect())
            .with_context(|| format!("cannot list {}/{prefix}", self.url))?;
        Ok(metas
            .into_iter()
            .map(|m| StoredObject {
                rel: self.rel_of(&m.location),
                size: m.size,
                modified: Some(m.last_modified.into()),
                etag: m.e_tag,
            })
            .collect())
    }

    fn abort_stale_uploads(&self) -> anyhow::Result<usize> {
        let notes = self.list("_lakeaug/uploads")?;
        let mut aborted = 0;
        for note in notes {
            if let Some(bytes) = self.get(&note.rel)? {
                let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
                if let (Some(path), Some(id)) = (v["path"].as_str(), v["upload_id"].as_str()) {
                    let path = ObjectPath::from(path);
                    match self
                        .runtime
                        .block_on(self.s3.abort_multipart(&path, &id.to_string()))
                    {
                        Ok(()) | Err(object_store::Error::NotFound { .. }) => aborted += 1,
                        Err(e) => {
                            return Err(anyhow!(e))
                                .context(format!("cannot abort the unfinished upload of {path}"))
                        }
                    }
                }
            }
            self.delete(&note.rel)?;
        }
        Ok(aborted)
    }
}

/// The few settings lakeaug takes from `~/.aws/credentials` and `~/.aws/config`, as
/// object_store config keys. object_store reads the environment only.
mod aws_files {
    use std::path::PathBuf;

    fn home() -> Option<PathBuf> {
        std::env::var_os("HOME").map(PathBuf::from)
    }

    /// The `[section]` of an INI file as (key, value) pairs.
    pub fn ini_section(text: &str, section: &str) -> Vec<(String, String)> {
        let mut inside = false;
        let mut out = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                inside = name.trim() == section;
                continue;
            }
            if inside {
                if let Some((k, v)) = line.split_once('=') {
                    out.push((k.trim().to_string(), v.trim().to_string()));
                }
            }
        }
        out
    }

    /// (object_store key, value) from the profile's credentials and config.
    pub fn settings() -> Vec<(&'static str, String)> {
        let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
        let creds_path = std::env::var_os("AWS_SHARED_CREDENTIALS_FILE")
            .map(PathBuf::from)
            .or_else(|| home().map(|h| h.join(".aws/credentials")));
        let config_path = std::env::var_os("AWS_CONFIG_FILE")
            .map(PathBuf::from)
            .or_else(|| home().map(|h| h.join(".aws/config")));
        let mut pairs = Vec::new();
        if let Some(text) = creds_path.and_then(|p| std::fs::read_to_string(p).ok()) {
            pairs.extend(ini_section(&text, &profile));
        }
        if let Some(text) = config_path.and_then(|p| std::fs::read_to_string(p).ok()) {
            let section = if profile == "default" {
                "default".to_string()
            } else {
                format!("profile {profile}")
            };
            pairs.extend(ini_section(&text, &section));
        }
        pairs
            .into_iter()
            .filter_map(|(k, v)| {
                let key = match k.as_str() {
                    "aws_access_key_id" => "aws_access_key_id",
                    "aws_secret_access_key" => "aws_secret_access_key",
                    "aws_session_token" => "aws_session_token",
                    "region" => "aws_region",
                    "endpoint_url" => "aws_endpoint_url",
                    _ => return None,
                };
                Some((key, v))
            })
            .collect()
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn reads_one_ini_section() {
            let text = "[default]\nregion = eu-west-1\n\n[profile other]\nregion=us-west-2\n# c\naws_access_key_id = AK\n";
            assert_eq!(
                super::ini_section(text, "profile other"),
                vec![
                    ("region".to_string(), "us-west-2".to_string()),
                    ("aws_access_key_id".to_string(), "AK".to_string())
                ]
            );
            assert_eq!(
                super::ini_section(text, "default"),
                vec![("region".to_string(), "eu-west-1".to_string())]
            );
        }
    }
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

    #[test]
    fn local_store_put_if_absent_get_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore {
            root: dir.path().to_path_buf(),
        };
        assert!(store.put_if_absent("_lakeaug/lock.json", b"one").unwrap());
        assert!(!store.put_if_absent("_lakeaug/lock.json", b"two").unwrap());
        assert_eq!(store.get("_lakeaug/lock.json").unwrap().unwrap(), b"one");
        store.put("a/b/c.txt", b"xyz").unwrap();
        let mut listed: Vec<_> = store
            .list("")
            .unwrap()
            .into_iter()
            .map(|o| (o.rel, o.size))
            .collect();
        listed.sort();
        assert_eq!(
            listed,
            vec![
                ("_lakeaug/lock.json".to_string(), 3),
                ("a/b/c.txt".to_string(), 3)
            ]
        );
        store.delete("a/b/c.txt").unwrap();
        store.delete("a/b/c.txt").unwrap();
        assert_eq!(store.get("a/b/c.txt").unwrap(), None);
        assert!(store.list("nothing").unwrap().is_empty());
    }

    #[test]
    fn local_replace_if_is_a_compare_and_swap() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore {
            root: dir.path().to_path_buf(),
        };
        store.put("_lakeaug/lock.json", b"stale").unwrap();
        let (_, seen) = store.get_versioned("_lakeaug/lock.json").unwrap().unwrap();
        // Two runs saw the same version: the first swap wins, the second sees a change.
        assert!(store.replace_if("_lakeaug/lock.json", b"a", &seen).unwrap());
        assert!(!store.replace_if("_lakeaug/lock.json", b"b", &seen).unwrap());
        assert_eq!(store.get("_lakeaug/lock.json").unwrap().unwrap(), b"a");
        store.delete("_lakeaug/lock.json").unwrap();
        assert!(!store.replace_if("_lakeaug/lock.json", b"c", &seen).unwrap());
        assert_eq!(store.get("_lakeaug/lock.json").unwrap(), None);
    }
}
