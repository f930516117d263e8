//! What the caption ops consult: the run's segmenter, dictionary and word lists.

use crate::kernels::text::{flip, Language, Segmenter, TextResources};

/// The segmenter, dictionary and word lists of a run, shared read-only by all threads.
/// Built from the `[text]` section with `TextContext::from_config` (in `config`).
#[derive(Debug, Clone)]
pub struct TextContext {
    pub resources: TextResources,
}

impl Default for TextContext {
    /// What the default `[text]` section gives: automatic segmentation, the bundled
    /// English dictionary.
    fn default() -> Self {
        TextContext {
            resources: TextResources::new(Language::Auto),
        }
    }
}

impl TextContext {
    pub(crate) fn segmenter(&self) -> &Segmenter {
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
