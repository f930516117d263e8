//! Decoding to RGB8 with a pixel budget checked before any pixel is allocated, and
//! header-only format/size sniffing.

use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};

use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage};

use super::ImageOpError;

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
    if bytes.is_empty() {
        return Err(ImageOpError::Empty);
    }
    if let Some((_, w, h)) = image_format_and_size(bytes) {
        check_size(w, h, max_pixels)?;
    }
    match catch_unwind(AssertUnwindSafe(|| decode_inner(bytes, max_pixels))) {
        Ok(r) => r,
        Err(_) => Err(ImageOpError::Undecodable("the decoder panicked".into())),
    }
}

fn check_size(w: u32, h: u32, max_pixels: u64) -> Result<(), ImageOpError> {
    if w == 0 || h == 0 {
        return Err(ImageOpError::Empty);
    }
    if w as u64 * h as u64 > max_pixels {
        return Err(ImageOpError::TooLarge {
            width: w,
            height: h,
            max_pixels,
        });
    }
    Ok(())
}

fn undecodable(e: impl std::fmt::Display) -> ImageOpError {
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
    // decoder may allocate at most the largest layout (RGBA f32, 16 bytes per pixel)
    // of an image within budget plus some working memory.
    let side_cap = max_pixels.min(u32::MAX as u64) as u32;
    let mut limits = Limits::default();
    limits.max_image_width = Some(side_cap);
    limits.max_image_height = Some(side_cap);
    limits.max_alloc = Some(max_pixels.saturating_mul(16).saturating_add(64 << 20));
    reader.limits(limits.clone());

    let mut decoder = reader.into_decoder().map_err(map_image_error)?;
    let (w, h) = decoder.dimensions();
    check_size(w, h, max_pixels)?;
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

// ---------------------------------------------------------------------------------
// Header sniffing
// ---------------------------------------------------------------------------------

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The format (`"jpeg"`, `"png"`, `"webp"`, `"gif"`, `"bmp"` or `"tiff"`) and the
/// `(width, height)` stored in the header, without decoding pixels (cheap enough for a
/// SQL UDF over millions of rows). `None` if the bytes are none of these formats or the
/// header is truncated or malformed.
///
/// The size is the stored one: EXIF orientation is not applied (a JPEG with
/// orientation 6 reports its stored width first), and a GIF reports its logical screen.
pub fn image_format_and_size(bytes: &[u8]) -> Option<(&'static str, u32, u32)> {
    if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        // The first chunk must be IHDR: length(4) "IHDR" width(4) height(4), big-endian.
        if bytes.get(12..16)? != b"IHDR" {
            return None;
        }
        return Some(("png", be32(bytes, 16)?, be32(bytes, 20)?));
    }
    if bytes.starts_with(&[0xFF, 0xD8]) {
        return jpeg_size(bytes).map(|(w, h)| ("jpeg", w, h));
    }
    if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        return Some(("gif", le16(bytes, 6)? as u32, le16(bytes, 8)? as u32));
    }
    if bytes.starts_with(b"RIFF") && bytes.get(8..12)? == b"WEBP" {
        return webp_size(bytes).map(|(w, h)| ("webp", w, h));
    }
    if bytes.starts_with(b"BM") {
        return bmp_size(bytes).map(|(w, h)| ("bmp", w, h));
    }
    if bytes.starts_with(b"II") || bytes.starts_with(b"MM") {
        return tiff_size(bytes).map(|(w, h)| ("tiff", w, h));
    }
    None
}

/// Walks the JPEG marker segments up to the first start-of-frame.
fn jpeg_size(b: &[u8]) -> Option<(u32, u32)> {
    let mut pos = 2usize;
    loop {
        // Markers are 0xFF followed by a code; extra 0xFF bytes are fill.
        if *b.get(pos)? != 0xFF {
            return None;
        }
        while *b.get(pos)? == 0xFF {
            pos += 1;
        }
        let marker = *b.get(pos)?;
        pos += 1;
        match marker {
            // standalone markers without a length
            0x01 | 0xD0..=0xD7 | 0xD8 => continue,
            // end of image / start of scan before any frame header
            0xD9 | 0xDA => return None,
            // SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC):
            // length(2) precision(1) height(2) width(2)
            0xC0..=0xCF if marker != 0xC4 && marker != 0xC8 && marker != 0xCC => {
                let h = be16(b, pos + 3)? as u32;
                let w = be16(b, pos + 5)? as u32;
                return Some((w, h));
            }
            _ => {
                let len = be16(b, pos)? as usize;
                if len < 2 {
                    return None;
                }
                pos += len;
            }
        }
    }
}

/// The first chunk of a WebP file: lossy `VP8 `, lossless `VP8L` or extended `VP8X`.
fn webp_size(b: &[u8]) -> Option<(u32, u32)> {
    let fourcc = b.get(12..16)?;
    let d = 20usize; // chunk payload
    match fourcc {
        b"VP8 " => {
            // frame tag(3), start code 9D 01 2A, then 14-bit width and height
            if b.get(d + 3..d + 6)? != [0x9D, 0x01, 0x2A] {
                return None;
            }
            Some((
                (le16(b, d + 6)? & 0x3FFF) as u32,
                (le16(b, d + 8)? & 0x3FFF) as u32,
            ))
        }
        b"VP8L" => {
            if *b.get(d)? != 0x2F {
                return None;
            }
            let bits = le32(b, d + 1)?;
            Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
        }
        b"VP8X" => {
            // flags(4), canvas width - 1 (24 bits LE), canvas height - 1 (24 bits LE)
            let p = b.get(d + 4..d + 10)?;
            let w = u32::from_le_bytes([p[0], p[1], p[2], 0]) + 1;
            let h = u32::from_le_bytes([p[3], p[4], p[5], 0]) + 1;
            Some((w, h))
        }
        _ => None,
    }
}

