//! Named augmentation schemes.
//!
//! A [`Scheme`] is a list of image operations and text operations. Running a scheme on a
//! row happens in two steps, which is what makes every output row reproducible:
//!
//! 1. [`Scheme::sample`] draws the row's parameters ([`AugParams`]) from the row's seed;
//! 2. [`apply_image`] and [`apply_text`] apply recorded parameters with the kernels.
//!
//! Step 2 needs nothing but the parameters, which are written to the `aug_*` lineage
//! columns; so any output row can be recomputed from its source and its lineage.

mod params;

pub use params::{AugParams, Erase, JitterOrder};

use arrow::array::{Int32Array, Int32Builder, ListBuilder, StringArray};
use arrow::error::ArrowError;
use image::RgbImage;
use rand::Rng;

use crate::config::Config;
use crate::kernels::image as img;
use crate::kernels::text;
use crate::kernels::tokens::MlmParams;
use crate::rng::{stream_rng, Stream};

/// One image operation with its sampling distribution.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageOp {
    /// Horizontal flip with probability `prob` (torchvision `RandomHorizontalFlip`).
    HFlip { prob: f64 },
    /// Brightness and contrast factors uniform in [max(0, 1-x), 1+x], applied in a random
    /// order (torchvision `ColorJitter(brightness, contrast)`).
    ColorJitter { brightness: f32, contrast: f32 },
    /// Rotation by an angle uniform in [-degrees, degrees] (torchvision `RandomRotation`).
    Rotate { degrees: f32 },
    /// A square of side floor(fraction * min(h, w)) set to 0, fully inside the image.
    ErasePatch { fraction: f64 },
}

/// One caption operation with its sampling distribution. Words are `str.split()` words.
#[derive(Debug, Clone, PartialEq)]
pub enum TextOp {
    /// With probability `prob`, one uniformly chosen word becomes `token`.
    ReplaceWord { prob: f64, token: String },
    /// If the caption has more than `above` words, floor(n / divisor) distinct words are deleted.
    DeleteWords { above: usize, divisor: usize },
}

/// A named scheme: what it does to images and captions, and whether it adds MLM labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheme {
    pub name: String,
    pub image_ops: Vec<ImageOp>,
    pub text_ops: Vec<TextOp>,
    /// Masked-language-model pseudo labels (`mlm_input_ids`, `mlm_labels`).
    pub mlm: Option<MlmParams>,
}

impl Scheme {
    /// Scheme 1 of the original comparison.
    pub fn aligned(c: &crate::config::AlignedConfig) -> Scheme {
        Scheme {
            name: "aligned".into(),
            image_ops: vec![
                ImageOp::HFlip { prob: c.hflip_prob },
                ImageOp::ColorJitter {
                    brightness: c.brightness,
                    contrast: c.contrast,
                },
                ImageOp::Rotate {
                    degrees: c.rotate_degrees,
                },
            ],
            text_ops: vec![TextOp::ReplaceWord {
                prob: c.replace_prob,
                token: c.replace_token.clone(),
            }],
            mlm: None,
        }
    }

    /// Scheme 2 of the original comparison.
    pub fn cross_modal(c: &crate::config::CrossModalConfig) -> Scheme {
        Scheme {
            name: "cross_modal".into(),
            image_ops: vec![ImageOp::ErasePatch {
                fraction: c.patch_fraction,
            }],
            text_ops: vec![TextOp::DeleteWords {
                above: c.delete_above_words,
                divisor: c.delete_divisor,
            }],
            mlm: None,
        }
    }

    /// Scheme 3 of the original comparison.
    pub fn pseudo_label(c: &crate::config::PseudoLabelConfig) -> Scheme {
        Scheme {
            name: "pseudo_label".into(),
            image_ops: vec![],
            text_ops: vec![],
            mlm: Some(MlmParams {
                select_prob: c.select_prob,
                mask_prob: c.mask_prob,
                random_prob: c.random_prob,
            }),
        }
    }

