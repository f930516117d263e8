//! Property-based fuzzing of the three entry points users feed untrusted bytes into
//! (issue 21): image decoding, the Parquet reader, caption ops + tokenization.
//!
//! Each property asserts the contract, not only "no crash":
//! - images: every decode returns pixels that match their size, or an error with a
//!   reason; a header announcing more pixels or bytes than the budget is refused from the
//!   header, fast; the unmutated seeds always decode; time per image is bounded;
//! - Parquet: opening and reading never panics; a file either reads completely with the
//!   footer's row count or fails with an error naming it; a footer lying about its row
//!   count is always refused;
//! - captions: every scheme returns a caption for any Unicode input, replaying it from the
//!   recorded parameters gives the same caption, and its tokens are `[CLS] ... [SEP]`
//!   within `max_tokens`; time per caption is bounded.
//!
//! `cargo test --test it fuzz_inputs::` runs a small fixed number of cases per property
//! (deterministic: proptest's seed is fixed by `PROPTEST_RNG_SEED` when set). Run longer
//! with e.g. `PROPTEST_CASES=100000 cargo test --release --test it fuzz_inputs::`. A failing
//! case is shrunk and saved under `tests/it/fuzz_inputs.proptest-regressions`; commit that
//! file so the case is replayed first from then on.

use crate::common;

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use arrow::array::{BinaryArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use image::DynamicImage;
use lakeaug::config::{Columns, Config};
use lakeaug::kernels::image::{decode_source, DecodeOptions, ImageOpError};
use lakeaug::kernels::tokens::TextTokenizer;
use lakeaug::read::{discover_inputs, OpenedInput};
use lakeaug::schemes::{RowInput, Scheme, TextContext, BUILTIN_SCHEMES};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::{ParquetMetaDataReader, ParquetMetaDataWriter};
use parquet::file::properties::WriterProperties;
use proptest::prelude::*;
use proptest::sample::Index;

/// Cases per property: `PROPTEST_CASES` or the short default for `cargo test`.
fn config(default_cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------
// Images
// ---------------------------------------------------------------------------------

const MAX_PIXELS: u64 = 1 << 20;
/// Generous for unoptimised test builds; a decode of these small images takes ~1 ms.
const MAX_DECODE_TIME: Duration = Duration::from_secs(3);

/// One valid file of every accepted format, 48x32 (name, bytes).
fn image_seeds() -> &'static [(&'static str, Vec<u8>)] {
    static SEEDS: OnceLock<Vec<(&'static str, Vec<u8>)>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let img = common::textured(48, 32);
        let mut seeds = vec![
            ("jpeg", common::turbo_jpeg(&img, false)),
            ("jpeg-progressive", common::turbo_jpeg(&img, true)),
        ];
        let dynamic = DynamicImage::ImageRgb8(img.clone());
        let rgba16 = DynamicImage::ImageRgba16(dynamic.to_rgba16());
        for (name, fmt, im) in [
            ("png", image::ImageFormat::Png, &dynamic),
            ("png-rgba16", image::ImageFormat::Png, &rgba16),
            ("webp", image::ImageFormat::WebP, &dynamic),
            ("gif", image::ImageFormat::Gif, &dynamic),
            ("tiff", image::ImageFormat::Tiff, &dynamic),
            ("bmp", image::ImageFormat::Bmp, &dynamic),
        ] {
            let mut buf = std::io::Cursor::new(Vec::new());
            im.write_to(&mut buf, fmt).unwrap();
            seeds.push((name, buf.into_inner()));
        }
        seeds
    })
}

/// A seed with up to 8 bytes overwritten, optionally cut short.
fn mutated_image() -> impl Strategy<Value = (usize, Vec<u8>)> {
    (
        0..image_seeds().len(),
        prop::collection::vec((any::<Index>(), any::<u8>()), 0..8),
        prop::option::of(any::<Index>()),
    )
        .prop_map(|(seed, edits, cut)| {
            let mut bytes = image_seeds()[seed].1.clone();
            for (at, value) in edits {
                let i = at.index(bytes.len());
                bytes[i] = value;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut.index(bytes.len()));
            }
            (seed, bytes)
        })
}

