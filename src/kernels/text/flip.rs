//! Flip-aware captions: after a horizontal flip of the image, mirror the caption's
//! left/right words. No randomness: the op runs whenever the image was flipped.
//!
//! What is mirrored (on word boundaries only, so "bright", "copyright", "leftover",
//! "lefty", "Albright" never change):
//! - English words whose core (punctuation stripped) is left/right, leftmost/rightmost,
//!   lefthand/righthand, leftward(s)/rightward(s), also as parts of hyphen or slash
//!   compounds ("left-hand", "top-left", "upper-right", "left-handed", "left/right" is
//!   mirrored part by part and so becomes "right/left"). Case is kept per part (Left ->
//!   Right, LEFT -> RIGHT); words in mixed case ("lEft") are left alone.
//! - Bare "left"/"right" are NOT mirrored where they are most likely the verb "leave" or
//!   the adverb "right": after has/have/had/having/been/being/be/is/are/was/were/just/
//!   all/get/gets/got, or before now/away/behind/alone/unattended/after/before/here/
//!   there/then/over ("a bag left behind", "right next to" is mirrored: "next" is not in
//!   the list). The same contexts apply to both words, so mirroring twice is the
//!   identity.
//! - Chinese words (all Han characters) that contain exactly one 左 or 右 swap it: 左 ->
//!   右, 左边 -> 右边, 左侧 -> 右侧, 左上角 -> 右上角, 向左 -> 向右. Words with both
//!   ("左右", "about") are left alone.
//!
//! Only the mirrored bytes change: every other byte of the caption (spacing,
//! punctuation) is kept, so the op is exactly invertible.

use super::lexicon::{word_core, CasePattern};
use super::segment::{is_han, Segmenter};

const EN_MIRROR: &[(&str, &str)] = &[
    ("left", "right"),
    ("leftmost", "rightmost"),
    ("lefthand", "righthand"),
    ("leftward", "rightward"),
    ("leftwards", "rightwards"),
];

const BLOCK_BEFORE: &[&str] = &[
    "has", "have", "had", "having", "been", "being", "be", "is", "are", "was", "were", "just",
    "all", "get", "gets", "got",
];
const BLOCK_AFTER: &[&str] = &[
    "now",
    "away",
    "behind",
    "alone",
    "unattended",
    "after",
    "before",
    "here",
    "there",
    "then",
    "over",
];

/// A mirrored caption and the indices of the words that changed (lineage: list<int32>).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flipped {
    /// The caption with mirrored words (the input's exact bytes when nothing changed).
    pub caption: String,
    /// Indices (strictly increasing) of the words mirrored, in the input's segmentation.
    pub word_indices: Vec<u32>,
}

/// The mirror image of an English word part (lower-case lookup, case kept).
fn mirror_part(part: &str) -> Option<String> {
    let case = CasePattern::of(part);
    if case == CasePattern::Mixed {
        return None;
    }
    let lower = part.to_lowercase();
    EN_MIRROR.iter().find_map(|&(l, r)| {
        let other = if lower == l {
            r
        } else if lower == r {
            l
        } else {
            return None;
        };
        Some(case.apply(other))
    })
}

fn is_bare_left_right(core: &str) -> bool {
    core.eq_ignore_ascii_case("left") || core.eq_ignore_ascii_case("right")
}

fn in_list(word: Option<&str>, list: &[&str]) -> bool {
    word.is_some_and(|w| {
        let core = word_core(w).1.to_lowercase();
        list.contains(&core.as_str())
    })
}

/// The mirror image of a Han word with exactly one 左 or 右.
fn mirror_han(core: &str) -> Option<String> {
    if !core.chars().all(is_han) {
        return None;
    }
    let count = core.chars().filter(|&c| c == '左' || c == '右').count();
    (count == 1).then(|| {
        core.chars()
            .map(|c| match c {
                '左' => '右',
                '右' => '左',
                c => c,
            })
            .collect()
    })
}

/// The mirrored core of word `i`, if it changes.
fn mirror_word(core: &str, prev: Option<&str>, next: Option<&str>) -> Option<String> {
    if core.is_empty() {
        return None;
    }
    if let Some(m) = mirror_han(core) {
        return Some(m);
    }
    if is_bare_left_right(core) {
        if in_list(prev, BLOCK_BEFORE) || in_list(next, BLOCK_AFTER) {
            return None;
        }
        return mirror_part(core);
    }
    // Compounds: mirror each part between '-' and '/' separators.
    let mut out = String::with_capacity(core.len() + 1);
    let mut changed = false;
    for piece in core.split_inclusive(['-', '/']) {
        let (part, sep) = match piece.strip_suffix(['-', '/']) {
            Some(p) => (p, &piece[p.len()..]),
            None => (piece, ""),
        };
        match mirror_part(part) {
            Some(m) => {
                out.push_str(&m);
                changed = true;
            }
            None => out.push_str(part),
        }
        out.push_str(sep);
    }
    changed.then_some(out)
}

/// Mirrors the left/right words of `caption` (see the module docs).
pub fn flip_caption(caption: &str, segmenter: &Segmenter) -> Flipped {
    let seg = segmenter.segment(caption);
    let words: Vec<&str> = seg.words().collect();
    let mut out = String::new();
    let mut copied = 0; // bytes of `caption` already in `out`
    let mut word_indices = Vec::new();
    for (i, word) in words.iter().enumerate() {
        let (pre, core, _) = word_core(word);
        let prev = i.checked_sub(1).map(|p| words[p]);
        let next = words.get(i + 1).copied();
        if let Some(mirrored) = mirror_word(core, prev, next) {
            let start = seg.span(i).start + pre.len();
            out.push_str(&caption[copied..start]);
            out.push_str(&mirrored);
            copied = start + core.len();
            word_indices.push(i as u32);
        }
    }
    out.push_str(&caption[copied..]);
    Flipped {
        caption: out,
        word_indices,
    }
}

