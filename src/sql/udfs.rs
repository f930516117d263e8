//! Scalar UDFs for statistics over augmented data, registered in every `lakeaug query`
//! session:
//!
//! | function | returns | meaning |
//! |---|---|---|
//! | `image_info(bytes)` | `struct<format: utf8, width: int32, height: int32>` | header-only probe of an encoded image, by the decoder's own sniffer (JPEG, PNG, WebP, GIF, BMP, TIFF); null when the value is null or not one of those |
//! | `word_count(text)` | `int64` | number of whitespace-separated words (Python `str.split()`) |
//! | `word_edit_distance(a, b)` | `int64` | Levenshtein distance counted in words (insert, delete, substitute a word) |
//! | `token_count(ids [, pad_id])` | `int64` | number of non-null ids not equal to `pad_id` (default 0, BERT's `[PAD]`) |
//!
//! `image_info` accepts binary, large binary, binary view, fixed-size binary, or the
//! Hugging Face image struct `struct<bytes, path>` (it reads `bytes`). `token_count`
//! exists because `cardinality(input_ids)` also counts padding.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Int32Builder, Int64Array, LargeBinaryArray, StringBuilder,
    StructArray,
};
use arrow::buffer::NullBuffer;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Fields, Int64Type};
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

use crate::kernels::image::image_format_and_size;
use crate::kernels::text::{word_count, word_edit_distance};

/// `image_info`, `word_count`, `word_edit_distance` and `token_count`.
pub fn lakeaug_udfs() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::from(ImageInfo::new()),
        ScalarUDF::from(WordCount::new()),
        ScalarUDF::from(WordEditDistance::new()),
        ScalarUDF::from(TokenCount::new()),
    ]
}

/// The lakeaug UDF called `name`, if there is one.
pub fn lakeaug_udf(name: &str) -> Option<ScalarUDF> {
    lakeaug_udfs().into_iter().find(|f| f.name() == name)
}

/// Registers `image_info`, `word_count`, `word_edit_distance` and `token_count` in `ctx`.
pub fn register_udfs(ctx: &SessionContext) {
    for udf in lakeaug_udfs() {
        ctx.register_udf(udf);
    }
}

/// Format and dimensions of an encoded image, read from its header only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageHeader {
    /// Lower-case format name: `jpeg`, `png`, `webp`, `gif`, `bmp` or `tiff`.
    pub format: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// Probes `bytes` for an image header with the decoder's own sniffer
/// ([`image_format_and_size`]); `None` when the format is not one lakeaug decodes (JPEG,
/// PNG, WebP, GIF, BMP, TIFF) or the header cannot be read. Never decodes pixels.
pub fn probe_image(bytes: &[u8]) -> Option<ImageHeader> {
    let (format, width, height) = image_format_and_size(bytes)?;
    Some(ImageHeader {
        format: format.to_string(),
        width,
        height,
    })
}

fn is_string(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
    )
}

/// Casts any string-typed argument to `Utf8View` (cheap for the parquet default view
/// types) so the kernels below have one array type to handle.
fn string_arg(array: &ArrayRef) -> Result<ArrayRef> {
    Ok(cast(array, &DataType::Utf8View)?)
}

// ---------------------------------------------------------------------------------
// image_info

/// `image_info(bytes) -> struct<format, width, height>`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ImageInfo {
    signature: Signature,
}

impl ImageInfo {
    /// Creates the UDF.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    fn fields() -> Fields {
        Fields::from(vec![
            Field::new("format", DataType::Utf8, true),
            Field::new("width", DataType::Int32, true),
            Field::new("height", DataType::Int32, true),
        ])
    }
}

impl Default for ImageInfo {
    fn default() -> Self {
        Self::new()
    }
}

/// Index of the `bytes` child of a Hugging Face image struct.
fn hf_bytes_index(fields: &Fields) -> Option<usize> {
    fields.iter().position(|f| {
        f.name() == "bytes"
            && matches!(
                f.data_type(),
                DataType::Binary | DataType::LargeBinary | DataType::BinaryView
            )
    })
}

