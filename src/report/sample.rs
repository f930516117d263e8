//! The samples grid: N source rows chosen by their digest, the same in every scheme, with
//! thumbnails, parameters, caption diffs, token strips, lineage and (with `--verify`)
//! a re-derivation of each row from its source.
//!
//! Sampling is bottom-k by `source_digest` (ties by file and row): deterministic, spread
//! over the whole output whatever its order, and its cost depends on N: the keys come
//! from a top-k over three small columns, and images are read only for the sampled keys
//! (a filter on `source_digest` pushed into the Parquet scan, and row selections in the
//! source files).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{Int32Type, Int64Type};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use base64::Engine;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReaderBuilder, RowSelection, RowSelector};
use parquet::arrow::ProjectionMask;

use super::diff::{caption_diff, Span};
use super::snapshot::Snapshot;
use super::{shell_quote, sql_str, ReportError, ReportOptions};
use crate::kernels::image::{self as img, RgbImage};
use crate::kernels::tokens::TextTokenizer;
use crate::read::{CaptionColumn, ImageColumn, ImageLayout};
use crate::schemes::{AugParams, ImageOp, Scheme};

/// The sampled rows and what the page shows of them.
#[derive(Debug, Clone)]
pub struct Samples {
    /// Scheme names, the grid's columns after the source.
    pub schemes: Vec<String>,
    pub rows: Vec<SampleRow>,
    /// The sampling rule, in words.
    pub rule: String,
}

impl Samples {
    /// With `--verify`: tiles that re-derived exactly, and tiles that did not.
    pub fn verified_counts(&self) -> (usize, usize) {
        let mut ok = 0;
        let mut bad = 0;
        for tile in self.rows.iter().flat_map(|r| r.cells.iter().flatten()) {
            match &tile.verify {
                Some(v) if v.ok() => ok += 1,
                Some(_) => bad += 1,
                None => {}
            }
        }
        (ok, bad)
    }

    /// Every tile with an image (source and variants).
    pub fn image_count(&self) -> usize {
        self.rows
            .iter()
            .map(|r| {
                usize::from(r.source.thumb.is_some())
                    + r.cells
                        .iter()
                        .flatten()
                        .filter(|t| t.thumb.is_some())
                        .count()
            })
            .sum()
    }
}

/// One source row and its variants.
#[derive(Debug, Clone)]
pub struct SampleRow {
    pub source_file: String,
    pub source_row: i64,
    pub digest: String,
    pub source: SourceTile,
    /// Per scheme (in [`Samples::schemes`] order), up to `--copies-shown` variants.
    pub cells: Vec<Vec<Tile>>,
}

/// A thumbnail as a `data:` URI.
#[derive(Debug, Clone, PartialEq)]
pub struct Thumb {
    pub data_uri: String,
    pub width: u32,
    pub height: u32,
}

/// A rectangle drawn over a thumbnail, in thumbnail pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    /// What it is: `erase` or `crop`.
    pub class: &'static str,
    pub label: String,
}

/// The source image after the pipeline's resize.
#[derive(Debug, Clone)]
pub struct SourceTile {
    pub thumb: Option<Thumb>,
    pub caption: Option<String>,
    /// Crop rectangles of the variants that crop the source.
    pub rects: Vec<Rect>,
    /// Why the source is not shown, when it is not.
    pub note: Option<String>,
}

/// One token of a pseudo_label strip.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenChip {
    pub text: String,
    /// `mask`, `random`, `kept` (selected, left as it was) or `` (not selected).
    pub class: &'static str,
    pub title: Option<String>,
}

/// `--verify` outcome of one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Verify {
    pub digest: bool,
    pub caption: bool,
    pub image: bool,
    /// What went wrong, when something did.
    pub note: Option<String>,
}

impl Verify {
    pub fn ok(&self) -> bool {
        self.digest && self.caption && self.image
    }
}