/// Whether `caption` has a word a horizontal flip concerns: any left/right form listed in
/// the module docs, including bare "left"/"right" in the contexts `flip_caption` leaves
/// alone (for the policy "do not flip images whose caption mentions left or right").
pub fn has_spatial_words(caption: &str, segmenter: &Segmenter) -> bool {
    segmenter.segment(caption).words().any(|w| {
        let core = word_core(w).1;
        mirror_word(core, None, None).is_some()
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{auto_resources, captions};
    use super::*;

    fn flip(c: &str) -> Flipped {
        flip_caption(c, &auto_resources().segmenter)
    }

    #[test]
    fn mirrors_words_keeping_case_and_punctuation() {
        let cases: &[(&str, &str, &[u32])] = &[
            (
                "a dog on the left of a cat",
                "a dog on the right of a cat",
                &[4],
            ),
            (
                "Left, a dog; RIGHT: a cat.",
                "Right, a dog; LEFT: a cat.",
                &[0, 3],
            ),
            ("to the right", "to the left", &[2]),
            (
                "the leftmost car and the Rightmost one",
                "the rightmost car and the Leftmost one",
                &[1, 5],
            ),
            ("his left-hand glove", "his right-hand glove", &[1]),
            (
                "in the upper-left corner",
                "in the upper-right corner",
                &[2],
            ),
            (
                "a lefthand turn (left)",
                "a righthand turn (right)",
                &[1, 3],
            ),
            ("Top-Left/Bottom-Right", "Top-Right/Bottom-Left", &[0]),
            ("turn LEFT.", "turn RIGHT.", &[1]),
            (
                "a  dog\ton the\u{a0}left  ",
                "a  dog\ton the\u{a0}right  ",
                &[4],
            ),
        ];
        for (input, expected, idx) in cases {
            let f = flip(input);
            assert_eq!(f.caption, *expected, "{input}");
            assert_eq!(f.word_indices, *idx, "{input}");
        }
    }

    #[test]
    fn word_boundaries_and_non_spatial_uses_are_kept() {
        for c in [
            "bright copyright leftover lefty Albright rights",
            "a bag left behind on a bench",
            "the car was left in the street",
            "a cat sitting right now",
            "it is all right",
            "lEft and rIGHT",
            "",
            "   ",
        ] {
            let f = flip(c);
            assert_eq!(f.caption, c);
            assert!(f.word_indices.is_empty(), "{c}");
        }
        // "right next to" is a position and mirrors.
        assert_eq!(
            flip("a cat right next to a dog").caption,
            "a cat left next to a dog"
        );
    }

    #[test]
    fn chinese_left_right() {
        let f = flip("一只猫坐在沙发的左边，右边有一盏灯。");
        assert_eq!(f.caption, "一只猫坐在沙发的右边，左边有一盏灯。");
        assert_eq!(f.word_indices.len(), 2);
        let f = flip("左侧是一棵树，右侧是一座房子。");
        assert_eq!(f.caption, "右侧是一棵树，左侧是一座房子。");
        // 左右 ("about") is not a direction.
        let c = "十岁左右的孩子";
        assert_eq!(flip(c).caption, c);
    }

    #[test]
    fn spatial_word_detection() {
        let seg = &auto_resources().segmenter;
        assert!(has_spatial_words("a flag on the left", seg));
        assert!(has_spatial_words("a bag left behind", seg));
        assert!(has_spatial_words("Upper-Right corner", seg));
        assert!(has_spatial_words("沙发的左边", seg));
        assert!(!has_spatial_words("a bright copyright leftover", seg));
        assert!(!has_spatial_words("a dog above a cat", seg));
        assert!(!has_spatial_words("十岁左右", seg));
    }

    /// Flip twice = identity, indices in range and equal to the words that changed.
    #[test]
    fn flipping_twice_is_the_identity() {
        let seg = &auto_resources().segmenter;
        let mut extra = Vec::new();
        // Every caption with each of its words replaced by a mirror form in turn.
        for c in captions() {
            let words: Vec<&str> = c.split(' ').collect();
            for i in 0..words.len() {
                for form in ["left", "Right,", "LEFTMOST", "top-left.", "right-hand"] {
                    let mut w = words.clone();
                    w[i] = form;
                    extra.push(w.join(" "));
                }
            }
        }
        let mut flipped_some = 0;
        for c in captions().map(String::from).chain(extra) {
            let once = flip_caption(&c, seg);
            let twice = flip_caption(&once.caption, seg);
            assert_eq!(twice.caption, c, "via {:?}", once.caption);
            assert_eq!(twice.word_indices, once.word_indices, "{c}");
            let n = seg.segment(&c).len();
            assert!(once.word_indices.iter().all(|&i| (i as usize) < n));
            // Mirroring never changes the number of words.
            assert_eq!(seg.segment(&once.caption).len(), n, "{c}");
            if !once.word_indices.is_empty() {
                flipped_some += 1;
                assert_ne!(once.caption, c);
            } else {
                assert_eq!(once.caption, c);
            }
        }
        assert!(flipped_some > 300, "{flipped_some}");
    }
}