impl ScalarUDFImpl for ImageInfo {
    fn name(&self) -> &str {
        "image_info"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [DataType::Binary | DataType::LargeBinary | DataType::BinaryView] => {
                Ok(arg_types.to_vec())
            }
            [DataType::FixedSizeBinary(_) | DataType::Null] => Ok(vec![DataType::LargeBinary]),
            [DataType::Struct(fields)] if hf_bytes_index(fields).is_some() => {
                Ok(arg_types.to_vec())
            }
            [other] => plan_err!(
                "image_info expects image bytes (binary) or a struct with a `bytes` field, got {other}"
            ),
            _ => plan_err!("image_info takes exactly one argument"),
        }
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(Self::fields()))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [input] = arrays.as_slice() else {
            return exec_err!("image_info takes exactly one argument");
        };
        // A struct's own nulls mask its `bytes` child.
        let (bytes, outer_nulls) = match input.data_type() {
            DataType::Struct(fields) => {
                let Some(idx) = hf_bytes_index(fields) else {
                    return exec_err!("image_info: struct has no binary `bytes` field");
                };
                let s = input.as_struct();
                (Arc::clone(s.column(idx)), s.nulls().cloned())
            }
            _ => (Arc::clone(input), None),
        };
        let bytes = cast(&bytes, &DataType::LargeBinary)?;
        let bytes: &LargeBinaryArray = bytes.as_binary();
        Ok(ColumnarValue::Array(image_info_kernel(
            bytes,
            outer_nulls.as_ref(),
        )))
    }
}

/// Builds the `image_info` struct array for `bytes`; rows null in `bytes` or in
/// `outer_nulls`, or not readable as an image, are null.
pub fn image_info_kernel(bytes: &LargeBinaryArray, outer_nulls: Option<&NullBuffer>) -> ArrayRef {
    let n = bytes.len();
    let mut format = StringBuilder::with_capacity(n, n * 4);
    let mut width = Int32Builder::with_capacity(n);
    let mut height = Int32Builder::with_capacity(n);
    let mut valid = Vec::with_capacity(n);
    for i in 0..n {
        let present = bytes.is_valid(i) && outer_nulls.is_none_or(|nb| nb.is_valid(i));
        let header = if present {
            probe_image(bytes.value(i))
        } else {
            None
        };
        match header {
            Some(h) => {
                format.append_value(&h.format);
                // Dimensions beyond i32 cannot be real images; report them as null.
                width.append_option(i32::try_from(h.width).ok());
                height.append_option(i32::try_from(h.height).ok());
                valid.push(true);
            }
            None => {
                format.append_null();
                width.append_null();
                height.append_null();
                valid.push(false);
            }
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(format.finish()),
        Arc::new(width.finish()),
        Arc::new(height.finish()),
    ];
    Arc::new(StructArray::new(
        ImageInfo::fields(),
        columns,
        Some(NullBuffer::from(valid)),
    ))
}

// ---------------------------------------------------------------------------------
// word_count

/// `word_count(text) -> int64`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct WordCount {
    signature: Signature,
}

impl WordCount {
    /// Creates the UDF.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for WordCount {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for WordCount {
    fn name(&self) -> &str {
        "word_count"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t] if is_string(t) => Ok(vec![DataType::Utf8View]),
            [other] => plan_err!("word_count expects a string, got {other}"),
            _ => plan_err!("word_count takes exactly one argument"),
        }
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [text] = arrays.as_slice() else {
            return exec_err!("word_count takes exactly one argument");
        };
        let text = string_arg(text)?;
        let out: Int64Array = text
            .as_string_view()
            .iter()
            .map(|t| t.map(|t| word_count(t) as i64))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

// ---------------------------------------------------------------------------------
// word_edit_distance

/// `word_edit_distance(a, b) -> int64`: word-level Levenshtein distance.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct WordEditDistance {
    signature: Signature,
}

