//! Expanding `--input` paths into a sorted list of Parquet files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Why the `--input` (or `--source`) arguments could not be expanded into files. Each
/// names the argument or path involved.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// A file or folder operation; `context` says which and where.
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid glob pattern {arg:?}")]
    Pattern {
        arg: String,
        #[source]
        source: glob::PatternError,
    },
    #[error("cannot read a match of {arg:?}")]
    Match {
        arg: String,
        #[source]
        source: glob::GlobError,
    },
    #[error("no files match {0:?}")]
    NoMatch(String),
    #[error("no Parquet files (*.parquet) found under folder {0:?}")]
    EmptyFolder(String),
    #[error("no Parquet objects found at {0:?}")]
    NoObjects(String),
    /// Listing objects; `context` says which.
    #[error("{context}")]
    Remote {
        context: String,
        #[source]
        source: object_store::Error,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

fn io_error(context: String) -> impl FnOnce(std::io::Error) -> DiscoverError {
    move |source| DiscoverError::Io { context, source }
}

type Result<T, E = DiscoverError> = std::result::Result<T, E>;

/// One input Parquet file (serializable: a cluster task names the file it reads).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InputFile {
    /// Where to open it.
    pub path: PathBuf,
    /// The path as recorded in `source_file`: the input argument as given, joined with the
    /// file's path below it.
    pub display: String,
    /// The file's identity for seeding: its path relative to the input root it was found
    /// under (the file name for a file given directly). Moving the lake does not change it.
    pub key: String,
    /// Hive partition values (`key=value` folders) between the root and the file.
    pub partition_values: Vec<(String, String)>,
    pub size: u64,
    pub modified: Option<SystemTime>,
    /// Object stores' entity tag (`None` for local files).
    pub etag: Option<String>,
    /// The object's URL (`s3://bucket/key`) when the file lives in an object store; it is
    /// then read by byte ranges (see [`super::remote`]) and `path` is unused.
    pub remote: Option<String>,
}

fn has_glob_chars(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Hidden and metadata entries that Parquet tools skip (`_SUCCESS`, `_lakeaug`, `.crc`).
fn is_hidden(name: &str) -> bool {
    name.starts_with('.') || name.starts_with('_')
}

/// The folder a lakeaug run writes its state into: a folder holding it is a lakeaug output.
const OUTPUT_MARKER: &str = "_lakeaug";

/// Whether `dir` is a lakeaug output folder (it holds `_lakeaug/`). Discovery never reads
/// one as input, so an output inside an input folder (`--input lake/ --output
/// lake/augmented/`) is not read back by the next run.
pub fn is_lakeaug_output(dir: &Path) -> bool {
    dir.join(OUTPUT_MARKER).is_dir()
}

/// Whether some folder between `root` (excluded) and `file` (excluded) is a lakeaug output.
fn under_lakeaug_output(root: &Path, file: &Path) -> bool {
    file.ancestors()
        .skip(1)
        .take_while(|a| *a != root && a.starts_with(root))
        .any(is_lakeaug_output)
}

/// For object-store keys below a root: whether a folder of `rel` (`a/b/c.parquet`) holds a
/// `_lakeaug/` object, given the set of such folders.
fn under_remote_output(rel: &str, outputs: &std::collections::BTreeSet<String>) -> bool {
    let mut folder = String::new();
    for comp in rel
        .split('/')
        .collect::<Vec<_>>()
        .iter()
        .rev()
        .skip(1)
        .rev()
    {
        if !folder.is_empty() {
            folder.push('/');
        }
        folder.push_str(comp);
        if outputs.contains(&folder) {
            return true;
        }
    }
    false
}

fn is_parquet_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".parquet") || lower.ends_with(".parq") || lower.ends_with(".pq")
}

fn rel_string(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn join_display(root: &str, rel: &str) -> String {
    if root.is_empty() || root == "." {
        rel.to_string()
    } else if root.ends_with('/') {
        format!("{root}{rel}")
    } else {
        format!("{root}/{rel}")
    }
}

/// Hive partition values from the folders of a relative path (`year=2024/part.parquet`).
pub fn partition_values(rel: &str) -> Vec<(String, String)> {
    let mut parts: Vec<&str> = rel.split('/').collect();
    parts.pop(); // the file name
    parts
        .into_iter()
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            (!k.is_empty()).then(|| (k.to_string(), v.to_string()))
        })
        .collect()
}

fn make_input(path: PathBuf, display: String, key: String) -> Result<InputFile> {
    let meta = std::fs::metadata(&path).map_err(io_error(format!("cannot read {display}")))?;
    Ok(InputFile {
        partition_values: partition_values(&key),
        path,
        display,
        key,
        size: meta.len(),
        modified: meta.modified().ok(),
        etag: None,
        remote: None,
    })
}

