//! Augmenting one record batch: rows in parallel, each decoded once, then augmented for
//! every scheme and copy and encoded in the same task.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use arrow::array::{
    new_null_array, Array, ArrayRef, AsArray, RecordBatch, StringArray, UInt32Array, UInt64Array,
};
use arrow::compute::{cast, take};
use arrow::datatypes::{DataType, Field, SchemaRef};
use image::RgbImage;
use rayon::prelude::*;

use super::{AugmentError, RunError};
use crate::config::Config;
use crate::kernels::image::{self as img, OutputFormat, ResizeMode};
use crate::kernels::tokens::{mlm_pseudo_labels, TextTokenizer};
use crate::layout::{self, Reject, Stage};
use crate::lineage::{lineage_columns, RowLineage, RunStamp};
use crate::read::columns::{build_image_column, ImageLayout};
use crate::read::{CaptionColumn, ImageColumn, OpenedInput};
use crate::rng::row_seed;
use crate::schemes::{RowInput, Sampled, Scheme, TextContext};

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

/// What augmenting a batch needs to know of the input file it comes from: plain values,
/// no open file, so a batch can be augmented anywhere (a worker thread here, a cluster
/// task elsewhere).
#[derive(Debug, Clone)]
pub struct FileContext {
    /// The path as found from `--input` (what `source_file` holds).
    pub source_file: String,
    /// The file's key, from which each row's seed is derived.
    pub key: String,
    /// Rows in the whole file (MixGen's last row has no partner past it).
    pub num_rows: u64,
    pub image_index: usize,
    pub caption_index: usize,
    pub id_index: Option<usize>,
    pub image_layout: ImageLayout,
    /// The output schema of this file's batches ([`output_schema`]).
    pub output_schema: SchemaRef,
}

impl FileContext {
    /// The context of an opened input file whose batches become `output_schema` (the
    /// [`output_schema`] the run's inputs share).
    pub fn new(input: &OpenedInput, output_schema: SchemaRef) -> FileContext {
        FileContext {
            source_file: input.file.display.clone(),
            key: input.file.key.clone(),
            num_rows: input.num_rows,
            image_index: input.image_index,
            caption_index: input.caption_index,
            id_index: input.id_index,
            image_layout: input.image_layout.clone(),
            output_schema,
        }
    }
}

/// The output schema for an input: its columns in their order (the caption column with its
/// output type, the image column nullable), then the columns lakeaug adds (see
/// [`crate::layout::output_schema`]).
pub fn output_schema(input: &OpenedInput) -> SchemaRef {
    let fields: Vec<Field> = input
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
    layout::output_schema(fields, input.schema.metadata().clone())
}

/// Output bytes a work item may hold at most (see [`Augmenter::work_items`]): with
/// `threads + 1` items in flight, the augmented images a run holds stay within a few
/// hundred MB whatever `--copies` and the number of schemes.
pub const WORK_ITEM_BYTES: u64 = 64 << 20;

