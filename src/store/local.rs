//! The output as a folder on a local (or mounted) file system.

use std::path::{Path, PathBuf};

use super::{
    io_error, unique_suffix, write_atomic, IoError, ObjectVersion, Store, StoreResult, StoredObject,
};

/// The folder `path` is in (`.` for a bare name).
fn parent_of(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("."))
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

    fn publish_file(&self, local: &Path, rel: &str) -> StoreResult<()> {
        let target = self.root.join(rel);
        let dir = parent_of(&target);
        std::fs::create_dir_all(dir).map_err(io_error("create folder", dir))?;
        let published = std::fs::rename(local, &target).map_err(|source| IoError {
            action: "publish",
            path: format!("{} to {}", local.display(), target.display()),
            source,
        });
        Ok(published?)
    }

    fn put(&self, rel: &str, bytes: &[u8]) -> StoreResult<()> {
        let path = self.root.join(rel);
        Ok(write_atomic(&path, bytes).map_err(io_error("write", &path))?)
    }

    fn put_if_absent(&self, rel: &str, bytes: &[u8]) -> StoreResult<bool> {
        // Write a private file, then hard-link it to the name: the link fails if the name
        // exists, and a reader never sees a half-written file.
        let path = self.root.join(rel);
        let dir = parent_of(&path);
        std::fs::create_dir_all(dir).map_err(io_error("create folder", dir))?;
        let tmp = dir.join(format!(
            ".{}.new-{}",
            path.file_name().unwrap_or_default().to_string_lossy(),
            unique_suffix()
        ));
        write_atomic(&tmp, bytes).map_err(io_error("write", &tmp))?;
        let linked = std::fs::hard_link(&tmp, &path);
        std::fs::remove_file(&tmp).ok();
        match linked {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(io_error("create", &path)(e).into()),
        }
    }

    fn get_versioned(&self, rel: &str) -> StoreResult<Option<(Vec<u8>, ObjectVersion)>> {
        Ok(self.get(rel)?.map(|b| {
            let v = ObjectVersion::of_content(&b);
            (b, v)
        }))
    }

    fn replace_if(&self, rel: &str, bytes: &[u8], version: &ObjectVersion) -> StoreResult<bool> {
        // A file system has no compare-and-swap on a name, so the read-compare-rename runs
        // under an exclusive `flock` of a guard file beside it: the kernel releases it
        // when its holder dies, so a killed run never leaves it held.
        let path = self.root.join(rel);
        let dir = parent_of(&path);
        std::fs::create_dir_all(dir).map_err(io_error("create folder", dir))?;
        let guard_path = dir.join(format!(
            ".{}.guard",
            path.file_name().unwrap_or_default().to_string_lossy()
        ));
        let guard = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&guard_path)
            .map_err(io_error("open", &guard_path))?;
        lock_exclusive(&guard).map_err(io_error("lock", &guard_path))?;
        match self.get(rel)? {
            Some(current) if ObjectVersion::of_content(&current) == *version => {
                write_atomic(&path, bytes).map_err(io_error("write", &path))?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn get(&self, rel: &str) -> StoreResult<Option<Vec<u8>>> {
        let path = self.root.join(rel);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("read", &path)(e).into()),
        }
    }

    fn delete(&self, rel: &str) -> StoreResult<()> {
        let path = self.root.join(rel);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error("remove", &path)(e).into()),
        }
    }

    fn list(&self, prefix: &str) -> StoreResult<Vec<StoredObject>> {
        let mut out = Vec::new();
        list_local(&self.root, prefix.trim_end_matches('/'), &mut out)?;
        Ok(out)
    }
}

/// Take an exclusive lock on `file` (`flock`), waiting for it; it is released when the
/// file is closed, or by the kernel when the process dies.
fn lock_exclusive(file: &std::fs::File) -> std::io::Result<()> {
    loop {
        match file.lock() {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

fn list_local(root: &Path, rel: &str, out: &mut Vec<StoredObject>) -> StoreResult<()> {
    let dir = root.join(rel);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error("list", &dir)(e).into()),
    };
    for entry in entries {
        let entry = entry.map_err(io_error("list", &dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let child = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let meta = entry
            .metadata()
            .map_err(io_error("read the metadata of", &entry.path()))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

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
