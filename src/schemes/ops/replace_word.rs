//! `replace_word`: the caption op of the original `aligned` scheme.

use arrow::array::{Int32Array, StringArray};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{CaptionOp, OpHelp, ParamColumn, ParamDoc};
use crate::kernels::text::{self, ParamsError};
use crate::rng::RowRng;
use crate::schemes::context::TextContext;
use crate::schemes::error::{probability, OpError};
use crate::schemes::params::{AugParams, ParamKind};

/// With probability `p`, one uniformly chosen whitespace word becomes `token`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplaceWord {
    pub p: f64,
    pub token: String,
}

const COLUMNS: &[ParamColumn] = &[(
    "words_replaced",
    ParamKind::ListInt32,
    "word indices replaced by the token",
)];

impl CaptionOp for ReplaceWord {
    fn help() -> OpHelp {
        OpHelp {
            meaning: "one uniformly chosen whitespace word becomes `token`",
            params: vec![
                ParamDoc::required("p", "probability that one word is replaced"),
                ParamDoc::required("token", "the replacement"),
            ],
            columns: COLUMNS,
        }
    }

    fn validate(&self) -> Result<(), OpError> {
        probability("p", self.p)?;
        let token = &self.token;
        if token.trim().is_empty() || token.split_whitespace().count() != 1 {
            return Err(OpError::rule("token", token, "be one word"));
        }
        Ok(())
    }

    /// Python `str.split()` words, as the original scheme.
    fn segments(&self) -> bool {
        false
    }

    fn run(&self, c: &str, _: &TextContext, rng: &mut RowRng, p: &mut AugParams) -> String {
        // Drawn exactly as the original `aligned` scheme: the hit, then the index.
        let hit = rng.random_bool(self.p);
        let n = text::word_count(c);
        let index = (hit && n > 0).then(|| rng.random_range(0..n) as i32);
        p.words_replaced = Some(index.into_iter().collect());
        replace_word(c, index, &self.token)
    }

    fn replay(&self, c: &str, _: &TextContext, p: &AugParams) -> Result<String, ParamsError> {
        Ok(match &p.words_replaced {
            Some(w) => replace_word(c, w.first().copied(), &self.token),
            None => c.to_string(),
        })
    }
}

/// Word `index` becomes `token`, words re-joined with single spaces; no index keeps the
/// caption's bytes. Uses the Arrow kernel on one row.
fn replace_word(c: &str, index: Option<i32>, token: &str) -> String {
    let out = text::replace_words(
        &StringArray::from(vec![c]),
        &Int32Array::from(vec![index]),
        token,
    )
    .expect("index drawn within the caption");
    out.value(0).to_string()
}