/// One output row of the grid.
#[derive(Debug, Clone)]
pub struct Tile {
    pub scheme: String,
    pub copy: i32,
    pub thumb: Option<Thumb>,
    pub rects: Vec<Rect>,
    /// Small marks over the image (flip, rotation angle).
    pub marks: Vec<String>,
    /// Parameter chips in op order: (name, value).
    pub chips: Vec<(String, String)>,
    pub caption: Option<String>,
    pub spans: Vec<Span>,
    pub tokens: Vec<TokenChip>,
    /// Every lineage value: (column, value), non-null only.
    pub lineage: Vec<(String, String)>,
    /// The `lakeaug query` command that returns this row.
    pub query: String,
    pub verify: Option<Verify>,
}

/// Picks `n` source rows and builds their tiles.
pub async fn collect(
    snap: &Snapshot,
    n: usize,
    opts: &ReportOptions,
) -> Result<Samples, ReportError> {
    let schemes: Vec<String> = snap.schemes.iter().map(|s| s.name.clone()).collect();
    let in_schemes = schemes
        .iter()
        .map(|s| sql_str(s))
        .collect::<Vec<_>>()
        .join(", ");
    let mut rows = Vec::new();
    let rule = format!(
        "the {n} source rows with the lowest source_digest (ties by source_file, source_row) \
         among the rows of the schemes shown; the same rows in every scheme"
    );
    if schemes.is_empty() || n == 0 {
        return Ok(Samples {
            schemes,
            rows,
            rule,
        });
    }
    let keys_sql = format!(
        "SELECT source_digest, source_file, source_row FROM augmented WHERE scheme IN ({in_schemes}) \
         GROUP BY source_digest, source_file, source_row \
         ORDER BY source_digest, source_file, source_row LIMIT {n}"
    );
    let key_batches = snap.sql(&keys_sql).await?.pop().unwrap_or_default();
    let mut keys: Vec<(String, String, i64)> = Vec::new();
    let utf8 = |a: &ArrayRef| {
        // DataFusion reads strings as views: cast to plain utf8 to read them.
        arrow::compute::cast(a, &arrow::datatypes::DataType::Utf8)
            .map_err(|e| ReportError::read("reading the sampled keys", e))
    };
    for b in &key_batches {
        let (d, f) = (utf8(b.column(0))?, utf8(b.column(1))?);
        let (d, f) = (d.as_string::<i32>(), f.as_string::<i32>());
        let r = b.column(2).as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            keys.push((d.value(i).to_string(), f.value(i).to_string(), r.value(i)));
        }
    }
    if keys.is_empty() {
        return Ok(Samples {
            schemes,
            rows,
            rule,
        });
    }
    let digests: BTreeSet<&str> = keys.iter().map(|k| k.0.as_str()).collect();
    let in_digests = digests
        .iter()
        .map(|d| sql_str(d))
        .collect::<Vec<_>>()
        .join(", ");
    let variants_sql = format!(
        "SELECT * FROM augmented WHERE source_digest IN ({in_digests}) AND scheme IN ({in_schemes}) \
         AND aug_copy < {} ORDER BY source_digest, source_file, source_row, scheme, aug_copy",
        opts.copies_shown
    );
    let variant_batches = snap
        .sql(&variants_sql)
        .await?
        .pop()
        .unwrap_or_default()
        .iter()
        .map(lineage_types)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ReportError::read("reading the sampled rows", e))?;

    // Source rows to read: the samples and their MixGen partners.
    let mut wanted: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    let mut variants: Vec<Variant> = Vec::new();
    for b in &variant_batches {
        for i in 0..b.num_rows() {
            let v = Variant::read(b, i, &snap.config)
                .map_err(|e| ReportError::read("reading a sampled row", e))?;
            if !keys
                .iter()
                .any(|k| k.1 == v.source_file && k.2 == v.source_row)
            {
                continue;
            }
            let rows = wanted.entry(v.source_file.clone()).or_default();
            rows.insert(v.source_row);
            if let Some(p) = v.params.mix_partner_row {
                rows.insert(p);
            }
            variants.push(v);
        }
    }
    for k in &keys {
        wanted.entry(k.1.clone()).or_default().insert(k.2);
    }
    let sources = read_sources(snap, &wanted);

    let ctx = TileContext::new(snap, opts)?;
    for (digest, file, row) in &keys {
        let src = sources.get(&(file.clone(), *row));
        let mine: Vec<&Variant> = variants
            .iter()
            .filter(|v| &v.source_file == file && v.source_row == *row)
            .collect();
        let scale = mine.first().map_or(1, |v| v.decode_scale);
        let mut source = ctx.source_tile(src, scale);
        let mut cells = Vec::new();
        for scheme in &snap.schemes {
            let tiles: Vec<Tile> = mine
                .iter()
                .filter(|v| v.scheme == scheme.name)
                .map(|v| {
                    let partner = v
                        .params
                        .mix_partner_row
                        .and_then(|p| sources.get(&(file.clone(), p)));
                    ctx.tile(scheme, v, src, partner, &mut source)
                })
                .collect();
            cells.push(tiles);
        }
        rows.push(SampleRow {
            source_file: file.clone(),
            source_row: *row,
            digest: digest.clone(),
            source,
            cells,
        });
    }
    Ok(Samples {
        schemes,
        rows,
        rule,
    })
}

