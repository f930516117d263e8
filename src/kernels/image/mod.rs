//! Image kernels: decode, resize, flip, colour (brightness, contrast, saturation, hue,
//! grayscale), rotate, erase, blur, random resized crop, MixGen blend, encode.
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
//! | [`adjust_saturation`] | `ImageEnhance.Color(img).enhance(f)` (blend with `convert("L")`, per pixel) |
//! | [`adjust_hue`] | torchvision `adjust_hue` on PIL: Pillow's 8-bit HSV, H += `int(f * 255)` wrapping |
//! | [`grayscale`], [`luma`] | `img.convert("L")` (`Convert.c`, BT.601 in 16-bit fixed point) |
//! | [`apply_color_ops`] | `ColorJitter` with a given order of the four [`ColorOp`]s |
//! | [`gaussian_blur`] | `F.gaussian_blur(img, [k, k], [s, s])` (float32 conv; exact but for rare +-1) |
//! | [`sample_resized_crop`] | `RandomResizedCrop.get_params` (the algorithm, with our generator) |
//! | [`resized_crop`] | `F.resized_crop(img, ...)` = `img.crop(box).resize(size, BILINEAR)` ([`resized_crop_pillow_exact`]: exact) |
//! | [`mixgen_blend`] | MixGen `lambda * a + (1 - lambda) * b`, rounded half up (exact; no torchvision op) |
//!
//! Decoding ([`decode_rgb8`], [`decode_source`]) checks the header dimensions against a
//! pixel budget and the decoded size against a byte budget before any pixel buffer is
//! allocated, refuses truncated and corrupt images, and applies EXIF orientation.

mod blur;
mod color;
mod crop;
mod decode;
mod encode;
mod geometry;
mod hsv;
mod jitter;
mod mix;
mod point;
mod resize;

pub use blur::{gaussian_blur, gaussian_kernel1d, gaussian_kernel_size, MAX_KERNEL_SIZE};
pub use color::{
    adjust_brightness, adjust_contrast, adjust_saturation, blend_lut, blend_value, grayscale,
    grayscale_mean_rounded, luma,
};
pub use crop::{resized_crop, resized_crop_pillow_exact, sample_resized_crop, CropBox};
pub use decode::{
    decode_footprint, decode_memory, decode_rgb8, decode_rgb8_at_scale, decode_rgb8_reduced,
    decode_source, image_format_and_size, jpeg_scale_denom, DecodeMemory, DecodeOptions,
    ReducedImage, Reservation, DEFAULT_DECODE_MEMORY, MAX_DECODED_BYTES_PER_PIXEL,
};
pub use encode::{encode, OutputFormat};
pub use geometry::{erase, hflip, rotate_nearest, rotate_nearest_f64, rotate_nearest_mapped};
pub use hsv::{adjust_hue, hsv_to_rgb, hue_shift_byte, rgb_to_hsv};
pub use jitter::{apply_color_ops, ColorOp, UnknownColorOp};
pub use mix::mixgen_blend;
pub use point::PointMap;
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
    /// The image is truncated or its data is corrupt, so pixels would be missing or wrong
    /// (e.g. `truncated JPEG: premature end of data ...`): the message says which.
    #[error("{0}")]
    Damaged(String),
    /// Decoded in its stored layout (bit depth and channels included), the image would
    /// take more bytes than the budget (`--max-pixels` x 4 bytes); refused from the header.
    #[error(
        "image is {width}x{height} and decodes to {} MB, above the limit of {} MB (4 bytes per pixel of --max-pixels)",
        bytes.div_ceil(1_000_000),
        max_bytes / 1_000_000
    )]
    TooManyBytes {
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
        /// Decoded size in the stored layout.
        bytes: u64,
        /// The budget that was exceeded.
        max_bytes: u64,
    },
    /// The encoder failed (e.g. an empty image).
    #[error("image could not be encoded: {0}")]
    Encode(String),
    /// Two images that must have the same size (e.g. the MixGen pair) do not.
    #[error("images differ in size: {}x{} and {}x{}", first.0, first.1, second.0, second.1)]
    SizeMismatch {
        /// Width and height of the first image.
        first: (u32, u32),
        /// Width and height of the second image.
        second: (u32, u32),
    },
    /// A kernel parameter outside its domain (even blur kernel, crop box outside the
    /// image, MixGen lambda outside [0, 1], ...); the message names it and its value.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
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