/// The contract of one decode: pixels that match their size within budget, or a reason.
fn check_decode(bytes: &[u8], accept_truncated: bool) -> Result<(), TestCaseError> {
    let opts = DecodeOptions {
        accept_truncated,
        ..DecodeOptions::new(MAX_PIXELS)
    };
    let t = Instant::now();
    let result = decode_source(bytes, &opts);
    prop_assert!(
        t.elapsed() < MAX_DECODE_TIME,
        "decode took {:?}",
        t.elapsed()
    );
    match result {
        Ok(r) => {
            let (w, h) = r.image.dimensions();
            prop_assert!(w > 0 && h > 0);
            prop_assert!(u64::from(w) * u64::from(h) <= MAX_PIXELS);
            prop_assert_eq!(r.image.as_raw().len(), w as usize * h as usize * 3);
            if !accept_truncated {
                prop_assert_eq!(r.warning, None);
            }
        }
        Err(e) => prop_assert!(!e.to_string().is_empty()),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn image_decoding_keeps_its_contract((seed, bytes) in mutated_image(), accept in any::<bool>()) {
        let _ = seed;
        check_decode(&bytes, accept)?;
    }

    #[test]
    fn arbitrary_bytes_never_decode_into_garbage(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        check_decode(&bytes, false)?;
    }

    /// Headers announcing any size: refused from the header when above the pixel or byte
    /// budget, quickly, whatever follows.
    #[test]
    fn bombs_are_refused_from_the_header(
        w in 1u32..=65535,
        h in 1u32..=65535,
        depth in prop::sample::select(vec![8u8, 16]),
        colour in prop::sample::select(vec![0u8, 2, 4, 6]),
        format in 0..3usize,
    ) {
        let bytes = match format {
            0 => common::png_header(w, h, depth, colour),
            1 => gif_header(w as u16, h as u16),
            _ => bmp_header(w, h),
        };
        let t = Instant::now();
        let r = decode_source(&bytes, &DecodeOptions::new(MAX_PIXELS));
        prop_assert!(t.elapsed() < Duration::from_millis(500), "took {:?}", t.elapsed());
        prop_assert!(r.is_err(), "a header without pixels decoded");
        if u64::from(w) * u64::from(h) > MAX_PIXELS {
            let too_large = matches!(r, Err(ImageOpError::TooLarge { .. }));
            prop_assert!(too_large, "{:?}", r);
        }
    }
}

#[test]
fn unmutated_seeds_decode() {
    for (name, bytes) in image_seeds() {
        let r = decode_source(bytes, &DecodeOptions::new(MAX_PIXELS))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r.image.dimensions(), (48, 32), "{name}");
        assert_eq!(r.warning, None);
    }
}

fn gif_header(w: u16, h: u16) -> Vec<u8> {
    let mut b = b"GIF89a".to_vec();
    b.extend_from_slice(&w.to_le_bytes());
    b.extend_from_slice(&h.to_le_bytes());
    b.extend_from_slice(&[0, 0, 0]); // no global colour table
                                     // an image descriptor covering the screen, then nothing
    b.push(0x2C);
    b.extend_from_slice(&[0, 0, 0, 0]);
    b.extend_from_slice(&w.to_le_bytes());
    b.extend_from_slice(&h.to_le_bytes());
    b.push(0);
    b
}

fn bmp_header(w: u32, h: u32) -> Vec<u8> {
    let mut b = b"BM".to_vec();
    b.extend_from_slice(&0u32.to_le_bytes()); // file size (unchecked)
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&54u32.to_le_bytes()); // pixel data offset
    b.extend_from_slice(&40u32.to_le_bytes()); // BITMAPINFOHEADER
    b.extend_from_slice(&w.to_le_bytes());
    b.extend_from_slice(&h.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&24u16.to_le_bytes());
    b.extend_from_slice(&[0; 24]);
    b
}

