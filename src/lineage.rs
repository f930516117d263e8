//! Lineage columns: where each output row came from and exactly what was done to it.
//!
//! Layout (after the input's own columns and the token columns):
//! `source_file, source_row, source_digest, aug_copy, aug_seed`, one nullable column per
//! sampled parameter (`aug_<op>_<param>`, null where the scheme did not sample it), and
//! `run_id, lakeaug_version, created_at`.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Float32Array, Int32Array, Int32Builder, Int64Array, ListBuilder,
    StringArray, TimestampMicrosecondArray, UInt64Array,
};
use arrow::datatypes::{DataType, Field, TimeUnit};

use crate::schemes::{AugParams, Erase, JitterOrder};

/// The lineage of one output row.
#[derive(Debug, Clone, PartialEq)]
pub struct RowLineage {
    pub source_row: i64,
    pub source_digest: String,
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

fn list_i32() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Int32, false)))
}

/// The lineage fields, in output order.
pub fn lineage_fields() -> Vec<Field> {
    vec![
        Field::new("source_file", DataType::Utf8, false),
        Field::new("source_row", DataType::Int64, false),
        Field::new("source_digest", DataType::Utf8, false),
        Field::new("aug_copy", DataType::Int32, false),
        Field::new("aug_seed", DataType::UInt64, false),
        Field::new("aug_hflip", DataType::Boolean, true),
        Field::new("aug_brightness", DataType::Float32, true),
        Field::new("aug_contrast", DataType::Float32, true),
        Field::new("aug_jitter_order", DataType::Utf8, true),
        Field::new("aug_rotate_deg", DataType::Float32, true),
        Field::new("aug_erase_x", DataType::Int32, true),
        Field::new("aug_erase_y", DataType::Int32, true),
        Field::new("aug_erase_size", DataType::Int32, true),
        Field::new("aug_words_replaced", list_i32(), true),
        Field::new("aug_words_deleted", list_i32(), true),
        Field::new("run_id", DataType::Utf8, false),
        Field::new("lakeaug_version", DataType::Utf8, false),
        Field::new(
            "created_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ]
}

fn list_column(values: impl Iterator<Item = Option<Vec<i32>>>) -> ArrayRef {
    let mut b = ListBuilder::new(Int32Builder::new())
        .with_field(Field::new_list_field(DataType::Int32, false));
    for v in values {
        match v {
            Some(v) => {
                b.values().append_slice(&v);
                b.append(true);
            }
            None => b.append(false),
        }
    }
    Arc::new(b.finish())
}

/// Build the lineage columns (matching [`lineage_fields`]) for rows of one source file.
pub fn lineage_columns(source_file: &str, rows: &[RowLineage], stamp: &RunStamp) -> Vec<ArrayRef> {
    let n = rows.len();
    let p = |f: fn(&AugParams) -> Option<Erase>| rows.iter().map(move |r| f(&r.params));
    vec![
        Arc::new(StringArray::from(vec![source_file; n])),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.source_row),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.source_digest.as_str()),
        )),
        Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.copy))),
        Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.seed))),
        Arc::new(
            rows.iter()
                .map(|r| r.params.hflip)
                .collect::<BooleanArray>(),
        ),
        Arc::new(
            rows.iter()
                .map(|r| r.params.brightness)
                .collect::<Float32Array>(),
        ),
        Arc::new(
            rows.iter()
                .map(|r| r.params.contrast)
                .collect::<Float32Array>(),
        ),
        Arc::new(
            rows.iter()
                .map(|r| r.params.jitter_order.map(JitterOrder::as_str))
                .collect::<StringArray>(),
        ),
        Arc::new(
            rows.iter()
                .map(|r| r.params.rotate_deg)
                .collect::<Float32Array>(),
        ),
        Arc::new(
            p(|a| a.erase)
                .map(|e| e.map(|e| e.x))
                .collect::<Int32Array>(),
        ),
        Arc::new(
            p(|a| a.erase)
                .map(|e| e.map(|e| e.y))
                .collect::<Int32Array>(),
        ),
        Arc::new(
            p(|a| a.erase)
                .map(|e| e.map(|e| e.size))
                .collect::<Int32Array>(),
        ),
        list_column(rows.iter().map(|r| r.params.words_replaced.clone())),
        list_column(rows.iter().map(|r| r.params.words_deleted.clone())),
        Arc::new(StringArray::from(vec![stamp.run_id.as_str(); n])),
        Arc::new(StringArray::from(vec![crate::VERSION; n])),
        Arc::new(
            TimestampMicrosecondArray::from(vec![stamp.created_at_us; n]).with_timezone("UTC"),
        ),
    ]
}

