//! EDA ops (Wei & Zou 2019, "Easy Data Augmentation"): random swap, random insertion,
//! random deletion. As in the paper, stop words are never chosen; numbers, colour and
//! spatial words are protected too unless [`EditableWords`] allows them.
//!
//! The paper's number of edits for a caption of `n` words is `max(1, floor(alpha * n))`
//! ([`eda_count`]); deletion uses a probability per word instead.

use rand::seq::index::sample;
use rand::Rng;

use super::edit::{check_increasing, check_parallel, edit_words, ParamsError};
use super::lexicon::{word_core, EditableWords};
use super::segment::Segmenter;
use super::synonyms::replaceable;
use super::TextResources;

/// The EDA paper's edit count for a caption of `words` words: `max(1, floor(alpha *
/// words))` (0 for an empty caption or `alpha <= 0`).
pub fn eda_count(alpha: f64, words: usize) -> usize {
    if words == 0 || alpha <= 0.0 || alpha.is_nan() {
        return 0;
    }
    ((alpha * words as f64).floor() as usize).max(1)
}

/// Indices of the words an EDA op may touch.
fn editable_indices(caption: &str, res: &TextResources, editable: EditableWords) -> Vec<u32> {
    res.segmenter
        .segment(caption)
        .words()
        .enumerate()
        .filter(|(_, w)| res.lists.is_editable(w, editable))
        .map(|(i, _)| i as u32)
        .collect()
}

/// Random swap parameters (lineage: list<int32> of the pairs flattened, `[i0, j0, i1,
/// j1, ...]`): the word cores at `i` and `j` (i < j) trade places, pair after pair.
/// Punctuation stays in place ("a dog, a cat" -> "a cat, a dog").
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SwapParams {
    pub pairs: Vec<[u32; 2]>,
}

/// `n_swaps` times, two distinct editable words chosen uniformly. Empty parameters when
/// fewer than two words are editable.
pub fn sample_random_swap(
    caption: &str,
    n_swaps: usize,
    editable: EditableWords,
    res: &TextResources,
    rng: &mut impl Rng,
) -> SwapParams {
    let candidates = editable_indices(caption, res, editable);
    if candidates.len() < 2 {
        return SwapParams::default();
    }
    let pairs = (0..n_swaps)
        .map(|_| {
            let two = sample(rng, candidates.len(), 2);
            let (a, b) = (candidates[two.index(0)], candidates[two.index(1)]);
            [a.min(b), a.max(b)]
        })
        .collect();
    SwapParams { pairs }
}

/// Swaps the listed pairs in order. Errors: an index out of range, or `i >= j`.
pub fn apply_random_swap(
    caption: &str,
    params: &SwapParams,
    segmenter: &Segmenter,
) -> Result<String, ParamsError> {
    if params.pairs.is_empty() {
        return Ok(caption.to_string());
    }
    let seg = segmenter.segment(caption);
    for pair in &params.pairs {
        check_increasing("random_swap", pair, seg.len())?;
    }
    Ok(edit_words(&seg, |mut words| {
        for &[i, j] in &params.pairs {
            let (i, j) = (i as usize, j as usize);
            let (pi, ci, si) = split_owned(&words[i]);
            let (pj, cj, sj) = split_owned(&words[j]);
            words[i] = format!("{pi}{cj}{si}");
            words[j] = format!("{pj}{ci}{sj}");
        }
        words
    }))
}

fn split_owned(word: &str) -> (String, String, String) {
    let (p, c, s) = word_core(word);
    (p.to_string(), c.to_string(), s.to_string())
}

/// Random insertion parameters (lineage: `positions` list<int32>, `words`
/// list<string>): `words[k]` is inserted before word `positions[k]` of the caption as
/// received (`positions[k]` = the word count appends it). Positions are non-decreasing;
/// words for the same position go in list order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InsertParams {
    pub positions: Vec<u32>,
    pub words: Vec<String>,
}

