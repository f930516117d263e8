//! The rejects table: one row per output row that could not be produced, with the reason.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::{parquet_error, WriteError};
use crate::layout::{rejects_schema, Reject};

/// The rejects of one input file as a Parquet file's bytes.
pub fn rejects_parquet(rejects: &[Reject], run_id: &str) -> Result<Vec<u8>, WriteError> {
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
    let encode = || -> Result<Vec<u8>, parquet::errors::ParquetError> {
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
            .build();
        let mut buf = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props))?;
        writer.write(&batch)?;
        writer.close()?;
        Ok(buf)
    };
    encode().map_err(parquet_error(std::path::Path::new("(rejects table)")))
}