fn walk(dir: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let listing = || io_error(format!("cannot list folder {}", dir.join(rel).display()));
    let mut entries: Vec<_> = std::fs::read_dir(dir.join(rel))
        .map_err(listing())?
        .collect::<Result<_, _>>()
        .map_err(listing())?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_hidden(&name) {
            continue;
        }
        let child = rel.join(&name);
        let ft = std::fs::metadata(entry.path())
            .map_err(io_error(format!("cannot read {}", entry.path().display())))?;
        if ft.is_dir() {
            if !is_lakeaug_output(&entry.path()) {
                walk(dir, &child, out)?;
            }
        } else if is_parquet_name(&name) {
            out.push(child);
        }
    }
    Ok(())
}

/// The folder part of a glob before its first wildcard component.
fn glob_root(pattern: &str) -> String {
    let mut root = Vec::new();
    for comp in pattern.split('/') {
        if has_glob_chars(comp) {
            break;
        }
        root.push(comp);
    }
    root.join("/")
}

/// Expand input arguments into files, sorted by `display`, without duplicates.
///
/// A folder is searched recursively for `*.parquet` files, skipping entries whose names
/// start with `.` or `_`; `key=value` folders become partition values. A glob is matched
/// as written (`data/*/part-*.parquet`). A file is taken as is, whatever its name.
pub fn discover_inputs(paths: &[String]) -> Result<Vec<InputFile>> {
    let mut found: BTreeMap<String, InputFile> = BTreeMap::new();
    for arg in paths {
        let mut files = Vec::new();
        if crate::store::is_url(arg) {
            files = discover_remote(arg)?;
        } else if has_glob_chars(arg) {
            let root = glob_root(arg);
            let matches = glob::glob(arg).map_err(|source| DiscoverError::Pattern {
                arg: arg.clone(),
                source,
            })?;
            for m in matches {
                let path = m.map_err(|source| DiscoverError::Match {
                    arg: arg.clone(),
                    source,
                })?;
                if !path.is_file() || under_lakeaug_output(Path::new(&root), &path) {
                    continue;
                }
                let rel = path.strip_prefix(&root).unwrap_or(&path);
                let rel = rel_string(rel);
                files.push(make_input(path.clone(), join_display(&root, &rel), rel)?);
            }
            if files.is_empty() {
                return Err(DiscoverError::NoMatch(arg.clone()));
            }
        } else {
            let path = PathBuf::from(arg);
            let meta = std::fs::metadata(&path).map_err(io_error(format!(
                "input {arg:?} does not exist (give a Parquet file, a folder or a glob)"
            )))?;
            if meta.is_dir() {
                let mut rels = Vec::new();
                walk(&path, Path::new(""), &mut rels)?;
                if rels.is_empty() {
                    return Err(DiscoverError::EmptyFolder(arg.clone()));
                }
                for rel in rels {
                    let rel_s = rel_string(&rel);
                    files.push(make_input(
                        path.join(&rel),
                        join_display(arg, &rel_s),
                        rel_s,
                    )?);
                }
            } else {
                let key = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| arg.clone());
                files.push(make_input(path, arg.clone(), key)?);
            }
        }
        for f in files {
            found.entry(f.display.clone()).or_insert(f);
        }
    }
    Ok(found.into_values().collect())
}