/// `n_insertions` times: a synonym (uniformly chosen) of an editable word that has one
/// (uniformly chosen), inserted at a uniform position after the first word and no later
/// than after the last word that is not punctuation. Empty parameters when no word has
/// a synonym.
pub fn sample_random_insertion(
    caption: &str,
    n_insertions: usize,
    editable: EditableWords,
    res: &TextResources,
    rng: &mut impl Rng,
) -> InsertParams {
    let candidates = replaceable(caption, res, editable);
    let seg = res.segmenter.segment(caption);
    // One past the last word with a core (never after a final "。").
    let last_gap = seg
        .words()
        .rposition(|w| !word_core(w).1.is_empty())
        .map_or(0, |i| i + 1);
    if candidates.is_empty() || last_gap == 0 {
        return InsertParams::default();
    }
    let mut inserts: Vec<(u32, String)> = (0..n_insertions)
        .map(|_| {
            let (_, syns) = candidates[rng.random_range(0..candidates.len())];
            let word = syns[rng.random_range(0..syns.len())].clone();
            let gap = rng.random_range(1..=last_gap) as u32;
            (gap, word)
        })
        .collect();
    inserts.sort_by_key(|(gap, _)| *gap); // stable: same-gap words keep their order
    let (positions, words) = inserts.into_iter().unzip();
    InsertParams { positions, words }
}

/// Inserts the words. Errors: lists of different lengths, decreasing or out-of-range
/// positions, an empty word or one containing whitespace.
pub fn apply_random_insertion(
    caption: &str,
    params: &InsertParams,
    segmenter: &Segmenter,
) -> Result<String, ParamsError> {
    const OP: &str = "random_insertion";
    check_parallel(
        OP,
        ("positions", params.positions.len()),
        ("words", params.words.len()),
    )?;
    if params.positions.is_empty() {
        return Ok(caption.to_string());
    }
    if let Some(w) = params
        .words
        .iter()
        .find(|w| w.is_empty() || w.chars().any(super::words::is_python_whitespace))
    {
        return Err(ParamsError::new(OP, format!("{w:?} is not a single word")));
    }
    let seg = segmenter.segment(caption);
    for (k, &p) in params.positions.iter().enumerate() {
        if p as usize > seg.len() {
            return Err(ParamsError::new(
                OP,
                format!(
                    "position {p} out of range for a caption of {} words",
                    seg.len()
                ),
            ));
        }
        if k > 0 && params.positions[k - 1] > p {
            return Err(ParamsError::new(
                OP,
                format!(
                    "positions must not decrease, got {} then {p}",
                    params.positions[k - 1]
                ),
            ));
        }
    }
    Ok(edit_words(&seg, |words| {
        let mut out = Vec::with_capacity(words.len() + params.words.len());
        let mut inserts = params.positions.iter().zip(&params.words).peekable();
        for (i, w) in words.into_iter().enumerate() {
            while let Some((_, new)) = inserts.next_if(|&(&p, _)| p as usize == i) {
                out.push(new.clone());
            }
            out.push(w);
        }
        out.extend(inserts.map(|(_, new)| new.clone()));
        out
    }))
}

/// Random deletion parameters (lineage: list<int32>): indices of the deleted words,
/// strictly increasing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteParams {
    pub word_indices: Vec<u32>,
}

/// Each editable word is deleted with probability `p` (one draw per editable word, in
/// order). If that would delete every word that is not punctuation, one of the chosen
/// words (uniformly) is kept, so a non-empty caption never becomes empty. Errors unless
/// `0 <= p <= 1`.
pub fn sample_random_deletion(
    caption: &str,
    p: f64,
    editable: EditableWords,
    res: &TextResources,
    rng: &mut impl Rng,
) -> Result<DeleteParams, ParamsError> {
    if !(0.0..=1.0).contains(&p) {
        return Err(ParamsError::new(
            "random_deletion",
            format!("probability {p} is not in [0, 1]"),
        ));
    }
    let candidates = editable_indices(caption, res, editable);
    let mut word_indices: Vec<u32> = candidates
        .into_iter()
        .filter(|_| rng.random_bool(p))
        .collect();
    let cored = res
        .segmenter
        .segment(caption)
        .words()
        .filter(|w| !word_core(w).1.is_empty())
        .count();
    if !word_indices.is_empty() && word_indices.len() == cored {
        word_indices.remove(rng.random_range(0..word_indices.len()));
    }
    Ok(DeleteParams { word_indices })
}

