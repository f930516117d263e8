//! Schema drift across nightly runs: an input file whose columns differ from those the
//! output was built with is refused, naming the file and the columns.
//!
//! Within one run all inputs must already share a schema; this extends that across runs.
//! The dataset records its input columns (`input_columns` in
//! `_lakeaug/state/dataset.json`, name and type, partition columns included) the first time
//! it processes files, and every later run compares each file it opens with them before
//! any row is processed. Without this, a file that gained or changed a column would add
//! parts of another schema to the dataset, which readers that merge schemas reject or
//! silently fill with nulls.

use std::sync::Arc;

use arrow::datatypes::Schema;

use super::RunError;
use crate::config::Config;
use crate::read::OpenedInput;
use crate::state::{DatasetState, State};
use crate::store::Store;

/// Check every input against the columns the dataset was built with; record them (and,
/// for a new dataset, its config) when the dataset has none yet.
pub fn check_or_record(
    state: &mut State,
    store: &dyn Store,
    inputs: &[Arc<OpenedInput>],
    config: &Config,
    run_id: &str,
) -> Result<(), RunError> {
    let Some(first) = inputs.first() else {
        return Ok(());
    };
    let columns = columns_of(&first.schema);
    match state.dataset.clone() {
        Some(ds) => match &ds.input_columns {
            Some(recorded) => {
                for input in inputs {
                    check(recorded, input, &store.describe())?;
                }
                Ok(())
            }
            // Built before columns were recorded: record them now.
            None => Ok(state.set_dataset(
                store,
                DatasetState {
                    input_columns: Some(columns),
                    ..ds
                },
            )?),
        },
        None => Ok(state.set_dataset(
            store,
            DatasetState {
                config_hash: config.hash(),
                lakeaug_version: crate::VERSION.to_string(),
                created_by_run: run_id.to_string(),
                config: config.clone(),
                input_columns: Some(columns),
            },
        )?),
    }
}

/// `name: type` of every column, in order (nullability and metadata aside: they may
/// differ between writers of the same data).
pub fn columns_of(schema: &Schema) -> Vec<String> {
    schema
        .fields()
        .iter()
        .map(|f| format!("{}: {}", f.name(), f.data_type()))
        .collect()
}

/// Refuse `input` unless its columns are `recorded`, naming what differs.
pub fn check(recorded: &[String], input: &OpenedInput, output: &str) -> Result<(), RunError> {
    let current = columns_of(&input.schema);
    if current == recorded {
        return Ok(());
    }
    let name_of = |c: &str| c.split_once(": ").map_or(c, |(n, _)| n).to_string();
    let find = |cols: &[String], name: &str| cols.iter().find(|c| name_of(c) == name).cloned();
    let mut diffs = Vec::new();
    for c in &current {
        match find(recorded, &name_of(c)) {
            None => diffs.push(format!("new column `{c}`")),
            Some(r) if &r != c => diffs.push(format!("`{c}` here but `{r}` in the output")),
            Some(_) => {}
        }
    }
    for r in recorded {
        if find(&current, &name_of(r)).is_none() {
            diffs.push(format!("missing column `{r}`"));
        }
    }
    if diffs.is_empty() {
        diffs.push("the same columns in another order".into());
    }
    Err(RunError::Inputs(format!(
        "{}: its columns differ from those {output} was built with ({}); one output dataset needs one schema: convert the file to the recorded columns (in {output}/_lakeaug/state/dataset.json), write it to another --output, or rebuild everything with --full once all inputs have the new columns",
        input.file.display,
        diffs.join("; ")
    )))
}
