//! The operations a scheme is made of, as declared in the TOML config:
//!
//! ```toml
//! [scheme.my_scheme]
//! image = [
//!   { op = "hflip", p = 0.5, captions = "swap" },
//!   { op = "color_jitter", brightness = 0.2, contrast = 0.2 },
//! ]
//! text = [{ op = "synonym", max_words = 1, p = 0.5 }]
//! ```
//!
//! Each caption op is one type in one file (`ops/<op name>.rs`), implementing
//! [`CaptionOp`]: its parameters and their defaults (serde), their checks, how it draws
//! and applies its edit and records it in [`AugParams`], how it replays the recorded edit,
//! and its documentation for `lakeaug schemes`, with the `aug_*` columns it records. The
//! edits themselves are free functions in `kernels::text`. Adding an op is adding its file
//! and its line in the registration list below.
//!
//! Image ops are the variants of [`ImageOp`] (`ops/image.rs`); they draw and apply in
//! [`Scheme`](super::Scheme), where flips and colour tables are fused across ops.

use std::sync::LazyLock;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::context::TextContext;
use super::error::OpError;
use super::params::{AugParams, ParamKind};
use crate::kernels::text::{EditableWords, ParamsError};
use crate::rng::RowRng;

mod image;

mod delete_words;
mod hedge;
mod one_of;
mod random_char_swap;
mod random_delete;
mod random_insert;
mod random_swap;
mod reorder;
mod replace_word;
mod synonym;

pub use image::{FlipCaptions, ImageOp, RowInput};

/// Everything one caption op does. One type per op (as ripgrep has one type per flag and
/// DataFusion one `ScalarUDFImpl` per function); the type's fields are the op's config
/// parameters.
pub trait CaptionOp {
    /// What the op does, its parameters with their defaults, and the columns it records.
    fn help() -> OpHelp
    where
        Self: Sized;

    /// Checks parameter values that serde cannot.
    fn validate(&self) -> Result<(), OpError>;

    /// Whether the op works on segmented words (all but the original two ops, which keep
    /// Python `str.split()` words); a scheme records `aug_segmentation` if any op does.
    fn segments(&self) -> bool {
        true
    }

    /// Draws this row's edit from `rng`, records it in `p` and returns the edited caption.
    fn run(&self, caption: &str, ctx: &TextContext, rng: &mut RowRng, p: &mut AugParams) -> String;

    /// The caption [`run`](CaptionOp::run) produced, from what it recorded in `p` alone;
    /// the caption unchanged if `p` holds nothing for this op.
    fn replay(
        &self,
        caption: &str,
        ctx: &TextContext,
        p: &AugParams,
    ) -> Result<String, ParamsError>;
}

/// One `aug_<name>` lineage column: name without the prefix, Arrow type, meaning.
pub type ParamColumn = (&'static str, ParamKind, &'static str);

/// What `lakeaug schemes` prints about an op, apart from its name.
pub struct OpHelp {
    pub meaning: &'static str,
    pub params: Vec<ParamDoc>,
    /// The `aug_*` columns the op records, in output order.
    pub columns: &'static [ParamColumn],
}

/// One parameter: its name, its default as the config would write it (`None`: required),
/// and its meaning.
pub struct ParamDoc {
    pub name: &'static str,
    pub default: Option<String>,
    pub meaning: &'static str,
}

impl ParamDoc {
    /// A parameter the config must give.
    pub fn required(name: &'static str, meaning: &'static str) -> Self {
        ParamDoc {
            name,
            default: None,
            meaning,
        }
    }

    /// A parameter with a default: pass the very function serde fills it with, so the
    /// documentation cannot drift from the behaviour.
    pub fn default<T: Serialize>(name: &'static str, default: T, meaning: &'static str) -> Self {
        ParamDoc {
            name,
            default: Some(inline_toml(&default)),
            meaning,
        }
    }

    /// A parameter whose default is described rather than shown (e.g. a built-in list).
    pub fn described(name: &'static str, default: &'static str, meaning: &'static str) -> Self {
        ParamDoc {
            name,
            default: Some(default.to_string()),
            meaning,
        }
    }
}

/// Documentation of one op for `lakeaug schemes` and the op table in docs/schemes.md.
pub struct OpDoc {
    pub name: &'static str,
    /// `image` or `text`.
    pub kind: &'static str,
    pub help: OpHelp,
}

