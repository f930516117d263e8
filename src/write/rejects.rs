//! The rejects table: one row per output row that could not be produced, with the reason.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::pipeline::Reject;

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

/// The rejects of one input file as a Parquet file's bytes.
pub fn rejects_parquet(rejects: &[Reject], run_id: &str) -> anyhow::Result<Vec<u8>> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            rejects.iter().map(|r| r.source_file.as_str()),
        )),
        Arc::new(Int64Array::from_iter_values(
            rejects.iter().map(|r| r.source_row),
        )),
        Arc::new(
            rejects
                .iter()
                .map(|r| r.id.as_deref())
                .collect::<StringArray>(),
        ),
        Arc::new(StringArray::from_iter_values(
            rejects.iter().map(|r| r.scheme.as_str()),
        )),
        Arc::new(Int32Array::from_iter_values(rejects.iter().map(|r| r.copy))),
        Arc::new(StringArray::from_iter_values(
            rejects.iter().map(|r| r.stage.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            rejects.iter().map(|r| r.reason.as_str()),
        )),
        Arc::new(StringArray::from(vec![run_id; rejects.len()])),
    ];
    let batch = RecordBatch::try_new(rejects_schema(), columns)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .build();
    let mut buf = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props))?;
    writer.write(&batch)?;
    writer.close()?;
    Ok(buf)
}
