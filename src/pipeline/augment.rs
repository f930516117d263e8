//! Augmenting one record batch: decode once, then every scheme and copy, in parallel.

use std::sync::Arc;

use arrow::array::{
    new_null_array, Array, ArrayRef, AsArray, RecordBatch, StringArray, UInt32Array, UInt64Array,
};
use arrow::compute::{cast, take};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use image::RgbImage;
use rayon::prelude::*;

use crate::config::Config;
use crate::kernels::image::{self as img, OutputFormat, ResizeMode};
use crate::kernels::text::word_count;
use crate::kernels::tokens::{mlm_pseudo_labels, TextTokenizer};
use crate::lineage::{lineage_columns, lineage_fields, RowLineage, RunStamp};
use crate::read::columns::build_image_column;
use crate::read::{CaptionColumn, ImageColumn, OpenedInput};
use crate::rng::row_seed;
use crate::schemes::{apply_image, apply_text, Scheme};

/// Where in the per-row work a row failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// One output row that could not be produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    pub source_file: String,
    pub source_row: i64,
    pub id: Option<String>,
    pub scheme: String,
    pub copy: i32,
    pub stage: Stage,
    pub reason: String,
}

/// What one input batch became: an output batch per scheme (same order as the schemes)
/// and the rejected rows.
pub struct BatchOutput {
    pub batches: Vec<RecordBatch>,
    pub rejects: Vec<Reject>,
}

/// Everything needed to augment batches; shared read-only by all threads.
pub struct Augmenter {
    pub config: Config,
    pub schemes: Vec<Scheme>,
    pub tokenizer: TextTokenizer,
    pub stamp: RunStamp,
    format: OutputFormat,
    resize: ResizeMode,
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

/// The output schema for an input schema: input columns in their order (the caption
/// column with its output type), then token columns, then lineage columns. Schema
/// metadata (such as Hugging Face's `huggingface` features) is kept.
pub fn output_schema(input: &OpenedInput) -> SchemaRef {
    let mut fields: Vec<Field> = input
        .schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if i == input.caption_index {
                Field::new(f.name(), CaptionColumn::output_type(f.data_type()), true)
            } else if i == input.image_index {
                f.as_ref().clone().with_nullable(true)
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    fields.extend(token_fields());
    fields.extend(lineage_fields());
    Arc::new(Schema::new_with_metadata(
        fields,
        input.schema.metadata().clone(),
    ))
}

/// A source image decoded and resized once, shared by every scheme and copy.
struct Decoded {
    image: RgbImage,
    digest: String,
    /// The JPEG was decoded at 1/`decode_scale` of its size (1 = full; see
    /// `img::decode_rgb8_reduced`). To be recorded in lineage.
    #[allow(dead_code)]
    decode_scale: u8,
}

impl Augmenter {
    pub fn new(
        config: Config,
        tokenizer: TextTokenizer,
        stamp: RunStamp,
    ) -> anyhow::Result<Augmenter> {
        let schemes = Scheme::from_config(&config)?;
        Ok(Augmenter {
            format: config.image.output_format(),
            resize: config.image.resize.into(),
            config,
            schemes,
            tokenizer,
            stamp,
        })
    }

    /// Decode and resize one image. A panic inside a decoder (a bug in a codec crate on a
    /// hostile file) becomes a reject of that row instead of ending the run.
    fn decode(&self, bytes: Option<&[u8]>) -> Result<Decoded, String> {
        let bytes = bytes.ok_or_else(|| "image is null".to_string())?;
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.decode_bytes(bytes)))
            .unwrap_or_else(|_| {
                Err("the image decoder failed on these bytes (internal panic caught)".into())
            })
    }

    fn decode_bytes(&self, bytes: &[u8]) -> Result<Decoded, String> {
        let digest = blake3::hash(bytes).to_hex()[..32].to_string();
        let size = self.config.image.size;
        // Performance: a JPEG at least twice the output size is decoded reduced (DCT
        // scaling), which is most of the decode work saved.
        let decoded = img::decode_rgb8_reduced(bytes, self.config.image.max_pixels, (size, size))
            .map_err(|e| e.to_string())?;
        Ok(Decoded {
            image: img::resize(&decoded.image, size, size, self.resize),
            digest,
            decode_scale: decoded.scale_denom,
        })
    }