/// A share of a batch's work: the output rows of batch rows `rows`, copies `copies`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkItem {
    pub rows: Range<usize>,
    pub copies: Range<u32>,
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
    ) -> Result<Augmenter, AugmentError> {
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
    fn prepare(
        &self,
        bytes: Option<&[u8]>,
        row: &RowContext,
        copies: Range<u32>,
    ) -> Result<PreparedRow, String> {
        let bytes = bytes.ok_or_else(|| "image is null".to_string())?;
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.prepare_bytes(bytes, row, copies)
        }))
        .unwrap_or_else(|_| {
            Err("the image decoder failed on these bytes (internal panic caught)".into())
        })
    }

    /// [`Augmenter::prepare`] of the copies `copies` (none: the row is only a MixGen
    /// partner of the rows being produced).
    fn prepare_bytes(
        &self,
        bytes: &[u8],
        row: &RowContext,
        copies: Range<u32>,
    ) -> Result<PreparedRow, String> {
        let digest = blake3::hash(bytes).to_hex()[..32].to_string();
        let size = self.config.image.size;
        // A JPEG at least twice the output size is decoded reduced in the DCT domain, which
        // skips the inverse DCT and colour work of the dropped pixels (a quarter of a row's
        // time; Huffman decoding is not reduced).
        // The decoded source and the RGB copy are the largest buffers of a row: reserve
        // them from the process's shared budget until the crops are cut (end of this
        // function), so N threads never hold N large images at once.
        let _memory = img::decode_memory().reserve(img::decode_footprint(bytes));
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
        let n_variants = self.schemes.len() * copies.len();
        let mut variants = Vec::with_capacity(n_variants);
        let mut crops = Vec::with_capacity(n_variants);
        for scheme in &self.schemes {
            for copy in copies.clone() {
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

    /// Augment `batch`, rows `first_row..` of the input file `file`: one output batch per
    /// scheme, and the rows that could not be produced. A pure function of its arguments
    /// and the config (the rows are spread over rayon's current pool).
    ///
    /// MixGen pairs rows 2k and 2k+1 of a file, so batches must start at even rows (the
    /// reader keeps batch sizes even).
    pub fn augment_batch(
        &self,
        batch: &RecordBatch,
        file: &FileContext,
        first_row: u64,
    ) -> Result<BatchOutput, AugmentError> {
        let whole = WorkItem {
            rows: 0..batch.num_rows(),
            copies: 0..self.config.copies,
        };
        self.augment_part(batch, file, first_row, &whole)
    }

    /// [`Augmenter::augment_batch`] of one work item of the batch (see
    /// [`Augmenter::work_items`]): the output rows of its rows and copies.
    pub fn augment_part(
        &self,
        batch: &RecordBatch,
        file: &FileContext,
        first_row: u64,
        item: &WorkItem,
    ) -> Result<BatchOutput, AugmentError> {
        let view = BatchView::new(batch, file, first_row)?;
        if self.mixes() && first_row % 2 == 1 {
            return Err(AugmentError::OddBatchStart {
                file: file.source_file.clone(),
                first_row,
            });
        }
        let mut outcomes = self.row_outcomes(&view, item);
        let mut rejects = Vec::new();
        let mut batches = Vec::with_capacity(self.schemes.len());
        for (s, scheme) in self.schemes.iter().enumerate() {
            let kept = self.keep_scheme_rows(&view, item, s, &mut outcomes, &mut rejects);
            batches.push(self.assemble(file, batch, scheme, kept)?);
        }
        Ok(BatchOutput { batches, rejects })
    }

    /// How a batch of `n` rows is cut into work items of at most about `budget` output
    /// bytes each (at 3 bytes per output pixel, the raw size; at least one output row per
    /// item), so that memory stays bounded whatever `--copies` and the number of schemes.
    /// The items' outputs, in order, are the whole batch's: whole rows while a row's
    /// outputs fit (pairs with MixGen), else one row at a time in runs of copies.
    pub fn work_items(&self, n: usize, budget: u64) -> Vec<WorkItem> {
        let copies = self.config.copies;
        let schemes = (self.schemes.len() as u64).max(1);
        let side = u64::from(self.config.image.size);
        let per_output = side.saturating_mul(side).saturating_mul(3).max(1);
        let outputs = (budget / per_output).max(1);
        let per_row = schemes.saturating_mul(u64::from(copies)).max(1);
        let unit = if self.mixes() { 2 } else { 1 };
        if per_row.saturating_mul(unit as u64) <= outputs {
            let rows = usize::try_from(outputs / per_row).unwrap_or(usize::MAX) / unit * unit;
            let rows = rows.max(unit);
            return (0..n)
                .step_by(rows)
                .map(|start| WorkItem {
                    rows: start..start.saturating_add(rows).min(n),
                    copies: 0..copies,
                })
                .collect();
        }
        let step = u32::try_from((outputs / schemes).max(1)).unwrap_or(u32::MAX);
        (0..n)
            .flat_map(|row| {
                (0..copies).step_by(step as usize).map(move |c| WorkItem {
                    rows: row..row + 1,
                    copies: c..c.saturating_add(step).min(copies),
                })
            })
            .collect()
    }

    /// Whether a scheme pairs rows (MixGen).
    fn mixes(&self) -> bool {
        self.schemes.iter().any(Scheme::mixes)
    }

    /// Decode, augment and encode every row of `view` for every scheme and copy (or say why
    /// the row could not be decoded), in row order.
    ///
    /// Each row is decoded, augmented for every scheme and copy, and encoded in one task,
    /// so its decoded pixels are freed as soon as it is done (and are still in cache while
    /// it is worked on). MixGen needs the partner's pixels too, so with a mixing scheme a
    /// task does a pair of rows (2k, 2k+1: batches start at even rows).
    fn row_outcomes(&self, view: &BatchView, item: &WorkItem) -> Vec<Result<RowOutcome, String>> {
        let n = view.batch.num_rows();
        let unit = if self.mixes() { 2 } else { 1 };
        let first_unit = item.rows.start / unit;
        (first_unit..item.rows.end.div_ceil(unit))
            .into_par_iter()
            .flat_map_iter(|u| {
                let rows = u * unit..((u + 1) * unit).min(n);
                let produce = rows.start.max(item.rows.start)..rows.end.min(item.rows.end);
                self.unit_outcomes(view, rows, produce, item.copies.clone())
            })
            .collect()
    }

    /// [`Augmenter::row_outcomes`] of one task's rows `rows` (batch-local indices), of
    /// which it produces `produce` (the others are only MixGen partners) for `copies`.
    fn unit_outcomes(
        &self,
        view: &BatchView,
        rows: Range<usize>,
        produce: Range<usize>,
        copies: Range<u32>,
    ) -> Vec<Result<RowOutcome, String>> {
        let mut prepared: Vec<Result<PreparedRow, String>> = rows
            .clone()
            .map(|row| {
                let copies = if produce.contains(&row) {
                    copies.clone()
                } else {
                    0..0
                };
                let context = view.row_context(row, self.mixes());
                self.prepare(view.images.value(row), &context, copies)
            })
            .collect();
        let unit_first_row = view.first_row + rows.start as u64;
        let produced = produce.start - rows.start..produce.end - rows.start;
        let encoded: Vec<_> = produced
            .clone()
            .map(|i| {
                // Each crop is used once: moved out, not copied.
                let crops = match &mut prepared[i] {
                    Ok(row) => std::mem::take(&mut row.crops),
                    Err(_) => Vec::new(),
                };
                self.augment_and_encode(&prepared, i, unit_first_row, crops, copies.len())
            })
            .collect();
        prepared
            .into_iter()
            .skip(produced.start)
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
            .collect()
    }

    /// The rows scheme number `s` keeps, in (row, copy) order, taking their encoded images
    /// out of `outcomes`; the others go to `rejects`.
    fn keep_scheme_rows(
        &self,
        view: &BatchView,
        item: &WorkItem,
        s: usize,
        outcomes: &mut [Result<RowOutcome, String>],
        rejects: &mut Vec<Reject>,
    ) -> KeptRows {
        let scheme = &self.schemes[s];
        let copies = item.copies.start as usize..item.copies.end as usize;
        let reject = |row: usize, copy: usize, stage: Stage, reason: String| Reject {
            source_file: view.file.source_file.clone(),
            source_row: view.source_row(row),
            id: view.id_of(row),
            scheme: scheme.name.clone(),
            copy: copy as i32,
            stage,
            reason,
        };
        let mut kept = KeptRows::with_capacity(outcomes.len() * copies.len());
        for (i, outcome) in outcomes.iter_mut().enumerate() {
            let row = item.rows.start + i;
            let outcome = match outcome {
                Ok(o) => o,
                Err(reason) => {
                    for copy in copies.clone() {
                        rejects.push(reject(row, copy, Stage::Decode, reason.clone()));
                    }
                    continue;
                }
            };
            for copy in copies.clone() {
                let v = s * copies.len() + (copy - copies.start);
                let variant = &outcome.variants[v];
                match std::mem::replace(&mut outcome.encoded[v], Ok(Vec::new())) {
                    Ok(bytes) => {
                        kept.rows.push(row as u32);
                        kept.captions.push(variant.sampled.caption.clone());
                        kept.lineage.push(RowLineage {
                            source_row: view.source_row(row),
                            source_digest: outcome.digest.clone(),
                            decode_scale: outcome.decode_scale,
                            decode_warning: outcome.decode_warning.clone(),
                            copy: copy as i32,
                            seed: variant.seed,
                            params: variant.sampled.params.clone(),
                        });
                        kept.images.push(Some(bytes));
                    }
                    Err((stage, reason)) => rejects.push(reject(row, copy, stage, reason)),
                }
            }
        }
        kept
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
        copies: usize,
    ) -> Vec<Result<Vec<u8>, (Stage, String)>> {
        let Ok(this) = &prepared[i] else {
            return Vec::new();
        };
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
                // A panic in an op or the encoder (a bug) rejects this output row only.
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    crate::crash::panic_point("augment-row");
                    let out = scheme
                        .apply_image(image, &variant.sampled.params, partner)
                        .map_err(|e| (Stage::Augment, e))?;
                    let mut bytes = Vec::with_capacity(32 * 1024);
                    img::encode(&out, self.format, &mut bytes)
                        .map_err(|e| (Stage::Encode, e.to_string()))?;
                    Ok(bytes)
                }))
                .unwrap_or_else(|payload| {
                    Err((
                        Stage::Augment,
                        format!(
                            "augmenting this row failed (internal panic caught: {})",
                            super::error::panic_message(payload.as_ref())
                        ),
                    ))
                })
            })
            .collect()
    }

    /// Build the output batch of one scheme from the rows it kept.
    fn assemble(
        &self,
        file: &FileContext,
        batch: &RecordBatch,
        scheme: &Scheme,
        kept: KeptRows,
    ) -> Result<RecordBatch, AugmentError> {
        let schema = &file.output_schema;
        let KeptRows {
            rows,
            lineage,
            captions,
            images,
        } = kept;
        let new_captions = StringArray::from(captions);
        let indices = UInt32Array::from(rows);
        let encoded = self.tokenizer.encode_batch(&new_captions)?;

        let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        for (i, column) in batch.columns().iter().enumerate() {
            let field = schema.field(i);
            columns.push(if i == file.image_index {
                build_image_column(&file.image_layout, column, &indices, &images)?
            } else if i == file.caption_index {
                CaptionColumn::from_utf8(new_captions.clone(), field.data_type())?
            } else {
                take(column.as_ref(), &indices, None)?
            });
        }
        let (mlm_ids, mlm_labels): (ArrayRef, ArrayRef) = match &scheme.mlm {
            Some(mlm) => {
                let seeds = UInt64Array::from_iter_values(lineage.iter().map(|l| l.seed));
                let mask_id =
                    self.tokenizer
                        .mask_token_id()
                        .ok_or_else(|| AugmentError::NoMaskToken {
                            scheme: scheme.name.clone(),
                        })?;
                let (ids, labels) =
                    mlm_pseudo_labels(&encoded, &seeds, mlm, mask_id, self.tokenizer.vocab_size())?;
                (Arc::new(ids), Arc::new(labels))
            }
            None => (
                new_null_array(&layout::token_ids_type(), lineage.len()),
                new_null_array(&layout::token_ids_type(), lineage.len()),
            ),
        };
        columns.push(Arc::new(encoded.input_ids.clone()));
        columns.push(Arc::new(encoded.truncated.clone()));
        columns.push(mlm_ids);
        columns.push(mlm_labels);
        columns.extend(lineage_columns(&file.source_file, &lineage, &self.stamp)?);
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}