/// Deletes the listed words. Errors: indices not strictly increasing or out of range, or
/// deleting every word of a non-empty caption.
pub fn apply_random_deletion(
    caption: &str,
    params: &DeleteParams,
    segmenter: &Segmenter,
) -> Result<String, ParamsError> {
    const OP: &str = "random_deletion";
    if params.word_indices.is_empty() {
        return Ok(caption.to_string());
    }
    let seg = segmenter.segment(caption);
    check_increasing(OP, &params.word_indices, seg.len())?;
    if params.word_indices.len() == seg.len() {
        return Err(ParamsError::new(
            OP,
            "deleting every word would empty the caption",
        ));
    }
    Ok(edit_words(&seg, |words| {
        let mut deleted = params.word_indices.iter().peekable();
        words
            .into_iter()
            .enumerate()
            .filter(|(i, _)| deleted.next_if(|&&d| d as usize == *i).is_none())
            .map(|(_, w)| w)
            .collect()
    }))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{auto_resources, captions};
    use super::super::SynonymDict;
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn res() -> &'static TextResources {
        auto_resources()
    }
    fn seg() -> &'static Segmenter {
        &res().segmenter
    }
    fn none() -> EditableWords {
        EditableWords::default()
    }

    #[test]
    fn counts() {
        assert_eq!(eda_count(0.1, 12), 1);
        assert_eq!(eda_count(0.1, 25), 2);
        assert_eq!(eda_count(0.5, 5), 2);
        assert_eq!(eda_count(0.1, 0), 0);
        assert_eq!(eda_count(0.0, 10), 0);
    }

    #[test]
    fn swap_known_outputs() {
        let p = SwapParams {
            pairs: vec![[1, 4]],
        };
        assert_eq!(
            apply_random_swap("a dog, on a  sofa.", &p, seg()).unwrap(),
            "a sofa, on a dog."
        );
        let p = SwapParams {
            pairs: vec![[0, 1], [1, 2]],
        };
        // (a b c) -> (b a c) -> (b c a)
        assert_eq!(apply_random_swap("a b c", &p, seg()).unwrap(), "b c a");
        assert_eq!(
            apply_random_swap(" x  y ", &SwapParams::default(), seg()).unwrap(),
            " x  y "
        );
        assert!(apply_random_swap(
            "a b",
            &SwapParams {
                pairs: vec![[1, 1]]
            },
            seg()
        )
        .is_err());
        assert!(apply_random_swap(
            "a b",
            &SwapParams {
                pairs: vec![[0, 2]]
            },
            seg()
        )
        .is_err());
        // Sampling only picks content words: here dog (1) and sofa (4).
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let p = sample_random_swap("a dog, on a sofa.", 3, none(), res(), &mut rng);
        assert_eq!(p.pairs, vec![[1, 4]; 3]);
        // Fewer than two content words: nothing to swap.
        let p = sample_random_swap("the dog is on it", 3, none(), res(), &mut rng);
        assert_eq!(p, SwapParams::default());
        // Chinese: words are jieba's; 一只 (number), 上 (stop word) and 。 are never
        // chosen, so the pair is taken from 猫 (1), 坐在 (2), 沙发 (3).
        let words: Vec<&str> = seg().segment("一只猫坐在沙发上。").words().collect();
        assert_eq!(words, ["一只", "猫", "坐在", "沙发", "上", "。"]);
        let p = sample_random_swap("一只猫坐在沙发上。", 1, none(), res(), &mut rng);
        assert_eq!(p.pairs, vec![[1, 3]]);
        assert_eq!(
            apply_random_swap("一只猫坐在沙发上。", &p, seg()).unwrap(),
            "一只沙发坐在猫上。"
        );
    }

    #[test]
    fn insertion_known_outputs() {
        let p = InsertParams {
            positions: vec![1, 3, 3],
            words: vec!["x".into(), "y".into(), "z".into()],
        };
        assert_eq!(
            apply_random_insertion("a b c.", &p, seg()).unwrap(),
            "a x b c y z."
        );
        let p = InsertParams {
            positions: vec![0, 2],
            words: vec!["x".into(), "y".into()],
        };
        assert_eq!(apply_random_insertion("a b", &p, seg()).unwrap(), "x a b y");
        let bad = InsertParams {
            positions: vec![2, 1],
            words: vec!["x".into(), "y".into()],
        };
        assert!(apply_random_insertion("a b", &bad, seg()).is_err());
        let bad = InsertParams {
            positions: vec![3],
            words: vec!["x".into()],
        };
        assert!(apply_random_insertion("a b", &bad, seg()).is_err());
        let bad = InsertParams {
            positions: vec![1],
            words: vec!["x y".into()],
        };
        assert!(apply_random_insertion("a b", &bad, seg()).is_err());
        // A synonym of "car" (the only word with one) goes after the first or the last
        // word (this seed: the last), before the final punctuation.
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let p = sample_random_insertion("the car.", 1, none(), res(), &mut rng);
        assert_eq!(p.positions, [2]);
        assert!(["auto", "automobile", "motorcar"].contains(&p.words[0].as_str()));
        let out = apply_random_insertion("the car.", &p, seg()).unwrap();
        assert_eq!(out, format!("the car {}.", p.words[0]));
        let p = InsertParams {
            positions: vec![1],
            words: vec!["auto".into()],
        };
        assert_eq!(
            apply_random_insertion("the car.", &p, seg()).unwrap(),
            "the auto car."
        );
        // Chinese dictionary: inserted before the final 。, re-joined without spaces.
        let zh = TextResources {
            synonyms: SynonymDict::from_tsv("汽车\t轿车\n").unwrap(),
            ..res().clone()
        };
        let p = sample_random_insertion("一辆汽车。", 2, none(), &zh, &mut rng);
        assert_eq!(p.words, ["轿车", "轿车"]);
        assert!(p.positions.iter().all(|&g| (1..=2).contains(&g)), "{p:?}");
        let out = apply_random_insertion("一辆汽车。", &p, &zh.segmenter).unwrap();
        assert!(
            out.ends_with('。') && out.matches("轿车").count() == 2,
            "{out}"
        );
        assert_eq!(
            sample_random_insertion("the dog", 2, none(), res(), &mut rng),
            InsertParams::default()
        );
    }

    #[test]
    fn deletion_known_outputs() {
        let p = DeleteParams {
            word_indices: vec![1, 4],
        };
        assert_eq!(
            apply_random_deletion("a dog on a sofa.", &p, seg()).unwrap(),
            "a on a."
        );
        assert!(apply_random_deletion(
            "a b",
            &DeleteParams {
                word_indices: vec![0, 1]
            },
            seg()
        )
        .is_err());
        assert!(apply_random_deletion(
            "a b",
            &DeleteParams {
                word_indices: vec![1, 0]
            },
            seg()
        )
        .is_err());
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        // p = 1 deletes every content word, never stop words, colours or numbers.
        let p = sample_random_deletion("A red dog on two big sofas.", 1.0, none(), res(), &mut rng)
            .unwrap();
        assert_eq!(p.word_indices, [2, 5, 6]);
        assert_eq!(
            apply_random_deletion("A red dog on two big sofas.", &p, seg()).unwrap(),
            "A red on two."
        );
        let p = sample_random_deletion("dog sofa", 0.0, none(), res(), &mut rng).unwrap();
        assert!(p.word_indices.is_empty());
        // All content, all chosen: one survives.
        let p = sample_random_deletion("dog sofa lamp", 1.0, none(), res(), &mut rng).unwrap();
        assert_eq!(p.word_indices.len(), 2);
        assert!(sample_random_deletion("dog", 1.5, none(), res(), &mut rng).is_err());
        assert!(sample_random_deletion("dog", f64::NAN, none(), res(), &mut rng).is_err());
    }

    /// Indices in range, never empty, deterministic per seed, over real captions.
    #[test]
    fn properties_over_real_captions() {
        for seed in 0..10u64 {
            for caption in captions() {
                let n = seg().segment(caption).len();
                let run = |seed| {
                    let mut rng = ChaCha8Rng::seed_from_u64(seed);
                    let s = sample_random_swap(caption, 2, none(), res(), &mut rng);
                    let i = sample_random_insertion(caption, 2, none(), res(), &mut rng);
                    let d = sample_random_deletion(caption, 0.5, none(), res(), &mut rng).unwrap();
                    (s, i, d)
                };
                let (s, i, d) = run(seed);
                assert_eq!((s.clone(), i.clone(), d.clone()), run(seed));
                assert!(s.pairs.iter().all(|&[a, b]| a < b && (b as usize) < n));
                assert!(i.positions.iter().all(|&p| p >= 1 && p as usize <= n));
                assert!(d.word_indices.iter().all(|&k| (k as usize) < n));
                assert!(d.word_indices.len() < n.max(1));
                for out in [
                    apply_random_swap(caption, &s, seg()).unwrap(),
                    apply_random_insertion(caption, &i, seg()).unwrap(),
                    apply_random_deletion(caption, &d, seg()).unwrap(),
                ] {
                    assert!(!out.trim().is_empty(), "{caption}");
                }
                let after = apply_random_deletion(caption, &d, seg()).unwrap();
                if d.word_indices.is_empty() {
                    assert_eq!(after, caption);
                } else if seg().segment(caption).joiner() == super::super::Joiner::Space {
                    assert_eq!(after.split_whitespace().count(), n - d.word_indices.len());
                }
            }
        }
    }
}