/// Read the parameters of output row `i` back from a batch's lineage columns: the inverse
/// of [`lineage_columns`], used to replay an augmentation.
pub fn params_from_batch(batch: &arrow::array::RecordBatch, i: usize) -> Result<AugParams, String> {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Float32Type, Int32Type};
    let col = |name: &str| {
        batch
            .column_by_name(name)
            .ok_or_else(|| format!("missing column {name}"))
    };
    let f32_at = |name: &str| -> Result<Option<f32>, String> {
        let a = col(name)?.as_primitive::<Float32Type>();
        Ok(a.is_valid(i).then(|| a.value(i)))
    };
    let i32_at = |name: &str| -> Result<Option<i32>, String> {
        let a = col(name)?.as_primitive::<Int32Type>();
        Ok(a.is_valid(i).then(|| a.value(i)))
    };
    let list_at = |name: &str| -> Result<Option<Vec<i32>>, String> {
        let a = col(name)?.as_list::<i32>();
        Ok(a.is_valid(i)
            .then(|| a.value(i).as_primitive::<Int32Type>().values().to_vec()))
    };
    let hflip = col("aug_hflip")?.as_boolean();
    let order = col("aug_jitter_order")?.as_string::<i32>();
    let erase = match (
        i32_at("aug_erase_x")?,
        i32_at("aug_erase_y")?,
        i32_at("aug_erase_size")?,
    ) {
        (Some(x), Some(y), Some(size)) => Some(Erase { x, y, size }),
        _ => None,
    };
    Ok(AugParams {
        hflip: hflip.is_valid(i).then(|| hflip.value(i)),
        brightness: f32_at("aug_brightness")?,
        contrast: f32_at("aug_contrast")?,
        jitter_order: if order.is_valid(i) {
            JitterOrder::parse(order.value(i))
        } else {
            None
        },
        rotate_deg: f32_at("aug_rotate_deg")?,
        erase,
        words_replaced: list_at("aug_words_replaced")?,
        words_deleted: list_at("aug_words_deleted")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::RecordBatch;
    use arrow::datatypes::Schema;

    #[test]
    fn lineage_round_trips_through_columns() {
        let a = AugParams {
            hflip: Some(true),
            brightness: Some(0.9),
            contrast: Some(1.1),
            jitter_order: Some(JitterOrder::ContrastBrightness),
            rotate_deg: Some(-3.5),
            words_replaced: Some(vec![]),
            ..Default::default()
        };
        let b = AugParams {
            erase: Some(Erase {
                x: 3,
                y: 4,
                size: 44,
            }),
            words_deleted: Some(vec![0, 5]),
            ..Default::default()
        };
        let rows = vec![
            RowLineage {
                source_row: 7,
                source_digest: "ab".into(),
                copy: 0,
                seed: 1,
                params: a.clone(),
            },
            RowLineage {
                source_row: 8,
                source_digest: "cd".into(),
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
            RecordBatch::try_new(schema, lineage_columns("f.parquet", &rows, &stamp)).unwrap();
        assert_eq!(params_from_batch(&batch, 0).unwrap(), a);
        assert_eq!(params_from_batch(&batch, 1).unwrap(), b);
        assert_eq!(batch.num_rows(), 2);
    }
}
