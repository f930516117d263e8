//! Gaussian blur as torchvision's `F.gaussian_blur` does it on PIL images.
//!
//! torchvision 0.29 (`transforms/functional.py`, `_functional_tensor.gaussian_blur`):
//! the PIL image becomes a uint8 tensor, a float32 1-D kernel
//! `exp(-0.5 * (x / sigma)^2)` over `x = -(k-1)/2 ..= (k-1)/2` is normalised by its sum,
//! the image is padded by `k / 2` with `reflect` (mirror without repeating the edge),
//! convolved with the outer product of the 1-D kernel in float32, rounded half to even
//! (`torch.round`) and cast back to uint8.
//!
//! Here the convolution is separable (horizontal, then vertical, `f32` sums), which is
//! the same sum regrouped: torch's float32 accumulation order is its own, so a value
//! whose exact result lies within float rounding of `x.5` can round the other way.
//! Against the fixtures that happens on a handful of values per hundred thousand, never
//! by more than 1 (`tests/it/image_parity.rs` reports the count).

use image::RgbImage;

use super::ImageOpError;

/// The kernel size lakeaug uses when only `sigma` is configured: `2 * ceil(3 sigma) + 1`,
/// odd and covering +-3 sigma (99.7 % of the weight). torchvision's `GaussianBlur`
/// always takes an explicit `kernel_size`; this rule is ours (the same as OpenCV's for
/// float images).
pub fn gaussian_kernel_size(sigma: f32) -> u32 {
    let radius = (3.0 * sigma as f64).ceil().max(0.0) as u32;
    2 * radius + 1
}

/// The largest kernel [`gaussian_blur`] accepts (sigma about 170 with
/// [`gaussian_kernel_size`]); it bounds the work and memory a bad parameter can ask for.
pub const MAX_KERNEL_SIZE: u32 = 1023;

/// torchvision's `_get_gaussian_kernel1d(kernel_size, sigma)` in float32.
pub fn gaussian_kernel1d(kernel_size: u32, sigma: f32) -> Vec<f32> {
    let half = (kernel_size as f32 - 1.0) * 0.5;
    let pdf: Vec<f32> = (0..kernel_size)
        .map(|i| {
            let x = (i as f32 - half) / sigma;
            (-0.5 * (x * x)).exp()
        })
        .collect();
    let sum: f32 = pdf.iter().sum();
    pdf.iter().map(|p| p / sum).collect()
}

/// `reflect` padding's source index for position `i` (may be negative or past the end)
/// in a line of `n > 0` samples: `-1 -> 1`, `n -> n - 2`. torch refuses padding of `n`
/// or more; here the mirror repeats (period `2n - 2`) so any kernel fits any image.
#[inline]
fn reflect(i: isize, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n as isize - 1);
    let m = i.rem_euclid(period);
    (if m >= n as isize { period - m } else { m }) as usize
}

