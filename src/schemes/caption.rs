//! Running a scheme's caption ops on one caption, and replaying recorded parameters.
//!
//! Order: the flip's caption mirroring (if the image was flipped and the policy is
//! `swap`), then the scheme's caption ops in order, then MixGen's appended caption.

use super::context::TextContext;
use super::ops::{indices, FlipCaptions, ImageOp};
use super::{AugParams, Scheme};
use crate::kernels::text::{flip, Joiner, ParamsError};
use crate::rng::RowRng;

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

/// Whether the scheme's caption edits use the segmenter.
fn segments(scheme: &Scheme) -> bool {
    mirrors_captions(scheme) || scheme.text_ops.iter().any(|op| op.segments())
}

/// Draw and apply the scheme's caption ops on a (non-null) caption, recording parameters
/// in `p` (whose image parameters are already drawn).
pub(super) fn run_text(
    scheme: &Scheme,
    caption: &str,
    partner: Option<(i64, Option<&str>)>,
    ctx: &TextContext,
    rng: &mut RowRng,
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
        c = op.run(&c, ctx, rng, p);
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
) -> Result<String, ParamsError> {
    let mut c = caption.to_string();
    if p.hflip_caption_swaps.is_some() {
        c = mirror(ctx, &c).0;
    }
    for op in &scheme.text_ops {
        c = op.replay(&c, ctx, p)?;
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
