//! Caption kernels.
//!
//! - [`words`]: Python `str.split()` words and the Arrow array kernels of the reference
//!   schemes (`replace_words`, `delete_words`, `word_edit_distance`).
//! - [`segment`]: what a word is, per language (whitespace, Chinese via jieba, auto).
//! - Caption ops, each split into `sample_*` (draws the op's parameters from an RNG;
//!   the parameters are what lineage records) and `apply_*` (a pure function of the
//!   caption and those parameters): [`flip`] (mirror left/right; no randomness),
//!   [`synonyms`], [`hedge`], [`reorder`], [`eda`] (random swap, insertion, deletion),
//!   [`typo`] (typo noise: adjacent characters swapped).
//! - [`lexicon`]: stop, colour and spatial word lists and word-shape helpers;
//!   [`TextResources`] bundles the segmenter, dictionary and lists for a run.
//!
//! Word indices in parameters always refer to the words of the caption as the op
//! received it (segmented by its [`Segmenter`]). An op that changes a caption re-joins its
//! words (single spaces, or nothing for Chinese); a caption an op leaves alone keeps its
//! exact bytes. No op turns a non-empty caption into an empty one.

pub mod eda;
mod edit;
pub mod flip;
pub mod hedge;
pub mod lexicon;
pub mod reorder;
pub mod segment;
pub mod synonyms;
pub mod typo;
pub mod words;

pub use edit::ParamsError;
pub use lexicon::{EditableWords, WordList, WordLists};
pub use segment::{Joiner, Language, Segmented, Segmenter};
pub use synonyms::{SynonymDict, SynonymDictError};
pub use words::{
    delete_words, is_python_whitespace, replace_words, split_words, word_count, word_edit_distance,
};

/// Everything the caption ops consult, built once per run from config and shared
/// read-only across threads (`Send + Sync`).
#[derive(Clone, Debug)]
pub struct TextResources {
    pub segmenter: Segmenter,
    pub synonyms: SynonymDict,
    pub lists: WordLists,
}

impl TextResources {
    /// The segmenter for `language`, the default English synonym dictionary (WordNet
    /// 3.0, see `synonyms`) and the default word lists.
    pub fn new(language: Language) -> Self {
        TextResources {
            segmenter: Segmenter::new(language),
            synonyms: SynonymDict::english(),
            lists: WordLists::default(),
        }
    }
}

impl Default for TextResources {
    /// Whitespace words, English dictionary, default lists.
    fn default() -> Self {
        TextResources::new(Language::Whitespace)
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use std::sync::OnceLock;

    /// Resources with auto segmentation (jieba for Han captions), built once for all tests.
    pub(crate) fn auto_resources() -> &'static TextResources {
        static RES: OnceLock<TextResources> = OnceLock::new();
        RES.get_or_init(|| TextResources {
            segmenter: segment::tests::auto(),
            ..TextResources::default()
        })
    }

    /// The 75 captions of the project's photos (`data/photos/photos_captions.tsv` of
    /// the shared data, as used by sample_data) plus hand-written Chinese ones.
    pub(crate) const CAPTIONS: &str = include_str!("testdata/captions.txt");

    pub(crate) fn captions() -> impl Iterator<Item = &'static str> {
        CAPTIONS.lines().filter(|l| !l.is_empty())
    }

    #[test]
    fn resources_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<TextResources>();
        check::<Segmenter>();
    }
}
