//! Lineage columns: where each output row came from and exactly what was done to it.
//!
//! Layout (after the input's own columns and the token columns):
//! `source_file, source_row, source_digest, source_decode_scale, source_decode_warning, aug_copy, aug_seed`, one nullable column per
//! sampled parameter (`aug_<param>`, see [`PARAM_COLUMNS`]; null where the scheme did not
//! sample it), and `run_id, lakeaug_version, created_at`. Every run writes every
//! parameter column, whatever its schemes, so all outputs of lakeaug share one schema.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
    UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::error::ArrowError;

use crate::schemes::{AugParams, ParamKind, PARAM_COLUMNS};

/// The lineage of one output row.
#[derive(Debug, Clone, PartialEq)]
pub struct RowLineage {
    pub source_row: i64,
    pub source_digest: String,
    /// The source image was decoded at 1/`decode_scale` of its stored size (1, 2, 4, 8).
    pub decode_scale: u8,
    /// Why the source image is damaged, when `--accept-truncated-images` kept it anyway
    /// (null for every image that decoded cleanly).
    pub decode_warning: Option<String>,
    pub copy: i32,
    pub seed: u64,
    pub params: AugParams,
}

/// Values shared by every row of a run.
#[derive(Debug, Clone)]
pub struct RunStamp {
    pub run_id: String,
    /// Microseconds since the Unix epoch, UTC.
    pub created_at_us: i64,
}

fn param_type(kind: ParamKind) -> DataType {
    let list = |t| DataType::List(Arc::new(Field::new_list_field(t, false)));
    match kind {
        ParamKind::Bool => DataType::Boolean,
        ParamKind::Int32 => DataType::Int32,
        ParamKind::Int64 => DataType::Int64,
        ParamKind::Float32 => DataType::Float32,
        ParamKind::Utf8 => DataType::Utf8,
        ParamKind::ListInt32 => list(DataType::Int32),
        ParamKind::ListUtf8 => list(DataType::Utf8),
    }
}

/// The parameter fields without their `aug_` prefix: the serde names of [`AugParams`].
fn param_fields_unprefixed() -> Vec<Field> {
    PARAM_COLUMNS
        .iter()
        .map(|(name, kind, _)| Field::new(*name, param_type(*kind), true))
        .collect()
}

/// The lineage fields, in output order.
pub fn lineage_fields() -> Vec<Field> {
    let mut fields = vec![
        Field::new("source_file", DataType::Utf8, false),
        Field::new("source_row", DataType::Int64, false),
        Field::new("source_digest", DataType::Utf8, false),
        Field::new("source_decode_scale", DataType::Int32, false),
        Field::new("source_decode_warning", DataType::Utf8, true),
        Field::new("aug_copy", DataType::Int32, false),
        Field::new("aug_seed", DataType::UInt64, false),
    ];
    fields.extend(
        param_fields_unprefixed()
            .into_iter()
            .map(|f| f.clone().with_name(format!("aug_{}", f.name()))),
    );
    fields.extend([
        Field::new("run_id", DataType::Utf8, false),
        Field::new("lakeaug_version", DataType::Utf8, false),
        Field::new(
            "created_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ]);
    fields
}

/// The `aug_*` parameter columns of `rows`, in [`PARAM_COLUMNS`] order. Built through
/// arrow-json's serde support, so the columns follow the struct without per-field code.
fn param_columns(rows: &[RowLineage]) -> Result<Vec<ArrayRef>, ArrowError> {
    let schema = Arc::new(Schema::new(param_fields_unprefixed()));
    let params: Vec<&AugParams> = rows.iter().map(|r| &r.params).collect();
    let mut decoder = arrow::json::ReaderBuilder::new(schema.clone())
        .with_batch_size(rows.len().max(1))
        .build_decoder()?;
    decoder.serialize(&params)?;
    let batch = decoder
        .flush()?
        .unwrap_or_else(|| RecordBatch::new_empty(schema));
    Ok(batch.columns().to_vec())
}

/// Build the lineage columns (matching [`lineage_fields`]) for rows of one source file.
pub fn lineage_columns(
    source_file: &str,
    rows: &[RowLineage],
    stamp: &RunStamp,
) -> Result<Vec<ArrayRef>, ArrowError> {
    let n = rows.len();
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![source_file; n])),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.source_row),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.source_digest.as_str()),
        )),
        Arc::new(Int32Array::from_iter_values(
            rows.iter().map(|r| r.decode_scale as i32),
        )),
        Arc::new(StringArray::from_iter(
            rows.iter().map(|r| r.decode_warning.as_deref()),
        )),
        Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.copy))),
        Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.seed))),
    ];
    columns.extend(param_columns(rows)?);
    columns.extend([
        Arc::new(StringArray::from(vec![stamp.run_id.as_str(); n])) as ArrayRef,
        Arc::new(StringArray::from(vec![crate::VERSION; n])),
        Arc::new(
            TimestampMicrosecondArray::from(vec![stamp.created_at_us; n]).with_timezone("UTC"),
        ),
    ]);
    Ok(columns)
}

