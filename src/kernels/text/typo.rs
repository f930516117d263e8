//! Typo noise: two adjacent characters of a word trade places ("photo" -> "pohto"), the
//! character-level counterpart of EDA's word swap (nlpaug's `RandomCharAug` with
//! `action="swap"`). Protected words (stop words, numbers, colour and spatial words) are
//! left alone unless [`EditableWords`] allows them, as in the EDA ops.

use rand::Rng;

use super::edit::{check_increasing, edit_words, ParamsError};
use super::lexicon::{word_core, EditableWords};
use super::segment::Segmenter;
use super::TextResources;

const OP: &str = "random_char_swap";

/// Character swap parameters (lineage: list<int32> of the pairs flattened, `[w0, c0, w1,
/// c1, ...]`): in word `w` (strictly increasing), characters `c` and `c + 1` of the word's
/// core trade places. The core is the word without leading and trailing punctuation;
/// characters are Unicode scalar values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CharSwapParams {
    pub swaps: Vec<[u32; 2]>,
}

fn core_chars(word: &str) -> usize {
    word_core(word).1.chars().count()
}

/// Each editable word whose core has at least `min_chars` characters (and at least 2) is
/// hit with probability `p`; a hit word gets one swap at a uniform position among those
/// whose two characters are letters or digits and differ (a swap must change the word:
/// "wooden" never swaps its "oo", "cat's" keeps its apostrophe; a word like "aaaa" is
/// skipped). Draws, word by word in caption order: the hit,
/// then (if hit) the position.
pub fn sample_char_swaps(
    caption: &str,
    p: f64,
    min_chars: usize,
    editable: EditableWords,
    res: &TextResources,
    rng: &mut impl Rng,
) -> CharSwapParams {
    let seg = res.segmenter.segment(caption);
    let mut swaps = Vec::new();
    for (i, word) in seg.words().enumerate() {
        let chars: Vec<char> = word_core(word).1.chars().collect();
        if chars.len() < min_chars.max(2) || !res.lists.is_editable(word, editable) {
            continue;
        }
        let positions: Vec<usize> = (0..chars.len() - 1)
            .filter(|&k| {
                let (a, b) = (chars[k], chars[k + 1]);
                a != b && a.is_alphanumeric() && b.is_alphanumeric()
            })
            .collect();
        if positions.is_empty() {
            continue;
        }
        if rng.random_bool(p) {
            let c = positions[rng.random_range(0..positions.len())];
            swaps.push([i as u32, c as u32]);
        }
    }
    CharSwapParams { swaps }
}

