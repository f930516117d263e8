//! `random_char_swap`: typo noise, two adjacent characters of a word trade places.

use serde::{Deserialize, Serialize};

use super::{also_edit_doc, editable, CaptionOp, OpHelp, ParamColumn, ParamDoc, WordClass};
use crate::kernels::text::typo::{apply_char_swaps, sample_char_swaps, CharSwapParams};
use crate::kernels::text::ParamsError;
use crate::rng::RowRng;
use crate::schemes::context::TextContext;
use crate::schemes::error::{probability, OpError};
use crate::schemes::params::{AugParams, ParamKind};

/// Each word with at least `min_chars` characters gets, with probability `p`, two
/// adjacent characters swapped ("photo" -> "pohto").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomCharSwap {
    #[serde(default = "default_p")]
    pub p: f64,
    #[serde(default = "default_min_chars")]
    pub min_chars: usize,
    /// Protected word classes this op may edit anyway.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_edit: Vec<WordClass>,
}

fn default_p() -> f64 {
    0.1
}

fn default_min_chars() -> usize {
    4
}

const COLUMNS: &[ParamColumn] = &[(
    "char_swaps",
    ParamKind::ListInt32,
    "[word, char] pairs: characters char and char+1 of the word swapped",
)];

impl CaptionOp for RandomCharSwap {
    fn help() -> OpHelp {
        OpHelp {
            meaning: "typo noise: in each content word of at least min_chars characters, with probability p, two adjacent characters trade places (\"photo\" -> \"pohto\"); punctuation stays",
            params: vec![
                ParamDoc::default("p", default_p(), "probability per word"),
                ParamDoc::default(
                    "min_chars",
                    default_min_chars(),
                    "shorter words are left alone (at least 2)",
                ),
                also_edit_doc(),
            ],
            columns: COLUMNS,
        }
    }

    fn validate(&self) -> Result<(), OpError> {
        probability("p", self.p)?;
        if self.min_chars < 2 {
            return Err(OpError::rule("min_chars", self.min_chars, "be at least 2"));
        }
        Ok(())
    }

    fn run(&self, c: &str, ctx: &TextContext, rng: &mut RowRng, p: &mut AugParams) -> String {
        let res = &ctx.resources;
        let params = sample_char_swaps(
            c,
            self.p,
            self.min_chars,
            editable(&self.also_edit),
            res,
            rng,
        );
        // Unreachable error: the swaps were just drawn from this caption's own words.
        let out = apply_char_swaps(c, &params, &res.segmenter)
            .expect("sampled parameters fit their caption");
        p.char_swaps = Some(params.swaps.iter().flatten().map(|&i| i as i32).collect());
        out
    }

    fn replay(&self, c: &str, ctx: &TextContext, p: &AugParams) -> Result<String, ParamsError> {
        let Some(flat) = &p.char_swaps else {
            return Ok(c.to_string());
        };
        if flat.len() % 2 != 0 {
            return Err(ParamsError::new(
                "random_char_swap",
                "aug_char_swaps must hold [word, char] pairs",
            ));
        }
        let swaps = flat
            .chunks(2)
            .map(|wc| [wc[0].max(0) as u32, wc[1].max(0) as u32])
            .collect();
        apply_char_swaps(c, &CharSwapParams { swaps }, &ctx.resources.segmenter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{stream_rng, Stream};

    #[test]
    fn records_and_replays_its_swaps() {
        let ctx = TextContext::default();
        let op: RandomCharSwap = toml::from_str("p = 0.5").unwrap();
        assert_eq!((op.p, op.min_chars), (0.5, 4));
        let caption = "A wooden table with flowers beside the window.";
        let mut edited = 0;
        for seed in 0..200 {
            let mut p = AugParams::default();
            let out = op.run(caption, &ctx, &mut stream_rng(seed, Stream::Text), &mut p);
            let recorded = p.char_swaps.clone().unwrap();
            assert_eq!(recorded.is_empty(), out == caption, "seed {seed}");
            edited += usize::from(!recorded.is_empty());
            assert_eq!(op.replay(caption, &ctx, &p).unwrap(), out, "seed {seed}");
        }
        assert!(edited > 150, "{edited}");
        // Nothing recorded: the caption as it is; a broken record: an error.
        assert_eq!(
            op.replay(caption, &ctx, &AugParams::default()).unwrap(),
            caption
        );
        let broken = AugParams {
            char_swaps: Some(vec![1]),
            ..AugParams::default()
        };
        assert!(op.replay(caption, &ctx, &broken).is_err());
    }

    #[test]
    fn checks_its_parameters() {
        let bad: RandomCharSwap = toml::from_str("min_chars = 1").unwrap();
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "min_chars = 1 must be at least 2"
        );
        let bad: RandomCharSwap = toml::from_str("p = 1.5").unwrap();
        assert!(bad.validate().is_err());
        assert!(toml::from_str::<RandomCharSwap>("pp = 0.5").is_err());
    }
}