    /// Augment one batch of `input` whose first row is row `first_row` of the file.
    pub fn augment_batch(
        &self,
        input: &OpenedInput,
        schema: &SchemaRef,
        first_row: u64,
        batch: &RecordBatch,
    ) -> anyhow::Result<BatchOutput> {
        let n = batch.num_rows();
        let file = &input.file;
        let image_array = batch.column(input.image_index);
        let images = ImageColumn::new(image_array.as_ref(), &input.image_layout);
        let captions = CaptionColumn::to_utf8(batch.column(input.caption_index))?;
        let ids: Option<StringArray> = match input.id_index {
            Some(i) => Some(
                cast(batch.column(i), &DataType::Utf8)?
                    .as_string::<i32>()
                    .clone(),
            ),
            None => None,
        };
        let id_of = |row: usize| {
            ids.as_ref()
                .and_then(|a| a.is_valid(row).then(|| a.value(row).to_string()))
        };

        let decoded: Vec<Result<Decoded, String>> = (0..n)
            .into_par_iter()
            .map(|i| self.decode(images.value(i)))
            .collect();
        let words: Vec<Option<usize>> = (0..n)
            .map(|i| captions.is_valid(i).then(|| word_count(captions.value(i))))
            .collect();

        let copies = self.config.copies;
        let mut rejects = Vec::new();
        let mut batches = Vec::with_capacity(self.schemes.len());
        for scheme in &self.schemes {
            // Every (row, copy) of this scheme whose image decoded, in output order.
            let mut tasks: Vec<(usize, RowLineage)> = Vec::with_capacity(n * copies as usize);
            for (row, d) in decoded.iter().enumerate() {
                let source_row = first_row + row as u64;
                for copy in 0..copies {
                    match d {
                        Ok(d) => {
                            let seed = row_seed(
                                self.config.seed,
                                &file.key,
                                source_row,
                                &scheme.name,
                                copy,
                            );
                            let params =
                                scheme.sample(seed, d.image.width(), d.image.height(), words[row]);
                            tasks.push((
                                row,
                                RowLineage {
                                    source_row: source_row as i64,
                                    source_digest: d.digest.clone(),
                                    copy: copy as i32,
                                    seed,
                                    params,
                                },
                            ));
                        }
                        Err(reason) => rejects.push(Reject {
                            source_file: file.display.clone(),
                            source_row: source_row as i64,
                            id: id_of(row),
                            scheme: scheme.name.clone(),
                            copy: copy as i32,
                            stage: Stage::Decode,
                            reason: reason.clone(),
                        }),
                    }
                }
            }

            let encoded: Vec<Result<Vec<u8>, String>> = tasks
                .par_iter()
                .map(|(row, lineage)| {
                    let Ok(d) = &decoded[*row] else {
                        unreachable!("tasks only hold decoded rows")
                    };
                    let out = apply_image(d.image.clone(), &lineage.params);
                    let mut bytes = Vec::with_capacity(32 * 1024);
                    img::encode(&out, self.format, &mut bytes).map_err(|e| e.to_string())?;
                    Ok(bytes)
                })
                .collect();

            let mut kept_rows = Vec::with_capacity(tasks.len());
            let mut kept_lineage = Vec::with_capacity(tasks.len());
            let mut kept_images = Vec::with_capacity(tasks.len());
            for ((row, lineage), result) in tasks.into_iter().zip(encoded) {
                match result {
                    Ok(bytes) => {
                        kept_rows.push(row as u32);
                        kept_lineage.push(lineage);
                        kept_images.push(Some(bytes));
                    }
                    Err(reason) => rejects.push(Reject {
                        source_file: file.display.clone(),
                        source_row: lineage.source_row,
                        id: id_of(row),
                        scheme: scheme.name.clone(),
                        copy: lineage.copy,
                        stage: Stage::Encode,
                        reason,
                    }),
                }
            }
            batches.push(self.assemble(
                input,
                schema,
                batch,
                scheme,
                &captions,
                kept_rows,
                kept_lineage,
                kept_images,
            )?);
        }
        Ok(BatchOutput { batches, rejects })
    }

    /// Build the output batch of one scheme from the rows it kept.
    #[allow(clippy::too_many_arguments)]
    fn assemble(
        &self,
        input: &OpenedInput,
        schema: &SchemaRef,
        batch: &RecordBatch,
        scheme: &Scheme,
        captions: &StringArray,
        rows: Vec<u32>,
        lineage: Vec<RowLineage>,
        images: Vec<Option<Vec<u8>>>,
    ) -> anyhow::Result<RecordBatch> {
        let indices = UInt32Array::from(rows);
        let source_captions = take(captions, &indices, None)?.as_string::<i32>().clone();
        let params: Vec<_> = lineage.iter().map(|l| &l.params).collect();
        let new_captions = apply_text(&source_captions, &params, scheme.replace_token())?;
        let encoded = self.tokenizer.encode_batch(&new_captions)?;

        let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        for (i, column) in batch.columns().iter().enumerate() {
            let field = schema.field(i);
            columns.push(if i == input.image_index {
                build_image_column(&input.image_layout, column, &indices, &images)?
            } else if i == input.caption_index {
                CaptionColumn::from_utf8(new_captions.clone(), field.data_type())?
            } else {
                take(column.as_ref(), &indices, None)?
            });
        }
        let (mlm_ids, mlm_labels): (ArrayRef, ArrayRef) = match &scheme.mlm {
            Some(mlm) => {
                let seeds = UInt64Array::from_iter_values(lineage.iter().map(|l| l.seed));
                let mask_id = self.tokenizer.mask_token_id().ok_or_else(|| {
                    anyhow::anyhow!(
                        "the tokenizer has no [MASK] token, which the pseudo_label scheme needs"
                    )
                })?;
                let (ids, labels) =
                    mlm_pseudo_labels(&encoded, &seeds, mlm, mask_id, self.tokenizer.vocab_size())?;
                (Arc::new(ids), Arc::new(labels))
            }
            None => (
                new_null_array(&list_i32(), lineage.len()),
                new_null_array(&list_i32(), lineage.len()),
            ),
        };
        columns.push(Arc::new(encoded.input_ids.clone()));
        columns.push(Arc::new(encoded.truncated.clone()));
        columns.push(mlm_ids);
        columns.push(mlm_labels);
        columns.extend(lineage_columns(&input.file.display, &lineage, &self.stamp));
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}