/// A PNG zlib bomb: a 64x64 image whose IDAT inflates to 64 MB of zeros. Decoding reads
/// only what the image needs (or fails); it neither takes long nor holds the 64 MB.
#[test]
fn png_zlib_bomb_is_bounded() {
    let (w, h) = (64u32, 64u32);
    let inflated = 64usize << 20;
    let mut ihdr_data = Vec::new();
    ihdr_data.extend_from_slice(&w.to_be_bytes());
    ihdr_data.extend_from_slice(&h.to_be_bytes());
    ihdr_data.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    chunk(&mut png, b"IHDR", &ihdr_data);
    chunk(&mut png, b"IDAT", &zeros_zlib(inflated));
    chunk(&mut png, b"IEND", &[]);
    assert!(
        png.len() < 1 << 20,
        "the bomb is small: {} bytes",
        png.len()
    );
    let t = Instant::now();
    let r = decode_source(&png, &DecodeOptions::new(MAX_PIXELS));
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "took {:?}",
        t.elapsed()
    );
    // All-zero rows are valid image data: 64x64 black, or an error for the extra data.
    if let Ok(r) = r {
        assert_eq!(r.image.dimensions(), (64, 64));
        assert!(r.image.as_raw().iter().all(|&v| v == 0));
    }
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
}

/// A zlib stream of `n` zero bytes (n - 1 a multiple of 258): one fixed-Huffman block,
/// a literal 0 then back-references of length 258 at distance 1 (13 bits each).
fn zeros_zlib(n: usize) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u32,
        len: u32,
    }
    impl Bits {
        fn put(&mut self, value: u32, bits: u32) {
            self.acc |= value << self.len;
            self.len += bits;
            while self.len >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.len -= 8;
            }
        }
        /// Huffman codes go most significant bit first.
        fn code(&mut self, code: u32, bits: u32) {
            let reversed = code.reverse_bits() >> (32 - bits);
            self.put(reversed, bits);
        }
    }
    let mut b = Bits {
        out: vec![0x78, 0x01],
        acc: 0,
        len: 0,
    };
    b.put(1, 1); // final block
    b.put(1, 2); // fixed Huffman
    b.code(0x30, 8); // literal 0
    let repeats = (n - 1) / 258;
    for _ in 0..repeats {
        b.code(0b1100_0101, 8); // length code 285 = 258
        b.code(0, 5); // distance code 0 = 1
    }
    b.code(0, 7); // end of block (256)
    if b.len > 0 {
        b.put(0, 8 - b.len);
    }
    let total = 1 + repeats * 258;
    // Adler-32 of `total` zeros: a = 1, b = total (mod 65521).
    let adler = ((total % 65521) as u32) << 16 | 1;
    b.out.extend_from_slice(&adler.to_be_bytes());
    b.out
}

// ---------------------------------------------------------------------------------
// Parquet
// ---------------------------------------------------------------------------------

/// How a generated input file is laid out.
#[derive(Debug, Clone)]
struct Layout {
    rows: usize,
    compression: u8,
    dictionary: bool,
    row_group_rows: usize,
    page_rows: usize,
}

fn layout() -> impl Strategy<Value = Layout> {
    (1usize..60, 0u8..3, any::<bool>(), 1usize..40, 1usize..20).prop_map(
        |(rows, compression, dictionary, row_group_rows, page_rows)| Layout {
            rows,
            compression,
            dictionary,
            row_group_rows,
            page_rows,
        },
    )
}

