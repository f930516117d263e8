//! `random_swap`: EDA random swap (two random words trade places, `n` times).

use serde::{Deserialize, Serialize};

use super::{
    also_edit_doc, editable, gated_edit, one, CaptionOp, OpHelp, ParamColumn, ParamDoc, WordClass,
};
use crate::kernels::text::{eda, ParamsError};
use crate::rng::RowRng;
use crate::schemes::context::TextContext;
use crate::schemes::error::{probability, OpError};
use crate::schemes::params::{AugParams, ParamKind};

/// EDA random swap: `n` times, two random words trade places (with probability `p`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomSwap {
    #[serde(default = "one")]
    pub p: f64,
    pub n: usize,
    /// Protected word classes this op may edit anyway.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_edit: Vec<WordClass>,
}

const COLUMNS: &[ParamColumn] = &[(
    "swap_pairs",
    ParamKind::ListInt32,
    "word index pairs swapped",
)];

impl CaptionOp for RandomSwap {
    fn help() -> OpHelp {
        OpHelp {
            meaning: "EDA random swap: two random words trade places, n times",
            params: vec![
                ParamDoc::default("p", one(), "probability"),
                ParamDoc::required("n", "number of swaps"),
                also_edit_doc(),
            ],
            columns: COLUMNS,
        }
    }

    fn validate(&self) -> Result<(), OpError> {
        probability("p", self.p)
    }

    fn run(&self, c: &str, ctx: &TextContext, rng: &mut RowRng, p: &mut AugParams) -> String {
        let res = &ctx.resources;
        let editable = editable(&self.also_edit);
        let (out, params) = gated_edit(
            self.p,
            rng,
            |rng| eda::sample_random_swap(c, self.n, editable, res, rng),
            |params| eda::apply_random_swap(c, params, &res.segmenter),
        );
        p.swap_pairs = Some(params.pairs.iter().flatten().map(|&i| i as i32).collect());
        out
    }

    fn replay(&self, c: &str, ctx: &TextContext, p: &AugParams) -> Result<String, ParamsError> {
        let Some(flat) = &p.swap_pairs else {
            return Ok(c.to_string());
        };
        if flat.len() % 2 != 0 {
            return Err(ParamsError::new(
                "random_swap",
                "aug_swap_pairs must hold pairs",
            ));
        }
        let pairs = flat
            .chunks(2)
            .map(|ab| [ab[0].max(0) as u32, ab[1].max(0) as u32])
            .collect();
        eda::apply_random_swap(c, &eda::SwapParams { pairs }, &ctx.resources.segmenter)
    }
}
