//! Rendering query results: an aligned text table where images appear as
//! `<jpeg 224x224, 14.2 KB>` (never raw bytes) and long lists are shortened, and a
//! "textified" copy of batches for CSV/JSON where binary columns become the same
//! summaries.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use comfy_table::{presets, Cell, CellAlignment, ContentArrangement, Table};

use super::udfs::probe_image;

/// Longest cell shown in the text table before it is cut with `…`.
pub const MAX_CELL_CHARS: usize = 60;

/// Human size with SI units: `812 B`, `14.2 KB`, `1.3 MB`.
pub fn human_size(n: usize) -> String {
    let n = n as f64;
    if n < 1000.0 {
        format!("{n} B")
    } else if n < 1e6 {
        format!("{:.1} KB", n / 1e3)
    } else if n < 1e9 {
        format!("{:.1} MB", n / 1e6)
    } else {
        format!("{:.1} GB", n / 1e9)
    }
}

/// Summary of a binary value: `<jpeg 224x224, 14.2 KB>` for images,
/// `<binary, 12 B>` otherwise.
pub fn binary_summary(bytes: &[u8]) -> String {
    match probe_image(bytes) {
        Some(h) => format!(
            "<{} {}x{}, {}>",
            h.format,
            h.width,
            h.height,
            human_size(bytes.len())
        ),
        None => format!("<binary, {}>", human_size(bytes.len())),
    }
}

fn is_binary(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::FixedSizeBinary(_)
    )
}

/// Index of the binary `bytes` child when `t` is the Hugging Face image struct
/// (`struct<bytes: binary, path: string>`).
fn hf_image_bytes(t: &DataType) -> Option<usize> {
    match t {
        DataType::Struct(fields) if fields.len() <= 2 => fields
            .iter()
            .position(|f| f.name() == "bytes" && is_binary(f.data_type())),
        _ => None,
    }
}

/// Turns a binary (or Hugging Face image struct) column into summary strings;
/// other columns are returned unchanged. Nulls stay null.
pub fn summarize_binary_column(col: &ArrayRef) -> arrow::error::Result<ArrayRef> {
    let (bytes, outer) = if is_binary(col.data_type()) {
        (Arc::clone(col), None)
    } else if let Some(idx) = hf_image_bytes(col.data_type()) {
        let s = col.as_struct();
        (Arc::clone(s.column(idx)), Some(s))
    } else {
        return Ok(Arc::clone(col));
    };
    let bytes = cast(&bytes, &DataType::LargeBinary)?;
    let bytes = bytes.as_binary::<i64>();
    let out: StringArray = (0..bytes.len())
        .map(|i| {
            let outer_null = outer.is_some_and(|s| s.is_null(i));
            (bytes.is_valid(i) && !outer_null).then(|| binary_summary(bytes.value(i)))
        })
        .collect();
    Ok(Arc::new(out))
}

/// Copy of `batch` where binary and image-struct columns are summary strings and,
/// when `flatten_nested`, list/struct/map columns are their display text (CSV cannot
/// hold nested values).
pub fn textify(batch: &RecordBatch, flatten_nested: bool) -> arrow::error::Result<RecordBatch> {
    let options = FormatOptions::default().with_null("");
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, col) in batch.schema().fields().iter().zip(batch.columns()) {
        let summarized = summarize_binary_column(col)?;
        let col = if flatten_nested && summarized.data_type().is_nested() {
            let fmt = ArrayFormatter::try_new(summarized.as_ref(), &options)?;
            let out: StringArray = (0..summarized.len())
                .map(|i| summarized.is_valid(i).then(|| fmt.value(i).to_string()))
                .collect();
            Arc::new(out) as ArrayRef
        } else {
            summarized
        };
        fields.push(Field::new(field.name(), col.data_type().clone(), true));
        columns.push(col);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

fn shorten(s: String, max: usize) -> String {
    if s.chars().count() <= max {
        return s;
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Renders batches as an aligned text table showing at most `max_rows` rows (a note
/// says how many were left out). Numbers are right-aligned.
pub fn render_table(
    schema: &Schema,
    batches: &[RecordBatch],
    max_rows: usize,
) -> arrow::error::Result<String> {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(schema.fields().iter().map(|f| Cell::new(f.name())));
    let options = FormatOptions::default().with_null("NULL");
    let numeric: Vec<bool> = schema
        .fields()
        .iter()
        .map(|f| f.data_type().is_numeric())
        .collect();
    let total: usize = batches.iter().map(|b| b.num_rows()).sum();
    let mut shown = 0usize;
    'outer: for batch in batches {
        let cols: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .map(summarize_binary_column)
            .collect::<arrow::error::Result<_>>()?;
        let formatters: Vec<ArrayFormatter> = cols
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<arrow::error::Result<_>>()?;
        for row in 0..batch.num_rows() {
            if shown >= max_rows {
                break 'outer;
            }
            let cells = formatters.iter().zip(&numeric).map(|(f, &num)| {
                let cell = Cell::new(shorten(f.value(row).to_string(), MAX_CELL_CHARS));
                if num {
                    cell.set_alignment(CellAlignment::Right)
                } else {
                    cell
                }
            });
            table.add_row(cells);
            shown += 1;
        }
    }
    let mut out = table.to_string();
    out.push('\n');
    if shown < total {
        out.push_str(&format!(
            "{total} rows ({shown} shown; use --max-rows to see more)\n"
        ));
    } else {
        out.push_str(&format!(
            "{total} row{}\n",
            if total == 1 { "" } else { "s" }
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(812), "812 B");
        assert_eq!(human_size(14_200), "14.2 KB");
        assert_eq!(human_size(1_300_000), "1.3 MB");
    }

    #[test]
    fn png_summary_from_encoded_image() {
        // Encode a 3x2 PNG with the image crate and probe it back.
        let img = image::RgbImage::new(3, 2);
        let mut buf = std::io::Cursor::new(Vec::new());
        img.write_to(&mut buf, image::ImageFormat::Png)
            .expect("encode png");
        let bytes = buf.into_inner();
        assert_eq!(
            binary_summary(&bytes),
            format!("<png 3x2, {}>", human_size(bytes.len()))
        );
        assert_eq!(binary_summary(b"xyz"), "<binary, 3 B>");
    }

    #[test]
    fn shorten_cuts_long_cells() {
        assert_eq!(shorten("abcdef".into(), 4), "abc…");
        assert_eq!(shorten("abc".into(), 4), "abc");
    }
}