/// Objects below an `s3://bucket/prefix` (a folder, searched recursively with the same
/// rules as a local folder), matching a glob (`s3://bucket/lake/*/*.parquet`), or one object.
/// Only listed: no object is read.
fn discover_remote(arg: &str) -> Result<Vec<InputFile>> {
    use futures::TryStreamExt;
    use object_store::ObjectStore;
    let (bucket_url, key) = crate::store::split_url(arg);
    let pattern = if has_glob_chars(&key) {
        Some(
            glob::Pattern::new(&key).map_err(|source| DiscoverError::Pattern {
                arg: arg.to_string(),
                source,
            })?,
        )
    } else {
        None
    };
    let root = if pattern.is_some() {
        glob_root(&key)
    } else {
        key.clone()
    };
    let s3 = crate::store::s3_client(arg)?;
    let rt = crate::store::runtime()?;
    let prefix = object_store::path::Path::from(root.as_str());
    let metas: Vec<object_store::ObjectMeta> = rt
        .block_on(s3.list(Some(&prefix)).try_collect())
        .map_err(|source| DiscoverError::Remote {
            context: format!("cannot list {arg}"),
            source,
        })?;
    let rel_of = |full: &str| {
        full.strip_prefix(&root)
            .unwrap_or(full)
            .trim_start_matches('/')
            .to_string()
    };
    // Folders holding a `_lakeaug/` object are lakeaug outputs: never read as input.
    let outputs: std::collections::BTreeSet<String> = metas
        .iter()
        .filter_map(|m| {
            let rel = format!("/{}", rel_of(m.location.as_ref()));
            let (folder, _) = rel.split_once(&format!("/{OUTPUT_MARKER}/"))?;
            Some(folder.trim_start_matches('/').to_string())
        })
        .collect();
    let mut files = Vec::new();
    for m in metas {
        let full = m.location.as_ref().to_string();
        let rel = rel_of(&full);
        if under_remote_output(&rel, &outputs) {
            continue;
        }
        let keep = match &pattern {
            Some(p) => p.matches(&full),
            None if rel.is_empty() => true, // the object named itself
            None => rel.split('/').all(|c| !is_hidden(c)) && is_parquet_name(&rel),
        };
        if !keep {
            continue;
        }
        let (display, key) = if rel.is_empty() {
            let name = full.rsplit('/').next().unwrap_or(&full).to_string();
            (arg.to_string(), name)
        } else {
            (join_display(arg.trim_end_matches('/'), &rel), rel.clone())
        };
        let display = if pattern.is_some() {
            format!("{bucket_url}/{full}")
        } else {
            display
        };
        files.push(InputFile {
            path: PathBuf::new(),
            partition_values: partition_values(&key),
            display,
            key,
            size: m.size,
            modified: Some(m.last_modified.into()),
            etag: m.e_tag,
            remote: Some(format!("{bucket_url}/{full}")),
        });
    }
    if files.is_empty() {
        return Err(DiscoverError::NoObjects(arg.to_string()));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_values_from_hive_folders() {
        assert_eq!(
            partition_values("year=2024/month=01/part-0.parquet"),
            vec![
                ("year".into(), "2024".into()),
                ("month".into(), "01".into())
            ]
        );
        assert!(partition_values("part-0.parquet").is_empty());
        assert!(partition_values("plain/part-0.parquet").is_empty());
    }

    #[test]
    fn folders_globs_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for p in [
            "year=2024/a.parquet",
            "year=2025/b.parquet",
            "_tmp/c.parquet",
            ".hidden.parquet",
            "notes.txt",
        ] {
            let full = root.join(p);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, b"x").unwrap();
        }
        let root_s = root.to_string_lossy().into_owned();
        let files = discover_inputs(std::slice::from_ref(&root_s)).unwrap();
        let keys: Vec<_> = files.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["year=2024/a.parquet", "year=2025/b.parquet"]);
        assert_eq!(files[0].display, format!("{root_s}/year=2024/a.parquet"));
        assert_eq!(
            files[1].partition_values,
            vec![("year".to_string(), "2025".to_string())]
        );

        let files = discover_inputs(&[format!("{root_s}/year=*/*.parquet")]).unwrap();
        let keys: Vec<_> = files.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["year=2024/a.parquet", "year=2025/b.parquet"]);

        // The same file named twice is read once; a file keeps its own name as key.
        let one = format!("{root_s}/year=2024/a.parquet");
        let files = discover_inputs(&[one.clone(), one.clone()]).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].key, "a.parquet");

        let err = discover_inputs(&[format!("{root_s}/missing")]).unwrap_err();
        assert!(err.to_string().contains("does not exist"));
        std::fs::create_dir(root.join("empty")).unwrap();
        let err = discover_inputs(&[format!("{root_s}/empty")]).unwrap_err();
        assert!(err.to_string().contains("no Parquet files"), "{err}");
        let err = discover_inputs(&[format!("{root_s}/nothing-*.parquet")]).unwrap_err();
        assert!(err.to_string().contains("no files match"), "{err}");
    }

    /// A lakeaug output inside an input folder (it holds `_lakeaug/`) is never read as
    /// input, by a folder walk or a glob.
    #[test]
    fn lakeaug_outputs_inside_inputs_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for p in [
            "a.parquet",
            "augmented/_lakeaug/state/files.json",
            "augmented/scheme=aligned/part-1.parquet",
            "year=2024/b.parquet",
        ] {
            let full = root.join(p);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, b"x").unwrap();
        }
        let root_s = root.to_string_lossy().into_owned();
        let keys =
            |files: Vec<InputFile>| -> Vec<String> { files.into_iter().map(|f| f.key).collect() };
        assert_eq!(
            keys(discover_inputs(std::slice::from_ref(&root_s)).unwrap()),
            ["a.parquet", "year=2024/b.parquet"]
        );
        assert_eq!(
            keys(discover_inputs(&[format!("{root_s}/**/*.parquet")]).unwrap()),
            ["a.parquet", "year=2024/b.parquet"]
        );
        assert!(is_lakeaug_output(&root.join("augmented")));
        // Without the marker the same folder is an ordinary input folder.
        std::fs::remove_dir_all(root.join("augmented/_lakeaug")).unwrap();
        assert_eq!(
            keys(discover_inputs(std::slice::from_ref(&root_s)).unwrap()),
            [
                "a.parquet",
                "augmented/scheme=aligned/part-1.parquet",
                "year=2024/b.parquet"
            ]
        );
        let outputs = ["lake/out".to_string()].into_iter().collect();
        assert!(under_remote_output("lake/out/scheme=a/p.parquet", &outputs));
        assert!(!under_remote_output("lake/outx/p.parquet", &outputs));
        assert!(!under_remote_output("lake/p.parquet", &outputs));
    }
}