/// The batch with its lineage columns cast back to the types the writer gave them
/// (DataFusion reads strings as views), so [`crate::lineage::params_from_batch`] reads it.
fn lineage_types(batch: &RecordBatch) -> Result<RecordBatch, arrow::error::ArrowError> {
    let lineage = crate::lineage::lineage_fields();
    let mut fields = Vec::new();
    let mut columns = Vec::new();
    for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
        match lineage.iter().find(|l| l.name() == f.name()) {
            Some(l) if l.data_type() != c.data_type() => {
                columns.push(arrow::compute::cast(c, l.data_type())?);
                fields.push(f.as_ref().clone().with_data_type(l.data_type().clone()));
            }
            _ => {
                columns.push(c.clone());
                fields.push(f.as_ref().clone());
            }
        }
    }
    RecordBatch::try_new(
        std::sync::Arc::new(arrow::datatypes::Schema::new(fields)),
        columns,
    )
}

/// A source row: its image bytes and caption.
#[derive(Debug, Clone)]
pub struct SourceRow {
    pub image: Option<Vec<u8>>,
    pub caption: Option<String>,
}

/// The wanted rows of each source file, read with a row selection (only those rows'
/// pages are decoded) and only the image and caption columns. A file that cannot be
/// read leaves its rows out; the tiles then say the source is unavailable.
fn read_sources(
    snap: &Snapshot,
    wanted: &BTreeMap<String, BTreeSet<i64>>,
) -> BTreeMap<(String, i64), Result<SourceRow, String>> {
    let mut out = BTreeMap::new();
    for (display, rows) in wanted {
        let result = match snap.sources.iter().find(|s| &s.display == display) {
            Some(file) => read_source_rows(&file.path, rows, &snap.config),
            None => Err(snap
                .source_note
                .clone()
                .unwrap_or_else(|| format!("{display} is not among the --source files"))),
        };
        match result {
            Ok(found) => out.extend(
                found
                    .into_iter()
                    .map(|(r, s)| ((display.clone(), r), Ok(s))),
            ),
            Err(e) => out.extend(rows.iter().map(|r| ((display.clone(), *r), Err(e.clone())))),
        }
    }
    out
}