/// Registers the caption ops: one line per op, `file_name => Type`. The file name is the
/// op's name in the config (`op = "random_swap"`), checked against serde's name by a test.
macro_rules! caption_ops {
    ($($module:ident => $op:ident,)*) => {
        $(pub use $module::$op;)*

        /// One caption operation with its parameters. Ops run in the order listed, each on
        /// the caption the previous one produced.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "op", rename_all = "snake_case")]
        pub enum TextOp {
            $($op($op),)*
        }

        impl TextOp {
            /// The op's name in the config.
            pub fn name(&self) -> &'static str {
                match self {
                    $(TextOp::$op(_) => stringify!($module),)*
                }
            }

            fn op(&self) -> &dyn CaptionOp {
                match self {
                    $(TextOp::$op(op) => op,)*
                }
            }
        }

        /// Documentation of every caption op, in registration order.
        fn caption_op_docs() -> Vec<OpDoc> {
            vec![$(OpDoc { name: stringify!($module), kind: "text", help: $op::help() },)*]
        }
    };
}

caption_ops! {
    replace_word => ReplaceWord,
    delete_words => DeleteWords,
    synonym => Synonym,
    random_swap => RandomSwap,
    random_insert => RandomInsert,
    random_delete => RandomDelete,
    reorder => Reorder,
    hedge => Hedge,
    one_of => OneOf,
    random_char_swap => RandomCharSwap,
}

impl TextOp {
    pub fn validate(&self) -> Result<(), OpError> {
        self.op().validate()
    }

    pub fn segments(&self) -> bool {
        self.op().segments()
    }

    pub fn run(
        &self,
        caption: &str,
        ctx: &TextContext,
        rng: &mut RowRng,
        p: &mut AugParams,
    ) -> String {
        self.op().run(caption, ctx, rng, p)
    }

    pub fn replay(
        &self,
        caption: &str,
        ctx: &TextContext,
        p: &AugParams,
    ) -> Result<String, ParamsError> {
        self.op().replay(caption, ctx, p)
    }

    /// The names of the ops this op runs: its own, or those inside `one_of`.
    pub fn names(&self) -> Vec<&'static str> {
        match self {
            TextOp::OneOf(one_of) => one_of.ops.iter().map(TextOp::name).collect(),
            other => vec![other.name()],
        }
    }
}

/// Documentation of every op: image ops, then caption ops.
pub fn op_docs() -> Vec<OpDoc> {
    let mut docs = image::image_op_docs();
    docs.extend(caption_op_docs());
    docs
}

/// Recorded by the caption run itself, before any caption op.
const SEGMENTATION: ParamColumn = (
    "segmentation",
    ParamKind::Utf8,
    "how the caption was split into words",
);

/// Every [`AugParams`] field in column order, with its type and meaning, gathered from the
/// ops: image ops' columns, `segmentation`, then caption ops' columns in registration
/// order. The lineage column is `aug_<name>`; a unit test checks this table against the
/// struct.
pub static PARAM_COLUMNS: LazyLock<Vec<ParamColumn>> = LazyLock::new(|| {
    let mut columns: Vec<ParamColumn> = image::image_op_docs()
        .iter()
        .flat_map(|d| d.help.columns.iter().copied())
        .collect();
    columns.push(SEGMENTATION);
    columns.extend(
        caption_op_docs()
            .iter()
            .flat_map(|d| d.help.columns.iter().copied()),
    );
    columns
});

/// A protected word class that an op may be allowed to edit (`also_edit = [...]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WordClass {
    StopWords,
    Numbers,
    ColourWords,
    SpatialWords,
}

/// The word classes an op edits besides content words.
pub fn editable(also_edit: &[WordClass]) -> EditableWords {
    EditableWords {
        stop_words: also_edit.contains(&WordClass::StopWords),
        numbers: also_edit.contains(&WordClass::Numbers),
        colour_words: also_edit.contains(&WordClass::ColourWords),
        spatial_words: also_edit.contains(&WordClass::SpatialWords),
    }
}

/// The `also_edit` parameter the word-editing ops share.
fn also_edit_doc() -> ParamDoc {
    ParamDoc::default(
        "also_edit",
        Vec::<WordClass>::new(),
        "protected classes to edit anyway: stop_words, numbers, colour_words, spatial_words",
    )
}