/// The columns of one input batch that augmenting reads, and where it sits in its file.
struct BatchView<'a> {
    batch: &'a RecordBatch,
    file: &'a FileContext,
    /// The file row of the batch's first row.
    first_row: u64,
    images: ImageColumn<'a>,
    captions: StringArray,
    ids: Option<StringArray>,
}

impl<'a> BatchView<'a> {
    fn new(
        batch: &'a RecordBatch,
        file: &'a FileContext,
        first_row: u64,
    ) -> Result<BatchView<'a>, arrow::error::ArrowError> {
        let images = ImageColumn::new(batch.column(file.image_index).as_ref(), &file.image_layout);
        let captions = CaptionColumn::to_utf8(batch.column(file.caption_index))?;
        let ids = match file.id_index {
            Some(i) => Some(
                cast(batch.column(i), &DataType::Utf8)?
                    .as_string::<i32>()
                    .clone(),
            ),
            None => None,
        };
        Ok(BatchView {
            batch,
            file,
            first_row,
            images,
            captions,
            ids,
        })
    }

    /// The file row of batch row `row`.
    fn source_row(&self, row: usize) -> i64 {
        (self.first_row + row as u64) as i64
    }

    fn id_of(&self, row: usize) -> Option<String> {
        self.ids
            .as_ref()
            .and_then(|a| a.is_valid(row).then(|| a.value(row).to_string()))
    }

    fn caption_of(&self, row: usize) -> Option<&str> {
        self.captions
            .is_valid(row)
            .then(|| self.captions.value(row))
    }

    /// The MixGen partner of batch row `row` (`mixes`: a scheme pairs rows), as a batch
    /// row, if it is in this batch.
    fn partner_of(&self, row: usize, mixes: bool) -> Option<usize> {
        let partner = (self.first_row + row as u64) ^ 1;
        (mixes && partner < self.file.num_rows)
            .then(|| partner.checked_sub(self.first_row))
            .flatten()
            .map(|p| p as usize)
            .filter(|&p| p < self.batch.num_rows())
    }

    /// What sampling batch row `row` needs to know besides its image.
    fn row_context(&self, row: usize, mixes: bool) -> RowContext<'_> {
        RowContext {
            file_key: &self.file.key,
            source_row: self.first_row + row as u64,
            caption: self.caption_of(row),
            partner: self
                .partner_of(row, mixes)
                .map(|p| (self.source_row(p), self.caption_of(p))),
        }
    }
}

