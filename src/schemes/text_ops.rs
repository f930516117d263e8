//! Running a scheme's caption ops on one caption: drawing each op's parameters, applying
//! them, and replaying recorded parameters.
//!
//! Order: the flip's caption mirroring (if the image was flipped and the policy is
//! `swap`), then the scheme's caption ops in order, then MixGen's appended caption.

use arrow::array::{Int32Array, Int32Builder, ListBuilder, StringArray};
use rand::Rng;

use super::ops::{editable, FlipCaptions, ImageOp, TextOp};
use super::{AugParams, Scheme};
use crate::config::{Language as LanguageSetting, TextConfig};
use crate::kernels::text::{
    self, eda, flip, hedge, reorder, synonyms, Joiner, Language, ParamsError, Segmenter,
    SynonymDict, TextResources,
};

/// The segmenter, dictionary and word lists of a run, shared read-only by all threads.
#[derive(Debug, Clone)]
pub struct TextContext {
    pub resources: TextResources,
}

impl Default for TextContext {
    fn default() -> Self {
        TextContext::from_config(&TextConfig::default()).expect("default text resources")
    }
}

impl TextContext {
    /// Build from the `[text]` section: segmentation and an optional user dictionary.
    pub fn from_config(c: &TextConfig) -> anyhow::Result<TextContext> {
        let language = match c.language {
            LanguageSetting::Auto => Language::Auto,
            LanguageSetting::Whitespace => Language::Whitespace,
            LanguageSetting::Chinese => Language::Chinese,
        };
        let mut resources = TextResources::new(language);
        if let Some(path) = &c.synonyms {
            let tsv = std::fs::read_to_string(path).map_err(|e| {
                anyhow::anyhow!("cannot read synonym dictionary {}: {e}", path.display())
            })?;
            resources.synonyms = SynonymDict::from_tsv(&tsv).map_err(|e| {
                anyhow::anyhow!("invalid synonym dictionary {}: {e}", path.display())
            })?;
        }
        Ok(TextContext { resources })
    }

    fn segmenter(&self) -> &Segmenter {
        &self.resources.segmenter
    }

    /// Whether the caption has a spatial word that a flip would mirror.
    pub fn has_spatial_words(&self, caption: &str) -> bool {
        flip::has_spatial_words(caption, self.segmenter())
    }

    /// Whether the caption names a colour.
    pub fn has_colour_words(&self, caption: &str) -> bool {
        let lists = &self.resources.lists;
        let any = self
            .segmenter()
            .segment(caption)
            .words()
            .any(|w| lists.colour_words.contains(w));
        any
    }
}

/// Whether the scheme mirrors captions of flipped images.
fn mirrors_captions(scheme: &Scheme) -> bool {
    scheme.image_ops.iter().any(|op| {
        matches!(
            op,
            ImageOp::Hflip {
                captions: FlipCaptions::Swap,
                ..
            }
        )
    })
}

/// Whether the scheme's caption edits use the segmenter (all but the original two ops).
fn segments(scheme: &Scheme) -> bool {
    mirrors_captions(scheme)
        || scheme
            .text_ops
            .iter()
            .any(|op| !matches!(op, TextOp::ReplaceWord { .. } | TextOp::DeleteWords { .. }))
}

/// Draw and apply the scheme's caption ops on a (non-null) caption, recording parameters
/// in `p` (whose image parameters are already drawn).
pub(super) fn run_text(
    scheme: &Scheme,
    caption: &str,
    partner: Option<(i64, Option<&str>)>,
    ctx: &TextContext,
    rng: &mut impl Rng,
    p: &mut AugParams,
) -> String {
    let mut c = caption.to_string();
    if segments(scheme) {
        let joiner = ctx.segmenter().segment(caption).joiner();
        p.segmentation = Some(
            if joiner == Joiner::Unspaced {
                "jieba"
            } else {
                "whitespace"
            }
            .into(),
        );
    }
    if p.hflip == Some(true) && mirrors_captions(scheme) {
        let (mirrored, swaps) = mirror(ctx, &c);
        p.hflip_caption_swaps = Some(swaps);
        c = mirrored;
    }
    for op in &scheme.text_ops {
        c = run_op(op, &c, ctx, rng, p);
    }
    if p.mix_partner_row.is_some() {
        if let Some(Some(other)) = partner.map(|(_, c)| c) {
            c = concat(ctx, &c, other);
        }
    }
    c
}

/// Recompute a caption from the source caption and recorded parameters.
pub(super) fn replay_text(
    scheme: &Scheme,
    caption: &str,
    partner_caption: Option<&str>,
    p: &AugParams,
    ctx: &TextContext,
) -> Result<String, String> {
    let mut c = caption.to_string();
    if p.hflip_caption_swaps.is_some() {
        c = mirror(ctx, &c).0;
    }
    for op in &scheme.text_ops {
        c = replay_op(op, &c, ctx, p)?;
    }
    if p.mix_partner_row.is_some() {
        if let Some(other) = partner_caption {
            c = concat(ctx, &c, other);
        }
    }
    Ok(c)
}

