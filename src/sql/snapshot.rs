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
//!
//! A session keeps the snapshot it was made with. A later run may delete files of it (a
//! replaced generation); listing or reading such a file is then an error that says so,
//! never a result with that file's rows silently missing.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

use super::error::SqlError;
use crate::state::State;
use crate::store::LocalStore;

/// The committed snapshot of the output folder `dir`: its part and rejects files relative
/// to `dir`, or `None` when `dir` has no lakeaug state (outputs of older versions, or
/// folders assembled by hand), which are then read as they are.
pub fn committed_files(dir: &Path) -> std::result::Result<Option<Vec<String>>, SqlError> {
    if !dir.join(crate::state::DATASET_PATH).exists() {
        return Ok(None);
    }
    let state = State::load(&LocalStore {
        root: dir.to_path_buf(),
    })
    .map_err(|source| SqlError::State {
        dir: dir.to_path_buf(),
        source,
    })?;
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

    /// Narrows a listing of `prefix` (everything below it, or with `direct_only` what is
    /// directly in it) to the snapshot, and fails if a committed file it should show is
    /// missing: rows silently left out would be worse than an error.
    fn narrow(
        &self,
        prefix: Option<&ObjectPath>,
        direct_only: bool,
        listed: &mut Vec<ObjectMeta>,
    ) -> Result<()> {
        listed.retain(|m| self.keep(&m.location));
        let seen: HashSet<&ObjectPath> = listed.iter().map(|m| &m.location).collect();
        let expected = |a: &&ObjectPath| match prefix {
            None => !direct_only || a.parts().count() == 1,
            Some(p) => a
                .prefix_match(p)
                .is_some_and(|rest| !direct_only || rest.count() == 1),
        };
        match self
            .allowed
            .iter()
            .filter(expected)
            .find(|a| !seen.contains(a))
        {
            Some(gone) => Err(replaced(gone)),
            None => Ok(()),
        }
    }
}

/// The error for a committed file that is gone: the snapshot this session started from
/// was replaced by a later run. Reading on would silently leave that file's rows out.
fn replaced(location: &ObjectPath) -> object_store::Error {
    object_store::Error::Generic {
        store: "lakeaug snapshot",
        source: format!(
            "/{location} was in the committed snapshot this query session started from but is \
             no longer in the output folder: a later `lakeaug run` replaced it. Run the query \
             again (in the interactive prompt: \\reload first) to read the current snapshot"
        )
        .into(),
    }
}

impl SnapshotStore {
    /// Wrap `inner` (the local file system) for the output folder `dir` (absolute) whose
    /// committed files are `files` (relative to `dir`).
    pub fn new(
        inner: Arc<dyn ObjectStore>,
        dir: &Path,
        files: &[String],
    ) -> std::result::Result<Self, SqlError> {
        let root = ObjectPath::from_absolute_path(dir).map_err(|source| SqlError::ObjectPath {
            context: format!("{} cannot be read as an object path", dir.display()),
            source,
        })?;
        let allowed = files
            .iter()
            .map(|rel| ObjectPath::from_absolute_path(dir.join(rel)))
            .collect::<std::result::Result<_, _>>()
            .map_err(|source| SqlError::ObjectPath {
                context: format!("a committed file name under {}", dir.display()),
                source,
            })?;
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
        match self.inner.get_opts(location, options).await {
            Err(object_store::Error::NotFound { .. }) if self.filter.allowed.contains(location) => {
                Err(replaced(location))
            }
            other => other,
        }
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<ObjectPath>>,
    ) -> BoxStream<'static, Result<ObjectPath>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&ObjectPath>) -> BoxStream<'static, Result<ObjectMeta>> {
        // Collected, so that a committed file missing from the listing can be told.
        let filter = self.filter.clone();
        let prefix = prefix.cloned();
        let listing = self.inner.list(prefix.as_ref());
        futures::stream::once(async move {
            let mut listed: Vec<ObjectMeta> = listing.try_collect().await?;
            filter.narrow(prefix.as_ref(), false, &mut listed)?;
            Ok::<_, object_store::Error>(futures::stream::iter(listed.into_iter().map(Ok)))
        })
        .try_flatten()
        .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&ObjectPath>) -> Result<ListResult> {
        let mut listed = self.inner.list_with_delimiter(prefix).await?;
        self.filter.narrow(prefix, true, &mut listed.objects)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::local::LocalFileSystem;
    use object_store::ObjectStoreExt;

    /// A listing that lacks a committed file fails, naming it, instead of leaving the
    /// file's rows out; uncommitted files in the data folders are hidden; other folders
    /// pass through.
    #[test]
    fn listings_show_the_snapshot_and_refuse_to_lose_part_of_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        for f in [
            "scheme=a/part-1-g1-00000.parquet",
            "scheme=a/part-1-g2-00000.parquet",
            "_lakeaug/runs/run-x.json",
        ] {
            std::fs::create_dir_all(dir.join(f).parent().unwrap()).unwrap();
            std::fs::write(dir.join(f), b"x").unwrap();
        }
        let committed = vec![
            "scheme=a/part-1-g1-00000.parquet".to_string(),
            "scheme=a/part-2-g1-00000.parquet".to_string(),
        ];
        let store = SnapshotStore::new(Arc::new(LocalFileSystem::new()), dir, &committed).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let root = ObjectPath::from_absolute_path(dir).unwrap();
        let part_a = ObjectPath::from_absolute_path(dir.join("scheme=a")).unwrap();
        let names = |metas: Vec<ObjectMeta>| {
            let mut v: Vec<String> = metas
                .into_iter()
                .map(|m| m.location.filename().unwrap().to_string())
                .collect();
            v.sort();
            v
        };

        // part-2 is committed but missing: every listing that should show it fails.
        for prefix in [Some(&root), Some(&part_a)] {
            let err = rt
                .block_on(store.list(prefix).try_collect::<Vec<_>>())
                .unwrap_err()
                .to_string();
            assert!(err.contains("part-2-g1-00000.parquet"), "{err}");
            assert!(err.contains("no longer in the output folder"), "{err}");
        }
        let err = rt
            .block_on(store.list_with_delimiter(Some(&part_a)))
            .unwrap_err()
            .to_string();
        assert!(err.contains("part-2-g1-00000.parquet"), "{err}");
        // The folder above it does not list it directly: no error there.
        let top = rt.block_on(store.list_with_delimiter(Some(&root))).unwrap();
        assert!(top.objects.is_empty());
        // Reading it names it too.
        let err = rt
            .block_on(store.get(&ObjectPath::from_absolute_path(dir.join(&committed[1])).unwrap()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no longer in the output folder"), "{err}");

        // Once it is there, the listing shows the committed parts only (not g2), and
        // files outside the data folders as they are.
        std::fs::write(dir.join(&committed[1]), b"x").unwrap();
        let listed = rt
            .block_on(store.list(Some(&root)).try_collect::<Vec<_>>())
            .unwrap();
        assert_eq!(
            names(listed),
            [
                "part-1-g1-00000.parquet",
                "part-2-g1-00000.parquet",
                "run-x.json"
            ]
        );
        let listed = rt
            .block_on(store.list_with_delimiter(Some(&part_a)))
            .unwrap();
        assert_eq!(
            names(listed.objects),
            ["part-1-g1-00000.parquet", "part-2-g1-00000.parquet"]
        );
    }
}