fn parquet_bytes(l: &Layout) -> Vec<u8> {
    static IMAGE: OnceLock<Vec<u8>> = OnceLock::new();
    let image = IMAGE.get_or_init(|| common::turbo_jpeg(&common::textured(8, 8), false));
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("image", DataType::Binary, true),
        Field::new("caption", DataType::Utf8, true),
    ]));
    let captions: Vec<Option<String>> = (0..l.rows)
        .map(|i| (i % 5 != 2).then(|| format!("photo {i}: a dog on a {} beach", i * 31 % 7)))
        .collect();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(0..l.rows as i64)),
            Arc::new(BinaryArray::from_iter(
                (0..l.rows).map(|i| (i % 9 != 4).then_some(image.as_slice())),
            )),
            Arc::new(StringArray::from(captions)),
        ],
    )
    .unwrap();
    let compression = match l.compression {
        0 => Compression::UNCOMPRESSED,
        1 => Compression::SNAPPY,
        _ => Compression::ZSTD(ZstdLevel::default()),
    };
    let props = WriterProperties::builder()
        .set_compression(compression)
        .set_dictionary_enabled(l.dictionary)
        .set_max_row_group_row_count(Some(l.row_group_rows))
        .set_data_page_row_count_limit(l.page_rows)
        .set_write_batch_size(l.page_rows)
        .build();
    let mut out = Vec::new();
    let mut w = ArrowWriter::try_new(&mut out, schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    out
}

/// Where the footer starts (the end of the column data).
fn footer_start(bytes: &[u8]) -> usize {
    let n = bytes.len();
    let len = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap()) as usize;
    n - 8 - len
}

/// The file with its footer rewritten: each row group claims `delta` more rows.
fn with_row_count_lie(bytes: &[u8], delta: i64) -> Vec<u8> {
    let md = ParquetMetaDataReader::new()
        .parse_and_finish(&bytes::Bytes::from(bytes.to_vec()))
        .unwrap();
    let mut builder = md.into_builder();
    let groups = builder
        .take_row_groups()
        .into_iter()
        .map(|rg| {
            let n = rg.num_rows();
            rg.into_builder()
                .set_num_rows((n + delta).max(0))
                .build()
                .unwrap()
        })
        .collect();
    let md = builder.set_row_groups(groups).build();
    let mut out = bytes[..footer_start(bytes)].to_vec();
    ParquetMetaDataWriter::new(&mut out, &md).finish().unwrap();
    out
}

/// What reading a file through lakeaug's reader gave: rows read, or the first error.
fn read_all(dir: &Path, bytes: &[u8]) -> Result<(u64, u64), String> {
    let path = dir.join("fuzz.parquet");
    std::fs::write(&path, bytes).unwrap();
    let files = discover_inputs(&[path.display().to_string()]).map_err(|e| e.to_string())?;
    let input = OpenedInput::open(&files[0], &Columns::default()).map_err(|e| e.to_string())?;
    let mut rows = 0;
    for item in input.batches(8).map_err(|e| e.to_string())? {
        let (first_row, batch) = item.map_err(|e| e.to_string())?;
        if first_row != rows {
            return Err(format!("batch starts at {first_row}, expected {rows}"));
        }
        rows += batch.num_rows() as u64;
    }
    Ok((rows, input.num_rows))
}

proptest! {
    #![proptest_config(config(64))]

    /// Bits flipped anywhere in the column data: the file reads whole with the footer's
    /// row count, or fails with an error naming it; no panic escapes.
    #[test]
    fn corrupt_pages_read_whole_or_fail_cleanly(
        l in layout(),
        flips in prop::collection::vec((any::<Index>(), 0u8..8), 1..4),
    ) {
        let mut bytes = parquet_bytes(&l);
        let data_end = footer_start(&bytes);
        for (at, bit) in flips {
            let i = 4 + at.index(data_end - 4);
            bytes[i] ^= 1 << bit;
        }
        let dir = tempfile::tempdir().unwrap();
        let t = Instant::now();
        match read_all(dir.path(), &bytes) {
            Ok((rows, footer)) => prop_assert_eq!(rows, footer),
            Err(e) => prop_assert!(e.contains("fuzz.parquet"), "{}", e),
        }
        prop_assert!(t.elapsed() < Duration::from_secs(10), "took {:?}", t.elapsed());
    }

    /// A footer that says each row group has more or fewer rows than its pages hold is
    /// always refused, naming the file.
    #[test]
    fn footer_row_count_lies_are_always_refused(l in layout(), delta in prop::sample::select(vec![-3i64, -2, -1, 1, 2, 3])) {
        prop_assume!(delta > 0 || l.rows.min(l.row_group_rows) as i64 > -delta);
        let bytes = with_row_count_lie(&parquet_bytes(&l), delta);
        let dir = tempfile::tempdir().unwrap();
        match read_all(dir.path(), &bytes) {
            Ok(r) => prop_assert!(false, "a lying footer was read: {:?}", r),
            Err(e) => prop_assert!(e.contains("fuzz.parquet"), "{}", e),
        }
    }
}