fn read_source_rows(
    path: &std::path::Path,
    rows: &BTreeSet<i64>,
    config: &crate::config::Config,
) -> Result<Vec<(i64, SourceRow)>, String> {
    let what = |e: &dyn std::fmt::Display| format!("reading source {}: {e}", path.display());
    let file = File::open(path).map_err(|e| what(&e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| what(&e))?;
    let total = builder.metadata().file_metadata().num_rows();
    let schema = builder.schema().clone();
    let image_idx = schema
        .index_of(&config.columns.image)
        .map_err(|e| what(&e))?;
    let caption_idx = schema
        .index_of(&config.columns.caption)
        .map_err(|e| what(&e))?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), [image_idx, caption_idx]);
    let rows: Vec<i64> = rows
        .iter()
        .copied()
        .filter(|r| (0..total).contains(r))
        .collect();
    let mut selectors = Vec::new();
    let mut at = 0i64;
    for &r in &rows {
        if r > at {
            selectors.push(RowSelector::skip((r - at) as usize));
        }
        selectors.push(RowSelector::select(1));
        at = r + 1;
    }
    let reader = builder
        .with_projection(mask)
        .with_row_selection(RowSelection::from(selectors))
        .build()
        .map_err(|e| what(&e))?;
    let mut out = Vec::new();
    let mut next = rows.iter();
    for batch in reader {
        let batch = batch.map_err(|e| what(&e))?;
        // Projected columns keep the file's order.
        let (img_col, cap_col) = if image_idx < caption_idx {
            (0, 1)
        } else {
            (1, 0)
        };
        let layout = ImageLayout::of(batch.column(img_col).data_type()).map_err(|e| what(&e))?;
        let images = ImageColumn::new(batch.column(img_col).as_ref(), &layout);
        let captions = CaptionColumn::to_utf8(batch.column(cap_col)).map_err(|e| what(&e))?;
        for i in 0..batch.num_rows() {
            let Some(r) = next.next() else { break };
            out.push((
                *r,
                SourceRow {
                    image: images.value(i).map(<[u8]>::to_vec),
                    caption: captions.is_valid(i).then(|| captions.value(i).to_string()),
                },
            ));
        }
    }
    Ok(out)
}

/// One sampled output row as read from the snapshot.
#[derive(Debug, Clone)]
struct Variant {
    scheme: String,
    source_file: String,
    source_row: i64,
    digest: String,
    decode_scale: u8,
    copy: i32,
    params: AugParams,
    image: Option<Vec<u8>>,
    caption: Option<String>,
    input_ids: Option<Vec<i32>>,
    mlm_input_ids: Option<Vec<i32>>,
    mlm_labels: Option<Vec<i32>>,
    /// Every lineage column: (name, formatted value), non-null only.
    lineage: Vec<(String, String)>,
}

fn list_at(batch: &RecordBatch, name: &str, i: usize) -> Option<Vec<i32>> {
    let col = batch.column_by_name(name)?;
    let list = col.as_list_opt::<i32>()?;
    if list.is_null(i) {
        return None;
    }
    Some(list.value(i).as_primitive::<Int32Type>().values().to_vec())
}

impl Variant {
    fn read(b: &RecordBatch, i: usize, config: &crate::config::Config) -> Result<Variant, String> {
        let col = |name: &str| -> Result<&ArrayRef, String> {
            b.column_by_name(name)
                .ok_or_else(|| format!("the output has no column `{name}`"))
        };
        let string = |name: &str| -> Result<String, String> {
            let a = arrow::compute::cast(col(name)?, &arrow::datatypes::DataType::Utf8)
                .map_err(|e| e.to_string())?;
            Ok(a.as_string::<i32>().value(i).to_string())
        };
        let image_col = col(&config.columns.image)?;
        let layout = ImageLayout::of(image_col.data_type())?;
        let image = ImageColumn::new(image_col.as_ref(), &layout)
            .value(i)
            .map(<[u8]>::to_vec);
        let captions =
            CaptionColumn::to_utf8(col(&config.columns.caption)?).map_err(|e| e.to_string())?;
        let options = FormatOptions::default();
        let mut lineage = Vec::new();
        for (f, a) in b.schema().fields().iter().zip(b.columns()) {
            let name = f.name();
            let keep = name.starts_with("aug_")
                || name.starts_with("source_")
                || matches!(
                    name.as_str(),
                    "run_id" | "scheme" | "lakeaug_version" | "created_at"
                );
            if keep && a.is_valid(i) {
                if let Ok(fmt) = ArrayFormatter::try_new(a.as_ref(), &options) {
                    lineage.push((name.clone(), fmt.value(i).to_string()));
                }
            }
        }
        Ok(Variant {
            scheme: string("scheme")?,
            source_file: string("source_file")?,
            source_row: col("source_row")?
                .as_primitive_opt::<Int64Type>()
                .ok_or("source_row is not int64")?
                .value(i),
            digest: string("source_digest")?,
            decode_scale: col("source_decode_scale")?
                .as_primitive_opt::<Int32Type>()
                .ok_or("source_decode_scale is not int32")?
                .value(i) as u8,
            copy: col("aug_copy")?
                .as_primitive_opt::<Int32Type>()
                .ok_or("aug_copy is not int32")?
                .value(i),
            params: crate::lineage::params_from_batch(b, i)?,
            image,
            caption: captions.is_valid(i).then(|| captions.value(i).to_string()),
            input_ids: list_at(b, "input_ids", i),
            mlm_input_ids: list_at(b, "mlm_input_ids", i),
            mlm_labels: list_at(b, "mlm_labels", i),
            lineage,
        })
    }
}

