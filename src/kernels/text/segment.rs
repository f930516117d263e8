//! Word segmentation: what "word `i` of a caption" means for every caption op.
//!
//! - [`Language::Whitespace`]: words are exactly Python's `str.split()` (see
//!   [`split_words`]); punctuation stays attached ("table.").
//! - [`Language::Chinese`]: words are the tokens of the `jieba-rs` segmenter (default
//!   dictionary, HMM for unknown words), whitespace tokens dropped; punctuation is a word
//!   of its own ("。").
//! - [`Language::Auto`]: Chinese for captions that contain a Han character, whitespace
//!   otherwise (decided per caption).
//!
//! An op that changes a caption re-joins its words with the segmentation's [`Joiner`]:
//! single spaces for whitespace captions, nothing for Chinese ones (except a single space
//! between two words that would otherwise run together, such as "iPhone" and "15").

use std::ops::Range;
use std::sync::{Arc, OnceLock};

use jieba_rs::Jieba;

use super::words::{is_python_whitespace, split_words};

/// How captions are cut into words (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Language {
    /// Python `str.split()` words.
    #[default]
    Whitespace,
    /// `jieba-rs` words, re-joined without spaces.
    Chinese,
    /// Chinese when the caption contains a Han character, whitespace otherwise.
    Auto,
}

impl Language {
    /// The config spelling: `whitespace`, `chinese` or `auto`.
    pub fn name(self) -> &'static str {
        match self {
            Language::Whitespace => "whitespace",
            Language::Chinese => "chinese",
            Language::Auto => "auto",
        }
    }
}

impl std::str::FromStr for Language {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "whitespace" => Ok(Language::Whitespace),
            "chinese" => Ok(Language::Chinese),
            "auto" => Ok(Language::Auto),
            other => Err(format!(
                "unknown language {other:?} (expected whitespace, chinese or auto)"
            )),
        }
    }
}

/// How the words of a changed caption are put back together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Joiner {
    /// `" ".join(words)`.
    Space,
    /// Concatenation, with one space only between two words whose touching characters
    /// are both letters or digits of a spaced script ("iPhone" + "15" -> "iPhone 15";
    /// "红色" + "汽车" -> "红色汽车").
    Unspaced,
}

impl Joiner {
    /// The words joined as described on each variant.
    pub fn join<S: AsRef<str>>(self, words: impl IntoIterator<Item = S>) -> String {
        let mut out = String::new();
        for word in words {
            let word = word.as_ref();
            if !out.is_empty() {
                let needs_space = match self {
                    Joiner::Space => true,
                    Joiner::Unspaced => {
                        out.chars().next_back().is_some_and(is_spaced_alnum)
                            && word.chars().next().is_some_and(is_spaced_alnum)
                    }
                };
                if needs_space {
                    out.push(' ');
                }
            }
            out.push_str(word);
        }
        out
    }
}

/// A letter or digit of a script written with spaces between words.
fn is_spaced_alnum(c: char) -> bool {
    c.is_alphanumeric() && !is_unspaced_script(c)
}

/// Whether `c` is a Han character (CJK Unified Ideographs and their extensions,
/// compatibility ideographs).
pub fn is_han(c: char) -> bool {
    matches!(c as u32,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F | 0x30000..=0x323AF)
}

/// Scripts written without spaces between words: Han, kana, Thai, Lao, Khmer, Myanmar.
fn is_unspaced_script(c: char) -> bool {
    is_han(c)
        || matches!(c as u32,
            0x3040..=0x30FF | 0x31F0..=0x31FF | 0x0E00..=0x0EFF | 0x1780..=0x17FF | 0x1000..=0x109F)
}

/// Cuts captions into words. Build once per run and share: it is `Send + Sync`, and
/// cloning shares the Chinese dictionary.
#[derive(Clone, Debug)]
pub struct Segmenter {
    language: Language,
    /// Present for `Chinese` and `Auto`; the dictionary is loaded on the first caption
    /// that needs it, so runs over captions with spaces never pay for it.
    jieba: Option<Arc<OnceLock<Jieba>>>,
}

impl Segmenter {
    /// A segmenter for `language`. Chinese and auto load jieba's embedded dictionary (a
    /// fraction of a second, once) when the first caption written without spaces comes.
    pub fn new(language: Language) -> Self {
        let jieba = (language != Language::Whitespace).then(|| Arc::new(OnceLock::new()));
        Segmenter { language, jieba }
    }

    /// Python `str.split()` words; needs no dictionary.
    pub fn whitespace() -> Self {
        Segmenter {
            language: Language::Whitespace,
            jieba: None,
        }
    }

    pub fn language(&self) -> Language {
        self.language
    }

    /// The words of `caption`, as byte spans into it.
    pub fn segment<'a>(&self, caption: &'a str) -> Segmented<'a> {
        match (&self.jieba, self.language) {
            (Some(jieba), Language::Chinese) => {
                segment_chinese(jieba.get_or_init(Jieba::new), caption)
            }
            (Some(jieba), Language::Auto) if caption.chars().any(is_han) => {
                segment_chinese(jieba.get_or_init(Jieba::new), caption)
            }
            _ => segment_whitespace(caption),
        }
    }
}

impl Default for Segmenter {
    fn default() -> Self {
        Segmenter::whitespace()
    }
}

