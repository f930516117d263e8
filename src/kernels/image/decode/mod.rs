//! Decoding to RGB8 with a pixel budget checked before any pixel is allocated, and
//! header-only format/size sniffing. JPEGs go through libjpeg-turbo (the codec Pillow
//! uses), which can also decode at 1/2, 1/4 or 1/8 scale in the DCT domain.
//!
//! - this file: the public API ([`decode_rgb8`], [`decode_source`], [`DecodeOptions`],
//!   reductions) and the `image` crate path every format but most JPEGs takes;
//! - `turbo`: the libjpeg-turbo path and what its warnings mean (lost or corrupt data);
//! - `budget`: the pixel and byte budgets of one decode, checked from the header;
//! - `memory`: the decoded bytes of all threads, bounded together ([`decode_memory`]);
//! - `sniff`: header-only format and size probing ([`image_format_and_size`]).

mod budget;
mod memory;
mod sniff;
mod turbo;

use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};

use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage};

use super::ImageOpError;
use budget::{check_bytes, check_size, png_decoded_bytes};
pub use memory::{
    decode_footprint, decode_memory, DecodeMemory, Reservation, DEFAULT_DECODE_MEMORY,
};
pub use sniff::image_format_and_size;
use turbo::{decode_jpeg_turbo, jpeg_missing_end, TurboOutcome};

/// Decodes any format the `image` crate reads (JPEG baseline/progressive, CMYK and
/// grey; PNG 8/16-bit, palette, grey, alpha; WebP; GIF (first frame); BMP; TIFF) into
/// 8-bit RGB.
///
/// - The dimensions are read from the header first and `width * height > max_pixels`
///   is refused with [`ImageOpError::TooLarge`] before any pixel buffer exists;
///   `image::Limits` (width, height and allocation caps) also bound what a decoder may
///   allocate if other fields of the header lie.
/// - EXIF orientation (JPEG APP1, PNG eXIf, WebP EXIF, TIFF) is applied, so the result
///   is upright (a 90-degree orientation swaps width and height).
/// - Alpha is dropped without compositing (like PIL `convert("RGB")`); grey is
///   replicated; 16-bit samples are scaled to 8 bits by the `image` crate, rounding to
///   nearest (`round(v * 255 / 65535)`; PIL takes the high byte, which can be 1 lower).
///
/// Never panics: a panic inside a decoder is caught and reported as
/// [`ImageOpError::Undecodable`].
pub fn decode_rgb8(bytes: &[u8], max_pixels: u64) -> Result<RgbImage, ImageOpError> {
    decode_rgb8_reduced(bytes, max_pixels, (0, 0)).map(|d| d.image)
}

/// Bytes a decoder may hold per pixel of the `--max-pixels` budget: the decoded image in
/// its stored layout (e.g. 4 for 8-bit RGBA, 8 for 16-bit RGBA) must fit in
/// `max_pixels * MAX_DECODED_BYTES_PER_PIXEL` bytes (256 MB at the default budget), checked
/// from the header before anything is allocated. An 8-bit RGBA image at the pixel limit
/// fits; a 16-bit RGBA one needs half as many pixels.
pub const MAX_DECODED_BYTES_PER_PIXEL: u64 = 4;

/// How [`decode_source`] decodes: the budgets and what it tolerates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Images with more pixels than this are refused from the header (`--max-pixels`);
    /// the decoded bytes are bounded by `max_pixels * MAX_DECODED_BYTES_PER_PIXEL`.
    pub max_pixels: u64,
    /// Decode JPEGs directly at 1/2, 1/4 or 1/8 scale when the result still covers this
    /// upright size (see [`decode_rgb8_reduced`]); `(0, 0)` always decodes at full size.
    pub min_size: (u32, u32),
    /// Keep a truncated or corrupt JPEG (the part libjpeg-turbo could decode, the rest
    /// filled as it fills it, like Pillow's `LOAD_TRUNCATED_IMAGES`) instead of refusing
    /// it; the result then carries the reason in [`ReducedImage::warning`]. Other formats
    /// are refused either way (their decoders return no partial image).
    pub accept_truncated: bool,
}

impl DecodeOptions {
    /// Strict decoding at full size within `max_pixels`.
    pub fn new(max_pixels: u64) -> DecodeOptions {
        DecodeOptions {
            max_pixels,
            min_size: (0, 0),
            accept_truncated: false,
        }
    }
}

/// An image from [`decode_rgb8_reduced`] and the scale it was decoded at.
#[derive(Debug, Clone, PartialEq)]
pub struct ReducedImage {
    /// The upright RGB8 pixels.
    pub image: RgbImage,
    /// The image was decoded at `1 / scale_denom` of its stored size: 1 (full size), or
    /// 2, 4 or 8 for a JPEG reduced in the DCT domain (libjpeg-turbo's scaled IDCT).
    pub scale_denom: u8,
    /// Set only when [`DecodeOptions::accept_truncated`] kept a damaged image: what was
    /// wrong (e.g. `truncated JPEG: ...`). Recorded in lineage as `source_decode_warning`.
    pub warning: Option<String>,
}

