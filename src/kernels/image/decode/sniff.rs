//! Header sniffing: the format and stored size of an image without decoding pixels.

pub(super) fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
pub(super) fn be32(b: &[u8], at: usize) -> Option<u32> {
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

/// The marker segments of a JPEG after its start-of-image, up to its end-of-image: each
/// segment's marker code and the offset of its length field. Standalone markers (no
/// length) are skipped; the walk stops at bytes that are not a marker or at a length
/// below 2, and does not go past a segment the caller stops at (start of scan: the
/// entropy-coded data that follows is not segments).
pub(super) fn jpeg_segments(b: &[u8]) -> impl Iterator<Item = (u8, usize)> + '_ {
    let mut pos = 2usize;
    let mut first = true;
    std::iter::from_fn(move || {
        if !first {
            // Skip the payload of the segment yielded last.
            let len = be16(b, pos)? as usize;
            if len < 2 {
                return None;
            }
            pos += len;
        }
        first = false;
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
                0x01 | 0xD0..=0xD8 => continue,
                // end of image
                0xD9 => return None,
                _ => return Some((marker, pos)),
            }
        }
    })
}

/// Walks the JPEG marker segments up to the first start-of-frame.
fn jpeg_size(b: &[u8]) -> Option<(u32, u32)> {
    for (marker, pos) in jpeg_segments(b) {
        match marker {
            // start of scan before any frame header
            0xDA => return None,
            // SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC):
            // length(2) precision(1) height(2) width(2)
            0xC0..=0xCF if marker != 0xC4 && marker != 0xC8 && marker != 0xCC => {
                let h = be16(b, pos + 3)? as u32;
                let w = be16(b, pos + 5)? as u32;
                return Some((w, h));
            }
            _ => {}
        }
    }
    None
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
    use super::super::tests::png_header_only;
    use super::*;

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