/// What building tiles needs: sizes, the tokenizer, the run's schemes.
struct TileContext<'a> {
    snap: &'a Snapshot,
    opts: &'a ReportOptions,
    size: u32,
    tokenizer: Option<TextTokenizer>,
    /// What a JPEG must still cover when the run decoded it reduced (as the pipeline).
    decode_min_size: (u32, u32),
}

impl<'a> TileContext<'a> {
    fn new(snap: &'a Snapshot, opts: &'a ReportOptions) -> Result<Self, ReportError> {
        let config = &snap.config;
        let run_schemes = Scheme::from_config(config).unwrap_or_default();
        let size = config.image.size;
        let decode_min_size = if run_schemes.iter().any(Scheme::crops_source) {
            (0, 0)
        } else {
            (size, size)
        };
        // The token strip needs the tokenizer only to show ids as words.
        let tokenizer = if snap.schemes.iter().any(|s| s.mlm.is_some()) {
            let t = match &config.tokens.tokenizer {
                Some(path) => TextTokenizer::from_file(path, config.tokens.max_tokens),
                None => TextTokenizer::from_bytes(
                    crate::pipeline::DEFAULT_TOKENIZER_JSON,
                    std::path::Path::new("<bundled bert-base-uncased>"),
                    config.tokens.max_tokens,
                ),
            };
            t.ok()
        } else {
            None
        };
        Ok(TileContext {
            snap,
            opts,
            size,
            tokenizer,
            decode_min_size,
        })
    }

    fn thumb(&self, image: &RgbImage) -> Option<Thumb> {
        let (w, h) = image.dimensions();
        if w == 0 || h == 0 {
            return None;
        }
        let tw = self.opts.thumb_px.max(8);
        let th = ((u64::from(h) * u64::from(tw)) as f64 / f64::from(w))
            .round()
            .max(1.0) as u32;
        let small = img::resize(image, tw, th, img::ResizeMode::Stretch);
        let mut bytes = Vec::new();
        img::encode(&small, img::OutputFormat::Jpeg { quality: 85 }, &mut bytes).ok()?;
        Some(Thumb {
            data_uri: format!(
                "data:image/jpeg;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(&bytes)
            ),
            width: tw,
            height: th,
        })
    }

    /// The source decoded at the scale the run used and resized as the pipeline does.
    fn resized_source(&self, bytes: &[u8], scale: u8) -> Result<RgbImage, String> {
        let config = &self.snap.config;
        let decoded = img::decode_rgb8_at_scale(bytes, config.image.max_pixels, scale)
            .map_err(|e| e.to_string())?;
        Ok(img::resize(
            &decoded,
            self.size,
            self.size,
            config.image.resize.into(),
        ))
    }

    fn source_tile(&self, src: Option<&Result<SourceRow, String>>, scale: u8) -> SourceTile {
        match src {
            Some(Ok(row)) => {
                let (thumb, note) =
                    match row.image.as_deref().map(|b| self.resized_source(b, scale)) {
                        Some(Ok(image)) => (self.thumb(&image), None),
                        Some(Err(e)) => (None, Some(e)),
                        None => (None, Some("null image".to_string())),
                    };
                SourceTile {
                    thumb,
                    caption: row.caption.clone(),
                    rects: Vec::new(),
                    note,
                }
            }
            Some(Err(e)) => SourceTile {
                thumb: None,
                caption: None,
                rects: Vec::new(),
                note: Some(e.clone()),
            },
            None => SourceTile {
                thumb: None,
                caption: None,
                rects: Vec::new(),
                note: Some("source row not found in its file".into()),
            },
        }
    }