/// [`decode_rgb8`], except that a JPEG much larger than `min_size` (width, height,
/// upright) is decoded directly at 1/2, 1/4 or 1/8 scale: the largest reduction whose
/// result still covers `min_size` on both sides (the rule of Pillow's `Image.draft`).
/// Scaled decoding skips most of the inverse DCT, colour conversion and upsampling work,
/// and the reduced image is cheaper to resize. Its pixels differ slightly from a full
/// decode followed by a resize, so the scale used is returned (a reproducible replay
/// needs it). `min_size` `(0, 0)` always decodes at full size.
///
/// Other formats, and JPEGs libjpeg-turbo does not take (CMYK/YCCK, lossless, corrupt
/// or truncated data), are decoded at full size by the `image` crate as in
/// [`decode_rgb8`].
pub fn decode_rgb8_reduced(
    bytes: &[u8],
    max_pixels: u64,
    min_size: (u32, u32),
) -> Result<ReducedImage, ImageOpError> {
    decode_source(
        bytes,
        &DecodeOptions {
            min_size,
            ..DecodeOptions::new(max_pixels)
        },
    )
}

/// [`decode_rgb8_reduced`] with every option: the decode of a source image in a run.
///
/// A truncated or corrupt image never comes out as if it were whole: a JPEG on which
/// libjpeg-turbo reports lost data (premature end, corrupt data, a bad Huffman code,
/// extraneous bytes where data was expected) is refused with [`ImageOpError::Damaged`]
/// saying which, and is not handed to the lenient `image` crate decoder, which would fill
/// the gap. With [`DecodeOptions::accept_truncated`] such a JPEG is kept as libjpeg-turbo
/// decoded it, with the reason in [`ReducedImage::warning`].
pub fn decode_source(bytes: &[u8], opts: &DecodeOptions) -> Result<ReducedImage, ImageOpError> {
    if bytes.is_empty() {
        return Err(ImageOpError::Empty);
    }
    let max_pixels = opts.max_pixels;
    let sniffed = image_format_and_size(bytes);
    if let Some((_, w, h)) = sniffed {
        check_size(w, h, max_pixels)?;
    }
    if let Some((w, h, decoded_bytes)) = png_decoded_bytes(bytes) {
        check_bytes(w, h, decoded_bytes, max_pixels)?;
    }
    if matches!(sniffed, Some(("jpeg", _, _))) {
        match decode_jpeg_turbo(
            bytes,
            max_pixels,
            Scale::Cover(opts.min_size.0, opts.min_size.1),
        ) {
            TurboOutcome::Decoded(reduced) => return Ok(reduced),
            TurboOutcome::Damaged { reason, partial } => {
                return match partial {
                    Some(mut reduced) if opts.accept_truncated => {
                        reduced.warning = Some(reason);
                        Ok(reduced)
                    }
                    _ => Err(ImageOpError::Damaged(reason)),
                };
            }
            TurboOutcome::NotTaken => {
                // The `image` crate pads a JPEG cut short; a whole one ends with EOI.
                if let Some(reason) = jpeg_missing_end(bytes) {
                    return Err(ImageOpError::Damaged(reason));
                }
            }
        }
    }
    match catch_unwind(AssertUnwindSafe(|| decode_inner(bytes, max_pixels))) {
        Ok(r) => r.map(|image| ReducedImage {
            image,
            scale_denom: 1,
            warning: None,
        }),
        Err(_) => Err(ImageOpError::Undecodable("the decoder panicked".into())),
    }
}

/// Decodes at exactly 1/`scale_denom` of the stored size: replays a row's recorded
/// `source_decode_scale` (see [`decode_rgb8_reduced`]). A denominator of 1 is
/// [`decode_rgb8`]; 2, 4 and 8 need a JPEG libjpeg-turbo can scale, anything else is an
/// error.
pub fn decode_rgb8_at_scale(
    bytes: &[u8],
    max_pixels: u64,
    scale_denom: u8,
) -> Result<RgbImage, ImageOpError> {
    if scale_denom == 1 {
        return decode_rgb8(bytes, max_pixels);
    }
    if !matches!(scale_denom, 2 | 4 | 8) {
        return Err(ImageOpError::Undecodable(format!(
            "decode scale 1/{scale_denom} is not one of 1, 2, 4, 8"
        )));
    }
    if let Some((_, w, h)) = image_format_and_size(bytes) {
        check_size(w, h, max_pixels)?;
    }
    match decode_jpeg_turbo(bytes, max_pixels, Scale::Exact(scale_denom)) {
        TurboOutcome::Decoded(r) => Ok(r.image),
        TurboOutcome::Damaged { reason, .. } => Err(ImageOpError::Damaged(reason)),
        TurboOutcome::NotTaken => Err(ImageOpError::Undecodable(format!(
            "not a JPEG libjpeg-turbo can decode at 1/{scale_denom} scale"
        ))),
    }
}

