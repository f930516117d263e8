//! Opening a run's input files: each footer read and its columns checked, the files that
//! cannot be read skipped or refused (`--on-bad-file`), and all of them checked to give
//! one output schema.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;

use super::{output_schema, BadFilePolicy, PlannedFile, RunError};
use crate::config::Columns;
use crate::read::{BytesFetched, OpenedInput};
use crate::write::manifest::SkippedFile;

/// The input files of a run, opened.
pub(super) struct OpenedInputs {
    pub inputs: Vec<Arc<OpenedInput>>,
    /// Files that could not be opened, under `--on-bad-file skip`.
    pub skipped: Vec<SkippedFile>,
    /// The output schema they all share.
    pub schema: SchemaRef,
}

/// Open the files of `todo` (a remote one's footer fetched by ranged GETs, counted in
/// `fetched`, as are the batches later read from it), counting the footers read in
/// `footers_read`. A failed fetch fails the run whatever `policy`: it is no bad file.
pub(super) fn open_inputs(
    todo: &[PlannedFile],
    columns: &Columns,
    policy: BadFilePolicy,
    footers_read: &mut u64,
    fetched: &BytesFetched,
) -> Result<OpenedInputs, RunError> {
    let mut inputs = Vec::new();
    let mut skipped = Vec::new();
    for p in todo {
        let f = &p.file;
        *footers_read += 1;
        match OpenedInput::open_counting(f, columns, fetched) {
            Ok(o) => inputs.push(Arc::new(o)),
            Err(e) if policy == BadFilePolicy::Skip && !e.is_fetch() => skipped.push(SkippedFile {
                path: f.display.clone(),
                reason: e.to_string(),
            }),
            Err(e) => return Err(RunError::InputRejected(e)),
        }
    }
    if inputs.is_empty() {
        return Err(RunError::NoReadableInputs {
            skipped: skipped.len(),
        });
    }
    let schemas: Vec<SchemaRef> = inputs.iter().map(|i| output_schema(i)).collect();
    check_same_schema(&inputs, &schemas)?;
    let schema = schemas[0].clone();
    Ok(OpenedInputs {
        inputs,
        skipped,
        schema,
    })
}

/// Check that all inputs give the same output schema, so the dataset has one schema.
pub(super) fn check_same_schema(
    inputs: &[Arc<OpenedInput>],
    schemas: &[SchemaRef],
) -> Result<(), RunError> {
    let (Some(first), Some(first_schema)) = (inputs.first(), schemas.first()) else {
        return Ok(());
    };
    for (input, schema) in inputs.iter().zip(schemas).skip(1) {
        if schema.fields() != first_schema.fields() {
            let diff = schema
                .fields()
                .iter()
                .zip(first_schema.fields().iter())
                .find(|(a, b)| a != b)
                .map(|(a, b)| {
                    format!(
                        "column `{}` is {} here but `{}` is {} there",
                        a.name(),
                        a.data_type(),
                        b.name(),
                        b.data_type()
                    )
                })
                .unwrap_or_else(|| {
                    format!(
                        "{} columns here, {} there",
                        schema.fields().len(),
                        first_schema.fields().len()
                    )
                });
            return Err(RunError::Inputs(format!(
                "{} and {} have different schemas ({diff}); one output dataset needs one schema: run them separately into different --output folders",
                input.file.display,
                first.file.display
            )));
        }
    }
    Ok(())
}