// ---------------------------------------------------------------------------------
// Captions and tokens
// ---------------------------------------------------------------------------------

fn schemes() -> &'static (Vec<Scheme>, TextContext, TextTokenizer) {
    static S: OnceLock<(Vec<Scheme>, TextContext, TextTokenizer)> = OnceLock::new();
    S.get_or_init(|| {
        let config = Config::default();
        let schemes = BUILTIN_SCHEMES
            .iter()
            .map(|n| Scheme::named(&config, n).unwrap())
            .collect();
        let tokenizer = TextTokenizer::from_file(
            &common::repo_path("sample_data/tokenizer/bert-base-uncased/tokenizer.json"),
            64,
        )
        .unwrap();
        (schemes, TextContext::default(), tokenizer)
    })
}

/// Arbitrary Unicode, words from a small vocabulary (so synonym and flip rules fire),
/// Chinese, and very long captions.
fn caption() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(
            prop::sample::select(vec![
                "a",
                "dog",
                "left",
                "right",
                "red",
                "car",
                "on",
                "the",
                "beach",
                "汽车",
                "。",
                " ",
                "\u{200b}",
                "e\u{301}",
                "🐕",
                "\t",
                "LEFT",
                "x".repeat(300).leak(),
            ]),
            0..40
        )
        .prop_map(|w| w.join(" ")),
        (1usize..20_000).prop_map(|n| "word ".repeat(n)),
    ]
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn captions_keep_their_contract(
        text in caption(),
        partner in prop::option::of(caption()),
        seed in any::<u64>(),
    ) {
        let (schemes, ctx, tokenizer) = schemes();
        for scheme in schemes {
            let row = RowInput {
                source_width: 64,
                source_height: 48,
                width: 32,
                height: 32,
                caption: Some(&text),
                partner: partner.as_deref().map(|p| (1, Some(p))),
            };
            let t = Instant::now();
            let sampled = scheme.sample(seed, &row, ctx);
            let out = sampled.caption.clone();
            prop_assert!(out.is_some(), "{}: no caption", scheme.name);
            let replayed = scheme
                .replay_caption(Some(&text), partner.as_deref(), &sampled.params, ctx)
                .map_err(|e| TestCaseError::fail(format!("{}: replay failed: {e}", scheme.name)))?;
            prop_assert_eq!(&replayed, &out, "{}: replay differs", &scheme.name);
            let captions = StringArray::from(vec![out.as_deref()]);
            let encoded = tokenizer
                .encode_batch(&captions)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let ids = encoded.input_ids.value(0);
            let ids = ids.as_any().downcast_ref::<arrow::array::Int32Array>().unwrap();
            prop_assert!(ids.len() >= 2 && ids.len() <= 64, "{} ids", ids.len());
            prop_assert_eq!(ids.value(0), 101); // [CLS]
            prop_assert_eq!(ids.value(ids.len() - 1), 102); // [SEP]
            prop_assert!(t.elapsed() < Duration::from_secs(10), "{}: took {:?}", &scheme.name, t.elapsed());
        }
    }
}
