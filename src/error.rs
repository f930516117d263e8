//! Errors that stop a run. Row-level problems are not errors: they become rejects.