fn mirror(ctx: &TextContext, caption: &str) -> (String, Vec<i32>) {
    let flipped = flip::flip_caption(caption, ctx.segmenter());
    (flipped.caption, indices(&flipped.word_indices))
}

/// MixGen's caption: this caption, then the partner's, joined as the language joins words.
fn concat(ctx: &TextContext, own: &str, other: &str) -> String {
    let joiner = ctx.segmenter().segment(own).joiner();
    joiner.join([own.trim_end(), other.trim_start()])
}

fn run_op(
    op: &TextOp,
    c: &str,
    ctx: &TextContext,
    rng: &mut impl Rng,
    p: &mut AugParams,
) -> String {
    let res = &ctx.resources;
    match op {
        TextOp::ReplaceWord { p: prob, token } => {
            // Drawn exactly as the original `aligned` scheme: the hit, then the index.
            let hit = rng.random_bool(*prob);
            let n = text::word_count(c);
            let index = (hit && n > 0).then(|| rng.random_range(0..n) as i32);
            p.words_replaced = Some(index.into_iter().collect());
            replace_word(c, index, token)
        }
        TextOp::DeleteWords { above, divisor } => {
            let n = text::word_count(c);
            let mut idx: Vec<i32> = if n > *above {
                rand::seq::index::sample(rng, n, n / divisor)
                    .into_iter()
                    .map(|i| i as i32)
                    .collect()
            } else {
                vec![]
            };
            idx.sort_unstable();
            let out = delete_words(c, &idx);
            p.words_deleted = Some(idx);
            out
        }
        TextOp::OneOf { ops } => {
            let k = rng.random_range(0..ops.len());
            run_op(&ops[k], c, ctx, rng, p)
        }
        TextOp::Hedge {
            blur_phrases,
            occlusion_phrases,
        } => {
            let blurred = p.blur_sigma.is_some();
            if !blurred && p.erase().is_none() {
                return c.to_string();
            }
            let configured = if blurred {
                blur_phrases
            } else {
                occlusion_phrases
            };
            let chinese = res.segmenter.segment(c).joiner() == Joiner::Unspaced;
            let defaults = match (blurred, chinese) {
                (true, false) => hedge::BLUR_HEDGES_EN,
                (false, false) => hedge::OCCLUSION_HEDGES_EN,
                (true, true) => hedge::BLUR_HEDGES_ZH,
                (false, true) => hedge::OCCLUSION_HEDGES_ZH,
            };
            let sampled = if configured.is_empty() {
                hedge::sample_hedge(c, defaults, rng)
            } else {
                hedge::sample_hedge(c, configured, rng)
            }
            .expect("hedge templates are validated with the config");
            match sampled {
                Some(params) => {
                    let out = hedge::apply_hedge(c, &params).expect("validated template");
                    p.hedge = Some(params.template);
                    out
                }
                None => c.to_string(),
            }
        }
        TextOp::Synonym {
            p: prob,
            max_words,
            also_edit,
        } => {
            let params = if *prob >= 1.0 || rng.random_bool(*prob) {
                synonyms::sample_synonyms(c, *max_words, editable(also_edit), res, rng)
            } else {
                Default::default()
            };
            let out = synonyms::apply_synonyms(c, &params, &res.segmenter)
                .expect("sampled parameters fit their caption");
            p.synonym_words = Some(indices(&params.word_indices));
            p.synonym_replacements = Some(params.replacements);
            out
        }
        TextOp::RandomSwap {
            p: prob,
            n,
            also_edit,
        } => {
            let params = if *prob >= 1.0 || rng.random_bool(*prob) {
                eda::sample_random_swap(c, *n, editable(also_edit), res, rng)
            } else {
                Default::default()
            };
            let out = eda::apply_random_swap(c, &params, &res.segmenter)
                .expect("sampled parameters fit their caption");
            p.swap_pairs = Some(params.pairs.iter().flatten().map(|&i| i as i32).collect());
            out
        }
        TextOp::RandomInsert {
            p: prob,
            n,
            also_edit,
        } => {
            let params = if *prob >= 1.0 || rng.random_bool(*prob) {
                eda::sample_random_insertion(c, *n, editable(also_edit), res, rng)
            } else {
                Default::default()
            };
            let out = eda::apply_random_insertion(c, &params, &res.segmenter)
                .expect("sampled parameters fit their caption");
            p.insert_positions = Some(indices(&params.positions));
            p.insert_words = Some(params.words);
            out
        }
        TextOp::RandomDelete { p: prob, also_edit } => {
            let params = eda::sample_random_deletion(c, *prob, editable(also_edit), res, rng)
                .expect("p is validated with the config");
            let out = eda::apply_random_deletion(c, &params, &res.segmenter)
                .expect("sampled parameters fit their caption");
            p.random_deleted = Some(indices(&params.word_indices));
            out
        }
        TextOp::Reorder { p: prob } => {
            let params = if *prob >= 1.0 || rng.random_bool(*prob) {
                reorder::sample_reorder(c, &res.segmenter, rng)
            } else {
                None
            };
            let out = reorder::apply_reorder(c, params.as_ref(), &res.segmenter)
                .expect("sampled parameters fit their caption");
            p.reorder_spans = Some(
                params
                    .map(|r| vec![r.start as i32, r.split as i32, r.end as i32])
                    .unwrap_or_default(),
            );
            out
        }
    }
}