/// Whether an op with probability `p` edits this row (`p >= 1` draws nothing, so a
/// certain op leaves the stream where it was).
fn happens(p: f64, rng: &mut RowRng) -> bool {
    p >= 1.0 || rng.random_bool(p)
}

/// What the word-editing ops share: with probability `p` draw the edit with `sample`
/// (else no edit), and apply it with `apply`. Returns the caption and the edit to record.
fn gated_edit<P: Default>(
    p: f64,
    rng: &mut RowRng,
    sample: impl FnOnce(&mut RowRng) -> P,
    apply: impl FnOnce(&P) -> Result<String, ParamsError>,
) -> (String, P) {
    let params = if happens(p, rng) {
        sample(rng)
    } else {
        P::default()
    };
    // Unreachable error: `sample` drew the edit from the very caption `apply` edits.
    let out = apply(&params).expect("sampled parameters fit their caption");
    (out, params)
}

fn one() -> f64 {
    1.0
}

pub(super) fn indices(v: &[u32]) -> Vec<i32> {
    v.iter().map(|&i| i as i32).collect()
}

/// Recorded word indices back to the kernels' type (negative values cannot be recorded
/// by an op; they become 0 and fail the kernel's range check if wrong).
fn to_u32(v: &[i32]) -> Vec<u32> {
    v.iter().map(|&i| i.max(0) as u32).collect()
}

/// A value as the inline TOML a config writes it with (`0.5`, `[0.08, 1.0]`, `"swap"`,
/// `{ op = "hflip", ... }`).
pub fn inline_toml(value: &impl Serialize) -> String {
    match toml::Value::try_from(value) {
        Ok(v) => inline(&v),
        // Every parameter type is TOML-representable; say so rather than panic if not.
        Err(e) => format!("<{e}>"),
    }
}

fn inline(value: &toml::Value) -> String {
    match value {
        toml::Value::Table(t) => {
            // `op` first, as one writes it.
            let mut parts: Vec<String> = t
                .get("op")
                .map(|v| format!("op = {}", inline(v)))
                .into_iter()
                .collect();
            parts.extend(
                t.iter()
                    .filter(|(k, _)| k.as_str() != "op")
                    .map(|(k, v)| format!("{k} = {}", inline(v))),
            );
            format!("{{ {} }}", parts.join(", "))
        }
        toml::Value::Array(a) => {
            let items: Vec<String> = a.iter().map(inline).collect();
            format!("[{}]", items.join(", "))
        }
        // An f32 parameter widened to f64 (0.2 -> 0.20000000298023224) is shown as the
        // f32 it is, as it is written in the config.
        toml::Value::Float(f) if f64::from(*f as f32) == *f && f.is_finite() => {
            let short = (*f as f32).to_string();
            if short.contains(['.', 'e']) {
                short
            } else {
                format!("{short}.0")
            }
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_names_are_serde_names() {
        for doc in caption_op_docs() {
            let op: Result<TextOp, _> = toml::from_str(&format!("op = {:?}", doc.name));
            // Required parameters are missing, but the tag must be known.
            if let Err(e) = &op {
                assert!(
                    !e.to_string().contains("unknown variant"),
                    "{}: {e}",
                    doc.name
                );
            }
        }
    }

    #[test]
    fn param_columns_keep_the_output_order() {
        // The lineage schema's order is a public contract: new columns go at the end.
        let names: Vec<&str> = PARAM_COLUMNS.iter().map(|c| c.0).collect();
        assert_eq!(
            names[..32],
            [
                "hflip",
                "hflip_skipped",
                "hflip_caption_swaps",
                "crop_x",
                "crop_y",
                "crop_width",
                "crop_height",
                "brightness",
                "contrast",
                "saturation",
                "hue",
                "hue_skipped",
                "jitter_order",
                "rotate_deg",
                "blur_sigma",
                "blur_kernel",
                "erase_x",
                "erase_y",
                "erase_size",
                "mix_partner_row",
                "mix_lambda",
                "segmentation",
                "words_replaced",
                "words_deleted",
                "synonym_words",
                "synonym_replacements",
                "swap_pairs",
                "insert_positions",
                "insert_words",
                "random_deleted",
                "reorder_spans",
                "hedge",
            ]
        );
    }
}
