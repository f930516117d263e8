//! Hugging Face `datasets` features for the output (`lakeaug run --hf-features`, config
//! `image.hf_features`), so that `datasets.load_dataset("parquet", ...)` yields the image
//! column as PIL images and the caption as a string, without a cast.
//!
//! `datasets` takes a column's feature from the file's `huggingface` schema metadata only
//! when the feature's Arrow type is exactly the column's (`Features::from_arrow_schema`);
//! an `Image` is `struct<bytes: binary, path: string>`. So a plain binary image column is
//! written in that layout (the same bytes, `path` null), and the metadata declares `image`
//! as `Image` and the caption as `Value("string")` (`"large_string"` for `large_utf8`);
//! features the input's metadata already declares for other columns are kept.

use std::sync::Arc;

use arrow::array::{new_null_array, Array, ArrayRef, RecordBatch, StructArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use arrow::error::ArrowError;
use serde_json::{json, Value};

/// The metadata key `datasets` reads.
pub const METADATA_KEY: &str = "huggingface";

/// Why the features cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum HfFeaturesError {
    #[error("--hf-features: the output has no column {0:?}")]
    MissingColumn(String),
    #[error("--hf-features: the input's {METADATA_KEY:?} schema metadata is not valid JSON: {0}")]
    BadMetadata(serde_json::Error),
}

/// `struct<bytes: binary, path: string>`, the Arrow type of a `datasets` `Image`.
pub fn image_type() -> DataType {
    DataType::Struct(Fields::from(vec![
        Field::new("bytes", DataType::Binary, true),
        Field::new("path", DataType::Utf8, true),
    ]))
}

/// The output schema with the image column in `Image` layout (unless it is a struct
/// already: the Hugging Face layout of the input) and the `huggingface` metadata declaring
/// the image and caption features.
pub fn output_schema(
    schema: &SchemaRef,
    image: &str,
    caption: &str,
) -> Result<SchemaRef, HfFeaturesError> {
    let (image_index, _) = schema
        .column_with_name(image)
        .ok_or_else(|| HfFeaturesError::MissingColumn(image.to_string()))?;
    let (_, caption_field) = schema
        .column_with_name(caption)
        .ok_or_else(|| HfFeaturesError::MissingColumn(caption.to_string()))?;
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| match f.data_type() {
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView if i == image_index => {
                Field::new(f.name(), image_type(), true)
            }
            _ => f.as_ref().clone(),
        })
        .collect();

    let mut metadata = schema.metadata().clone();
    let mut hf: Value = match metadata.get(METADATA_KEY) {
        Some(text) => serde_json::from_str(text).map_err(HfFeaturesError::BadMetadata)?,
        None => json!({}),
    };
    if !hf.is_object() {
        hf = json!({});
    }
    let info = hf
        .as_object_mut()
        .map(|o| o.entry("info").or_insert_with(|| json!({})));
    if let Some(info) = info {
        if !info.get("features").is_some_and(Value::is_object) {
            info["features"] = json!({});
        }
        let features = &mut info["features"];
        features[image] = json!({"_type": "Image"});
        // `datasets` has a Value for utf8 and large_utf8; other string types keep the
        // feature `datasets` infers.
        let dtype = match caption_field.data_type() {
            DataType::Utf8 => Some("string"),
            DataType::LargeUtf8 => Some("large_string"),
            _ => None,
        };
        if let Some(dtype) = dtype {
            features[caption] = json!({"dtype": dtype, "_type": "Value"});
        }
    }
    metadata.insert(METADATA_KEY.to_string(), hf.to_string());
    Ok(Arc::new(Schema::new_with_metadata(fields, metadata)))
}

/// `batch` in `schema`'s layout: a binary image column becomes the `Image` struct of
/// [`output_schema`] (same bytes and nulls, `path` null). Other columns are untouched.
pub fn conform(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
    let binary_to_struct = |column: &ArrayRef, field: &Field| {
        matches!(
            (column.data_type(), field.data_type()),
            (
                DataType::Binary | DataType::LargeBinary | DataType::BinaryView,
                DataType::Struct(_)
            )
        )
    };
    let zipped = batch.columns().iter().zip(schema.fields());
    if !zipped.clone().any(|(c, f)| binary_to_struct(c, f)) {
        return Ok(batch.clone());
    }
    let columns = zipped
        .map(|(column, field)| match field.data_type() {
            DataType::Struct(fields) if binary_to_struct(column, field) => {
                let bytes = cast(column, &DataType::Binary)?;
                let path = new_null_array(&DataType::Utf8, column.len());
                let nulls = bytes.logical_nulls();
                Ok(Arc::new(StructArray::try_new(
                    fields.clone(),
                    vec![bytes, path],
                    nulls,
                )?) as ArrayRef)
            }
            _ => Ok(column.clone()),
        })
        .collect::<Result<Vec<_>, ArrowError>>()?;
    RecordBatch::try_new(schema.clone(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{AsArray, BinaryArray, StringArray};
    use std::collections::HashMap;

    fn input() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("image", DataType::Binary, true),
            Field::new("caption", DataType::Utf8, true),
        ]))
    }

    #[test]
    fn plain_binary_becomes_an_image_feature() {
        let schema = output_schema(&input(), "image", "caption").unwrap();
        assert_eq!(schema.field(1).data_type(), &image_type());
        assert_eq!(schema.field(0), input().field(0));
        let hf: Value = serde_json::from_str(&schema.metadata()[METADATA_KEY]).unwrap();
        assert_eq!(
            hf,
            json!({"info": {"features": {
                "image": {"_type": "Image"},
                "caption": {"dtype": "string", "_type": "Value"},
            }}})
        );

        let batch = RecordBatch::try_new(
            input(),
            vec![
                Arc::new(arrow::array::Int64Array::from(vec![1, 2])),
                Arc::new(BinaryArray::from(vec![Some(b"jpeg".as_ref()), None])),
                Arc::new(StringArray::from(vec!["a", "b"])),
            ],
        )
        .unwrap();
        let out = conform(&batch, &schema).unwrap();
        let image = out.column(1).as_struct();
        assert_eq!(image.column(0).as_binary::<i32>().value(0), b"jpeg");
        assert!(image.is_null(1) && image.column(1).is_null(0));
        assert_eq!(out.column(2).as_ref(), batch.column(2).as_ref());
    }

    #[test]
    fn other_declared_features_are_kept() {
        let declared = json!({"info": {"features": {"id": {"dtype": "int64", "_type": "Value"}}}});
        let with_meta = Arc::new(Schema::new_with_metadata(
            input().fields().clone(),
            HashMap::from([(METADATA_KEY.to_string(), declared.to_string())]),
        ));
        let schema = output_schema(&with_meta, "image", "caption").unwrap();
        let hf: Value = serde_json::from_str(&schema.metadata()[METADATA_KEY]).unwrap();
        assert_eq!(
            hf["info"]["features"]["id"],
            declared["info"]["features"]["id"]
        );
        assert_eq!(hf["info"]["features"]["image"], json!({"_type": "Image"}));
        assert!(matches!(
            output_schema(&with_meta, "picture", "caption"),
            Err(HfFeaturesError::MissingColumn(c)) if c == "picture"
        ));
    }
}
