//! The op reference of `lakeaug schemes` and docs/schemes.md, generated from the ops' own
//! declarations ([`op_docs`]). (The description of a config's schemes is
//! `crate::config::describe`, which knows the config.)

use std::fmt::Write;

use super::ops::op_docs;

/// The `aug_*` columns an op records, as `lakeaug schemes` lists them.
pub(crate) fn records(columns: &[super::ParamColumn]) -> String {
    if columns.is_empty() {
        return "those of the op chosen".to_string();
    }
    let names: Vec<String> = columns.iter().map(|c| format!("aug_{}", c.0)).collect();
    names.join(", ")
}

/// The op table of docs/schemes.md, one row per op, generated from the ops' declarations (a test
/// checks that docs/schemes.md holds exactly this table).
pub fn op_table_markdown() -> String {
    let mut out = String::from(
        "| op | kind | what it does | parameters (default) | records |\n|---|---|---|---|---|\n",
    );
    for doc in op_docs() {
        let help = &doc.help;
        let params: Vec<String> = help
            .params
            .iter()
            .map(|p| match &p.default {
                Some(d) => format!("`{} = {d}`", p.name),
                None => format!("`{}` (required)", p.name),
            })
            .collect();
        let columns: Vec<String> = help
            .columns
            .iter()
            .map(|c| format!("`aug_{}`", c.0))
            .collect();
        let records = if columns.is_empty() {
            "those of the op chosen".to_string()
        } else {
            columns.join(", ")
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {records} |",
            doc.name,
            doc.kind,
            help.meaning.replace('|', "\\|"),
            params.join(", "),
        );
    }
    out
}