    /// The schemes a config selects, in its order.
    pub fn from_config(config: &Config) -> anyhow::Result<Vec<Scheme>> {
        config
            .schemes
            .iter()
            .map(|name| match name.as_str() {
                "aligned" => Ok(Scheme::aligned(&config.aligned)),
                "cross_modal" => Ok(Scheme::cross_modal(&config.cross_modal)),
                "pseudo_label" => Ok(Scheme::pseudo_label(&config.pseudo_label)),
                other => anyhow::bail!("unknown scheme `{other}`"),
            })
            .collect()
    }

    /// The replacement token of this scheme's `ReplaceWord` op, if any.
    pub fn replace_token(&self) -> Option<&str> {
        self.text_ops.iter().find_map(|op| match op {
            TextOp::ReplaceWord { token, .. } => Some(token.as_str()),
            _ => None,
        })
    }

    /// Draw the parameters of one output row.
    ///
    /// `width`/`height` are those of the resized image; `words` is the number of words of
    /// the source caption (`None` for a null caption, whose text ops record nothing).
    pub fn sample(
        &self,
        row_seed: u64,
        width: u32,
        height: u32,
        words: Option<usize>,
    ) -> AugParams {
        let mut p = AugParams::default();
        let mut rng = stream_rng(row_seed, Stream::Image);
        for op in &self.image_ops {
            match *op {
                ImageOp::HFlip { prob } => p.hflip = Some(rng.random_bool(prob)),
                ImageOp::ColorJitter {
                    brightness,
                    contrast,
                } => {
                    // ColorJitter draws the order first, then each factor.
                    p.jitter_order = Some(if rng.random_bool(0.5) {
                        JitterOrder::BrightnessContrast
                    } else {
                        JitterOrder::ContrastBrightness
                    });
                    p.brightness = Some(uniform_factor(&mut rng, brightness));
                    p.contrast = Some(uniform_factor(&mut rng, contrast));
                }
                ImageOp::Rotate { degrees } => {
                    p.rotate_deg = Some(if degrees > 0.0 {
                        rng.random_range(-degrees..=degrees)
                    } else {
                        0.0
                    })
                }
                ImageOp::ErasePatch { fraction } => {
                    let size = (fraction * f64::from(width.min(height))).floor() as u32;
                    let size = size.min(width).min(height);
                    let x = rng.random_range(0..=width - size);
                    let y = rng.random_range(0..=height - size);
                    p.erase = Some(Erase {
                        x: x as i32,
                        y: y as i32,
                        size: size as i32,
                    });
                }
            }
        }
        let mut rng = stream_rng(row_seed, Stream::Text);
        for op in &self.text_ops {
            match *op {
                TextOp::ReplaceWord { prob, .. } => {
                    let hit = rng.random_bool(prob);
                    p.words_replaced = words.map(|n| {
                        if hit && n > 0 {
                            vec![rng.random_range(0..n) as i32]
                        } else {
                            vec![]
                        }
                    });
                }
                TextOp::DeleteWords { above, divisor } => {
                    p.words_deleted = words.map(|n| {
                        if n > above {
                            let mut idx: Vec<i32> =
                                rand::seq::index::sample(&mut rng, n, n / divisor)
                                    .into_iter()
                                    .map(|i| i as i32)
                                    .collect();
                            idx.sort_unstable();
                            idx
                        } else {
                            vec![]
                        }
                    });
                }
            }
        }
        p
    }
}