    fn tile(
        &self,
        scheme: &Scheme,
        v: &Variant,
        src: Option<&Result<SourceRow, String>>,
        partner: Option<&Result<SourceRow, String>>,
        source: &mut SourceTile,
    ) -> Tile {
        let decoded = v
            .image
            .as_deref()
            .and_then(|b| img::decode_rgb8(b, self.snap.config.image.max_pixels).ok());
        let thumb = decoded.as_ref().and_then(|i| self.thumb(i));
        let mut rects = Vec::new();
        let mut marks = Vec::new();
        if let (Some(t), Some(e)) = (&thumb, v.params.erase()) {
            let k = f64::from(t.width) / f64::from(self.size);
            rects.push(Rect {
                x: f64::from(e.x) * k,
                y: f64::from(e.y) * k,
                w: f64::from(e.size) * k,
                h: f64::from(e.size) * k,
                class: "erase",
                label: format!("erased {}px square at {},{}", e.size, e.x, e.y),
            });
        }
        if v.params.hflip == Some(true) {
            marks.push("⇋ flipped".to_string());
        }
        if let Some(a) = v.params.rotate_deg.filter(|a| *a != 0.0) {
            marks.push(format!("↻ {a:.1}°"));
        }
        // The crop rectangle goes on the source tile, in its thumbnail's pixels (the
        // source tile is the whole source stretched to the output size).
        if let (Some(c), Some(t), Some(Ok(row))) = (v.params.crop(), &source.thumb, src) {
            if let Some((w, h)) = row
                .image
                .as_deref()
                .and_then(img::image_format_and_size)
                .map(|(_, w, h)| (w, h))
            {
                let (kx, ky) = (
                    f64::from(t.width) / f64::from(w),
                    f64::from(t.height) / f64::from(h),
                );
                source.rects.push(Rect {
                    x: f64::from(c.x) * kx,
                    y: f64::from(c.y) * ky,
                    w: f64::from(c.width) * kx,
                    h: f64::from(c.height) * ky,
                    class: "crop",
                    label: format!(
                        "{} copy {}: crop {}x{} at {},{}",
                        v.scheme, v.copy, c.width, c.height, c.x, c.y
                    ),
                });
            }
        }
        let spans = match (src, &v.caption) {
            (
                Some(Ok(SourceRow {
                    caption: Some(s), ..
                })),
                Some(out),
            ) => caption_diff(s, out, &v.params),
            (_, Some(out)) => vec![Span {
                kind: super::diff::SpanKind::Same,
                text: out.clone(),
                title: None,
            }],
            _ => Vec::new(),
        };
        let verify = self
            .opts
            .verify
            .then(|| self.verify(scheme, v, src, partner));
        Tile {
            scheme: v.scheme.clone(),
            copy: v.copy,
            thumb,
            rects,
            marks,
            chips: chips(scheme, &v.params),
            caption: v.caption.clone(),
            spans,
            tokens: self.token_strip(v),
            lineage: v.lineage.clone(),
            query: row_query(&self.snap.output, v),
            verify,
        }
    }

    fn token_strip(&self, v: &Variant) -> Vec<TokenChip> {
        let (Some(ids), Some(mlm), Some(labels), Some(tok)) =
            (&v.input_ids, &v.mlm_input_ids, &v.labels(), &self.tokenizer)
        else {
            return Vec::new();
        };
        let word = |id: i32| {
            u32::try_from(id)
                .ok()
                .and_then(|id| tok.inner().id_to_token(id))
                .unwrap_or_else(|| format!("#{id}"))
        };
        let mask = tok.mask_token_id().map(|m| m as i32);
        ids.iter()
            .zip(mlm)
            .zip(labels)
            .map(|((&id, &m), &label)| {
                let (class, text, title) = if label == -100 {
                    ("", word(id), None)
                } else if Some(m) == mask {
                    ("mask", word(m), Some(format!("[MASK] for {}", word(id))))
                } else if m != id {
                    (
                        "random",
                        word(m),
                        Some(format!("random token for {}", word(id))),
                    )
                } else {
                    ("kept", word(id), Some("selected, kept".to_string()))
                };
                TokenChip { text, class, title }
            })
            .collect()
    }