fn indices(v: &[u32]) -> Vec<i32> {
    v.iter().map(|&i| i as i32).collect()
}

fn replay_op(op: &TextOp, c: &str, ctx: &TextContext, p: &AugParams) -> Result<String, String> {
    let seg = &ctx.resources.segmenter;
    let to_u32 = |v: &[i32]| -> Vec<u32> { v.iter().map(|&i| i.max(0) as u32).collect() };
    let err = |e: ParamsError| e.to_string();
    Ok(match op {
        TextOp::ReplaceWord { token, .. } => match &p.words_replaced {
            Some(w) => replace_word(c, w.first().copied(), token),
            None => c.to_string(),
        },
        TextOp::DeleteWords { .. } => match &p.words_deleted {
            Some(w) => delete_words(c, w),
            None => c.to_string(),
        },
        TextOp::OneOf { ops } => {
            // Only the op that ran recorded parameters; the others leave the caption alone.
            let mut out = c.to_string();
            for op in ops {
                out = replay_op(op, &out, ctx, p)?;
            }
            out
        }
        TextOp::Hedge { .. } => match &p.hedge {
            Some(template) => hedge::apply_hedge(
                c,
                &hedge::HedgeParams {
                    template: template.clone(),
                },
            )
            .map_err(err)?,
            None => c.to_string(),
        },
        TextOp::Synonym { .. } => match (&p.synonym_words, &p.synonym_replacements) {
            (Some(w), Some(r)) => synonyms::apply_synonyms(
                c,
                &synonyms::SynonymParams {
                    word_indices: to_u32(w),
                    replacements: r.clone(),
                },
                seg,
            )
            .map_err(err)?,
            _ => c.to_string(),
        },
        TextOp::RandomSwap { .. } => match &p.swap_pairs {
            Some(flat) => {
                if flat.len() % 2 != 0 {
                    return Err("aug_swap_pairs must hold pairs".into());
                }
                let pairs = flat
                    .chunks(2)
                    .map(|ab| [ab[0].max(0) as u32, ab[1].max(0) as u32])
                    .collect();
                eda::apply_random_swap(c, &eda::SwapParams { pairs }, seg).map_err(err)?
            }
            None => c.to_string(),
        },
        TextOp::RandomInsert { .. } => match (&p.insert_positions, &p.insert_words) {
            (Some(pos), Some(words)) => eda::apply_random_insertion(
                c,
                &eda::InsertParams {
                    positions: to_u32(pos),
                    words: words.clone(),
                },
                seg,
            )
            .map_err(err)?,
            _ => c.to_string(),
        },
        TextOp::RandomDelete { .. } => match &p.random_deleted {
            Some(d) => eda::apply_random_deletion(
                c,
                &eda::DeleteParams {
                    word_indices: to_u32(d),
                },
                seg,
            )
            .map_err(err)?,
            None => c.to_string(),
        },
        TextOp::Reorder { .. } => match p.reorder_spans.as_deref() {
            Some([start, split, end]) => reorder::apply_reorder(
                c,
                Some(&reorder::ReorderParams {
                    start: *start as u32,
                    split: *split as u32,
                    end: *end as u32,
                }),
                seg,
            )
            .map_err(err)?,
            Some([]) | None => c.to_string(),
            Some(other) => {
                return Err(format!(
                    "aug_reorder_spans {other:?} is not [start, split, end]"
                ))
            }
        },
    })
}
/// The original `aligned` replacement: word `index` becomes `token`, words re-joined with
/// single spaces; no index keeps the caption's bytes. Uses the Arrow kernel on one row.
fn replace_word(c: &str, index: Option<i32>, token: &str) -> String {
    let out = text::replace_words(
        &StringArray::from(vec![c]),
        &Int32Array::from(vec![index]),
        token,
    )
    .expect("index drawn within the caption");
    out.value(0).to_string()
}

/// The original `cross_modal` deletion, through the Arrow kernel on one row.
fn delete_words(c: &str, indices: &[i32]) -> String {
    let mut b = ListBuilder::new(Int32Builder::new());
    b.values().append_slice(indices);
    b.append(true);
    let out = text::delete_words(&StringArray::from(vec![c]), &b.finish())
        .expect("indices drawn within the caption");
    out.value(0).to_string()
}