fn segment_whitespace(caption: &str) -> Segmented<'_> {
    let base = caption.as_ptr() as usize;
    let spans = split_words(caption)
        .map(|w| {
            let start = w.as_ptr() as usize - base;
            start..start + w.len()
        })
        .collect();
    Segmented {
        caption,
        spans,
        joiner: Joiner::Space,
    }
}

fn segment_chinese<'a>(jieba: &Jieba, caption: &'a str) -> Segmented<'a> {
    let spans = jieba
        .cut(caption, true)
        .into_iter()
        .filter(|t| !t.word.chars().all(is_python_whitespace))
        .map(|t| t.byte_start..t.byte_end)
        .collect();
    Segmented {
        caption,
        spans,
        joiner: Joiner::Unspaced,
    }
}

/// A caption cut into words: word `i` is `caption[spans[i]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segmented<'a> {
    caption: &'a str,
    spans: Vec<Range<usize>>,
    joiner: Joiner,
}

impl<'a> Segmented<'a> {
    /// The caption that was segmented.
    pub fn caption(&self) -> &'a str {
        self.caption
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Word `i` (panics when out of range, like slice indexing).
    pub fn word(&self, i: usize) -> &'a str {
        &self.caption[self.spans[i].clone()]
    }

    /// Byte range of word `i` in the caption.
    pub fn span(&self, i: usize) -> Range<usize> {
        self.spans[i].clone()
    }

    /// The words in order.
    pub fn words(&self) -> impl DoubleEndedIterator<Item = &'a str> + ExactSizeIterator + '_ {
        self.spans.iter().map(|r| &self.caption[r.clone()])
    }

    /// How this caption's words are re-joined after a change.
    pub fn joiner(&self) -> Joiner {
        self.joiner
    }

    /// `words` re-joined with this caption's [`Joiner`].
    pub fn join<S: AsRef<str>>(&self, words: impl IntoIterator<Item = S>) -> String {
        self.joiner.join(words)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::OnceLock;

    /// One Chinese segmenter for all tests (loading jieba's dictionary takes a moment).
    pub(crate) fn chinese() -> &'static Segmenter {
        static SEG: OnceLock<Segmenter> = OnceLock::new();
        SEG.get_or_init(|| Segmenter::new(Language::Chinese))
    }

    pub(crate) fn auto() -> Segmenter {
        Segmenter {
            language: Language::Auto,
            jieba: chinese().jieba.clone(),
        }
    }

    fn words<'a>(s: &'a Segmented<'a>) -> Vec<&'a str> {
        s.words().collect()
    }

    #[test]
    fn whitespace_words_are_str_split_with_spans() {
        let seg = Segmenter::whitespace();
        let s = seg.segment("  a dog\u{3000}on\ta sofa. ");
        assert_eq!(words(&s), ["a", "dog", "on", "a", "sofa."]);
        assert_eq!(s.span(1), 4..7);
        assert_eq!(s.joiner(), Joiner::Space);
        assert!(seg.segment(" \t").is_empty());
    }

    #[test]
    fn chinese_words_come_from_jieba_without_whitespace() {
        let s = chinese().segment("一辆红色的汽车停在路边。");
        assert_eq!(
            words(&s),
            ["一辆", "红色", "的", "汽车", "停", "在", "路边", "。"]
        );
        assert_eq!(s.joiner(), Joiner::Unspaced);
        // Spaces in the caption are not words; every span covers its word's bytes.
        let s = chinese().segment("我的 iPhone 15 在桌子上");
        assert_eq!(words(&s), ["我", "的", "iPhone", "15", "在", "桌子", "上"]);
        for i in 0..s.len() {
            assert_eq!(&s.caption()[s.span(i)], s.word(i));
        }
    }

    #[test]
    fn auto_uses_jieba_only_for_han_captions() {
        let seg = auto();
        assert_eq!(seg.segment("a red car").joiner(), Joiner::Space);
        assert_eq!(words(&seg.segment("a red car")), ["a", "red", "car"]);
        assert_eq!(seg.segment("红色汽车").joiner(), Joiner::Unspaced);
    }

    #[test]
    fn unspaced_join_keeps_latin_words_apart() {
        let j = Joiner::Unspaced;
        assert_eq!(
            j.join(["我", "的", "iPhone", "15", "在", "桌子", "上"]),
            "我的iPhone 15在桌子上"
        );
        assert_eq!(j.join(["红色", "汽车", "。"]), "红色汽车。");
        assert_eq!(j.join(["a", "dog", "."]), "a dog.");
        assert_eq!(Joiner::Space.join(["a", "dog."]), "a dog.");
        assert_eq!(Joiner::Space.join(Vec::<&str>::new()), "");
    }

    #[test]
    fn language_names_round_trip() {
        for l in [Language::Whitespace, Language::Chinese, Language::Auto] {
            assert_eq!(l.name().parse::<Language>(), Ok(l));
        }
        assert!("klingon"
            .parse::<Language>()
            .unwrap_err()
            .contains("klingon"));
    }

    #[test]
    fn han_detection() {
        assert!(is_han('汽') && is_han('𠀀'));
        assert!(!is_han('a') && !is_han('。') && !is_han('ア'));
    }
}
