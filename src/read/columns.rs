//! The image and caption columns in every physical layout lakeaug accepts.
//!
//! Images: `binary`, `large_binary`, `binary_view`, or the Hugging Face `datasets` layout
//! `struct<bytes: binary, path: string>`. Output images keep the input's layout, so a
//! dataset's loaders keep working. Captions: `utf8`, `large_utf8`, `utf8_view` or a
//! dictionary of those; kernels see them as plain `utf8`.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, BinaryViewBuilder, LargeBinaryBuilder, StringArray,
    StructArray,
};
use arrow::compute::{cast, take};
use arrow::datatypes::{DataType, Field, Fields};
use arrow::error::ArrowError;

/// Physical layout of the image column.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageLayout {
    Binary,
    LargeBinary,
    BinaryView,
    /// A struct with a binary `bytes` field (Hugging Face `Image` feature); other fields
    /// (`path`) pass through.
    Struct {
        fields: Fields,
        bytes_index: usize,
        bytes_layout: Box<ImageLayout>,
    },
}

impl ImageLayout {
    /// The layout of a column type, or a description of why it cannot hold images.
    pub fn of(data_type: &DataType) -> Result<ImageLayout, String> {
        match data_type {
            DataType::Binary => Ok(ImageLayout::Binary),
            DataType::LargeBinary => Ok(ImageLayout::LargeBinary),
            DataType::BinaryView => Ok(ImageLayout::BinaryView),
            DataType::Struct(fields) => {
                let (bytes_index, field) = fields.find("bytes").ok_or_else(|| {
                    format!("is a struct without a `bytes` field ({data_type}); expected struct<bytes: binary, path: string>")
                })?;
                let inner = ImageLayout::of(field.data_type())
                    .map_err(|_| format!("has a `bytes` field of type {}, expected binary", field.data_type()))?;
                if matches!(inner, ImageLayout::Struct { .. }) {
                    return Err("has a nested struct as `bytes`".into());
                }
                Ok(ImageLayout::Struct { fields: fields.clone(), bytes_index, bytes_layout: Box::new(inner) })
            }
            other => Err(format!(
                "has type {other}; expected binary, large_binary, binary_view or struct<bytes: binary, path: string>"
            )),
        }
    }
}

/// Read access to encoded image bytes, whatever the layout.
pub struct ImageColumn<'a> {
    bytes: &'a dyn Array,
    /// Validity of the outer struct, when the layout is a struct.
    outer: Option<&'a StructArray>,
}

impl<'a> ImageColumn<'a> {
    pub fn new(array: &'a dyn Array, layout: &ImageLayout) -> ImageColumn<'a> {
        match layout {
            ImageLayout::Struct { bytes_index, .. } => {
                let s = array.as_struct();
                ImageColumn {
                    bytes: s.column(*bytes_index).as_ref(),
                    outer: Some(s),
                }
            }
            _ => ImageColumn {
                bytes: array,
                outer: None,
            },
        }
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes of row `i`, `None` when the row (or its struct) is null.
    pub fn value(&self, i: usize) -> Option<&'a [u8]> {
        if self.outer.is_some_and(|s| s.is_null(i)) || self.bytes.is_null(i) {
            return None;
        }
        match self.bytes.data_type() {
            DataType::Binary => Some(self.bytes.as_binary::<i32>().value(i)),
            DataType::LargeBinary => Some(self.bytes.as_binary::<i64>().value(i)),
            DataType::BinaryView => Some(self.bytes.as_binary_view().value(i)),
            _ => None,
        }
    }
}

fn build_flat(layout: &ImageLayout, values: &[Option<Vec<u8>>]) -> ArrayRef {
    let total: usize = values.iter().flatten().map(Vec::len).sum();
    match layout {
        ImageLayout::LargeBinary => {
            let mut b = LargeBinaryBuilder::with_capacity(values.len(), total);
            values.iter().for_each(|v| b.append_option(v.as_deref()));
            Arc::new(b.finish())
        }
        ImageLayout::BinaryView => {
            let mut b = BinaryViewBuilder::with_capacity(values.len());
            values.iter().for_each(|v| b.append_option(v.as_deref()));
            Arc::new(b.finish())
        }
        _ => {
            let mut b = BinaryBuilder::with_capacity(values.len(), total);
            values.iter().for_each(|v| b.append_option(v.as_deref()));
            Arc::new(b.finish())
        }
    }
}

/// Build an output image column in `layout`: `values[k]` are the new bytes of output row
/// `k`, which came from input row `rows[k]` of `original` (for struct fields other than
/// `bytes`, such as `path`, which are carried over).
pub fn build_image_column(
    layout: &ImageLayout,
    original: &ArrayRef,
    rows: &arrow::array::UInt32Array,
    values: &[Option<Vec<u8>>],
) -> Result<ArrayRef, ArrowError> {
    match layout {
        ImageLayout::Struct {
            fields,
            bytes_index,
            bytes_layout,
        } => {
            let taken = take(original.as_ref(), rows, None)?;
            let s = taken.as_struct();
            let mut columns: Vec<ArrayRef> = s.columns().to_vec();
            columns[*bytes_index] = build_flat(bytes_layout, values);
            // The row is null only where there are no output bytes (never, in practice).
            let nulls = values.iter().map(Option::is_some).collect::<Vec<_>>();
            let nulls = (!nulls.iter().all(|v| *v)).then(|| nulls.into());
            Ok(Arc::new(StructArray::try_new(
                fields.clone(),
                columns,
                nulls,
            )?))
        }
        flat => Ok(build_flat(flat, values)),
    }
}

/// Caption columns: the input type and the conversion to and from plain `utf8`.
pub struct CaptionColumn;

impl CaptionColumn {
    /// Whether `data_type` can hold captions.
    pub fn check(data_type: &DataType) -> Result<(), String> {
        match data_type {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Ok(()),
            DataType::Dictionary(_, v)
                if matches!(
                    **v,
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                ) =>
            {
                Ok(())
            }
            other => Err(format!(
                "has type {other}; expected utf8, large_utf8, utf8_view or a dictionary of strings"
            )),
        }
    }

