//! Word lists (stop, colour, spatial words) and the word-shape helpers every caption op
//! shares: a word's core without surrounding punctuation, its case pattern, and which
//! words an op may edit.

use std::collections::HashSet;

/// English stop words: articles, pronouns, auxiliaries, conjunctions, prepositions and
/// other function words (the NLTK English list, lightly trimmed of contractions' pieces).
pub const EN_STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "me",
    "more",
    "most",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

/// A small Chinese stop word list: particles, pronouns, common prepositions and
/// conjunctions as jieba segments them.
pub const ZH_STOP_WORDS: &[&str] = &[
    "的", "了", "在", "是", "和", "与", "及", "或", "也", "都", "就", "而", "着", "过", "把", "被",
    "让", "给", "对", "从", "向", "往", "于", "为", "以", "之", "其", "这", "那", "这个", "那个",
    "这些", "那些", "一个", "有", "没有", "我", "你", "他", "她", "它", "我们", "你们", "他们",
    "她们", "它们", "上", "下", "里", "中", "很", "非常", "地", "得", "吗", "呢", "吧", "啊",
];

/// Colour words, English and Chinese (basic colour terms and common shades).
pub const COLOUR_WORDS: &[&str] = &[
    "red",
    "orange",
    "yellow",
    "green",
    "blue",
    "purple",
    "violet",
    "pink",
    "brown",
    "black",
    "white",
    "gray",
    "grey",
    "silver",
    "gold",
    "golden",
    "beige",
    "tan",
    "navy",
    "teal",
    "turquoise",
    "cyan",
    "magenta",
    "maroon",
    "crimson",
    "scarlet",
    "olive",
    "lime",
    "indigo",
    "ivory",
    "cream",
    "reddish",
    "bluish",
    "greenish",
    "yellowish",
    "brownish",
    "grayish",
    "greyish",
    "pinkish",
    "colorful",
    "colourful",
    "multicolored",
    "红",
    "红色",
    "橙",
    "橙色",
    "黄",
    "黄色",
    "绿",
    "绿色",
    "蓝",
    "蓝色",
    "紫",
    "紫色",
    "粉",
    "粉色",
    "粉红色",
    "棕",
    "棕色",
    "褐色",
    "黑",
    "黑色",
    "白",
    "白色",
    "灰",
    "灰色",
    "银色",
    "金色",
    "鲜红",
    "深蓝色",
    "浅蓝色",
];

/// Spatial words, English and Chinese: directions and relative positions. (The words a
/// horizontal flip mirrors are a subset, see `flip`.)
pub const SPATIAL_WORDS: &[&str] = &[
    "left",
    "right",
    "leftmost",
    "rightmost",
    "lefthand",
    "righthand",
    "left-hand",
    "right-hand",
    "top",
    "bottom",
    "above",
    "below",
    "under",
    "underneath",
    "beneath",
    "over",
    "upper",
    "lower",
    "front",
    "behind",
    "back",
    "beside",
    "near",
    "next",
    "middle",
    "center",
    "centre",
    "corner",
    "inside",
    "outside",
    "between",
    "atop",
    "background",
    "foreground",
    "north",
    "south",
    "east",
    "west",
    "up",
    "down",
    "左",
    "右",
    "左边",
    "右边",
    "左侧",
    "右侧",
    "左面",
    "右面",
    "上面",
    "下面",
    "上方",
    "下方",
    "前面",
    "后面",
    "中间",
    "旁边",
    "里面",
    "外面",
    "上",
    "下",
    "前",
    "后",
];

/// English number words (digits are recognised by [`is_number`] itself).
const EN_NUMBER_WORDS: &[&str] = &[
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
    "hundred",
    "thousand",
    "million",
    "dozen",
    "first",
    "second",
    "third",
    "single",
    "double",
    "pair",
    "couple",
];

/// Han numerals: a Chinese word starting with one counts as a number ("一只", "三个").
const ZH_NUMERALS: &str = "零〇一二两三四五六七八九十百千万亿";

/// A set of words, matched on the lower-cased core (see [`word_core`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WordList {
    words: HashSet<String>,
}

impl WordList {
    /// A list of the given words (stored lower-cased).
    pub fn new<S: AsRef<str>>(words: impl IntoIterator<Item = S>) -> Self {
        WordList {
            words: words
                .into_iter()
                .map(|w| w.as_ref().to_lowercase())
                .collect(),
        }
    }

    /// Whether the core of `word` (punctuation stripped, lower-cased) is in the list.
    pub fn contains(&self, word: &str) -> bool {
        let core = word_core(word).1;
        !core.is_empty() && self.words.contains(&core.to_lowercase())
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

/// `word` split into (leading punctuation, core, trailing punctuation): the core runs
/// from the first to the last letter or digit ("(dog)," -> ("(", "dog", "),"); "cat's"
/// -> core "cat's"; "..." -> core ""). Chinese punctuation is not alphanumeric either.
pub fn word_core(word: &str) -> (&str, &str, &str) {
    let Some(start) = word.find(char::is_alphanumeric) else {
        return (word, "", "");
    };
    let end = word
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_alphanumeric())
        .map(|(i, c)| i + c.len_utf8())
        .unwrap_or(word.len());
    (&word[..start], &word[start..end], &word[end..])
}

/// Whether `word` is a number: its core contains a digit, is an English number word, or
/// starts with a Han numeral.
pub fn is_number(word: &str) -> bool {
    let core = word_core(word).1;
    core.chars().any(|c| c.is_numeric())
        || core.chars().next().is_some_and(|c| ZH_NUMERALS.contains(c))
        || EN_NUMBER_WORDS.contains(&core.to_lowercase().as_str())
}

/// The case pattern of a word, carried over to its replacement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CasePattern {
    /// No upper-case letter ("red", "红色").
    Lower,
    /// First letter upper case, no other ("Red", "A").
    Title,
    /// Two or more letters, all upper case ("RED").
    Upper,
    /// Anything else ("iPhone", "McDonald"): replacements are used as written.
    Mixed,
}

