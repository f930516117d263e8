//! Augmenting one record batch: rows in parallel, each decoded once, then augmented for
//! every scheme and copy and encoded in the same task.

use std::borrow::Cow;
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
use crate::kernels::tokens::{mlm_pseudo_labels, TextTokenizer};
use crate::lineage::{lineage_columns, lineage_fields, RowLineage, RunStamp};
use crate::read::columns::build_image_column;
use crate::read::{CaptionColumn, ImageColumn, OpenedInput};
use crate::rng::row_seed;
use crate::schemes::{RowInput, Sampled, Scheme, TextContext};

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
    /// Segmenter and dictionaries of the caption ops.
    pub text: TextContext,
    format: OutputFormat,
    resize: ResizeMode,
    /// What a JPEG must still cover when decoded reduced: the output size, or `(0, 0)`
    /// (always full size) when a scheme crops, since crops are drawn in source pixels.
    decode_min_size: (u32, u32),
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

/// A source row decoded once and sampled for every scheme and copy.
struct PreparedRow {
    /// The source image resized to the output size.
    image: RgbImage,
    digest: String,
    /// The source was decoded at 1/`decode_scale` of its stored size (1 = full; see
    /// `img::decode_rgb8_reduced`); recorded in lineage as `source_decode_scale`.
    decode_scale: u8,
    /// Set when `--accept-truncated-images` kept a damaged source (lineage
    /// `source_decode_warning`).
    decode_warning: Option<String>,
    /// One entry per (scheme, copy), scheme-major.
    variants: Vec<SampledVariant>,
    /// Each variant's random resized crop of the source image, already at the output
    /// size (None: the scheme does not crop). Taken out when the row is augmented.
    crops: Vec<Option<RgbImage>>,
}

impl Augmenter {
    pub fn new(
        config: Config,
        tokenizer: TextTokenizer,
        stamp: RunStamp,
    ) -> anyhow::Result<Augmenter> {
        let schemes = Scheme::from_config(&config)?;
        let text = TextContext::from_config(&config.text)?;
        let size = config.image.size;
        let decode_min_size = if schemes.iter().any(Scheme::crops_source) {
            (0, 0)
        } else {
            (size, size)
        };
        Ok(Augmenter {
            decode_min_size,
            format: config.image.output_format(),
            resize: config.image.resize.into(),
            config,
            schemes,
            text,
            tokenizer,
            stamp,
        })
    }

