//! The libjpeg-turbo path: one decompressor per thread, decoding at 1/2, 1/4 or 1/8 scale
//! in the DCT domain, and what libjpeg-turbo's warnings mean (lost or corrupt data).

use std::cell::RefCell;

use image::metadata::Orientation;
use image::{DynamicImage, RgbImage};
use turbojpeg::{Colorspace, Decompressor, PixelFormat, ScalingFactor};

use super::budget::check_size;
use super::sniff::{be16, jpeg_segments};
use super::{jpeg_scale_denom, ReducedImage, Scale};

thread_local! {
    // A TurboJPEG handle owns libjpeg's decompressor state and buffers; one per thread
    // reuses them for every image without sharing anything between threads.
    static DECOMPRESSOR: RefCell<Option<Decompressor>> = const { RefCell::new(None) };
}

/// What libjpeg-turbo made of a JPEG.
pub(super) enum TurboOutcome {
    /// Decoded without any warning.
    Decoded(ReducedImage),
    /// libjpeg-turbo reported lost or corrupt data: `reason` says which; `partial` is the
    /// image as it decoded it (missing parts filled), when it got that far.
    Damaged {
        reason: String,
        partial: Option<ReducedImage>,
    },
    /// libjpeg-turbo cannot or should not decode it (CMYK/YCCK, lossless, a header it
    /// does not take, a fatal error unrelated to lost data): the `image` crate decodes it
    /// instead, and produces the error message for bad data.
    NotTaken,
}

/// Decodes a JPEG with libjpeg-turbo at the reduction `scale` asks for.
pub(super) fn decode_jpeg_turbo(bytes: &[u8], max_pixels: u64, scale: Scale) -> TurboOutcome {
    DECOMPRESSOR.with(|cell| {
        let Ok(mut slot) = cell.try_borrow_mut() else {
            return TurboOutcome::NotTaken;
        };
        if slot.is_none() {
            *slot = Decompressor::new().ok();
        }
        let Some(dec) = slot.as_mut() else {
            return TurboOutcome::NotTaken;
        };
        let Some(planned) = plan_turbo_decode(dec, bytes, max_pixels, scale) else {
            return TurboOutcome::NotTaken;
        };
        let TurboPlan {
            width,
            height,
            denom,
            orientation,
        } = planned;
        let mut pixels = vec![0u8; width * height * 3];
        let image = turbojpeg::Image {
            pixels: pixels.as_mut_slice(),
            width,
            pitch: width * 3,
            height,
            format: PixelFormat::RGB,
        };
        // libjpeg-turbo returns an error for warnings too (it has still written every
        // row, filling what it could not decode); only a lost-data warning is ours to judge.
        let damage = match dec.decompress(bytes, image) {
            Ok(()) => None,
            Err(e) => match jpeg_damage(&e.to_string(), bytes) {
                JpegMessage::LostData(reason) => Some(reason),
                JpegMessage::Harmless => None,
                JpegMessage::Corrupt(reason) => {
                    return TurboOutcome::Damaged {
                        reason,
                        partial: None,
                    }
                }
                JpegMessage::Other => return TurboOutcome::NotTaken,
            },
        };
        let Some(rgb) = RgbImage::from_raw(width as u32, height as u32, pixels) else {
            return TurboOutcome::NotTaken;
        };
        let image = if orientation == Orientation::NoTransforms {
            rgb
        } else {
            let mut turned = DynamicImage::ImageRgb8(rgb);
            turned.apply_orientation(orientation);
            turned.into_rgb8()
        };
        let reduced = ReducedImage {
            image,
            scale_denom: denom,
            warning: None,
        };
        match damage {
            None => TurboOutcome::Decoded(reduced),
            Some(reason) => TurboOutcome::Damaged {
                reason,
                partial: Some(reduced),
            },
        }
    })
}

/// The output size, reduction and orientation of a JPEG libjpeg-turbo will decode.
struct TurboPlan {
    width: usize,
    height: usize,
    denom: u8,
    orientation: Orientation,
}

/// Reads the header and sets the scaling factor; `None` when libjpeg-turbo should not
/// decode this JPEG.
fn plan_turbo_decode(
    dec: &mut Decompressor,
    bytes: &[u8],
    max_pixels: u64,
    scale: Scale,
) -> Option<TurboPlan> {
    let header = dec.read_header(bytes).ok()?;
    // CMYK/YCCK need an inversion libjpeg-turbo's RGB output does not do; lossless
    // JPEGs cannot be scaled: both go to the `image` crate.
    if header.is_lossless || matches!(header.colorspace, Colorspace::CMYK | Colorspace::YCCK) {
        return None;
    }
    let (w, h) = (
        u32::try_from(header.width).ok()?,
        u32::try_from(header.height).ok()?,
    );
    if check_size(w, h, max_pixels).is_err() {
        return None;
    }
    let orientation = jpeg_exif_orientation(bytes);
    // The target is upright: compare it with the stored size turned the same way.
    let swaps = matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    );
    let denom = match scale {
        Scale::Cover(mw, mh) => jpeg_scale_denom(w, h, if swaps { (mh, mw) } else { (mw, mh) }),
        Scale::Exact(d) => d,
    };
    let factor = ScalingFactor::new(1, denom as usize);
    dec.set_scaling_factor(factor).ok()?;
    let scaled = header.scaled(factor);
    Some(TurboPlan {
        width: scaled.width,
        height: scaled.height,
        denom,
        orientation,
    })
}

