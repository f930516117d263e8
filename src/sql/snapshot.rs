//! `lakeaug query` reads the committed snapshot of an output, not whatever files the
//! folder happens to hold.
//!
//! While `lakeaug run` replaces a changed input file's outputs, the folder briefly holds
//! both generations of its parts (the new ones are published before the record that
//! names them is committed, the old ones deleted after). The committed state lists, for
//! every input file, exactly its last complete generation
//! ([`crate::state::State::snapshot_files`]). [`SnapshotStore`] wraps the local file
//! system so that DataFusion's listings of the output's `scheme=*/` and `_rejects/`
//! folders return only those files; everything else passes through unchanged.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

use crate::state::State;
use crate::store::LocalStore;

/// The committed snapshot of the output folder `dir`: its part and rejects files relative
/// to `dir`, or `None` when `dir` has no lakeaug state (outputs of older versions, or
/// folders assembled by hand), which are then read as they are.
pub fn committed_files(dir: &Path) -> anyhow::Result<Option<Vec<String>>> {
    if !dir.join(crate::state::DATASET_PATH).exists() {
        return Ok(None);
    }
    let state = State::load(&LocalStore {
        root: dir.to_path_buf(),
    })
    .with_context(|| format!("reading the committed state of {}", dir.display()))?;
    Ok(Some(state.snapshot_files()))
}

/// A local object store whose listings of an output's data folders show only the
/// committed snapshot.
#[derive(Debug)]
pub struct SnapshotStore {
    inner: Arc<dyn ObjectStore>,
    filter: Arc<Filter>,
}

#[derive(Debug)]
struct Filter {
    /// The output folder as an object path.
    root: ObjectPath,
    /// Object paths of the committed parts and rejects.
    allowed: HashSet<ObjectPath>,
}

impl Filter {
    /// Whether a listing may show `location`: anything outside the output's `scheme=*/`
    /// and `_rejects/` folders, and inside them only committed files.
    fn keep(&self, location: &ObjectPath) -> bool {
        let Some(mut rel) = location.prefix_match(&self.root) else {
            return true;
        };
        let governed = rel.next().is_some_and(|first| {
            let first = first.as_ref();
            first.starts_with("scheme=") || first == "_rejects"
        });
        !governed || self.allowed.contains(location)
    }
}

impl SnapshotStore {
    /// Wrap `inner` (the local file system) for the output folder `dir` (absolute) whose
    /// committed files are `files` (relative to `dir`).
    pub fn new(inner: Arc<dyn ObjectStore>, dir: &Path, files: &[String]) -> anyhow::Result<Self> {
        let root = ObjectPath::from_absolute_path(dir)
            .with_context(|| format!("{} cannot be read as an object path", dir.display()))?;
        let allowed = files
            .iter()
            .map(|rel| ObjectPath::from_absolute_path(dir.join(rel)))
            .collect::<std::result::Result<_, _>>()
            .with_context(|| format!("a committed file name under {}", dir.display()))?;
        Ok(SnapshotStore {
            inner,
            filter: Arc::new(Filter { root, allowed }),
        })
    }
}

impl fmt::Display for SnapshotStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "committed snapshot of {} over {}",
            self.filter.root, self.inner
        )
    }
}

#[async_trait::async_trait]
impl ObjectStore for SnapshotStore {
    async fn put_opts(
        &self,
        location: &ObjectPath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &ObjectPath,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &ObjectPath, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<ObjectPath>>,
    ) -> BoxStream<'static, Result<ObjectPath>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&ObjectPath>) -> BoxStream<'static, Result<ObjectMeta>> {
        let filter = self.filter.clone();
        self.inner
            .list(prefix)
            .try_filter(move |m| futures::future::ready(filter.keep(&m.location)))
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&ObjectPath>) -> Result<ListResult> {
        let mut listed = self.inner.list_with_delimiter(prefix).await?;
        listed.objects.retain(|m| self.filter.keep(&m.location));
        Ok(listed)
    }

    async fn copy_opts(
        &self,
        from: &ObjectPath,
        to: &ObjectPath,
        options: CopyOptions,
    ) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}
