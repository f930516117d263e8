//! Encoding RGB8 images to JPEG (libjpeg-turbo, as Pillow), PNG or WebP.

use std::cell::RefCell;

use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{ExtendedColorType, ImageEncoder, RgbImage};
use turbojpeg::{Compressor, PixelFormat, Subsamp};

use super::ImageOpError;

thread_local! {
    // A TurboJPEG handle keeps libjpeg's compressor state; one per thread reuses it.
    static COMPRESSOR: RefCell<Option<Compressor>> = const { RefCell::new(None) };
}

/// Output encoding of augmented images.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OutputFormat {
    /// Baseline JPEG, 4:2:0 chroma subsampling, standard Huffman tables, encoded by
    /// libjpeg-turbo with the settings Pillow uses by default (byte equality with
    /// `Image.save(f, "JPEG", quality=q)` is not checked); `quality` 1..=100 (0 is
    /// treated as 1, values above 100 as 100).
    Jpeg {
        /// Quality factor (libjpeg scale).
        quality: u8,
    },
    /// PNG, 8-bit RGB, default compression.
    Png,
    /// WebP. The `image` crate only writes **lossless** WebP, so there is no quality
    /// setting: files are exact but larger than a lossy encoder's.
    WebP,
}

/// Encodes `img` and **appends** the bytes to `out`, so a caller can reuse one buffer
/// (clear it between images) or pack several images into it. On error `out` is left
/// as it was.
pub fn encode(img: &RgbImage, format: OutputFormat, out: &mut Vec<u8>) -> Result<(), ImageOpError> {
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 {
        return Err(ImageOpError::Encode(format!(
            "cannot encode an empty {w}x{h} image"
        )));
    }
    let start = out.len();
    let result = match format {
        OutputFormat::Jpeg { quality } => {
            return encode_jpeg(img, quality.clamp(1, 100), out)
                .map_err(|e| ImageOpError::Encode(e.to_string()));
        }
        OutputFormat::Png => {
            PngEncoder::new(&mut *out).write_image(img.as_raw(), w, h, ExtendedColorType::Rgb8)
        }
        OutputFormat::WebP => WebPEncoder::new_lossless(&mut *out).write_image(
            img.as_raw(),
            w,
            h,
            ExtendedColorType::Rgb8,
        ),
    };
    result.map_err(|e| {
        out.truncate(start);
        ImageOpError::Encode(e.to_string())
    })
}

/// JPEG through a per-thread TurboJPEG compressor; appends to `out` only on success.
fn encode_jpeg(img: &RgbImage, quality: u8, out: &mut Vec<u8>) -> Result<(), turbojpeg::Error> {
    COMPRESSOR.with(|cell| {
        let mut fresh = None;
        let mut borrowed = cell.try_borrow_mut().ok();
        let compressor = match borrowed.as_deref_mut() {
            Some(slot) => match slot {
                Some(c) => c,
                None => slot.insert(Compressor::new()?),
            },
            // Only if re-entered on this thread: a one-off compressor.
            None => fresh.insert(Compressor::new()?),
        };
        compressor.set_quality(quality as i32)?;
        compressor.set_subsamp(Subsamp::Sub2x2)?;
        let (w, h) = (img.width() as usize, img.height() as usize);
        let bytes = compressor.compress_to_owned(turbojpeg::Image {
            pixels: img.as_raw().as_slice(),
            width: w,
            pitch: w * 3,
            height: h,
            format: PixelFormat::RGB,
        })?;
        out.extend_from_slice(&bytes);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RgbImage {
        RgbImage::from_fn(40, 24, |x, y| image::Rgb([x as u8 * 6, y as u8 * 10, 128]))
    }

    #[test]
    fn appends_and_decodes_back() {
        let img = sample();
        let mut out = b"prefix".to_vec();
        encode(&img, OutputFormat::Png, &mut out).expect("png");
        assert!(out.starts_with(b"prefix"));
        let png = &out[6..];
        let back = image::load_from_memory(png).expect("decode").into_rgb8();
        assert_eq!(back, img);

        let mut out = Vec::new();
        encode(&img, OutputFormat::WebP, &mut out).expect("webp");
        assert_eq!(&out[8..12], b"WEBP");
        let back = image::load_from_memory(&out).expect("decode").into_rgb8();
        assert_eq!(back, img, "lossless WebP is exact");
    }

    #[test]
    fn jpeg_quality_matters_and_is_clamped() {
        let img = sample();
        let (mut q30, mut q95, mut q0) = (Vec::new(), Vec::new(), Vec::new());
        encode(&img, OutputFormat::Jpeg { quality: 30 }, &mut q30).expect("q30");
        encode(&img, OutputFormat::Jpeg { quality: 95 }, &mut q95).expect("q95");
        encode(&img, OutputFormat::Jpeg { quality: 0 }, &mut q0).expect("q0");
        assert!(q30.starts_with(&[0xFF, 0xD8]) && q95.starts_with(&[0xFF, 0xD8]));
        assert!(q30.len() < q95.len());
        let back = image::load_from_memory(&q95).expect("decode").into_rgb8();
        assert_eq!(back.dimensions(), (40, 24));
        let max_diff = back
            .as_raw()
            .iter()
            .zip(img.as_raw())
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap_or(0);
        assert!(max_diff < 20, "q95 max diff {max_diff}");
        assert!(!q0.is_empty());
    }

    #[test]
    fn empty_image_is_an_error_and_leaves_buffer() {
        let mut out = vec![1, 2, 3];
        let e = encode(&RgbImage::new(0, 4), OutputFormat::Png, &mut out);
        assert!(matches!(e, Err(ImageOpError::Encode(_))));
        assert_eq!(out, vec![1, 2, 3]);
    }
}
