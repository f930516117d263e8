//! Why a run failed. Each error names the file (and row, column) involved and what to do;
//! errors of the layers below (store, state, writing) are kept whole as the cause.

use crate::read::InputError;
use crate::state::lock::{LockError, Locked};
use crate::state::StateError;
use crate::store::StoreError;
use crate::write::WriteError;

pub use super::tally::{CountMismatch, RowsMissing};

/// The output was built with another config or seed.
#[derive(Debug, thiserror::Error)]
#[error("{output} was built with config hash {existing} (run {run}), but this run's config hash is {requested}: the same config and seed are needed to add to it. Use the config it was built with (recorded in {output}/_lakeaug/state/dataset.json), write to another --output, or pass --full to rebuild everything with the new config")]
pub struct ConfigMismatch {
    pub output: String,
    pub existing: String,
    pub requested: String,
    pub run: String,
}

/// Why augmenting a batch failed (a row that fails is rejected instead, see
/// [`crate::layout::Reject`]).
#[derive(Debug, thiserror::Error)]
pub enum AugmentError {
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    /// The config's schemes (checked before any row is read).
    #[error(transparent)]
    Schemes(#[from] crate::schemes::InvalidConfig),
    /// The config's `[text]` resources (segmenter, synonyms).
    #[error(transparent)]
    Config(#[from] crate::schemes::ConfigError),
    /// Loading the tokenizer, tokenizing, making MLM labels.
    #[error(transparent)]
    Tokens(#[from] crate::kernels::tokens::TokenError),
    #[error("internal error: a batch of {file} starts at odd row {first_row}; MixGen needs even batch boundaries")]
    OddBatchStart { file: String, first_row: u64 },
    #[error(
        "the tokenizer has no [MASK] token, which scheme `{scheme}` needs for its masked-LM labels"
    )]
    NoMaskToken { scheme: String },
    /// A panic outside any one row's work (tokenizing, assembling columns).
    #[error(
        "{file}: augmenting rows {first_row}..{end_row} failed (internal panic caught: {message})"
    )]
    Panicked {
        file: String,
        first_row: u64,
        end_row: u64,
        message: String,
    },
}

/// Why `lakeaug run` failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    #[error(transparent)]
    ConfigMismatch(#[from] ConfigMismatch),
    /// Another live run holds the output.
    #[error(transparent)]
    Locked(Locked),
    #[error(transparent)]
    Lock(LockError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error(transparent)]
    Augment(#[from] AugmentError),
    #[error("input file rejected (use --on-bad-file skip to go on without it): {0}")]
    InputRejected(InputError),
    #[error("input file could not be read (use --on-bad-file skip to go on without it): {0}")]
    InputFailed(InputError),
    #[error("no readable input files ({skipped} skipped)")]
    NoReadableInputs { skipped: usize },
    /// Inputs that cannot go into one dataset (schemas, colliding keys, drift).
    #[error("{0}")]
    Inputs(String),
    #[error("--full on an object store cannot swap the dataset atomically: rebuild into a new prefix instead (e.g. {store}-v2) and point readers at it")]
    FullOnObjectStore { store: String },
    #[error("--full cannot run on a cluster: it builds a sibling folder that the driver swaps in for the output with a rename of its own file system, and tasks on other machines would write elsewhere. Rebuild with a local `lakeaug run --full`, or write a cluster run to a new --output")]
    FullOnCluster,
    /// A cluster task found its input unreadable (the message names the file and row).
    #[error("input file could not be read (use --on-bad-file skip to go on without it): {0}")]
    RemoteInputFailed(String),
    /// The cluster could not run a task (after its retries): the message says why.
    #[error("{0}")]
    Remote(String),
    /// A local file operation of the run itself.
    #[error(transparent)]
    Io(#[from] crate::store::IoError),
    #[error(transparent)]
    Counts(#[from] CountMismatch),
    #[error(transparent)]
    RowsMissing(#[from] RowsMissing),
    /// A thread of the run stopped or panicked (the message says which, and where).
    #[error("{0}")]
    Thread(String),
    /// Finding and fetching inputs.
    #[error(transparent)]
    Discover(#[from] crate::read::DiscoverError),
    /// Giving a changed input its rows back from compacted parts.
    #[error(transparent)]
    Compact(#[from] crate::compact::CompactError),
    /// The `--hf-features` schema of the part files.
    #[error(transparent)]
    HfFeatures(#[from] crate::hf_features::HfFeaturesError),
}

impl RunError {
    /// Another live run holds the output (the CLI exits with its own code then).
    pub fn is_locked(&self) -> bool {
        matches!(self, RunError::Locked(_))
    }
}

impl From<LockError> for RunError {
    fn from(e: LockError) -> RunError {
        match e {
            LockError::Locked(locked) => RunError::Locked(locked),
            other => RunError::Lock(other),
        }
    }
}

/// The message of a caught panic's payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}
