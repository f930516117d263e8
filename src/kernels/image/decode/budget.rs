//! The pixel and byte budgets of a decode, checked from the header before any pixel
//! buffer exists.

use super::sniff::be32;
use super::{ImageOpError, MAX_DECODED_BYTES_PER_PIXEL};

pub(super) fn check_size(w: u32, h: u32, max_pixels: u64) -> Result<(), ImageOpError> {
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

/// Refuses an image whose decoded bytes in its stored layout exceed the byte budget of
/// `max_pixels` (see [`MAX_DECODED_BYTES_PER_PIXEL`]).
pub(super) fn check_bytes(
    w: u32,
    h: u32,
    decoded_bytes: u64,
    max_pixels: u64,
) -> Result<(), ImageOpError> {
    let max_bytes = max_pixels.saturating_mul(MAX_DECODED_BYTES_PER_PIXEL);
    if decoded_bytes > max_bytes {
        return Err(ImageOpError::TooManyBytes {
            width: w,
            height: h,
            bytes: decoded_bytes,
            max_bytes,
        });
    }
    Ok(())
}

/// A PNG's width, height and decoded size in bytes (bit depth and channels from IHDR).
pub(super) fn png_decoded_bytes(b: &[u8]) -> Option<(u32, u32, u64)> {
    if !b.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A])
        || b.get(12..16)? != b"IHDR"
    {
        return None;
    }
    let (w, h) = (be32(b, 16)?, be32(b, 20)?);
    let depth = u64::from(*b.get(24)?);
    let channels = match *b.get(25)? {
        0 => 1, // grey
        2 => 3, // RGB
        // palette: expanded to RGB (RGBA with a tRNS chunk) by the decoder
        3 => 4,
        4 => 2, // grey + alpha
        6 => 4, // RGBA
        _ => return None,
    };
    // Samples below 8 bits are expanded to bytes; 16-bit samples take two.
    let bytes_per_sample = if depth == 16 { 2 } else { 1 };
    Some((
        w,
        h,
        u64::from(w) * u64::from(h) * channels * bytes_per_sample,
    ))
}