/// The output rows one scheme keeps of a batch: which input row each comes from, its
/// lineage, caption and encoded image.
struct KeptRows {
    rows: Vec<u32>,
    lineage: Vec<RowLineage>,
    captions: Vec<Option<String>>,
    images: Vec<Option<Vec<u8>>>,
}

impl KeptRows {
    fn with_capacity(n: usize) -> KeptRows {
        KeptRows {
            rows: Vec::with_capacity(n),
            lineage: Vec::with_capacity(n),
            captions: Vec::with_capacity(n),
            images: Vec::with_capacity(n),
        }
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

/// What the part files hold, for inputs whose batches become `schema`: with
/// `--hf-features`, the image as a `datasets` Image (the writer converts the augmenter's
/// batches, see `crate::hf_features`).
pub(super) fn file_schema(
    config: &crate::config::Config,
    schema: &arrow::datatypes::SchemaRef,
) -> Result<arrow::datatypes::SchemaRef, RunError> {
    Ok(match config.image.hf_features {
        true => crate::hf_features::output_schema(
            schema,
            &config.columns.image,
            &config.columns.caption,
        )
        .map_err(RunError::HfFeatures)?,
        false => schema.clone(),
    })
}

/// [`Augmenter::augment_batch`], with a panic outside any one row's work (which would
/// otherwise end the process from the worker pool) turned into an error naming the rows.
pub(super) fn augment_caught(
    augmenter: &Augmenter,
    batch: &arrow::array::RecordBatch,
    context: &FileContext,
    first_row: u64,
    item: &WorkItem,
) -> Result<BatchOutput, AugmentError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        augmenter.augment_part(batch, context, first_row, item)
    }))
    .unwrap_or_else(|payload| {
        Err(AugmentError::Panicked {
            file: context.source_file.clone(),
            first_row: first_row + item.rows.start as u64,
            end_row: first_row + item.rows.end as u64,
            message: super::error::panic_message(payload.as_ref()),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{BinaryArray, Int64Array};
    use arrow::datatypes::Schema;

    /// A small JPEG with a gradient, different per `seed`.
    fn jpeg(seed: u8) -> Vec<u8> {
        let image = RgbImage::from_fn(48, 40, |x, y| {
            image::Rgb([(x * 5) as u8, (y * 6) as u8, seed.wrapping_mul(40)])
        });
        let mut bytes = Vec::new();
        img::encode(&image, OutputFormat::Jpeg { quality: 90 }, &mut bytes).unwrap();
        bytes
    }

    /// Four rows (`id`, `image`, `caption`), the third without an image, and the context
    /// of a file of 10 rows they belong to: built in memory, no file anywhere.
    fn batch_and_context() -> (RecordBatch, FileContext) {
        let input = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("image", DataType::Binary, true),
            Field::new("caption", DataType::Utf8, true),
        ]));
        let images = BinaryArray::from(vec![
            Some(jpeg(1).as_slice()),
            Some(jpeg(2).as_slice()),
            None,
            Some(jpeg(3).as_slice()),
        ]);
        let batch = RecordBatch::try_new(
            input.clone(),
            vec![
                Arc::new(Int64Array::from(vec![10, 11, 12, 13])),
                Arc::new(images),
                Arc::new(StringArray::from(vec![
                    Some("a dog on the left of a red sofa"),
                    Some("two cats sleeping"),
                    Some("nothing to see"),
                    None,
                ])),
            ],
        )
        .unwrap();
        let fields = input
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect();
        let context = FileContext {
            source_file: "lake/a.parquet".into(),
            key: "a.parquet".into(),
            num_rows: 10,
            image_index: 1,
            caption_index: 2,
            id_index: Some(0),
            image_layout: ImageLayout::Binary,
            output_schema: layout::output_schema(fields, Default::default()),
        };
        (batch, context)
    }

    fn augmenter(config: Config) -> Augmenter {
        let tokenizer = crate::pipeline::load_tokenizer(&config).unwrap();
        let stamp = RunStamp {
            run_id: "test-run".into(),
            created_at_us: 0,
        };
        Augmenter::new(config, tokenizer, stamp).unwrap()
    }

    #[test]
    fn a_batch_is_augmented_with_no_file_or_thread_around_it() {
        let mut config = Config::default();
        config.image.size = 32;
        config.copies = 2;
        let augmenter = augmenter(config);
        let (batch, context) = batch_and_context();
        let out = augmenter.augment_batch(&batch, &context, 4).unwrap();

        assert_eq!(out.batches.len(), augmenter.schemes.len());
        for (scheme, b) in augmenter.schemes.iter().zip(&out.batches) {
            assert_eq!(b.schema(), context.output_schema, "{}", scheme.name);
            // Rows 4, 5 and 7 (the image of row 6 is null), two copies each, in order.
            let rows = b
                .column_by_name("source_row")
                .unwrap()
                .as_primitive::<arrow::datatypes::Int64Type>()
                .values()
                .to_vec();
            assert_eq!(rows, vec![4, 4, 5, 5, 7, 7], "{}", scheme.name);
            let files = b.column_by_name("source_file").unwrap().as_string::<i32>();
            assert!(files.iter().all(|f| f == Some("lake/a.parquet")));
        }
        // The null image is one reject per scheme and copy, naming row, id and stage.
        assert_eq!(out.rejects.len(), augmenter.schemes.len() * 2);
        for r in &out.rejects {
            assert_eq!((r.source_row, r.id.as_deref()), (6, Some("12")));
            assert_eq!(
                (r.stage, r.reason.as_str()),
                (Stage::Decode, "image is null")
            );
        }
    }

    #[test]
    fn the_output_does_not_depend_on_how_rows_are_batched() {
        let mut config = Config::default();
        config.image.size = 32;
        let augmenter = augmenter(config);
        let (batch, context) = batch_and_context();
        let whole = augmenter.augment_batch(&batch, &context, 0).unwrap();
        let first = augmenter
            .augment_batch(&batch.slice(0, 2), &context, 0)
            .unwrap();
        let second = augmenter
            .augment_batch(&batch.slice(2, 2), &context, 2)
            .unwrap();
        for s in 0..augmenter.schemes.len() {
            let halves = arrow::compute::concat_batches(
                &context.output_schema,
                [&first.batches[s], &second.batches[s]],
            )
            .unwrap();
            assert_eq!(whole.batches[s], halves, "{}", augmenter.schemes[s].name);
        }
        let both: Vec<Reject> = first.rejects.into_iter().chain(second.rejects).collect();
        assert_eq!(whole.rejects.len(), both.len());
        assert!(whole.rejects.iter().all(|r| both.contains(r)));
    }

    /// The outputs of `items` of `batch`, concatenated per scheme, and their rejects.
    fn by_items(
        augmenter: &Augmenter,
        batch: &RecordBatch,
        context: &FileContext,
        items: &[WorkItem],
    ) -> (Vec<RecordBatch>, Vec<Reject>) {
        let outs: Vec<BatchOutput> = items
            .iter()
            .map(|item| augmenter.augment_part(batch, context, 0, item).unwrap())
            .collect();
        let batches = (0..augmenter.schemes.len())
            .map(|s| {
                let parts: Vec<&RecordBatch> = outs.iter().map(|o| &o.batches[s]).collect();
                arrow::compute::concat_batches(&context.output_schema, parts).unwrap()
            })
            .collect();
        (batches, outs.into_iter().flat_map(|o| o.rejects).collect())
    }

    #[test]
    fn work_items_bound_the_outputs_and_give_the_same_rows_in_the_same_order() {
        let mut config = Config::default();
        config.image.size = 32;
        config.copies = 3;
        config.schemes = vec!["aligned".into(), "mixgen".into()];
        let augmenter = augmenter(config);
        let (batch, context) = batch_and_context();
        let whole = augmenter.augment_batch(&batch, &context, 0).unwrap();
        let per_output = 32 * 32 * 3;
        // 2 schemes x 3 copies = 6 outputs per row; MixGen works on pairs of rows.
        assert_eq!(augmenter.work_items(4, 1 << 30).len(), 1);
        let pairs = augmenter.work_items(4, 12 * per_output);
        assert_eq!(
            pairs.iter().map(|i| i.rows.clone()).collect::<Vec<_>>(),
            vec![0..2, 2..4]
        );
        // Less than a pair's outputs: one row at a time, two copies (4 outputs) at a time.
        let runs = augmenter.work_items(4, 5 * per_output);
        assert_eq!(runs.len(), 8);
        assert_eq!((runs[0].rows.clone(), runs[0].copies.clone()), (0..1, 0..2));
        assert_eq!((runs[1].rows.clone(), runs[1].copies.clone()), (0..1, 2..3));
        assert_eq!((runs[7].rows.clone(), runs[7].copies.clone()), (3..4, 2..3));
        for items in [pairs, runs, augmenter.work_items(4, 1)] {
            let (batches, rejects) = by_items(&augmenter, &batch, &context, &items);
            assert_eq!(batches, whole.batches, "{items:?}");
            assert_eq!(rejects.len(), whole.rejects.len());
            assert!(rejects.iter().all(|r| whole.rejects.contains(r)));
        }
    }
}