    /// Decode one image and sample every scheme and copy for its row. A panic inside a
    /// decoder (a bug in a codec crate on a hostile file) becomes a reject of that row
    /// instead of ending the run.
    fn prepare(&self, bytes: Option<&[u8]>, row: &RowContext) -> Result<PreparedRow, String> {
        let bytes = bytes.ok_or_else(|| "image is null".to_string())?;
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.prepare_bytes(bytes, row)
        }))
        .unwrap_or_else(|_| {
            Err("the image decoder failed on these bytes (internal panic caught)".into())
        })
    }

    fn prepare_bytes(&self, bytes: &[u8], row: &RowContext) -> Result<PreparedRow, String> {
        let digest = blake3::hash(bytes).to_hex()[..32].to_string();
        let size = self.config.image.size;
        // A JPEG at least twice the output size is decoded reduced in the DCT domain, which
        // skips the inverse DCT and colour work of the dropped pixels (a quarter of a row's
        // time; Huffman decoding is not reduced).
        let decoded = img::decode_source(
            bytes,
            &img::DecodeOptions {
                max_pixels: self.config.image.max_pixels,
                min_size: self.decode_min_size,
                accept_truncated: self.config.image.accept_truncated,
            },
        )
        .map_err(|e| e.to_string())?;
        let source = decoded.image;
        let input = RowInput {
            source_width: source.width(),
            source_height: source.height(),
            width: size,
            height: size,
            caption: row.caption,
            partner: row.partner,
        };
        let n_variants = self.schemes.len() * self.config.copies as usize;
        let mut variants = Vec::with_capacity(n_variants);
        let mut crops = Vec::with_capacity(n_variants);
        for scheme in &self.schemes {
            for copy in 0..self.config.copies {
                let seed = row_seed(
                    self.config.seed,
                    row.file_key,
                    row.source_row,
                    &scheme.name,
                    copy,
                );
                let sampled = scheme.sample(seed, &input, &self.text);
                // The crop is cut from the source here, so the full-size image never
                // outlives this row.
                crops.push(scheme.crop_source(&source, &sampled.params, size, size)?);
                variants.push(SampledVariant { seed, sampled });
            }
        }
        Ok(PreparedRow {
            image: img::resize(&source, size, size, self.resize),
            digest,
            decode_scale: decoded.scale_denom,
            decode_warning: decoded.warning,
            variants,
            crops,
        })
    }

    /// Augment one batch of `input` whose first row is row `first_row` of the file.
    ///
    /// MixGen pairs rows 2k and 2k+1 of a file, so batches must start at even rows (the
    /// reader keeps batch sizes even).
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
        let caption_of = |row: usize| captions.is_valid(row).then(|| captions.value(row));
        let mixes = self.schemes.iter().any(Scheme::mixes);
        // The MixGen partner of each row, as an index into this batch.
        let partner_of = |row: usize| -> Option<usize> {
            let source_row = first_row + row as u64;
            let partner = source_row ^ 1;
            (mixes && partner < input.num_rows)
                .then(|| partner.checked_sub(first_row))
                .flatten()
                .map(|p| p as usize)
        };
        if mixes && first_row % 2 == 1 {
            anyhow::bail!(
                "internal error: a batch of {} starts at odd row {first_row}; MixGen needs even batch boundaries",
                file.display
            );
        }

        // Each row is decoded, augmented for every scheme and copy, and encoded in one
        // task, so its decoded pixels are freed as soon as it is done (and are still in
        // cache while it is worked on). MixGen needs the partner's pixels too, so with a
        // mixing scheme a task does a pair of rows (2k, 2k+1: batches start at even rows).
        let unit = if mixes { 2 } else { 1 };
        let mut outcomes: Vec<Result<RowOutcome, String>> = (0..n.div_ceil(unit))
            .into_par_iter()
            .flat_map_iter(|u| {
                let rows = u * unit..((u + 1) * unit).min(n);
                let mut prepared: Vec<Result<PreparedRow, String>> = rows
                    .clone()
                    .map(|row| {
                        let partner = partner_of(row).filter(|&p| p < n);
                        let context = RowContext {
                            file_key: &file.key,
                            source_row: first_row + row as u64,
                            caption: caption_of(row),
                            partner: partner
                                .map(|p| ((first_row + p as u64) as i64, caption_of(p))),
                        };
                        self.prepare(images.value(row), &context)
                    })
                    .collect();
                let unit_first_row = first_row + rows.start as u64;
                let encoded: Vec<_> = (0..prepared.len())
                    .map(|i| {
                        // Each crop is used once: moved out, not copied.
                        let crops = match &mut prepared[i] {
                            Ok(row) => std::mem::take(&mut row.crops),
                            Err(_) => Vec::new(),
                        };
                        self.augment_and_encode(&prepared, i, unit_first_row, crops)
                    })
                    .collect();
                prepared
                    .into_iter()
                    .zip(encoded)
                    .map(|(row, encoded)| {
                        let row = row?;
                        Ok(RowOutcome {
                            digest: row.digest,
                            decode_scale: row.decode_scale,
                            decode_warning: row.decode_warning,
                            variants: row.variants,
                            encoded,
                        })
                    })
                    .collect::<Vec<_>>()
            })
            .collect();

        let copies = self.config.copies as usize;
        let mut rejects = Vec::new();
        let mut batches = Vec::with_capacity(self.schemes.len());
        for (s, scheme) in self.schemes.iter().enumerate() {
            let reject = |row: usize, copy: usize, stage: Stage, reason: String| Reject {
                source_file: file.display.clone(),
                source_row: (first_row + row as u64) as i64,
                id: id_of(row),
                scheme: scheme.name.clone(),
                copy: copy as i32,
                stage,
                reason,
            };
            let mut kept_rows = Vec::with_capacity(n * copies);
            let mut kept_lineage = Vec::with_capacity(n * copies);
            let mut kept_captions = Vec::with_capacity(n * copies);
            let mut kept_images = Vec::with_capacity(n * copies);
            for (row, outcome) in outcomes.iter_mut().enumerate() {
                let outcome = match outcome {
                    Ok(o) => o,
                    Err(reason) => {
                        for copy in 0..copies {
                            rejects.push(reject(row, copy, Stage::Decode, reason.clone()));
                        }
                        continue;
                    }
                };
                for copy in 0..copies {
                    let v = s * copies + copy;
                    let variant = &outcome.variants[v];
                    match std::mem::replace(&mut outcome.encoded[v], Ok(Vec::new())) {
                        Ok(bytes) => {
                            kept_rows.push(row as u32);
                            kept_captions.push(variant.sampled.caption.clone());
                            kept_lineage.push(RowLineage {
                                source_row: (first_row + row as u64) as i64,
                                source_digest: outcome.digest.clone(),
                                decode_scale: outcome.decode_scale,
                                decode_warning: outcome.decode_warning.clone(),
                                copy: copy as i32,
                                seed: variant.seed,
                                params: variant.sampled.params.clone(),
                            });
                            kept_images.push(Some(bytes));
                        }
                        Err((stage, reason)) => rejects.push(reject(row, copy, stage, reason)),
                    }
                }
            }
            batches.push(self.assemble(
                input,
                schema,
                batch,
                scheme,
                kept_rows,
                kept_lineage,
                StringArray::from(kept_captions),
                kept_images,
            )?);
        }
        Ok(BatchOutput { batches, rejects })
    }

    /// The encoded image of every scheme and copy of `prepared[i]` (scheme-major; empty
    /// if the row did not decode). Its batch-local neighbours are its possible MixGen
    /// partners; `prepared[0]` is source row `first_row`. `crops` holds each variant's
    /// crop (its `PreparedRow::crops` entry, taken out).
    fn augment_and_encode(
        &self,
        prepared: &[Result<PreparedRow, String>],
        i: usize,
        first_row: u64,
        crops: Vec<Option<RgbImage>>,
    ) -> Vec<Result<Vec<u8>, (Stage, String)>> {
        let Ok(this) = &prepared[i] else {
            return Vec::new();
        };
        let copies = self.config.copies as usize;
        this.variants
            .iter()
            .zip(crops)
            .enumerate()
            .map(|(v, (variant, cropped))| {
                let scheme = &self.schemes[v / copies];
                let partner = match variant.sampled.params.mix_partner_row {
                    Some(p) => match prepared_at(prepared, first_row, p) {
                        Some(Ok(partner)) => Some(&partner.image),
                        Some(Err(reason)) => {
                            return Err((
                                Stage::Augment,
                                format!("MixGen partner (source row {p}) was rejected: {reason}"),
                            ))
                        }
                        None => None,
                    },
                    None => None,
                };
                // The shared resized image is lent; an op that writes in place copies it.
                let image = cropped.map_or(Cow::Borrowed(&this.image), Cow::Owned);
                let out = scheme
                    .apply_image(image, &variant.sampled.params, partner)
                    .map_err(|e| (Stage::Augment, e))?;
                let mut bytes = Vec::with_capacity(32 * 1024);
                img::encode(&out, self.format, &mut bytes)
                    .map_err(|e| (Stage::Encode, e.to_string()))?;
                Ok(bytes)
            })
            .collect()
    }

    /// Build the output batch of one scheme from the rows it kept.
    #[allow(clippy::too_many_arguments)]
    fn assemble(
        &self,
        input: &OpenedInput,
        schema: &SchemaRef,
        batch: &RecordBatch,
        scheme: &Scheme,
        rows: Vec<u32>,
        lineage: Vec<RowLineage>,
        new_captions: StringArray,
        images: Vec<Option<Vec<u8>>>,
    ) -> anyhow::Result<RecordBatch> {
        let indices = UInt32Array::from(rows);
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
                        "the tokenizer has no [MASK] token, which scheme `{}` needs for its masked-LM labels",
                        scheme.name
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
        columns.extend(lineage_columns(&input.file.display, &lineage, &self.stamp)?);
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}

/// A finished source row: what its output rows need once its pixels are gone.
struct RowOutcome {
    digest: String,
    decode_scale: u8,
    decode_warning: Option<String>,
    /// One entry per (scheme, copy), scheme-major, from [`PreparedRow::variants`].
    variants: Vec<SampledVariant>,
    /// The encoded image of each variant, or the stage and reason it failed.
    encoded: Vec<Result<Vec<u8>, (Stage, String)>>,
}

/// One output row's draw: its seed and what the scheme sampled with it.
struct SampledVariant {
    seed: u64,
    sampled: Sampled,
}

/// What a row's sampling needs to know besides its image.
struct RowContext<'a> {
    file_key: &'a str,
    source_row: u64,
    caption: Option<&'a str>,
    partner: Option<(i64, Option<&'a str>)>,
}

/// The prepared row of source row `source_row`, if it is in this batch.
fn prepared_at(
    prepared: &[Result<PreparedRow, String>],
    first_row: u64,
    source_row: i64,
) -> Option<&Result<PreparedRow, String>> {
    let i = u64::try_from(source_row).ok()?.checked_sub(first_row)?;
    prepared.get(usize::try_from(i).ok()?)
}