    /// Re-derives the row: the digest of the source bytes, the caption replayed from
    /// lineage, and the image re-made from the source and lineage (the very bytes).
    fn verify(
        &self,
        scheme: &Scheme,
        v: &Variant,
        src: Option<&Result<SourceRow, String>>,
        partner: Option<&Result<SourceRow, String>>,
    ) -> Verify {
        let row = match src {
            Some(Ok(row)) => row,
            Some(Err(e)) => return Verify::failed(format!("source unavailable: {e}")),
            None => return Verify::failed("source row not found".into()),
        };
        let mut notes = Vec::new();
        let digest = row
            .image
            .as_deref()
            .is_some_and(|b| blake3::hash(b).to_hex()[..32] == v.digest);
        if !digest {
            notes.push("source_digest differs from the source bytes' BLAKE3".to_string());
        }
        let partner_row = partner.and_then(|p| p.as_ref().ok());
        let partner_caption = partner_row.and_then(|p| p.caption.as_deref());
        let caption = match scheme.replay_caption(
            row.caption.as_deref(),
            partner_caption,
            &v.params,
            &self.snap.text,
        ) {
            Ok(c) if c == v.caption => true,
            Ok(c) => {
                notes.push(format!(
                    "replayed caption {:?} differs",
                    c.unwrap_or_default()
                ));
                false
            }
            Err(e) => {
                notes.push(format!("caption replay failed: {e}"));
                false
            }
        };
        let image = match self.remake_image(scheme, v, row, partner_row) {
            Ok(bytes) if Some(&bytes) == v.image.as_ref() => true,
            Ok(_) => {
                notes.push("re-made image bytes differ from the stored image".to_string());
                false
            }
            Err(e) => {
                notes.push(format!("image replay failed: {e}"));
                false
            }
        };
        Verify {
            digest,
            caption,
            image,
            note: (!notes.is_empty()).then(|| notes.join("; ")),
        }
    }

    fn remake_image(
        &self,
        scheme: &Scheme,
        v: &Variant,
        row: &SourceRow,
        partner: Option<&SourceRow>,
    ) -> Result<Vec<u8>, String> {
        let config = &self.snap.config;
        let bytes = row.image.as_deref().ok_or("null source image")?;
        let decoded =
            img::decode_rgb8_reduced(bytes, config.image.max_pixels, self.decode_min_size)
                .map_err(|e| e.to_string())?;
        if decoded.scale_denom != v.decode_scale {
            return Err(format!(
                "decoded at 1/{} but recorded 1/{}",
                decoded.scale_denom, v.decode_scale
            ));
        }
        let resize = config.image.resize.into();
        let base = match scheme.crop_source(&decoded.image, &v.params, self.size, self.size)? {
            Some(cropped) => cropped,
            None => img::resize(&decoded.image, self.size, self.size, resize),
        };
        let partner_image = match (v.params.mix_partner_row, partner) {
            (Some(_), Some(p)) => {
                let pb = p.image.as_deref().ok_or("null partner image")?;
                let pd =
                    img::decode_rgb8_reduced(pb, config.image.max_pixels, self.decode_min_size)
                        .map_err(|e| e.to_string())?;
                Some(img::resize(&pd.image, self.size, self.size, resize))
            }
            (Some(r), None) => return Err(format!("MixGen partner row {r} unavailable")),
            _ => None,
        };
        let out = scheme.apply_image(Cow::Owned(base), &v.params, partner_image.as_ref())?;
        let mut encoded = Vec::new();
        img::encode(&out, config.image.output_format(), &mut encoded).map_err(|e| e.to_string())?;
        Ok(encoded)
    }
}