fn bmp_size(b: &[u8]) -> Option<(u32, u32)> {
    let dib = le32(b, 14)?;
    if dib == 12 {
        // BITMAPCOREHEADER: unsigned 16-bit sizes
        return Some((le16(b, 18)? as u32, le16(b, 20)? as u32));
    }
    if dib < 16 {
        return None;
    }
    let w = le32(b, 18)? as i32;
    let h = le32(b, 22)? as i32; // negative = top-down rows
    if w < 0 {
        return None;
    }
    Some((w as u32, h.unsigned_abs()))
}

/// Reads ImageWidth (256) and ImageLength (257) from the first IFD (classic TIFF or
/// BigTIFF, either byte order).
fn tiff_size(b: &[u8]) -> Option<(u32, u32)> {
    let le = match b.get(0..2)? {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    let r16 = |at: usize| if le { le16(b, at) } else { be16(b, at) };
    let r32 = |at: usize| if le { le32(b, at) } else { be32(b, at) };
    let r64 = |at: usize| -> Option<u64> {
        let a = b.get(at..at + 8)?.try_into().ok()?;
        Some(if le {
            u64::from_le_bytes(a)
        } else {
            u64::from_be_bytes(a)
        })
    };
    let (big, ifd, count, entry_size) = match r16(2)? {
        42 => {
            let ifd = r32(4)? as usize;
            (false, ifd, r16(ifd)? as usize, 12usize)
        }
        43 => {
            let ifd = usize::try_from(r64(8)?).ok()?;
            (true, ifd, usize::try_from(r64(ifd)?).ok()?, 20usize)
        }
        _ => return None,
    };
    let first = ifd.checked_add(if big { 8 } else { 2 })?;
    let (mut w, mut h) = (None, None);
    for i in 0..count.min(4096) {
        let e = first.checked_add(i.checked_mul(entry_size)?)?;
        let tag = r16(e)?;
        if tag != 256 && tag != 257 {
            continue;
        }
        let typ = r16(e + 2)?;
        let value_at = e + if big { 12 } else { 8 };
        let v = match typ {
            3 => r16(value_at)? as u32,                // SHORT
            4 => r32(value_at)?,                       // LONG
            16 => u32::try_from(r64(value_at)?).ok()?, // LONG8 (BigTIFF)
            _ => return None,
        };
        if tag == 256 {
            w = Some(v);
        } else {
            h = Some(v);
        }
        if let (Some(w), Some(h)) = (w, h) {
            return Some((w, h));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ExtendedColorType, ImageEncoder};

    fn png_bytes(w: u32, h: u32, data: &[u8], color: ExtendedColorType) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(data, w, h, color)
            .expect("png encode");
        out
    }

    /// A PNG whose IHDR claims `w` x `h` followed by nothing else.
    fn png_header_only(w: u32, h: u32) -> Vec<u8> {
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
        fn crc32(data: &[u8]) -> u32 {
            let mut c = 0xFFFF_FFFFu32;
            for &b in data {
                c ^= b as u32;
                for _ in 0..8 {
                    c = if c & 1 != 0 {
                        0xEDB8_8320 ^ (c >> 1)
                    } else {
                        c >> 1
                    };
                }
            }
            !c
        }
        fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let mut body = kind.to_vec();
            body.extend_from_slice(data);
            out.extend_from_slice(&body);
            out.extend_from_slice(&crc32(&body).to_be_bytes());
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

    #[test]
    fn exif_orientation_6_rotates_clockwise() {
        // 32x16: the left half red, the right half blue (blocks aligned to 8x8/16x16 MCUs,
        // so JPEG keeps them close to pure).
        let img = RgbImage::from_fn(32, 16, |x, _| {
            if x < 16 {
                image::Rgb([255, 0, 0])
            } else {
                image::Rgb([0, 0, 255])
            }
        });
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
    fn other_formats_round_trip_and_sniff() {
        let img = RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8 * 40, y as u8 * 80, 7]));
        for fmt in [
            image::ImageFormat::Png,
            image::ImageFormat::Bmp,
            image::ImageFormat::Tiff,
            image::ImageFormat::WebP,
            image::ImageFormat::Gif,
        ] {
            let mut buf = Cursor::new(Vec::new());
            DynamicImage::ImageRgb8(img.clone())
                .write_to(&mut buf, fmt)
                .expect("encode");
            let bytes = buf.into_inner();
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

    #[test]
    fn sniffers_reject_truncated_headers() {
        assert_eq!(image_format_and_size(&[0xFF, 0xD8, 0xFF]), None);
        assert_eq!(image_format_and_size(b"GIF89a\x01"), None);
        assert_eq!(image_format_and_size(b"RIFF\0\0\0\0WEBPVP8X"), None);
        assert_eq!(image_format_and_size(b"II\x2A\0\xFF\xFF\xFF\xFF"), None);
        assert_eq!(image_format_and_size(b"BM"), None);
        assert_eq!(image_format_and_size(&png_header_only(3, 4)[..20]), None);
    }
}