/// torchvision `F.gaussian_blur(img, [kernel_size, kernel_size], [sigma, sigma])` on a
/// PIL RGB image (see the module docs for the one rounding caveat).
///
/// Errors when `kernel_size` is even or zero, or `sigma` is not a positive finite
/// number (torchvision raises `ValueError` for the same). Use [`gaussian_kernel_size`]
/// to derive the size from `sigma`.
pub fn gaussian_blur(
    img: &RgbImage,
    kernel_size: u32,
    sigma: f32,
) -> Result<RgbImage, ImageOpError> {
    if kernel_size.is_multiple_of(2) {
        return Err(ImageOpError::InvalidParameter(format!(
            "Gaussian blur kernel size must be odd and positive, got {kernel_size}"
        )));
    }
    if !(sigma.is_finite() && sigma > 0.0) {
        return Err(ImageOpError::InvalidParameter(format!(
            "Gaussian blur sigma must be a positive number, got {sigma}"
        )));
    }
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w == 0 || h == 0 {
        return Ok(img.clone());
    }
    let kernel = gaussian_kernel1d(kernel_size, sigma);
    let radius = kernel_size as isize / 2;
    let row_len = w * 3;

    // Horizontal pass into f32 rows: pad each row by reflection, then accumulate one
    // kernel tap at a time over the whole row (a loop the compiler vectorises).
    let mut horiz = vec![0f32; row_len * h];
    let mut padded = vec![0f32; (w + 2 * radius as usize) * 3];
    for (src, dst) in img
        .chunks_exact(row_len)
        .zip(horiz.chunks_exact_mut(row_len))
    {
        for (p, px) in padded.chunks_exact_mut(3).enumerate() {
            let x = reflect(p as isize - radius, w) * 3;
            for (d, &v) in px.iter_mut().zip(&src[x..x + 3]) {
                *d = v as f32;
            }
        }
        for (j, &k) in kernel.iter().enumerate() {
            for (acc, &v) in dst.iter_mut().zip(&padded[j * 3..j * 3 + row_len]) {
                *acc += k * v;
            }
        }
    }

    // Vertical pass: output row y sums the reflected rows y - r ..= y + r.
    let mut out = RgbImage::new(w as u32, h as u32);
    let mut acc = vec![0f32; row_len];
    for (y, dst) in out.chunks_exact_mut(row_len).enumerate() {
        acc.fill(0.0);
        for (i, &k) in kernel.iter().enumerate() {
            let sy = reflect(y as isize + i as isize - radius, h);
            for (a, &v) in acc.iter_mut().zip(&horiz[sy * row_len..(sy + 1) * row_len]) {
                *a += k * v;
            }
        }
        for (d, &a) in dst.iter_mut().zip(&acc) {
            // torch.round is half to even; `as u8` saturates (the sum stays in [0, 255]
            // up to float error anyway).
            *d = a.round_ties_even() as u8;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_size_rule() {
        assert_eq!(gaussian_kernel_size(0.1), 3); // ceil(0.3) = 1
        assert_eq!(gaussian_kernel_size(1.0), 7);
        assert_eq!(gaussian_kernel_size(1.5), 11); // ceil(4.5) = 5
        assert_eq!(gaussian_kernel_size(2.0), 13);
    }

    #[test]
    fn kernel_matches_torchvision() {
        // torchvision.transforms._functional_tensor._get_gaussian_kernel1d(5, 1.0,
        // torch.float32, "cpu"), printed with 9 digits by torch 2.15
        let k = gaussian_kernel1d(5, 1.0);
        // As torch printed them, not rounded to what an f32 can hold.
        #[allow(clippy::excessive_precision)]
        let expected = [
            0.054488689,
            0.244201362,
            0.402619958,
            0.244201362,
            0.054488689,
        ];
        for (a, b) in k.iter().zip(expected) {
            assert!((a - b).abs() < 1e-7, "{k:?}");
        }
        let k = gaussian_kernel1d(3, 0.1);
        assert_eq!(k[1], 1.0); // exp(-50) / (1 + 2 exp(-50)) rounds to 1 in f32
    }

    #[test]
    fn reflect_mirrors_without_repeating_the_edge() {
        let idx: Vec<usize> = (-3..8).map(|i| reflect(i, 5)).collect();
        assert_eq!(idx, [3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1]);
        assert_eq!(reflect(-4, 2), 0);
        assert_eq!(reflect(7, 1), 0);
    }

    #[test]
    fn constant_image_stays_constant() {
        let im = RgbImage::from_pixel(9, 7, image::Rgb([10, 128, 255]));
        let out = gaussian_blur(&im, 5, 1.3).unwrap();
        assert_eq!(out, im);
    }

    #[test]
    fn blurs_an_impulse_symmetrically() {
        // A single 255 in the middle of a 5x5 black image, kernel 3, sigma 1
        // (torchvision gives the same 3x3 block of 19/32/52):
        // k = [0.27407, 0.45186, 0.27407]; centre 255 * 0.45186^2 = 52.07 -> 52,
        // edge neighbours 255 * 0.45186 * 0.27407 = 31.58 -> 32,
        // diagonals 255 * 0.27407^2 = 19.15 -> 19.
        let mut im = RgbImage::new(5, 5);
        im.put_pixel(2, 2, image::Rgb([255, 255, 255]));
        let out = gaussian_blur(&im, 3, 1.0).unwrap();
        let r = |x, y| out.get_pixel(x, y)[0];
        assert_eq!(r(2, 2), 52);
        assert_eq!((r(1, 2), r(3, 2), r(2, 1), r(2, 3)), (32, 32, 32, 32));
        assert_eq!((r(1, 1), r(3, 3), r(1, 3), r(3, 1)), (19, 19, 19, 19));
        assert_eq!(r(0, 0), 0);
    }

    #[test]
    fn kernel_larger_than_image_is_handled() {
        let im = RgbImage::from_fn(3, 2, |x, y| {
            image::Rgb([(x * 80) as u8, (y * 100) as u8, 7])
        });
        let out = gaussian_blur(&im, 9, 2.0).unwrap();
        assert_eq!(out.dimensions(), (3, 2));
        assert!(out.pixels().all(|p| p[2] == 7));
    }

    #[test]
    fn invalid_parameters_are_errors() {
        let im = RgbImage::new(4, 4);
        assert!(matches!(
            gaussian_blur(&im, 4, 1.0),
            Err(ImageOpError::InvalidParameter(_))
        ));
        assert!(matches!(
            gaussian_blur(&im, 0, 1.0),
            Err(ImageOpError::InvalidParameter(_))
        ));
        assert!(matches!(
            gaussian_blur(&im, 3, 0.0),
            Err(ImageOpError::InvalidParameter(_))
        ));
        assert!(matches!(
            gaussian_blur(&im, 3, f32::NAN),
            Err(ImageOpError::InvalidParameter(_))
        ));
        assert_eq!(
            gaussian_blur(&RgbImage::new(0, 3), 3, 1.0)
                .unwrap()
                .dimensions(),
            (0, 3)
        );
    }
}
