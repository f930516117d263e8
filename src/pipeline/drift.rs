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

use anyhow::bail;
use arrow::datatypes::Schema;

use crate::read::OpenedInput;

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
pub fn check(recorded: &[String], input: &OpenedInput, output: &str) -> anyhow::Result<()> {
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
    bail!(
        "{}: its columns differ from those {output} was built with ({}); one output dataset needs one schema: convert the file to the recorded columns (in {output}/_lakeaug/state/dataset.json), write it to another --output, or rebuild everything with --full once all inputs have the new columns",
        input.file.display,
        diffs.join("; ")
    )
}
