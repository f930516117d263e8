//! The output target of a run: what dead runs left is cleared first (recovery), then the
//! run writes either into the output itself or, for `--full` on a local output, into a
//! sibling build folder swapped in for the output at the end.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{RunError, RunOptions};
use crate::state::lock::RunLock;
use crate::state::State;
use crate::store::io_error;
use crate::store::{LocalStore, Store};

/// Where this run writes: the output itself, or for `--full` on a local output a sibling
/// folder swapped in at the end.
pub(super) struct Target {
    pub store: Arc<dyn Store>,
    /// `Some(sibling)` for a `--full` rebuild.
    pub build_dir: Option<PathBuf>,
    /// Local staging folder for part files.
    pub staging: PathBuf,
}

/// Clear what dead runs left: staging folders, `--full` build folders (but `keep_build`,
/// which this `--full` run continues), unfinished uploads. Called with the lock held,
/// before this run creates anything.
pub(super) fn recover(store: &dyn Store, keep_build: Option<&Path>) -> Result<(), RunError> {
    if let Some(root) = store.local_root() {
        remove_local_staging(root)?;
        crate::write::swap::remove_stale_builds(root, keep_build);
    }
    store.abort_stale_uploads()?;
    Ok(())
}

fn remove_local_staging(root: &Path) -> Result<(), RunError> {
    let staging = root.join("_lakeaug").join("staging");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io_error("remove stale", &staging))?;
    }
    Ok(())
}

/// The state of the `--full` build folder `build`, made ready to continue: what a killed
/// `--full` run with this config committed there (its uncommitted leftovers removed), or
/// nothing for a new build. A folder built with another config is started over.
fn open_build(build: &Path, store: &dyn Store, hash: &str) -> Result<State, RunError> {
    let mut state = State::load(store)?;
    if state
        .dataset
        .as_ref()
        .is_some_and(|d| d.config_hash != hash)
    {
        std::fs::remove_dir_all(build).map_err(io_error("remove stale", build))?;
        std::fs::create_dir_all(build).map_err(io_error("create", build))?;
        return Ok(State::default());
    }
    remove_local_staging(build)?;
    crate::state::journal::recover(store, &state)?;
    state.compact(store)?;
    Ok(state)
}

/// Where this run writes, and for `--full` the state of the build folder it continues.
pub(super) fn prepare_target(
    opts: &RunOptions,
    store: &Arc<dyn Store>,
    lock: &RunLock,
    run_id: &str,
) -> Result<(Target, Option<State>), RunError> {
    let tmp = std::env::temp_dir().join(format!("lakeaug-{run_id}"));
    match store.local_root() {
        Some(root) if opts.full => {
            let hash = opts.config.hash();
            let build = crate::write::swap::sibling_build_dir(root, &hash)?;
            std::fs::create_dir_all(&build).map_err(io_error("create", &build))?;
            let sibling: Arc<dyn Store> = Arc::new(LocalStore {
                root: build.clone(),
            });
            let state = open_build(&build, sibling.as_ref(), &hash)?;
            lock.copy_to(sibling.as_ref())?;
            Ok((
                Target {
                    staging: build.join("_lakeaug").join("staging").join(run_id),
                    store: sibling,
                    build_dir: Some(build),
                },
                Some(state),
            ))
        }
        Some(root) => Ok((
            Target {
                staging: root.join("_lakeaug").join("staging").join(run_id),
                store: store.clone(),
                build_dir: None,
            },
            None,
        )),
        None if opts.full => Err(RunError::FullOnObjectStore {
            store: store.describe(),
        }),
        None => Ok((
            Target {
                staging: tmp.join("staging"),
                store: store.clone(),
                build_dir: None,
            },
            None,
        )),
    }
}

/// Swap a finished `--full` build in for the output, and remove the old dataset.
pub(super) fn swap_in(build: &Path, root: &Path) -> Result<(), RunError> {
    crate::crash::point("before-swap");
    crate::write::swap::exchange_dirs(build, root)?;
    // `build` now holds the old dataset.
    std::fs::remove_dir_all(build).ok();
    Ok(())
}