/// A human-readable description of every scheme with the parameters `config` gives them
/// (`lakeaug schemes`).
pub fn describe(config: &Config) -> String {
    let a = &config.aligned;
    let c = &config.cross_modal;
    let p = &config.pseudo_label;
    let i = &config.image;
    format!(
        "Every scheme first decodes the image (EXIF orientation applied, RGB), refuses images over \
{max_pixels} pixels, and resizes to {size}x{size} (resize = {resize:?}, bilinear with antialiasing as \
torchvision Resize); output images are encoded as {format:?} (quality {quality}). Every output caption \
is tokenized into input_ids (max_tokens = {max_tokens}).

aligned        [aligned] in the config
  image  hflip           p = hflip_prob = {hflip}                      -> aug_hflip
         color jitter    brightness = {b}, contrast = {ct}: factors uniform in [max(0,1-x), 1+x],
                         applied in a random order (torchvision ColorJitter)
                                                                   -> aug_brightness, aug_contrast, aug_jitter_order
         rotate          angle uniform in [-{deg}, {deg}] degrees, counter-clockwise, nearest, fill 0
                         (rotate_degrees)                          -> aug_rotate_deg
  text   replace word    with p = replace_prob = {rp}, one uniformly chosen word becomes
                         replace_token = {token:?}                  -> aug_words_replaced

cross_modal    [cross_modal]
  image  erase patch     square of side floor(patch_fraction * min(h, w)), patch_fraction = {pf},
                         set to 0 at a uniform position inside the image
                                                                   -> aug_erase_x, aug_erase_y, aug_erase_size
  text   delete words    if a caption has more than delete_above_words = {above} words,
                         floor(n / delete_divisor) (= {div}) distinct words are deleted -> aug_words_deleted

pseudo_label   [pseudo_label]
  image  (resize only)
  text   (unchanged); BERT masked-LM pseudo labels over the caption's tokens: each non-special
         position is selected with p = select_prob = {sp}; a selected token becomes [MASK] with
         p = mask_prob = {mp}, a random token with p = random_prob = {rnd}, else stays
                                                                   -> mlm_input_ids, mlm_labels (-100 = not selected)

Words are whitespace-separated (Python str.split()); word indices refer to the source caption.
Print a config with every default: lakeaug schemes --config-template
",
        max_pixels = i.max_pixels,
        size = i.size,
        resize = i.resize,
        format = i.format,
        quality = i.quality,
        max_tokens = config.tokens.max_tokens,
        hflip = a.hflip_prob,
        b = a.brightness,
        ct = a.contrast,
        deg = a.rotate_degrees,
        rp = a.replace_prob,
        token = a.replace_token,
        pf = c.patch_fraction,
        above = c.delete_above_words,
        div = c.delete_divisor,
        sp = p.select_prob,
        mp = p.mask_prob,
        rnd = p.random_prob,
    )
}

fn uniform_factor(rng: &mut impl Rng, spread: f32) -> f32 {
    let lo = (1.0 - spread).max(0.0);
    let hi = 1.0 + spread;
    if hi > lo {
        rng.random_range(lo..=hi)
    } else {
        1.0
    }
}

/// Apply recorded image parameters to a resized image, in the fixed order flip, colour
/// jitter (in its recorded order), rotation, erase. A pure function of its arguments.
pub fn apply_image(image: RgbImage, p: &AugParams) -> RgbImage {
    let mut image = image;
    if p.hflip == Some(true) {
        img::hflip(&mut image);
    }
    let brightness = |image: &mut RgbImage| p.brightness.map(|f| img::adjust_brightness(image, f));
    let contrast = |image: &mut RgbImage| p.contrast.map(|f| img::adjust_contrast(image, f));
    if p.jitter_order == Some(JitterOrder::ContrastBrightness) {
        contrast(&mut image);
        brightness(&mut image);
    } else {
        brightness(&mut image);
        contrast(&mut image);
    }
    if let Some(angle) = p.rotate_deg {
        if angle != 0.0 {
            image = img::rotate_nearest(&image, angle);
        }
    }
    if let Some(e) = p.erase {
        img::erase(
            &mut image,
            e.x.max(0) as u32,
            e.y.max(0) as u32,
            e.size.max(0) as u32,
        );
    }
    image
}