/// Applies the swaps. Errors: a word index out of range or not increasing, or a position
/// without a next character in its word's core.
pub fn apply_char_swaps(
    caption: &str,
    params: &CharSwapParams,
    segmenter: &Segmenter,
) -> Result<String, ParamsError> {
    if params.swaps.is_empty() {
        return Ok(caption.to_string());
    }
    let seg = segmenter.segment(caption);
    let words: Vec<u32> = params.swaps.iter().map(|s| s[0]).collect();
    check_increasing(OP, &words, seg.len())?;
    for &[w, c] in &params.swaps {
        let n = core_chars(seg.word(w as usize));
        if c as usize + 1 >= n {
            return Err(ParamsError::new(
                OP,
                format!("word {w} has {n} characters: none follows character {c}"),
            ));
        }
    }
    Ok(edit_words(&seg, |mut words| {
        for &[w, c] in &params.swaps {
            let word = &mut words[w as usize];
            let (lead, core, trail) = word_core(word);
            let mut chars: Vec<char> = core.chars().collect();
            chars.swap(c as usize, c as usize + 1);
            let core: String = chars.into_iter().collect();
            *word = format!("{lead}{core}{trail}");
        }
        words
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::text::test_support::{auto_resources, captions};
    use crate::rng::{stream_rng, Stream};

    fn swaps(pairs: &[[u32; 2]]) -> CharSwapParams {
        CharSwapParams {
            swaps: pairs.to_vec(),
        }
    }

    #[test]
    fn swaps_adjacent_characters_inside_the_core() {
        let seg = Segmenter::whitespace();
        let c = "A photo of the (mountains), at dawn.";
        assert_eq!(
            apply_char_swaps(c, &swaps(&[[1, 0], [4, 7], [6, 2]]), &seg).unwrap(),
            "A hpoto of the (mountaisn), at danw."
        );
        assert_eq!(
            apply_char_swaps("a big tree", &swaps(&[[2, 2]]), &seg).unwrap(),
            "a big tree"
        );
        assert_eq!(
            apply_char_swaps("Café au lait.", &swaps(&[[0, 2]]), &seg).unwrap(),
            "Caéf au lait."
        );
        // No swaps keep the caption's exact bytes, extra spaces included.
        assert_eq!(
            apply_char_swaps("  two  spaces ", &swaps(&[]), &seg).unwrap(),
            "  two  spaces "
        );
        // Wrong parameters are refused, naming the op.
        let e = apply_char_swaps("a cat", &swaps(&[[1, 2]]), &seg).unwrap_err();
        assert_eq!(e.op, OP);
        assert!(apply_char_swaps("a cat", &swaps(&[[2, 0]]), &seg).is_err());
        assert!(apply_char_swaps("a cat dog", &swaps(&[[2, 0], [1, 0]]), &seg).is_err());
    }

    #[test]
    fn samples_per_word_and_skips_short_and_protected_words() {
        let res = TextResources::default();
        let c = "The three dogs run across a green meadow";
        let mut rng = stream_rng(1, Stream::Text);
        // p = 1: every long enough content word, once; "The" and "run" are short,
        // "three" (a number) and "green" (a colour) are protected.
        let all = sample_char_swaps(c, 1.0, 4, EditableWords::default(), &res, &mut rng);
        let words: Vec<u32> = all.swaps.iter().map(|s| s[0]).collect();
        assert_eq!(words, [2, 4, 7]);
        assert!(all.swaps.iter().all(|&[w, pos]| {
            let n = core_chars(c.split(' ').nth(w as usize).unwrap());
            (pos as usize) + 1 < n
        }));
        let none = sample_char_swaps(c, 0.0, 4, EditableWords::default(), &res, &mut rng);
        assert!(none.swaps.is_empty());
        let colours = EditableWords {
            colour_words: true,
            ..EditableWords::default()
        };
        let with_green = sample_char_swaps(c, 1.0, 5, colours, &res, &mut rng);
        let words: Vec<u32> = with_green.swaps.iter().map(|s| s[0]).collect();
        assert_eq!(words, [4, 6, 7], "dogs is too short for min_chars = 5");
        // A swap always changes the word.
        let p = sample_char_swaps(
            "aaaa wooden",
            1.0,
            4,
            EditableWords::default(),
            &res,
            &mut rng,
        );
        assert_eq!(p.swaps.len(), 1);
        assert_ne!(
            apply_char_swaps("aaaa wooden", &p, &res.segmenter).unwrap(),
            "aaaa wooden"
        );
        // Letters and digits only: "cat's" swaps c-a or a-t, never around the apostrophe.
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..40 {
            let mut rng = stream_rng(seed, Stream::Text);
            let p = sample_char_swaps("cat's", 1.0, 4, EditableWords::default(), &res, &mut rng);
            seen.insert(p.swaps[0]);
        }
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), [[0, 0], [0, 1]]);
    }

    #[test]
    fn a_row_seed_gives_one_edit() {
        // Pinned: the draw for this seed, so a change of the sampling order shows.
        let res = TextResources::default();
        let c = "A wooden table with flowers beside the window";
        let p = sample_char_swaps(
            c,
            0.5,
            4,
            EditableWords::default(),
            &res,
            &mut stream_rng(42, Stream::Text),
        );
        let again = sample_char_swaps(
            c,
            0.5,
            4,
            EditableWords::default(),
            &res,
            &mut stream_rng(42, Stream::Text),
        );
        assert_eq!(p, again);
        // Only "wooden" was hit (of wooden, table, flowers, beside, window), at its
        // first pair.
        assert_eq!(p.swaps, [[1, 0]]);
        assert_eq!(
            apply_char_swaps(c, &p, &res.segmenter).unwrap(),
            "A owoden table with flowers beside the window"
        );
    }

    #[test]
    fn every_sample_applies_and_keeps_the_caption_length() {
        let res = auto_resources();
        for (k, c) in captions().enumerate() {
            let mut rng = stream_rng(k as u64, Stream::Text);
            let p = sample_char_swaps(c, 0.5, 4, EditableWords::default(), res, &mut rng);
            let out = apply_char_swaps(c, &p, &res.segmenter).unwrap();
            if !p.swaps.is_empty() {
                // Re-joined words: same characters, same count per word.
                let mut a: Vec<char> = out.chars().filter(|c| !c.is_whitespace()).collect();
                let mut b: Vec<char> = c.chars().filter(|c| !c.is_whitespace()).collect();
                a.sort_unstable();
                b.sort_unstable();
                assert_eq!(a, b, "{c:?} -> {out:?}");
            } else {
                assert_eq!(out, c);
            }
        }
    }
}