/// Read the parameters of output row `i` back from a batch's `aug_*` columns: the inverse
/// of [`lineage_columns`], used to replay an augmentation.
pub fn params_from_batch(batch: &RecordBatch, i: usize) -> Result<AugParams, String> {
    if i >= batch.num_rows() {
        return Err(format!(
            "row {i} is past the batch's {} rows",
            batch.num_rows()
        ));
    }
    let mut fields = Vec::new();
    let mut columns = Vec::new();
    for f in param_fields_unprefixed() {
        let name = format!("aug_{}", f.name());
        let column = batch
            .column_by_name(&name)
            .ok_or_else(|| format!("missing column {name}"))?;
        fields.push(f);
        columns.push(column.slice(i, 1));
    }
    let row =
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| e.to_string())?;
    let mut writer = arrow::json::ArrayWriter::new(Vec::new());
    writer.write(&row).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    let mut rows: Vec<AugParams> =
        serde_json::from_slice(&writer.into_inner()).map_err(|e| e.to_string())?;
    rows.pop().ok_or_else(|| "no row".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::image::ColorOp;
    use crate::schemes::{Erase, JitterOrder};

    #[test]
    fn param_table_matches_the_struct() {
        // A fully populated AugParams must serialize to exactly the table's names.
        let full = AugParams {
            hflip: Some(true),
            hflip_skipped: Some(false),
            hflip_caption_swaps: Some(vec![1]),
            crop_x: Some(1),
            crop_y: Some(2),
            crop_width: Some(3),
            crop_height: Some(4),
            brightness: Some(1.0),
            contrast: Some(1.0),
            saturation: Some(1.0),
            hue: Some(0.0),
            hue_skipped: Some(false),
            jitter_order: Some(JitterOrder(vec![ColorOp::Hue])),
            rotate_deg: Some(0.0),
            blur_sigma: Some(1.0),
            blur_kernel: Some(3),
            erase_x: Some(0),
            erase_y: Some(0),
            erase_size: Some(0),
            mix_partner_row: Some(1),
            mix_lambda: Some(0.5),
            segmentation: Some("whitespace".into()),
            words_replaced: Some(vec![]),
            words_deleted: Some(vec![]),
            synonym_words: Some(vec![]),
            synonym_replacements: Some(vec![]),
            swap_pairs: Some(vec![]),
            insert_positions: Some(vec![]),
            insert_words: Some(vec![]),
            random_deleted: Some(vec![]),
            reorder_spans: Some(vec![]),
            hedge: Some("{}".into()),
            char_swaps: Some(vec![]),
        };
        let json = serde_json::to_value(&full).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let mut table: Vec<&str> = PARAM_COLUMNS.iter().map(|c| c.0).collect();
        let mut keys_sorted = keys.clone();
        keys_sorted.sort_unstable();
        table.sort_unstable();
        assert_eq!(keys_sorted, table);
        assert!(json.as_object().unwrap().values().all(|v| !v.is_null()));
        let row = RowLineage {
            source_row: 0,
            source_digest: "d".into(),
            decode_scale: 1,
            decode_warning: None,
            copy: 0,
            seed: 0,
            params: full.clone(),
        };
        let stamp = RunStamp {
            run_id: "r".into(),
            created_at_us: 0,
        };
        let schema = Arc::new(Schema::new(lineage_fields()));
        let batch =
            RecordBatch::try_new(schema, lineage_columns("f", &[row], &stamp).unwrap()).unwrap();
        assert_eq!(params_from_batch(&batch, 0).unwrap(), full);
    }

    #[test]
    fn lineage_round_trips_through_columns() {
        let a = AugParams {
            hflip: Some(true),
            brightness: Some(0.9),
            contrast: Some(1.1),
            jitter_order: Some(JitterOrder(vec![ColorOp::Contrast, ColorOp::Brightness])),
            rotate_deg: Some(-3.5),
            words_replaced: Some(vec![]),
            synonym_replacements: Some(vec!["crimson".into(), "红色".into()]),
            ..Default::default()
        };
        let mut b = AugParams {
            words_deleted: Some(vec![0, 5]),
            mix_partner_row: Some(9),
            ..Default::default()
        };
        b.set_erase(Erase {
            x: 3,
            y: 4,
            size: 44,
        });
        let rows = vec![
            RowLineage {
                source_row: 7,
                source_digest: "ab".into(),
                decode_scale: 2,
                decode_warning: None,
                copy: 0,
                seed: 1,
                params: a.clone(),
            },
            RowLineage {
                source_row: 8,
                source_digest: "cd".into(),
                decode_scale: 1,
                decode_warning: None,
                copy: 1,
                seed: 2,
                params: b.clone(),
            },
        ];
        let stamp = RunStamp {
            run_id: "r".into(),
            created_at_us: 5,
        };
        let schema = Arc::new(Schema::new(lineage_fields()));
        let batch =
            RecordBatch::try_new(schema, lineage_columns("f.parquet", &rows, &stamp).unwrap())
                .unwrap();
        assert_eq!(params_from_batch(&batch, 0).unwrap(), a);
        assert_eq!(params_from_batch(&batch, 1).unwrap(), b);
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(
            batch
                .column_by_name("aug_jitter_order")
                .unwrap()
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .value(0),
            "contrast,brightness"
        );
        assert!(batch.column_by_name("aug_hue").unwrap().is_null(0));
    }
}
