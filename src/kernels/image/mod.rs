//! Image kernels: decode, resize, flip, brightness/contrast, rotate, erase, encode.
//!
//! Every kernel is a free function over `image::RgbImage` (8-bit RGB, row-major, no
//! padding) with no hidden state visible to callers. The colour and geometry kernels
//! reproduce what torchvision does on PIL images, i.e. Pillow's C code, bit for bit:
//!
//! | kernel | reference |
//! |---|---|
//! | [`hflip`] | `Image.transpose(FLIP_LEFT_RIGHT)` |
//! | [`adjust_brightness`] | `ImageEnhance.Brightness(img).enhance(f)` (`Blend.c`, float32) |
//! | [`adjust_contrast`] | `ImageEnhance.Contrast(img).enhance(f)` (mean of `convert("L")`, rounded) |
//! | [`rotate_nearest`] | `Image.rotate(angle, NEAREST, expand=False, fillcolor=0)` (`Geometry.c`) |
//! | [`erase`] | `torchvision.transforms.functional.erase(..., v=0)` on a fixed square |
//! | [`resize`] | `Image.resize((w, h), BILINEAR)`, via `fast_image_resize` (may differ by 1) |
//!
//! Decoding ([`decode_rgb8`]) checks the header dimensions against a pixel budget before
//! any pixel buffer is allocated and applies EXIF orientation.

mod color;
mod decode;
mod encode;
mod geometry;
mod resize;

pub use color::{adjust_brightness, adjust_contrast, blend_lut, grayscale_mean_rounded};
pub use decode::{
    decode_rgb8, decode_rgb8_reduced, image_format_and_size, jpeg_scale_denom, ReducedImage,
};
pub use encode::{encode, OutputFormat};
pub use geometry::{erase, hflip, rotate_nearest, rotate_nearest_f64};
pub use resize::{resize, resize_pillow_exact, shorter_side_crop_geometry, ResizeMode};

pub use image::RgbImage;

/// Why an image could not be decoded or encoded.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ImageOpError {
    /// No bytes at all, or a header announcing zero width or height.
    #[error("image is empty (no bytes, or zero width or height)")]
    Empty,
    /// The bytes are not an image in a supported format, or are corrupt or truncated.
    #[error("image could not be decoded: {0}")]
    Undecodable(String),
    /// The header announces more pixels than the configured budget.
    #[error(
        "image is {width}x{height} = {}, above the limit of {} (--max-pixels)",
        fmt_pixels(*width as u64 * *height as u64),
        fmt_pixels(*max_pixels)
    )]
    TooLarge {
        /// Width from the header (after nothing else was read).
        width: u32,
        /// Height from the header.
        height: u32,
        /// The budget that was exceeded (`--max-pixels`).
        max_pixels: u64,
    },
    /// The encoder failed (e.g. an empty image).
    #[error("image could not be encoded: {0}")]
    Encode(String),
}

/// "400 megapixels", "2.5 megapixels", or "1200 pixels" for small counts.
fn fmt_pixels(n: u64) -> String {
    if n >= 100_000 {
        let (whole, rest) = (n / 1_000_000, n % 1_000_000);
        if rest == 0 {
            format!("{whole} megapixels")
        } else {
            format!("{:.1} megapixels", n as f64 / 1e6)
        }
    } else {
        format!("{n} pixels")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_large_message_is_readable() {
        let e = ImageOpError::TooLarge {
            width: 20000,
            height: 20000,
            max_pixels: 64_000_000,
        };
        assert_eq!(
            e.to_string(),
            "image is 20000x20000 = 400 megapixels, above the limit of 64 megapixels (--max-pixels)"
        );
        let e = ImageOpError::TooLarge {
            width: 50,
            height: 30,
            max_pixels: 1000,
        };
        assert_eq!(
            e.to_string(),
            "image is 50x30 = 1500 pixels, above the limit of 1000 pixels (--max-pixels)"
        );
        let e = ImageOpError::TooLarge {
            width: 2500,
            height: 1000,
            max_pixels: 2_000_000,
        };
        assert_eq!(
            e.to_string(),
            "image is 2500x1000 = 2.5 megapixels, above the limit of 2 megapixels (--max-pixels)"
        );
    }
}