/// The largest reduction `1/d` (d = 8, 4, 2) whose scaled `(w, h)` (rounded up, as
/// libjpeg does) still covers `min_size`; 1 if none does.
pub fn jpeg_scale_denom(w: u32, h: u32, min_size: (u32, u32)) -> u8 {
    if min_size.0 == 0 || min_size.1 == 0 {
        return 1;
    }
    for d in [8u32, 4, 2] {
        if w.div_ceil(d) >= min_size.0 && h.div_ceil(d) >= min_size.1 {
            return d as u8;
        }
    }
    1
}

/// How `turbo::decode_jpeg_turbo` picks its reduction.
#[derive(Clone, Copy)]
enum Scale {
    /// The largest reduction that still covers this upright size ([`jpeg_scale_denom`]).
    Cover(u32, u32),
    /// Exactly this denominator (a replay of a recorded `source_decode_scale`).
    Exact(u8),
}

pub(super) fn undecodable(e: impl std::fmt::Display) -> ImageOpError {
    ImageOpError::Undecodable(e.to_string())
}

fn decode_inner(bytes: &[u8], max_pixels: u64) -> Result<RgbImage, ImageOpError> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(undecodable)?;
    if reader.format().is_none() {
        return Err(ImageOpError::Undecodable(
            "unrecognised image format".to_string(),
        ));
    }
    // Neither side can exceed the pixel budget (the other side is at least 1), and a
    // decoder may allocate at most the byte budget plus some working memory.
    let side_cap = max_pixels.min(u32::MAX as u64) as u32;
    let mut limits = Limits::default();
    limits.max_image_width = Some(side_cap);
    limits.max_image_height = Some(side_cap);
    limits.max_alloc = Some(
        max_pixels
            .saturating_mul(MAX_DECODED_BYTES_PER_PIXEL)
            .saturating_add(64 << 20),
    );
    reader.limits(limits.clone());

    let mut decoder = reader.into_decoder().map_err(map_image_error)?;
    let (w, h) = decoder.dimensions();
    check_size(w, h, max_pixels)?;
    check_bytes(w, h, decoder.total_bytes(), max_pixels)?;
    limits
        .reserve(decoder.total_bytes())
        .map_err(map_image_error)?;
    // A malformed EXIF block should not cost the pixels: treat it as "no orientation".
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let img = DynamicImage::from_decoder(decoder).map_err(map_image_error)?;
    let mut rgb = DynamicImage::ImageRgb8(img.into_rgb8());
    rgb.apply_orientation(orientation);
    Ok(rgb.into_rgb8())
}

fn map_image_error(e: image::ImageError) -> ImageOpError {
    match e {
        image::ImageError::Limits(l) => {
            ImageOpError::Undecodable(format!("decoder memory limit exceeded: {l}"))
        }
        other => undecodable(other),
    }
}

#[cfg(test)]
mod tests {
    use super::turbo::jpeg_scan_start;
    use super::*;
    use image::{ExtendedColorType, ImageEncoder};
    use turbojpeg::{Colorspace, PixelFormat};