impl CasePattern {
    pub fn of(word: &str) -> CasePattern {
        let mut letters = word.chars().filter(|c| c.is_alphabetic());
        let Some(first) = letters.next() else {
            return CasePattern::Lower;
        };
        let (mut upper, mut lower) = (0usize, 0usize);
        for c in letters {
            upper += usize::from(c.is_uppercase());
            lower += usize::from(c.is_lowercase());
        }
        match (first.is_uppercase(), upper, lower) {
            (false, 0, _) => CasePattern::Lower,
            (true, 0, _) => CasePattern::Title,
            (true, _, 0) => CasePattern::Upper,
            _ => CasePattern::Mixed,
        }
    }

    /// `word` (as written in a dictionary, usually lower case) in this case pattern.
    pub fn apply(self, word: &str) -> String {
        match self {
            CasePattern::Lower | CasePattern::Mixed => word.to_string(),
            CasePattern::Upper => word.to_uppercase(),
            CasePattern::Title => {
                let mut chars = word.chars();
                match chars.next() {
                    Some(first) => first.to_uppercase().chain(chars).collect(),
                    None => String::new(),
                }
            }
        }
    }
}

/// Which protected word classes an op may edit. All `false` by default: stop words,
/// numbers, colour words and spatial words are never touched unless asked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EditableWords {
    pub stop_words: bool,
    pub numbers: bool,
    pub colour_words: bool,
    pub spatial_words: bool,
}

/// The word lists ops consult. English and Chinese entries live in the same lists (they
/// cannot collide).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WordLists {
    pub stop_words: WordList,
    pub colour_words: WordList,
    pub spatial_words: WordList,
}

impl Default for WordLists {
    fn default() -> Self {
        WordLists {
            stop_words: WordList::new(EN_STOP_WORDS.iter().chain(ZH_STOP_WORDS)),
            colour_words: WordList::new(COLOUR_WORDS),
            spatial_words: WordList::new(SPATIAL_WORDS),
        }
    }
}

impl WordLists {
    /// Whether an op may edit `word` under `editable`: it has a core (not just
    /// punctuation) and belongs to no protected class.
    pub fn is_editable(&self, word: &str, editable: EditableWords) -> bool {
        !word_core(word).1.is_empty()
            && (editable.stop_words || !self.stop_words.contains(word))
            && (editable.numbers || !is_number(word))
            && (editable.colour_words || !self.colour_words.contains(word))
            && (editable.spatial_words || !self.spatial_words.contains(word))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_strips_punctuation_only_at_the_ends() {
        assert_eq!(word_core("dog"), ("", "dog", ""));
        assert_eq!(word_core("(dog),"), ("(", "dog", "),"));
        assert_eq!(word_core("cat's"), ("", "cat's", ""));
        assert_eq!(word_core("left-hand."), ("", "left-hand", "."));
        assert_eq!(word_core("\"Red\"!"), ("\"", "Red", "\"!"));
        assert_eq!(word_core("..."), ("...", "", ""));
        assert_eq!(word_core("。"), ("。", "", ""));
        assert_eq!(word_core("汽车"), ("", "汽车", ""));
    }

    #[test]
    fn case_patterns() {
        use CasePattern::*;
        let cases = [
            ("red", Lower),
            ("Red", Title),
            ("A", Title),
            ("RED", Upper),
            ("iPhone", Mixed),
            ("McDonald", Mixed),
            ("汽车", Lower),
            ("42", Lower),
        ];
        for (w, p) in cases {
            assert_eq!(CasePattern::of(w), p, "{w}");
        }
        assert_eq!(Title.apply("crimson"), "Crimson");
        assert_eq!(Upper.apply("crimson"), "CRIMSON");
        assert_eq!(Lower.apply("crimson"), "crimson");
        assert_eq!(Mixed.apply("crimson"), "crimson");
        assert_eq!(Title.apply("éclair"), "Éclair");
    }

    #[test]
    fn protected_classes() {
        let lists = WordLists::default();
        let none = EditableWords::default();
        for w in [
            "The", "on", "red", "Red,", "3", "two", "left", "Left.", "...", "的", "红色", "一只",
            "左边",
        ] {
            assert!(!lists.is_editable(w, none), "{w} should be protected");
        }
        for w in ["dog", "Sofa.", "espresso", "汽车", "cat's"] {
            assert!(lists.is_editable(w, none), "{w} should be editable");
        }
        let colours = EditableWords {
            colour_words: true,
            ..none
        };
        assert!(lists.is_editable("Red,", colours));
        assert!(!lists.is_editable("left", colours));
        let all = EditableWords {
            stop_words: true,
            numbers: true,
            colour_words: true,
            spatial_words: true,
        };
        assert!(lists.is_editable("the", all) && lists.is_editable("3", all));
        assert!(!lists.is_editable("...", all));
    }

    #[test]
    fn numbers() {
        for w in ["3", "1980s", "two", "Twelve,", "三个", "一只", "15"] {
            assert!(is_number(w), "{w}");
        }
        for w in ["dog", "tone", "汽车", "."] {
            assert!(!is_number(w), "{w}");
        }
    }
}
