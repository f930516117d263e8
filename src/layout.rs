//! The output's layout, defined once: file ids and part names, the columns lakeaug adds to
//! every output row (tokens, then lineage), the rejects table, and the timestamps written
//! into manifests and state. The pipeline, the writer, the state and the SQL layer all
//! take these from here, so they cannot drift apart.
//!
//! ```text
//! DIR/scheme=<name>/part-<file id>-g<gen>-<seq>.parquet   augmented rows
//! DIR/_rejects/part-<file id>-g<gen>-<chunk>.parquet       rejected rows, with why
//! ```

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

/// Stable 16-hex id of an input file, from its key: part names are deterministic.
pub fn file_id(key: &str) -> String {
    blake3::hash(key.as_bytes()).to_hex()[..16].to_string()
}

/// `<file id>-g<generation>`: the stem of the part names of one processing of an input
/// file. A changed file's next generation gets new names, so its old parts stay whole
/// until the new ones are committed.
pub fn part_stem(key: &str, generation: u32) -> String {
    format!("{}-g{generation}", file_id(key))
}

/// `scheme=<scheme>/part-<stem>-<seq>.parquet`: one part of a scheme's output of a file.
pub fn part_rel(scheme: &str, stem: &str, seq: u32) -> String {
    format!("scheme={scheme}/part-{stem}-{seq:05}.parquet")
}

/// `_rejects/part-<stem>-<chunk>.parquet`: one chunk's rejected rows (chunk 0 is the whole
/// of a file smaller than a chunk).
pub fn rejects_rel(stem: &str, chunk: u64) -> String {
    format!("_rejects/part-{stem}-{chunk:05}.parquet")
}

/// RFC 3339 UTC with microseconds, from microseconds since the epoch.
pub fn rfc3339_micros(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default()
}

/// Microseconds since the Unix epoch, now (0 if the clock is before it).
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn list_i32() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Int32, false)))
}

/// The token columns, between the input's columns and the lineage columns.
pub fn token_fields() -> Vec<Field> {
    vec![
        Field::new("input_ids", list_i32(), true),
        Field::new("input_ids_truncated", DataType::Boolean, true),
        Field::new("mlm_input_ids", list_i32(), true),
        Field::new("mlm_labels", list_i32(), true),
    ]
}

/// The type of the token id columns (`input_ids`, `mlm_input_ids`, `mlm_labels`).
pub fn token_ids_type() -> DataType {
    list_i32()
}

/// Every column lakeaug adds after the input's own: tokens, then lineage.
pub fn added_fields() -> Vec<Field> {
    let mut fields = token_fields();
    fields.extend(crate::lineage::lineage_fields());
    fields
}

/// The output schema: the input's columns as they are written (`input_fields`, in input
/// order), then [`added_fields`]. The input's schema metadata (such as Hugging Face's
/// `huggingface` features) is kept.
pub fn output_schema(
    input_fields: Vec<Field>,
    metadata: std::collections::HashMap<String, String>,
) -> SchemaRef {
    let mut fields = input_fields;
    fields.extend(added_fields());
    Arc::new(Schema::new_with_metadata(fields, metadata))
}

/// Where in the per-row work a row failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Stage {
    Decode,
    Augment,
    Encode,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Decode => "decode",
            Stage::Augment => "augment",
            Stage::Encode => "encode",
        }
    }
}

/// One output row that could not be produced: a row of the rejects table.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Reject {
    pub source_file: String,
    pub source_row: i64,
    pub id: Option<String>,
    pub scheme: String,
    pub copy: i32,
    pub stage: Stage,
    pub reason: String,
}

/// Schema of `DIR/_rejects/part-*.parquet`: a [`Reject`] plus the run that wrote it.
pub fn rejects_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("source_file", DataType::Utf8, false),
        Field::new("source_row", DataType::Int64, false),
        Field::new("id", DataType::Utf8, true),
        Field::new("scheme", DataType::Utf8, false),
        Field::new("aug_copy", DataType::Int32, false),
        Field::new("stage", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("run_id", DataType::Utf8, false),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339_micros(0), "1970-01-01T00:00:00.000000Z");
        // 2026-11-27T05:07:32.5Z = 1795756052.5 s (checked with `date -u -d @1795756052`).
        assert_eq!(
            rfc3339_micros(1_795_756_052_500_000),
            "2026-11-27T05:07:32.500000Z"
        );
        assert_eq!(
            rfc3339_micros(951_782_400_000_000),
            "2000-02-29T00:00:00.000000Z"
        );
    }

    #[test]
    fn names_follow_the_documented_layout() {
        let stem = part_stem("date=2026-11-27/a.parquet", 3);
        assert_eq!(stem, format!("{}-g3", file_id("date=2026-11-27/a.parquet")));
        assert_eq!(file_id("x").len(), 16);
        assert_eq!(
            part_rel("aligned", &stem, 7),
            format!("scheme=aligned/part-{stem}-00007.parquet")
        );
        assert_eq!(
            rejects_rel(&stem, 2),
            format!("_rejects/part-{stem}-00002.parquet")
        );
    }
}