    fn png_bytes(w: u32, h: u32, data: &[u8], color: ExtendedColorType) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(data, w, h, color)
            .expect("png encode");
        out
    }

    /// A PNG whose IHDR claims `w` x `h` followed by nothing else.
    pub(super) fn png_header_only(w: u32, h: u32) -> Vec<u8> {
        let mut b = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
        b.extend_from_slice(&13u32.to_be_bytes());
        b.extend_from_slice(b"IHDR");
        b.extend_from_slice(&w.to_be_bytes());
        b.extend_from_slice(&h.to_be_bytes());
        b.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
        b.extend_from_slice(&[0, 0, 0, 0]); // (wrong) CRC
        b
    }

    #[test]
    fn huge_header_is_refused_before_decoding() {
        let bytes = png_header_only(100_000, 100_000);
        let t = std::time::Instant::now();
        let err = decode_rgb8(&bytes, 64_000_000).unwrap_err();
        assert_eq!(
            err,
            ImageOpError::TooLarge {
                width: 100_000,
                height: 100_000,
                max_pixels: 64_000_000
            }
        );
        assert!(t.elapsed().as_millis() < 500, "took {:?}", t.elapsed());
        assert_eq!(
            image_format_and_size(&bytes),
            Some(("png", 100_000, 100_000))
        );
    }

    #[test]
    fn budget_applies_to_real_images() {
        let bytes = png_bytes(10, 10, &[7u8; 300], ExtendedColorType::Rgb8);
        assert!(decode_rgb8(&bytes, 100).is_ok());
        assert_eq!(
            decode_rgb8(&bytes, 99),
            Err(ImageOpError::TooLarge {
                width: 10,
                height: 10,
                max_pixels: 99
            })
        );
    }

    #[test]
    fn empty_and_zero_sized() {
        assert_eq!(decode_rgb8(&[], 1000), Err(ImageOpError::Empty));
        assert_eq!(
            decode_rgb8(&png_header_only(0, 5), 1000),
            Err(ImageOpError::Empty)
        );
    }

    #[test]
    fn garbage_and_truncated_are_undecodable() {
        let garbage: Vec<u8> = (0..1000u32).map(|i| (i * 7919 % 251) as u8).collect();
        assert!(matches!(
            decode_rgb8(&garbage, 1 << 20),
            Err(ImageOpError::Undecodable(_))
        ));
        assert!(matches!(
            decode_rgb8(b"hello", 1 << 20),
            Err(ImageOpError::Undecodable(_))
        ));
        assert_eq!(image_format_and_size(&garbage), None);

        let img = RgbImage::from_fn(32, 32, |x, y| image::Rgb([x as u8 * 8, y as u8 * 8, 90]));
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
            .encode_image(&img)
            .expect("jpeg");
        assert_eq!(image_format_and_size(&jpeg), Some(("jpeg", 32, 32)));
        // every prefix either decodes (lenient decoders pad missing data) or is an error,
        // and never panics; a cut inside the headers is always an error.
        for cut in [1, 2, 3, 10, 50, 100, jpeg.len() / 2, jpeg.len() - 2] {
            let r = decode_rgb8(&jpeg[..cut], 1 << 20);
            if cut < 100 {
                assert!(r.is_err(), "cut {cut}");
            }
        }
        let png = png_bytes(8, 8, &[200u8; 192], ExtendedColorType::Rgb8);
        for cut in [5, 20, 30, png.len() - 5] {
            assert!(decode_rgb8(&png[..cut], 1 << 20).is_err(), "png cut {cut}");
        }
    }

    #[test]
    fn png_variants_decode_to_rgb8() {
        // RGBA: alpha dropped, colour kept
        let rgba = png_bytes(
            2,
            1,
            &[10, 20, 30, 0, 40, 50, 60, 255],
            ExtendedColorType::Rgba8,
        );
        let im = decode_rgb8(&rgba, 100).expect("rgba");
        assert_eq!(im.as_raw(), &[10, 20, 30, 40, 50, 60]);

        // 16-bit RGB: v / 257 rounded to nearest
        let samples: [u16; 6] = [
            0,
            65535,
            257 * 100,
            257 * 100 + 128,
            257 * 100 + 129,
            0x80FF,
        ];
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_ne_bytes()).collect();
        let png16 = png_bytes(2, 1, &bytes, ExtendedColorType::Rgb16);
        let im = decode_rgb8(&png16, 100).expect("rgb16");
        // 25828/257 = 100.498 -> 100; 25829/257 = 100.502 -> 101; 0x80FF=33023 -> 128.49 -> 128
        assert_eq!(im.as_raw(), &[0, 255, 100, 100, 101, 128]);

        // grey 8-bit replicated
        let grey = png_bytes(2, 1, &[0, 77], ExtendedColorType::L8);
        assert_eq!(
            decode_rgb8(&grey, 100).expect("grey").as_raw(),
            &[0, 0, 0, 77, 77, 77]
        );

        // palette PNG, hand-built: PLTE [red, (1,2,3)], pixels [1, 0]
        let pal = palette_png(&[[255, 0, 0], [1, 2, 3]], &[1, 0]);
        assert_eq!(image_format_and_size(&pal), Some(("png", 2, 1)));
        let im = decode_rgb8(&pal, 100).expect("palette");
        assert_eq!(im.as_raw(), &[1, 2, 3, 255, 0, 0]);
    }

    /// A 1-row, 8-bit palette PNG written chunk by chunk (zlib stored block, real CRCs).
    fn palette_png(palette: &[[u8; 3]], row: &[u8]) -> Vec<u8> {
        fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let mut body = kind.to_vec();
            body.extend_from_slice(data);
            out.extend_from_slice(&body);
            out.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
        }
        fn adler32(data: &[u8]) -> u32 {
            let (mut a, mut b) = (1u32, 0u32);
            for &x in data {
                a = (a + x as u32) % 65521;
                b = (b + a) % 65521;
            }
            (b << 16) | a
        }
        let mut out = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&(row.len() as u32).to_be_bytes());
        ihdr.extend_from_slice(&1u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 3, 0, 0, 0]); // 8-bit, colour type 3 (palette)
        chunk(&mut out, b"IHDR", &ihdr);
        let plte: Vec<u8> = palette.iter().flatten().copied().collect();
        chunk(&mut out, b"PLTE", &plte);
        let mut raw = vec![0u8]; // filter type None
        raw.extend_from_slice(row);
        let mut z = vec![0x78, 0x01, 0x01];
        z.extend_from_slice(&(raw.len() as u16).to_le_bytes());
        z.extend_from_slice(&(!(raw.len() as u16)).to_le_bytes());
        z.extend_from_slice(&raw);
        z.extend_from_slice(&adler32(&raw).to_be_bytes());
        chunk(&mut out, b"IDAT", &z);
        chunk(&mut out, b"IEND", &[]);
        out
    }

    /// Inserts an APP1 Exif segment with the given orientation right after SOI.
    fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
        let mut tiff = Vec::new();
        tiff.extend_from_slice(b"MM\0\x2A");
        tiff.extend_from_slice(&8u32.to_be_bytes()); // IFD0 at offset 8
        tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
        tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
        tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
        tiff.extend_from_slice(&1u32.to_be_bytes()); // count
        tiff.extend_from_slice(&orientation.to_be_bytes());
        tiff.extend_from_slice(&[0, 0]); // padding of the 4-byte value field
        tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
        let mut payload = b"Exif\0\0".to_vec();
        payload.extend_from_slice(&tiff);
        let mut out = jpeg[..2].to_vec();
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(&payload);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    /// The left half pure red, the right half pure blue.
    fn red_left_blue_right(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, _| {
            if x < w / 2 {
                image::Rgb([255, 0, 0])
            } else {
                image::Rgb([0, 0, 255])
            }
        })
    }

    #[test]
    fn exif_orientation_6_rotates_clockwise() {
        // 32x16: the left half red, the right half blue (blocks aligned to 8x8/16x16 MCUs,
        // so JPEG keeps them close to pure).
        let img = red_left_blue_right(32, 16);
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 100)
            .encode_image(&img)
            .expect("jpeg");
        let plain = decode_rgb8(&jpeg, 10_000).expect("plain");
        assert_eq!(plain.dimensions(), (32, 16));

        let rotated_bytes = with_exif_orientation(&jpeg, 6);
        // the header still reports the stored size
        assert_eq!(
            image_format_and_size(&rotated_bytes),
            Some(("jpeg", 32, 16))
        );
        let r = decode_rgb8(&rotated_bytes, 10_000).expect("exif");
        // Orientation 6 = rotate 90 degrees clockwise for display: 16 wide, 32 tall,
        // the stored left (red) half becomes the top half.
        assert_eq!(r.dimensions(), (16, 32));
        let red = |p: [u8; 3]| p[0] > 200 && p[2] < 60;
        let blue = |p: [u8; 3]| p[2] > 200 && p[0] < 60;
        // stored top-left pixel (red) lands at the top-right corner
        assert!(red(r.get_pixel(15, 0).0), "{:?}", r.get_pixel(15, 0));
        assert!(red(r.get_pixel(0, 0).0));
        assert!(blue(r.get_pixel(0, 31).0), "{:?}", r.get_pixel(0, 31));
        assert!(blue(r.get_pixel(15, 31).0));
        // orientation 1 changes nothing
        let same = decode_rgb8(&with_exif_orientation(&jpeg, 1), 10_000).expect("o1");
        assert_eq!(same, plain);
    }

    #[test]
    fn scale_choice_keeps_the_target_covered() {
        // (w, h, min) -> denominator: the largest of 8, 4, 2 with ceil(w/d) >= min_w and
        // ceil(h/d) >= min_h (libjpeg rounds scaled sizes up).
        let t = (224, 224);
        assert_eq!(jpeg_scale_denom(640, 480, t), 2); // 320x240
        assert_eq!(jpeg_scale_denom(480, 640, t), 2);
        assert_eq!(jpeg_scale_denom(640, 427, t), 1); // 320x214 would be too short
        assert_eq!(jpeg_scale_denom(1920, 1080, t), 4); // 480x270
        assert_eq!(jpeg_scale_denom(4000, 3000, t), 8); // 500x375
        assert_eq!(jpeg_scale_denom(447, 447, t), 2); // ceil(447/2) = 224
        assert_eq!(jpeg_scale_denom(446, 446, t), 1); // 223
        assert_eq!(jpeg_scale_denom(224, 224, t), 1);
        assert_eq!(jpeg_scale_denom(4000, 3000, (0, 0)), 1);
    }

    /// A 640x480 photo-like image: smooth gradients plus fine texture.
    fn textured(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let t = ((x * 7 + y * 13) % 17) as u8 * 3;
            image::Rgb([
                (x * 255 / w) as u8 / 2 + t,
                (y * 255 / h) as u8 / 2 + t,
                128u8.wrapping_add(t),
            ])
        })
    }

    fn turbo_jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
        let mut out = Vec::new();
        super::super::encode(img, super::super::OutputFormat::Jpeg { quality }, &mut out)
            .expect("jpeg");
        out
    }

    #[test]
    fn reduced_decode_halves_and_matches_a_box_downscale() {
        let img = textured(640, 480);
        let jpeg = turbo_jpeg(&img, 95);
        let full = decode_rgb8_reduced(&jpeg, 1 << 24, (0, 0)).expect("full");
        assert_eq!(full.scale_denom, 1);
        assert_eq!(full.image.dimensions(), (640, 480));
        assert_eq!(full.image, decode_rgb8(&jpeg, 1 << 24).expect("plain"));

        let half = decode_rgb8_reduced(&jpeg, 1 << 24, (224, 224)).expect("half");
        assert_eq!(half.scale_denom, 2);
        assert_eq!(half.image.dimensions(), (320, 240));
        // DCT-domain halving is close to averaging 2x2 blocks of the full decode.
        let mut total = 0u64;
        for (x, y, p) in half.image.enumerate_pixels() {
            for c in 0..3 {
                let sum: u32 = [(0, 0), (1, 0), (0, 1), (1, 1)]
                    .iter()
                    .map(|(dx, dy)| full.image.get_pixel(2 * x + dx, 2 * y + dy).0[c] as u32)
                    .sum();
                total += ((sum + 2) / 4).abs_diff(p.0[c] as u32) as u64;
            }
        }
        let mean = total as f64 / (320.0 * 240.0 * 3.0);
        assert!(mean < 2.0, "mean abs diff to a 2x2 box average: {mean}");

        // A target that the halved image would not cover keeps the full size.
        let full_again = decode_rgb8_reduced(&jpeg, 1 << 24, (321, 200)).expect("full");
        assert_eq!(full_again.scale_denom, 1);
        // The pixel budget applies to the stored size, whatever the reduction.
        assert!(matches!(
            decode_rgb8_reduced(&jpeg, 640 * 480 - 1, (224, 224)),
            Err(ImageOpError::TooLarge { .. })
        ));
    }

    #[test]
    fn exact_scale_replays_the_chosen_reduction() {
        let jpeg = turbo_jpeg(&textured(640, 480), 90);
        let chosen = decode_rgb8_reduced(&jpeg, 1 << 24, (100, 100)).expect("reduced");
        assert_eq!(chosen.scale_denom, 4); // 160x120 covers 100x100; 80x60 would not
        assert_eq!(
            decode_rgb8_at_scale(&jpeg, 1 << 24, 4).expect("at 1/4"),
            chosen.image
        );
        assert_eq!(
            decode_rgb8_at_scale(&jpeg, 1 << 24, 8)
                .expect("at 1/8")
                .dimensions(),
            (80, 60)
        );
        assert_eq!(
            decode_rgb8_at_scale(&jpeg, 1 << 24, 1).expect("full"),
            decode_rgb8(&jpeg, 1 << 24).expect("plain")
        );
        assert!(decode_rgb8_at_scale(&jpeg, 1 << 24, 3).is_err());
        // A PNG cannot be scaled in the DCT domain.
        let png = png_bytes(16, 16, textured(16, 16).as_raw(), ExtendedColorType::Rgb8);
        assert!(decode_rgb8_at_scale(&png, 1 << 20, 2).is_err());
        assert!(decode_rgb8_at_scale(&png, 1 << 20, 1).is_ok());
    }

    #[test]
    fn reduced_decode_is_deterministic_across_threads() {
        let jpeg = turbo_jpeg(&textured(640, 480), 90);
        let here = decode_rgb8_reduced(&jpeg, 1 << 24, (224, 224)).expect("here");
        let there = std::thread::spawn(move || {
            decode_rgb8_reduced(&jpeg, 1 << 24, (224, 224)).expect("there")
        })
        .join()
        .expect("thread");
        assert_eq!(here, there);
    }

    #[test]
    fn reduced_decode_applies_exif_orientation_to_the_target() {
        // stored 64x32, orientation 6 -> upright 32x64. A target of 16x32 (upright) is
        // covered by the stored image halved (32x16 stored -> 16x32 upright).
        let img = red_left_blue_right(64, 32);
        let jpeg = with_exif_orientation(&turbo_jpeg(&img, 100), 6);
        let r = decode_rgb8_reduced(&jpeg, 10_000, (16, 32)).expect("reduced");
        assert_eq!(r.scale_denom, 2);
        assert_eq!(r.image.dimensions(), (16, 32));
        // the stored left (red) half is the upright top half
        assert!(
            r.image.get_pixel(8, 2).0[0] > 200,
            "{:?}",
            r.image.get_pixel(8, 2)
        );
        assert!(
            r.image.get_pixel(8, 29).0[2] > 200,
            "{:?}",
            r.image.get_pixel(8, 29)
        );
        // an upright target of 32x16 is not covered by 16x32: full size
        let r = decode_rgb8_reduced(&jpeg, 10_000, (32, 32)).expect("full");
        assert_eq!(r.scale_denom, 1);
        assert_eq!(r.image.dimensions(), (32, 64));
    }

    #[test]
    fn png_is_never_reduced() {
        let img = textured(64, 64);
        let png = png_bytes(64, 64, img.as_raw(), ExtendedColorType::Rgb8);
        let r = decode_rgb8_reduced(&png, 1 << 20, (8, 8)).expect("png");
        assert_eq!(r.scale_denom, 1);
        assert_eq!(r.image, img);
    }

    #[test]
    fn other_formats_round_trip_and_sniff() {
        let img = RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8 * 40, y as u8 * 80, 7]));
        for fmt in [
            image::ImageFormat::Png,
            image::ImageFormat::Bmp,
            image::ImageFormat::Tiff,
            image::ImageFormat::WebP,
            image::ImageFormat::Gif,
        ] {
            let bytes = encoded(&img, fmt);
            let name = image_format_and_size(&bytes).map(|t| t.0);
            assert_eq!(
                image_format_and_size(&bytes).map(|t| (t.1, t.2)),
                Some((5, 3)),
                "{fmt:?}"
            );
            let expected = match fmt {
                image::ImageFormat::Png => "png",
                image::ImageFormat::Bmp => "bmp",
                image::ImageFormat::Tiff => "tiff",
                image::ImageFormat::WebP => "webp",
                _ => "gif",
            };
            assert_eq!(name, Some(expected));
            let back = decode_rgb8(&bytes, 100).expect("decode");
            assert_eq!(back.dimensions(), (5, 3));
            if fmt != image::ImageFormat::Gif {
                // lossless formats give the pixels back (GIF quantises to a palette)
                assert_eq!(back, img, "{fmt:?}");
            }
        }
    }

    #[test]
    fn one_by_one() {
        let png = png_bytes(1, 1, &[1, 2, 3], ExtendedColorType::Rgb8);
        assert_eq!(decode_rgb8(&png, 1).expect("1x1").as_raw(), &[1, 2, 3]);
        assert!(matches!(
            decode_rgb8(&png, 0),
            Err(ImageOpError::TooLarge { .. })
        ));
    }

    /// `img` in `fmt`, encoded by the `image` crate.
    fn encoded(img: &RgbImage, fmt: image::ImageFormat) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        DynamicImage::ImageRgb8(img.clone())
            .write_to(&mut buf, fmt)
            .expect("encode");
        buf.into_inner()
    }

    fn progressive_jpeg(img: &RgbImage, quality: i32) -> Vec<u8> {
        let mut c = turbojpeg::Compressor::new().expect("compressor");
        c.set_quality(quality).expect("quality");
        c.set_progressive(true).expect("progressive");
        c.compress_to_vec(turbojpeg::Image {
            pixels: img.as_raw().as_slice(),
            width: img.width() as usize,
            pitch: img.width() as usize * 3,
            height: img.height() as usize,
            format: PixelFormat::RGB,
        })
        .expect("encode")
    }

    /// Every cut of a JPEG past the start of its image data (10 %, 50 %, 99 % of the
    /// file, baseline and progressive, full size and reduced) is refused as truncated,
    /// never handed to the lenient decoder; with `accept_truncated` it is kept, marked.
    #[test]
    fn truncated_jpegs_are_refused_not_padded() {
        let img = textured(640, 480);
        for (kind, jpeg) in [
            ("baseline", turbo_jpeg(&img, 90)),
            ("progressive", progressive_jpeg(&img, 90)),
        ] {
            let whole = decode_rgb8(&jpeg, 1 << 24).expect("whole");
            assert_eq!(whole.dimensions(), (640, 480));
            let scan = jpeg_scan_start(&jpeg).expect("scan");
            for percent in [10usize, 50, 99] {
                let cut = &jpeg[..jpeg.len() * percent / 100];
                assert!(cut.len() > scan, "{kind} {percent} % is past the headers");
                for min_size in [(0, 0), (224, 224)] {
                    let strict = decode_rgb8_reduced(cut, 1 << 24, min_size);
                    match &strict {
                        Err(ImageOpError::Damaged(reason)) => {
                            assert!(
                                reason.starts_with("truncated JPEG"),
                                "{kind} {percent}: {reason}"
                            );
                            assert!(reason.contains(&format!("{} bytes", cut.len())), "{reason}");
                        }
                        other => panic!(
                            "{kind} cut at {percent} %: {:?}",
                            other.as_ref().map(|r| r.image.dimensions())
                        ),
                    }
                    let lenient = decode_source(
                        cut,
                        &DecodeOptions {
                            min_size,
                            accept_truncated: true,
                            ..DecodeOptions::new(1 << 24)
                        },
                    )
                    .expect("accepted");
                    let warning = lenient.warning.expect("marked");
                    assert!(warning.starts_with("truncated JPEG"), "{warning}");
                    let denom = u32::from(lenient.scale_denom);
                    assert_eq!(lenient.image.dimensions(), (640 / denom, 480 / denom));
                }
            }
            // The whole file decodes without a warning in either mode.
            let ok = decode_source(
                &jpeg,
                &DecodeOptions {
                    accept_truncated: true,
                    ..DecodeOptions::new(1 << 24)
                },
            )
            .expect("whole");
            assert_eq!(ok.warning, None);
            assert_eq!(ok.image, whole);
        }
    }

    /// A JPEG whose entropy-coded data is overwritten with garbage is corrupt, not
    /// decoded into noise.
    #[test]
    fn corrupt_jpeg_data_is_refused() {
        let img = textured(256, 256);
        let mut jpeg = turbo_jpeg(&img, 90);
        let scan = jpeg_scan_start(&jpeg).expect("scan");
        let mid = scan + (jpeg.len() - scan) / 2;
        // 0xFF 0xC8 (a frame header marker) inside the scan: libjpeg-turbo stops with
        // "Unsupported JPEG process: SOF type 0xc8" (the `image` crate would fill the rest
        // grey).
        for (i, b) in jpeg[mid..mid + 64].iter_mut().enumerate() {
            *b = if i % 2 == 0 { 0xFF } else { 0xC8 };
        }
        match decode_rgb8(&jpeg, 1 << 20) {
            Err(ImageOpError::Damaged(reason)) => assert!(
                reason.starts_with("corrupt JPEG data") || reason.starts_with("truncated JPEG"),
                "{reason}"
            ),
            Ok(im) => panic!("corrupt data decoded to {:?}", im.dimensions()),
            Err(e) => panic!("not reported as corrupt: {e}"),
        }
    }

    /// A CMYK JPEG goes to the `image` crate (libjpeg-turbo's RGB output cannot invert
    /// it), whose decoder pads a cut file: a cut without its end-of-image marker is
    /// refused as truncated before it gets there.
    #[test]
    fn truncated_cmyk_jpeg_is_refused() {
        let cmyk: Vec<u8> = (0..64 * 64 * 4u32).map(|i| (i * 37 % 251) as u8).collect();
        let mut c = turbojpeg::Compressor::new().expect("compressor");
        c.set_quality(90).expect("quality");
        c.set_colorspace(Colorspace::CMYK).expect("colorspace");
        let jpeg = c
            .compress_to_vec(turbojpeg::Image {
                pixels: cmyk.as_slice(),
                width: 64,
                pitch: 64 * 4,
                height: 64,
                format: PixelFormat::CMYK,
            })
            .expect("encode");
        assert_eq!(
            decode_rgb8(&jpeg, 1 << 20).expect("whole").dimensions(),
            (64, 64)
        );
        let cut = &jpeg[..jpeg.len() * 3 / 4];
        match decode_rgb8(cut, 1 << 20) {
            Err(ImageOpError::Damaged(reason)) => {
                assert!(reason.starts_with("truncated JPEG"), "{reason}")
            }
            Ok(im) => panic!("cut CMYK JPEG decoded to {:?}", im.dimensions()),
            Err(e) => panic!("not reported as truncated: {e}"),
        }
    }

    /// Cuts of every other format are refused too (their decoders return errors, not
    /// padded images).
    #[test]
    fn truncated_images_of_every_format_are_refused() {
        let img = textured(96, 64);
        for fmt in [
            image::ImageFormat::Png,
            image::ImageFormat::WebP,
            image::ImageFormat::Gif,
            image::ImageFormat::Tiff,
            image::ImageFormat::Bmp,
        ] {
            let bytes = encoded(&img, fmt);
            assert!(decode_rgb8(&bytes, 1 << 20).is_ok(), "{fmt:?} whole");
            for percent in [10usize, 50, 99] {
                let cut = &bytes[..bytes.len() * percent / 100];
                let r = decode_rgb8(cut, 1 << 20);
                assert!(r.is_err(), "{fmt:?} cut at {percent} % decoded");
            }
        }
    }

    /// PNG header: 8-byte signature and IHDR with the given depth and colour type.
    pub(super) fn png_ihdr(w: u32, h: u32, depth: u8, colour: u8) -> Vec<u8> {
        let mut b = png_header_only(w, h);
        b[24] = depth;
        b[25] = colour;
        b
    }

    #[test]
    fn decoded_bytes_are_bounded_from_the_header() {
        // 7999x7999 16-bit RGBA: 64 M pixels (within the default budget) but 512 MB.
        let bytes = png_ihdr(7999, 7999, 16, 6);
        let t = std::time::Instant::now();
        let err = decode_rgb8(&bytes, 64_000_000).unwrap_err();
        assert_eq!(
            err,
            ImageOpError::TooManyBytes {
                width: 7999,
                height: 7999,
                bytes: 7999 * 7999 * 8,
                max_bytes: 256_000_000,
            }
        );
        assert_eq!(
            err.to_string(),
            "image is 7999x7999 and decodes to 512 MB, above the limit of 256 MB (4 bytes per pixel of --max-pixels)"
        );
        assert!(t.elapsed().as_millis() < 500, "took {:?}", t.elapsed());
        // The same size in 8-bit RGB (192 MB) is within the byte budget: refused only
        // later, because this header has no pixel data.
        let rgb8 = png_ihdr(7999, 7999, 8, 2);
        assert!(matches!(
            decode_rgb8(&rgb8, 64_000_000),
            Err(ImageOpError::Undecodable(_))
        ));
        // A real 16-bit RGBA image within both budgets decodes.
        let samples: Vec<u8> = (0..4 * 4 * 4u16)
            .flat_map(|v| (v * 1000).to_ne_bytes())
            .collect();
        let png = png_bytes(4, 4, &samples, ExtendedColorType::Rgba16);
        assert!(decode_rgb8(&png, 32).is_ok());
        // ... and is refused when its 128 bytes exceed 4 x 31 = 124.
        assert!(matches!(
            decode_rgb8(&png, 31),
            Err(ImageOpError::TooManyBytes { bytes: 128, .. })
        ));
    }

    /// A GIF with thousands of frames decodes only its first: bounded time and memory.
    #[test]
    fn gif_with_thousands_of_frames_decodes_the_first_quickly() {
        let mut out = Vec::new();
        {
            let mut enc = image::codecs::gif::GifEncoder::new(&mut out);
            let frame = image::RgbaImage::from_pixel(8, 8, image::Rgba([200, 10, 10, 255]));
            let frames = (0..3000).map(|_| image::Frame::new(frame.clone()));
            enc.encode_frames(frames).expect("gif");
        }
        let t = std::time::Instant::now();
        let im = decode_rgb8(&out, 64).expect("first frame");
        assert_eq!(im.dimensions(), (8, 8));
        assert!(t.elapsed().as_millis() < 500, "took {:?}", t.elapsed());
    }
}