/// Apply recorded caption parameters to a batch of captions: `params[i]` belongs to
/// `captions[i]`. Replacements happen before deletions; both index the source caption's words.
pub fn apply_text(
    captions: &StringArray,
    params: &[&AugParams],
    replace_token: Option<&str>,
) -> Result<StringArray, ArrowError> {
    let mut out = captions.clone();
    if let Some(token) = replace_token {
        if params
            .iter()
            .any(|p| p.words_replaced.as_ref().is_some_and(|w| !w.is_empty()))
        {
            let index: Int32Array = params
                .iter()
                .map(|p| p.words_replaced.as_ref().and_then(|w| w.first().copied()))
                .collect();
            out = text::replace_words(&out, &index, token)?;
        }
    }
    if params
        .iter()
        .any(|p| p.words_deleted.as_ref().is_some_and(|w| !w.is_empty()))
    {
        let mut builder = ListBuilder::new(Int32Builder::new());
        for p in params {
            match &p.words_deleted {
                Some(w) => {
                    builder.values().append_slice(w);
                    builder.append(true);
                }
                None => builder.append(false),
            }
        }
        out = text::delete_words(&out, &builder.finish())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn schemes() -> Vec<Scheme> {
        Scheme::from_config(&Config::default()).unwrap()
    }

    #[test]
    fn aligned_samples_within_ranges_and_at_the_right_rates() {
        let aligned = &schemes()[0];
        let n = 4000;
        let (mut flips, mut replaced, mut bright_first) = (0, 0, 0);
        for seed in 0..n {
            let p = aligned.sample(seed, 224, 224, Some(10));
            flips += p.hflip.unwrap() as u32;
            let b = p.brightness.unwrap();
            let c = p.contrast.unwrap();
            assert!((0.8..=1.2).contains(&b) && (0.8..=1.2).contains(&c));
            let r = p.rotate_deg.unwrap();
            assert!((-15.0..=15.0).contains(&r));
            let w = p.words_replaced.unwrap();
            assert!(w.len() <= 1 && w.iter().all(|&i| (0..10).contains(&i)));
            replaced += w.len() as u32;
            bright_first += (p.jitter_order == Some(JitterOrder::BrightnessContrast)) as u32;
            assert!(p.erase.is_none() && p.words_deleted.is_none());
        }
        // Binomial(4000, p): 5 standard deviations is about 160 (p=.5) and 145 (p=.3).
        assert!((flips as i64 - 2000).abs() < 160, "flips {flips}");
        assert!(
            (bright_first as i64 - 2000).abs() < 160,
            "order {bright_first}"
        );
        assert!((replaced as i64 - 1200).abs() < 145, "replaced {replaced}");
    }

    #[test]
    fn cross_modal_patch_fits_and_deletes_a_third() {
        let cm = &schemes()[1];
        for seed in 0..500 {
            let p = cm.sample(seed, 224, 100, Some(11));
            let e = p.erase.unwrap();
            assert_eq!(e.size, 20);
            assert!(e.x >= 0 && e.x + e.size <= 224 && e.y >= 0 && e.y + e.size <= 100);
            let d = p.words_deleted.unwrap();
            assert_eq!(d.len(), 3);
            assert!(d.windows(2).all(|w| w[0] < w[1]) && d.iter().all(|&i| (0..11).contains(&i)));
        }
        // Five words or fewer: nothing deleted; null captions record null; tiny images no patch.
        assert_eq!(cm.sample(1, 224, 224, Some(5)).words_deleted, Some(vec![]));
        assert_eq!(cm.sample(1, 224, 224, None).words_deleted, None);
        let tiny = cm.sample(1, 4, 3, Some(0)).erase.unwrap();
        assert_eq!((tiny.x, tiny.y, tiny.size), (tiny.x, tiny.y, 0));
    }

    #[test]
    fn sampling_is_a_function_of_the_seed() {
        let aligned = &schemes()[0];
        assert_eq!(
            aligned.sample(9, 224, 224, Some(4)),
            aligned.sample(9, 224, 224, Some(4))
        );
        assert_ne!(
            aligned.sample(9, 224, 224, Some(4)),
            aligned.sample(10, 224, 224, Some(4))
        );
    }

    #[test]
    fn text_params_apply_to_source_word_indices() {
        let captions = StringArray::from(vec![
            Some("a  dog on the left"),
            Some("one two three four five six seven"),
            None,
        ]);
        let p0 = AugParams {
            words_replaced: Some(vec![1]),
            ..Default::default()
        };
        let p1 = AugParams {
            words_deleted: Some(vec![0, 6]),
            ..Default::default()
        };
        let p2 = AugParams::default();
        let out = apply_text(&captions, &[&p0, &p1, &p2], Some("random_word")).unwrap();
        assert_eq!(
            out.iter().collect::<Vec<_>>(),
            vec![
                Some("a random_word on the left"),
                Some("two three four five six"),
                None
            ]
        );
    }
}