impl Variant {
    fn labels(&self) -> Option<Vec<i32>> {
        self.mlm_labels.clone()
    }
}

impl Verify {
    fn failed(note: String) -> Verify {
        Verify {
            digest: false,
            caption: false,
            image: false,
            note: Some(note),
        }
    }
}

/// Parameter chips in the scheme's op order.
fn chips(scheme: &Scheme, p: &AugParams) -> Vec<(String, String)> {
    let f = |x: f32| super::dist::fmt_num(f64::from(x));
    let mut out: Vec<(String, String)> = Vec::new();
    for op in &scheme.image_ops {
        match op {
            ImageOp::Hflip { .. } => {
                let v = match (p.hflip, p.hflip_skipped) {
                    (_, Some(true)) => "skipped (spatial words)".to_string(),
                    (Some(true), _) => "yes".into(),
                    (Some(false), _) => "no".into(),
                    _ => continue,
                };
                out.push(("flip".into(), v));
            }
            ImageOp::ColorJitter { .. } => {
                if let Some(o) = &p.jitter_order {
                    out.push(("order".into(), o.as_string()));
                }
                for (name, v) in [
                    ("brightness", p.brightness),
                    ("contrast", p.contrast),
                    ("saturation", p.saturation),
                    ("hue", p.hue),
                ] {
                    if let Some(v) = v {
                        out.push((name.into(), f(v)));
                    }
                }
                if p.hue_skipped == Some(true) {
                    out.push(("hue".into(), "skipped (colour word)".into()));
                }
            }
            ImageOp::Rotate { .. } => {
                if let Some(a) = p.rotate_deg {
                    out.push(("rotate".into(), format!("{}°", f(a))));
                }
            }
            ImageOp::RandomResizedCrop { .. } => {
                if let Some(c) = p.crop() {
                    out.push((
                        "crop".into(),
                        format!("{}x{} at {},{}", c.width, c.height, c.x, c.y),
                    ));
                }
            }
            ImageOp::GaussianBlur { .. } => match (p.blur_sigma, p.blur_kernel) {
                (Some(s), Some(k)) => out.push(("blur".into(), format!("σ {} k {k}", f(s)))),
                _ => out.push(("blur".into(), "no".into())),
            },
            ImageOp::ErasePatch { .. } => match p.erase() {
                Some(e) => out.push(("erase".into(), format!("{}px at {},{}", e.size, e.x, e.y))),
                None => out.push(("erase".into(), "no".into())),
            },
            ImageOp::Mixgen { .. } => match (p.mix_partner_row, p.mix_lambda) {
                (Some(r), Some(l)) => out.push(("mixgen".into(), format!("row {r}, λ {}", f(l)))),
                _ => out.push(("mixgen".into(), "no partner".into())),
            },
        }
    }
    let lists = [
        ("replaced", &p.words_replaced),
        ("deleted", &p.words_deleted),
        ("synonyms", &p.synonym_words),
        ("swaps", &p.swap_pairs),
        ("inserted at", &p.insert_positions),
        ("removed", &p.random_deleted),
        ("reordered", &p.reorder_spans),
        ("mirrored", &p.hflip_caption_swaps),
    ];
    for (name, v) in lists {
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            let words: Vec<String> = v.iter().map(|i| i.to_string()).collect();
            out.push((name.into(), words.join(",")));
        }
    }
    if let Some(h) = &p.hedge {
        out.push(("hedge".into(), h.clone()));
    }
    out
}

/// The `lakeaug query` command returning exactly this row.
fn row_query(output: &std::path::Path, v: &Variant) -> String {
    let sql = format!(
        "SELECT * FROM augmented WHERE scheme = {} AND source_file = {} AND source_row = {} AND aug_copy = {}",
        sql_str(&v.scheme),
        sql_str(&v.source_file),
        v.source_row,
        v.copy
    );
    format!(
        "lakeaug query {} {}",
        shell_quote(&output.display().to_string()),
        shell_quote(&sql)
    )
}