/// What a libjpeg-turbo error message says about the pixels it wrote.
enum JpegMessage {
    /// Pixels were lost or are wrong: the reject reason.
    LostData(String),
    /// A warning about metadata or junk after the image data: every pixel was decoded.
    Harmless,
    /// A fatal error in the image data: pixels are missing, none of them usable.
    Corrupt(String),
    /// A feature libjpeg-turbo does not support: the `image` crate decides.
    Other,
}

/// Classifies a libjpeg-turbo message (libjpeg's texts, `jerror.h`). Lost data:
/// `JWRN_JPEG_EOF` "Premature end of JPEG file", and every "Corrupt JPEG data: ..."
/// (premature end of data segment, bad Huffman or arithmetic code, a marker where a restart
/// marker was expected, extraneous bytes before a marker other than the end of the image).
/// Harmless: an unknown JFIF revision, a bad ICC profile marker, junk just before the
/// end-of-image marker (Pillow accepts these files too). Unsupported features go to the
/// `image` crate; any other (fatal) error means corrupt data.
fn jpeg_damage(message: &str, bytes: &[u8]) -> JpegMessage {
    let lower = message.to_ascii_lowercase();
    let detail = message
        .strip_prefix("TurboJPEG error: ")
        .unwrap_or(message)
        .trim();
    let detail = detail.strip_prefix("Corrupt JPEG data: ").unwrap_or(detail);
    if lower.contains("premature end of jpeg file") {
        return JpegMessage::LostData(format!(
            "truncated JPEG: premature end of data after {} bytes ({})",
            bytes.len(),
            scan_progress(bytes)
        ));
    }
    if lower.contains("extraneous bytes before marker 0xd9")
        || lower.contains("unknown jfif revision")
        || lower.contains("bad icc marker")
    {
        return JpegMessage::Harmless;
    }
    if lower.contains("corrupt jpeg data") || lower.contains("bad huffman") {
        if lower.contains("premature end of data segment") {
            return JpegMessage::LostData(format!(
                "truncated JPEG: {detail} ({})",
                scan_progress(bytes)
            ));
        }
        return JpegMessage::LostData(format!("corrupt JPEG data: {detail}"));
    }
    // A feature libjpeg-turbo lacks (e.g. 12-bit samples): the `image` crate may have it.
    // (A marker or a second frame header inside the image data is corruption, not a
    // feature: "Unsupported marker type", "Unsupported JPEG process: SOF type".)
    if (lower.contains("unsupported") || lower.contains("not supported"))
        && !lower.contains("marker")
        && !lower.contains("sof type")
    {
        return JpegMessage::Other;
    }
    // Any other error stopped libjpeg-turbo inside the image data of a JPEG whose header
    // it read: the data is corrupt, and a lenient decoder would only fill the gap.
    JpegMessage::Corrupt(format!("corrupt JPEG data: {detail}"))
}

/// Where the file ends relative to its image data, for a reject reason.
fn scan_progress(bytes: &[u8]) -> String {
    match jpeg_scan_start(bytes) {
        Some(start) => format!(
            "its image data starts at byte {start}; {}",
            if has_eoi_after(bytes, start) {
                "it has an end-of-image marker"
            } else {
                "no end-of-image marker"
            }
        ),
        None => "no image data found".to_string(),
    }
}

/// Whether an end-of-image marker (FF D9) follows `start`. Entropy-coded data never holds
/// FF D9 (an FF there is followed by 00 or a restart marker), so the first one is the end;
/// bytes after it (some cameras append data) do not matter.
fn has_eoi_after(bytes: &[u8], start: usize) -> bool {
    bytes
        .get(start..)
        .is_some_and(|scan| scan.windows(2).any(|w| w == [0xFF, 0xD9]))
}

/// For a JPEG the `image` crate decodes (libjpeg-turbo did not take it): a reject reason
/// if the file has no end-of-image marker after its image data, i.e. it was cut short.
pub(super) fn jpeg_missing_end(bytes: &[u8]) -> Option<String> {
    let start = jpeg_scan_start(bytes)?;
    (!has_eoi_after(bytes, start)).then(|| {
        format!(
            "truncated JPEG: the file ends after {} bytes without an end-of-image marker (its image data starts at byte {start})",
            bytes.len()
        )
    })
}

/// The offset of the first entropy-coded byte (just after the first SOS segment).
pub(super) fn jpeg_scan_start(b: &[u8]) -> Option<usize> {
    let (_, pos) = jpeg_segments(b).find(|&(marker, _)| marker == 0xDA)?;
    let len = be16(b, pos)? as usize;
    (len >= 2).then_some(pos + len)
}

/// The EXIF orientation of a JPEG (its first `APP1` segment starting `Exif\0\0`), or
/// "no transforms" when there is none or it is malformed.
fn jpeg_exif_orientation(b: &[u8]) -> Orientation {
    let mut pos = 2usize;
    while let Some(&0xFF) = b.get(pos) {
        let Some(&marker) = b.get(pos + 1) else { break };
        // Metadata segments come before the frame header; stop at SOF/SOS/EOI.
        if matches!(marker, 0xC0..=0xCF | 0xDA | 0xD9) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            break;
        }
        let Some(len) = be16(b, pos + 2).map(usize::from) else {
            break;
        };
        if len < 2 {
            break;
        }
        if marker == 0xE1 {
            if let Some(seg) = b.get(pos + 4..pos + 2 + len) {
                if let Some(tiff) = seg.strip_prefix(b"Exif\0\0") {
                    return Orientation::from_exif_chunk(tiff).unwrap_or(Orientation::NoTransforms);
                }
            }
        }
        pos += 2 + len;
    }
    Orientation::NoTransforms
}