impl WordEditDistance {
    /// Creates the UDF.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for WordEditDistance {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for WordEditDistance {
    fn name(&self) -> &str {
        "word_edit_distance"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [a, b] if is_string(a) && is_string(b) => {
                Ok(vec![DataType::Utf8View, DataType::Utf8View])
            }
            [a, b] => plan_err!("word_edit_distance expects two strings, got {a} and {b}"),
            _ => plan_err!("word_edit_distance takes exactly two arguments"),
        }
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [a, b] = arrays.as_slice() else {
            return exec_err!("word_edit_distance takes exactly two arguments");
        };
        let (a, b) = (string_arg(a)?, string_arg(b)?);
        let out: Int64Array = a
            .as_string_view()
            .iter()
            .zip(b.as_string_view().iter())
            .map(|(a, b)| match (a, b) {
                (Some(a), Some(b)) => Some(word_edit_distance(a, b) as i64),
                _ => None,
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

// ---------------------------------------------------------------------------------
// token_count

/// `token_count(ids [, pad_id]) -> int64`: non-null ids different from `pad_id`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TokenCount {
    signature: Signature,
}

impl TokenCount {
    /// Creates the UDF.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for TokenCount {
    fn default() -> Self {
        Self::new()
    }
}

fn is_int(t: &DataType) -> bool {
    t.is_integer() || matches!(t, DataType::Null)
}

impl ScalarUDFImpl for TokenCount {
    fn name(&self) -> &str {
        "token_count"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let list_ok = |t: &DataType| match t {
            DataType::List(f)
            | DataType::LargeList(f)
            | DataType::ListView(f)
            | DataType::LargeListView(f)
            | DataType::FixedSizeList(f, _) => is_int(f.data_type()),
            DataType::Null => true,
            _ => false,
        };
        let list_i64 = DataType::LargeList(Arc::new(Field::new_list_field(DataType::Int64, true)));
        match arg_types {
            [l] if list_ok(l) => Ok(vec![list_i64]),
            [l, p] if list_ok(l) && is_int(p) => Ok(vec![list_i64, DataType::Int64]),
            _ => plan_err!(
                "token_count expects (list of integer ids [, integer pad id]), got ({})",
                arg_types
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let (lists, pads) = match arrays.as_slice() {
            [l] => (l, None),
            [l, p] => (l, Some(p)),
            _ => return exec_err!("token_count takes one or two arguments"),
        };
        let lists = cast(
            lists,
            &DataType::LargeList(Arc::new(Field::new_list_field(DataType::Int64, true))),
        )?;
        let lists = lists.as_list::<i64>();
        let pads = match pads {
            Some(p) => Some(cast(p, &DataType::Int64)?),
            None => None,
        };
        let pads = pads.as_ref().map(|p| p.as_primitive::<Int64Type>());
        let mut out = Vec::with_capacity(lists.len());
        for i in 0..lists.len() {
            let pad = match pads {
                // A null pad id means "count every non-null id".
                Some(p) if p.is_valid(i) => Some(p.value(i)),
                Some(_) => None,
                None => Some(0),
            };
            if lists.is_null(i) {
                out.push(None);
                continue;
            }
            let ids = lists.value(i);
            let ids = ids.as_primitive::<Int64Type>();
            let n = ids.iter().flatten().filter(|id| Some(*id) != pad).count();
            out.push(Some(n as i64));
        }
        Ok(ColumnarValue::Array(Arc::new(Int64Array::from(out))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs one SQL statement in a session with the UDFs, returning its single row as text.
    fn one_row(sql: &str) -> Vec<String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let ctx = SessionContext::new();
            register_udfs(&ctx);
            let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
            let batch = &batches[0];
            (0..batch.num_columns())
                .map(|c| arrow::util::display::array_value_to_string(batch.column(c), 0).unwrap())
                .collect()
        })
    }

    #[test]
    fn word_udfs_split_as_the_kernels_and_python() {
        // Python: len("a\x1cb\x1dc\x1ed\x1fe f".split()) == 6, and U+001C..U+001F are
        // where Rust's `split_whitespace` differs from `str.split()`.
        let sep = "'a' || chr(28) || 'b' || chr(29) || 'c' || chr(30) || 'd' || chr(31) || 'e f'";
        let row = one_row(&format!(
            "SELECT word_count({sep}), word_edit_distance({sep}, 'a b c d e f'), \
             word_count('  a b\tc '), word_edit_distance('a red car on the road', 'a crimson car the road')"
        ));
        assert_eq!(row, ["6", "0", "3", "2"]);
        assert_eq!(word_count("a\u{1c}b\u{1f}c"), 3);
    }

    #[test]
    fn probe_rejects_garbage() {
        assert_eq!(probe_image(b"not an image"), None);
        assert_eq!(probe_image(&[]), None);
    }

    #[test]
    fn image_info_reads_the_decoders_header() {
        // A 3x2 PNG: the UDF and the decoder's sniffer read the same header.
        let mut png = Vec::new();
        image::RgbImage::new(3, 2)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        assert_eq!(
            probe_image(&png),
            Some(ImageHeader {
                format: "png".into(),
                width: 3,
                height: 2
            })
        );
        let row =
            one_row("SELECT image_info(X'89504E470D0A1A0A0000000D49484452000000070000000500')");
        assert_eq!(row, ["{format: png, width: 7, height: 5}"]);
    }
}
