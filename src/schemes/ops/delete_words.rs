//! `delete_words`: the caption op of the original `cross_modal` scheme.

use arrow::array::{Int32Builder, ListBuilder, StringArray};
use serde::{Deserialize, Serialize};

use super::{CaptionOp, OpHelp, ParamColumn, ParamDoc};
use crate::kernels::text::{self, ParamsError};
use crate::rng::RowRng;
use crate::schemes::context::TextContext;
use crate::schemes::error::OpError;
use crate::schemes::params::{AugParams, ParamKind};

/// If the caption has more than `above` whitespace words, floor(n / divisor) distinct
/// words are deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteWords {
    pub above: usize,
    pub divisor: usize,
}

const COLUMNS: &[ParamColumn] = &[(
    "words_deleted",
    ParamKind::ListInt32,
    "word indices deleted",
)];

impl CaptionOp for DeleteWords {
    fn help() -> OpHelp {
        OpHelp {
            meaning: "deletes uniformly chosen whitespace words",
            params: vec![
                ParamDoc::required("above", "only captions with more words than this"),
                ParamDoc::required("divisor", "floor(n / divisor) distinct words are deleted"),
            ],
            columns: COLUMNS,
        }
    }

    fn validate(&self) -> Result<(), OpError> {
        if self.divisor == 0 {
            return Err(OpError::Op("divisor must be at least 1"));
        }
        Ok(())
    }

    /// Python `str.split()` words, as the original scheme.
    fn segments(&self) -> bool {
        false
    }

    fn run(&self, c: &str, _: &TextContext, rng: &mut RowRng, p: &mut AugParams) -> String {
        let n = text::word_count(c);
        let mut idx: Vec<i32> = if n > self.above {
            rand::seq::index::sample(rng, n, n / self.divisor)
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

    fn replay(&self, c: &str, _: &TextContext, p: &AugParams) -> Result<String, ParamsError> {
        Ok(match &p.words_deleted {
            Some(w) => delete_words(c, w),
            None => c.to_string(),
        })
    }
}

/// The original deletion, through the Arrow kernel on one row.
fn delete_words(c: &str, indices: &[i32]) -> String {
    let mut b = ListBuilder::new(Int32Builder::new());
    b.values().append_slice(indices);
    b.append(true);
    let out = text::delete_words(&StringArray::from(vec![c]), &b.finish())
        .expect("indices drawn within the caption");
    out.value(0).to_string()
}
