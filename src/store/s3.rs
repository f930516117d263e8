//! The output as a prefix on S3 or an S3-compatible server.

use std::path::Path;
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder, S3ConditionalPut};
use object_store::multipart::MultipartStore;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};

use super::{io_error, ObjectVersion, Store, StoreError, StoreResult, StoredObject};

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
pub fn s3_client(url: &str) -> StoreResult<AmazonS3> {
    if !url.starts_with("s3://") && !url.starts_with("s3a://") {
        return Err(StoreError::UnsupportedUrl {
            location: url.to_string(),
        });
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
    b.build().map_err(|source| StoreError::Setup {
        url: url.to_string(),
        source,
    })
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
pub fn runtime() -> StoreResult<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(StoreError::Runtime)
}

/// The runtime that reads of remote inputs block on (see `crate::read::remote`), one per
/// process: its two I/O threads keep the clients' connections alive between reads. Block
/// on it only from threads outside any tokio runtime's workers (the reader thread, the
/// main thread, a cluster task's blocking thread).
pub fn io_runtime() -> std::io::Result<&'static tokio::runtime::Runtime> {
    static IO: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    if let Some(rt) = IO.get() {
        return Ok(rt);
    }
    // Fails only when the process cannot start threads; two first callers racing build two,
    // and the loser's is dropped unused.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("lakeaug-io")
        .enable_all()
        .build()?;
    Ok(IO.get_or_init(|| rt))
}

/// The S3 client for reading the objects of `url`'s bucket, one per bucket and process
/// (built as [`s3_client`] builds it, so with the same retries and backoff), so that the
/// inputs of a run share its connections.
pub fn input_client(url: &str) -> StoreResult<Arc<dyn ObjectStore>> {
    static CLIENTS: std::sync::Mutex<Vec<(String, Arc<dyn ObjectStore>)>> =
        std::sync::Mutex::new(Vec::new());
    let (bucket, _) = split_url(url);
    let mut clients = CLIENTS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, c)) = clients.iter().find(|(b, _)| *b == bucket) {
        return Ok(c.clone());
    }
    let client: Arc<dyn ObjectStore> = Arc::new(s3_client(url)?);
    clients.push((bucket, client.clone()));
    Ok(client)
}

impl S3Store {
    pub fn open(url: &str) -> StoreResult<S3Store> {
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
        what: &'static str,
    ) -> StoreResult<bool> {
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
            Err(source) => Err(self.remote(what, rel, source)),
        }
    }

    fn upload_note(rel: &str) -> String {
        format!(
            "_lakeaug/uploads/{}.json",
            &blake3::hash(rel.as_bytes()).to_hex()[..16]
        )
    }

    /// `StoreError::Remote` for doing `action` to `rel`.
    fn remote(&self, action: &'static str, rel: &str, source: object_store::Error) -> StoreError {
        StoreError::Remote {
            action,
            location: format!("{}/{rel}", self.url),
            source,
        }
    }

    fn multipart(&self, path: &ObjectPath, rel: &str, data: &[u8]) -> StoreResult<()> {
        let s3 = self.s3.clone();
        let id = self
            .runtime
            .block_on(s3.create_multipart(path))
            .map_err(|e| self.remote("upload", rel, e))?;
        let note = serde_json::json!({ "path": path.as_ref(), "upload_id": id });
        self.put(&Self::upload_note(rel), note.to_string().as_bytes())?;
        crate::crash::point("s3-multipart-started");
        let result: Result<(), object_store::Error> = self.runtime.block_on(async {
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
            return Err(self.remote("upload", rel, e));
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

    fn publish_file(&self, local: &Path, rel: &str) -> StoreResult<()> {
        let data = std::fs::read(local).map_err(io_error("read", local))?;
        let path = self.path(rel);
        if data.len() >= self.multipart_threshold {
            self.multipart(&path, rel, &data)?;
        } else {
            self.runtime
                .block_on(self.s3.put(&path, PutPayload::from(data)))
                .map_err(|e| self.remote("upload", rel, e))?;
        }
        std::fs::remove_file(local).ok();
        Ok(())
    }

    fn put(&self, rel: &str, bytes: &[u8]) -> StoreResult<()> {
        self.runtime
            .block_on(
                self.s3
                    .put(&self.path(rel), PutPayload::from(bytes.to_vec())),
            )
            .map_err(|e| self.remote("write", rel, e))?;
        Ok(())
    }

    fn put_if_absent(&self, rel: &str, bytes: &[u8]) -> StoreResult<bool> {
        // `If-None-Match: *`: the server refuses it when the object exists.
        self.put_conditional(rel, bytes, PutMode::Create, "create")
    }

    fn get(&self, rel: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.get_versioned(rel)?.map(|(b, _)| b))
    }

    fn get_versioned(&self, rel: &str) -> StoreResult<Option<(Vec<u8>, ObjectVersion)>> {
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
            Err(e) => Err(self.remote("read", rel, e)),
        }
    }

    fn replace_if(&self, rel: &str, bytes: &[u8], version: &ObjectVersion) -> StoreResult<bool> {
        // `If-Match: <ETag>` (set up by `S3ConditionalPut::ETagMatch`): the server refuses
        // it once the object has changed.
        let mode = PutMode::Update(UpdateVersion {
            e_tag: version.e_tag.clone(),
            version: version.version.clone(),
        });
        self.put_conditional(rel, bytes, mode, "replace")
    }

    fn delete(&self, rel: &str) -> StoreResult<()> {
        match self.runtime.block_on(self.s3.delete(&self.path(rel))) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.remote("delete", rel, e)),
        }
    }

    fn list(&self, prefix: &str) -> StoreResult<Vec<StoredObject>> {
        let path = self.path(prefix.trim_end_matches('/'));
        let metas: Vec<object_store::ObjectMeta> = self
            .runtime
            .block_on(self.s3.list(Some(&path)).try_collect())
            .map_err(|e| self.remote("list", prefix, e))?;
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

    fn abort_stale_uploads(&self) -> StoreResult<usize> {
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
                        Err(source) => {
                            return Err(StoreError::Remote {
                                action: "abort the unfinished upload of",
                                location: path.to_string(),
                                source,
                            })
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