    /// The output type for an input caption type: the same, except that dictionaries are
    /// decoded (edited captions are rarely repeated).
    pub fn output_type(data_type: &DataType) -> DataType {
        match data_type {
            DataType::Dictionary(_, v) => (**v).clone(),
            other => other.clone(),
        }
    }

    /// The column as plain `utf8` for the kernels.
    pub fn to_utf8(array: &ArrayRef) -> Result<StringArray, ArrowError> {
        Ok(cast(array, &DataType::Utf8)?.as_string::<i32>().clone())
    }

    /// Back from `utf8` to the output type.
    pub fn from_utf8(array: StringArray, output_type: &DataType) -> Result<ArrayRef, ArrowError> {
        let array: ArrayRef = Arc::new(array);
        if output_type == &DataType::Utf8 {
            Ok(array)
        } else {
            cast(&array, output_type)
        }
    }
}

/// The field of the output image column (same name and layout as the input).
pub fn image_field(input: &Field) -> Field {
    input.clone().with_nullable(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{BinaryArray, StringArray, UInt32Array};

    fn hf_struct(values: &[Option<&[u8]>], paths: &[Option<&str>]) -> ArrayRef {
        let fields = Fields::from(vec![
            Field::new("bytes", DataType::Binary, true),
            Field::new("path", DataType::Utf8, true),
        ]);
        let bytes: ArrayRef = Arc::new(BinaryArray::from(values.to_vec()));
        let path: ArrayRef = Arc::new(StringArray::from(paths.to_vec()));
        Arc::new(StructArray::try_new(fields, vec![bytes, path], None).unwrap())
    }

    #[test]
    fn layouts_are_recognised_and_explained() {
        assert_eq!(ImageLayout::of(&DataType::Binary), Ok(ImageLayout::Binary));
        assert_eq!(
            ImageLayout::of(&DataType::BinaryView),
            Ok(ImageLayout::BinaryView)
        );
        let s = hf_struct(&[], &[]);
        assert!(matches!(
            ImageLayout::of(s.data_type()),
            Ok(ImageLayout::Struct { bytes_index: 0, .. })
        ));
        let err = ImageLayout::of(&DataType::Utf8).unwrap_err();
        assert!(err.contains("has type Utf8"), "{err}");
    }

    #[test]
    fn struct_images_read_and_rebuild_with_paths() {
        let arr = hf_struct(
            &[Some(b"a"), None, Some(b"ccc")],
            &[Some("a.png"), Some("b.png"), None],
        );
        let layout = ImageLayout::of(arr.data_type()).unwrap();
        let col = ImageColumn::new(arr.as_ref(), &layout);
        assert_eq!(col.value(0), Some(&b"a"[..]));
        assert_eq!(col.value(1), None);
        assert_eq!(col.value(2), Some(&b"ccc"[..]));

        let rows = UInt32Array::from(vec![2, 0, 0]);
        let out = build_image_column(
            &layout,
            &arr,
            &rows,
            &[
                Some(b"x".to_vec()),
                Some(b"yy".to_vec()),
                Some(b"z".to_vec()),
            ],
        )
        .unwrap();
        assert_eq!(out.data_type(), arr.data_type());
        let out_col = ImageColumn::new(out.as_ref(), &layout);
        assert_eq!(out_col.value(1), Some(&b"yy"[..]));
        let paths = out.as_struct().column(1).as_string::<i32>().clone();
        assert_eq!(
            paths.iter().collect::<Vec<_>>(),
            vec![None, Some("a.png"), Some("a.png")]
        );
    }

    #[test]
    fn captions_round_trip_through_utf8() {
        use arrow::array::DictionaryArray;
        use arrow::datatypes::Int32Type;
        let dict: DictionaryArray<Int32Type> =
            vec![Some("a b"), None, Some("a b")].into_iter().collect();
        let arr: ArrayRef = Arc::new(dict);
        assert!(CaptionColumn::check(arr.data_type()).is_ok());
        let utf8 = CaptionColumn::to_utf8(&arr).unwrap();
        assert_eq!(
            utf8.iter().collect::<Vec<_>>(),
            vec![Some("a b"), None, Some("a b")]
        );
        assert_eq!(CaptionColumn::output_type(arr.data_type()), DataType::Utf8);
        let view = CaptionColumn::from_utf8(utf8, &DataType::Utf8View).unwrap();
        assert_eq!(view.data_type(), &DataType::Utf8View);
        assert!(CaptionColumn::check(&DataType::Int32).is_err());
    }
}
