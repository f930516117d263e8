//! Synonym dictionaries and synonym replacement.
//!
//! The default English dictionary (`data/en_synonyms.tsv`, embedded) is derived from
//! WordNet 3.0 by `data/make_en_synonyms.py`: each word keeps only the single-word
//! synonyms of its most frequent sense that have that sense as their own most frequent
//! sense, for words frequent in WordNet's sense-tagged corpus or common in captions (the
//! script's docstring has the exact rules). WordNet's licence is `data/WORDNET_LICENSE`.
//!
//! User dictionaries use the same TSV format in any language: `word<TAB>syn1|syn2|...`,
//! one headword per line; blank lines and lines starting with `#` are ignored.
//! Headwords match case-insensitively; synonyms are used as written.

use std::collections::HashMap;

use rand::seq::index::sample;
use rand::Rng;

use super::edit::{check_increasing, check_parallel, edit_words, ParamsError};
use super::lexicon::{word_core, CasePattern, EditableWords};
use super::segment::Segmenter;
use super::TextResources;

const EN_SYNONYMS_TSV: &str = include_str!("data/en_synonyms.tsv");

/// A line of a synonym TSV that cannot be read (1-based line number).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("synonym dictionary line {line}: {message}")]
pub struct SynonymDictError {
    pub line: usize,
    pub message: String,
}

/// Headword (lower case) -> its synonyms, in the file's order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SynonymDict {
    entries: HashMap<String, Vec<String>>,
}

impl SynonymDict {
    /// Reads a TSV dictionary (see the module docs). Errors name the line: a line without
    /// a tab, an empty headword or synonym, a synonym containing whitespace, a headword
    /// listed twice.
    pub fn from_tsv(text: &str) -> Result<Self, SynonymDictError> {
        let mut entries: HashMap<String, Vec<String>> = HashMap::new();
        for (k, raw) in text.lines().enumerate() {
            let line = k + 1;
            let err = |message: String| SynonymDictError { line, message };
            let trimmed = raw.trim_end_matches('\r');
            if trimmed.trim().is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let (word, syns) = trimmed
                .split_once('\t')
                .ok_or_else(|| err("expected word<TAB>syn1|syn2|..., found no tab".into()))?;
            let word = word.trim();
            if word.is_empty() {
                return Err(err("empty headword".into()));
            }
            let mut list = Vec::new();
            for syn in syns.split('|').map(str::trim) {
                if syn.is_empty() {
                    return Err(err(format!("empty synonym for {word:?}")));
                }
                if syn.chars().any(char::is_whitespace) {
                    return Err(err(format!(
                        "synonym {syn:?} of {word:?} is not a single word"
                    )));
                }
                list.push(syn.to_string());
            }
            if entries.insert(word.to_lowercase(), list).is_some() {
                return Err(err(format!("headword {word:?} listed twice")));
            }
        }
        Ok(SynonymDict { entries })
    }

    /// The default English dictionary (WordNet 3.0, most frequent senses; about 1,300
    /// headwords).
    pub fn english() -> Self {
        // The embedded file is checked by a test; a failure here is a build defect.
        Self::from_tsv(EN_SYNONYMS_TSV).expect("embedded en_synonyms.tsv is valid")
    }

    /// The synonyms of `word` (matched case-insensitively), if any.
    pub fn get(&self, word: &str) -> Option<&[String]> {
        self.entries
            .get(&word.to_lowercase())
            .map(Vec::as_slice)
            .filter(|s| !s.is_empty())
    }

    /// Number of headwords.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Synonym replacement parameters (lineage: `word_indices` list<int32>, `replacements`
/// list<string>).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SynonymParams {
    /// Indices of the replaced words (strictly increasing).
    pub word_indices: Vec<u32>,
    /// The text each replaced word's core becomes, as written into the caption (case
    /// pattern of the original already applied: "Red" -> "Crimson"); the punctuation
    /// around the core stays ("red," -> "crimson,").
    pub replacements: Vec<String>,
}

/// The words of `caption` that can be replaced: editable under `editable` and with a
/// synonym in the dictionary. Returns (word index, its synonyms).
pub(crate) fn replaceable<'r>(
    caption: &str,
    res: &'r TextResources,
    editable: EditableWords,
) -> Vec<(u32, &'r [String])> {
    let seg = res.segmenter.segment(caption);
    seg.words()
        .enumerate()
        .filter(|(_, w)| res.lists.is_editable(w, editable))
        .filter_map(|(i, w)| res.synonyms.get(word_core(w).1).map(|s| (i as u32, s)))
        .collect()
}

/// Chooses up to `max_words` distinct replaceable words (uniformly) and for each a
/// synonym (uniformly among its dictionary entry). Stop words, numbers, colour and
/// spatial words are skipped unless `editable` allows them. Empty parameters when
/// nothing is replaceable.
pub fn sample_synonyms(
    caption: &str,
    max_words: usize,
    editable: EditableWords,
    res: &TextResources,
    rng: &mut impl Rng,
) -> SynonymParams {
    let candidates = replaceable(caption, res, editable);
    let amount = max_words.min(candidates.len());
    let mut chosen = sample(rng, candidates.len(), amount).into_vec();
    chosen.sort_unstable();
    let seg = res.segmenter.segment(caption);
    let mut params = SynonymParams::default();
    for c in chosen {
        let (index, syns) = candidates[c];
        let synonym = &syns[rng.random_range(0..syns.len())];
        let original = word_core(seg.word(index as usize)).1;
        params.word_indices.push(index);
        params
            .replacements
            .push(CasePattern::of(original).apply(synonym));
    }
    params
}

/// Replaces the cores of the listed words. Empty parameters return the caption
/// unchanged. Errors: lists of different lengths, indices not strictly increasing or out
/// of range, an empty replacement.
pub fn apply_synonyms(
    caption: &str,
    params: &SynonymParams,
    segmenter: &Segmenter,
) -> Result<String, ParamsError> {
    const OP: &str = "synonyms";
    check_parallel(
        OP,
        ("word indices", params.word_indices.len()),
        ("replacements", params.replacements.len()),
    )?;
    if params.word_indices.is_empty() {
        return Ok(caption.to_string());
    }
    if params.replacements.iter().any(String::is_empty) {
        return Err(ParamsError::new(OP, "empty replacement"));
    }
    let seg = segmenter.segment(caption);
    check_increasing(OP, &params.word_indices, seg.len())?;
    Ok(edit_words(&seg, |mut words| {
        for (&i, new) in params.word_indices.iter().zip(&params.replacements) {
            let w = &mut words[i as usize];
            let (pre, _, post) = word_core(w);
            *w = format!("{pre}{new}{post}");
        }
        words
    }))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{auto_resources, captions};
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn res() -> &'static TextResources {
        auto_resources()
    }

    #[test]
    fn english_dictionary_keeps_most_frequent_senses() {
        let d = SynonymDict::english();
        assert!(d.len() > 1000, "{}", d.len());
        // "car" means the automobile, never "gondola" or "machine".
        assert_eq!(d.get("car").unwrap(), ["auto", "automobile", "motorcar"]);
        assert_eq!(
            d.get("Cars").unwrap(),
            ["autos", "automobiles", "motorcars"]
        );
        assert_eq!(d.get("red").unwrap(), ["reddish", "crimson"]);
        assert_eq!(d.get("sofa").unwrap(), ["couch"]);
        assert_eq!(d.get("photo").unwrap(), ["photograph"]);
        // "dog" is a noun first: no verb synonyms ("chase").
        assert!(d.get("dog").is_none());
        assert!(d
            .get("gondola")
            .is_none_or(|s| !s.contains(&"car".to_string())));
        // Small enough to embed.
        assert!(EN_SYNONYMS_TSV.len() < 100_000);
    }

    #[test]
    fn tsv_errors_name_the_line() {
        let e = SynonymDict::from_tsv("# c\ncar\tauto\nbad line\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.to_string().contains("line 3") && e.to_string().contains("no tab"));
        assert_eq!(SynonymDict::from_tsv("\tx").unwrap_err().line, 1);
        let e = SynonymDict::from_tsv("a\tb||c").unwrap_err();
        assert!(e.message.contains("empty synonym"), "{e}");
        let e = SynonymDict::from_tsv("a\tb c").unwrap_err();
        assert!(e.message.contains("single word"), "{e}");
        let e = SynonymDict::from_tsv("a\tb\n\nA\tc").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("twice"));
        let d = SynonymDict::from_tsv("\n# only comments\r\nCar\tAuto|automobile\r\n").unwrap();
        assert_eq!(d.get("CAR").unwrap(), ["Auto", "automobile"]);
    }

    #[test]
    fn replacement_keeps_case_and_punctuation() {
        let seg = Segmenter::whitespace();
        let p = SynonymParams {
            word_indices: vec![0, 3],
            replacements: vec!["Crimson".into(), "couch".into()],
        };
        assert_eq!(
            apply_synonyms(
                "Red  car on\ta sofa.",
                &SynonymParams {
                    word_indices: vec![0, 4],
                    ..p.clone()
                },
                &seg
            )
            .unwrap(),
            "Crimson car on a couch."
        );
        // Empty parameters keep the exact bytes.
        assert_eq!(
            apply_synonyms(" a  b ", &SynonymParams::default(), &seg).unwrap(),
            " a  b "
        );
        let err = apply_synonyms("a b", &p, &seg).unwrap_err();
        assert!(err.to_string().contains("index 3 out of range"), "{err}");
        let bad = SynonymParams {
            word_indices: vec![1, 0],
            replacements: vec!["x".into(), "y".into()],
        };
        assert!(apply_synonyms("a b", &bad, &seg).is_err());
    }

    #[test]
    fn sampling_picks_content_words_only() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let caption = "A red car parked on the left of a big sofa.";
        let p = sample_synonyms(caption, 10, EditableWords::default(), res(), &mut rng);
        // Replaceable: car (2), big (9), sofa. (10); not "red" (colour), "left" (spatial).
        assert_eq!(p.word_indices, [2, 9, 10]);
        assert_eq!(p.replacements[1], "large");
        assert_eq!(p.replacements[2], "couch");
        assert!(["auto", "automobile", "motorcar"].contains(&p.replacements[0].as_str()));
        let out = apply_synonyms(caption, &p, &res().segmenter).unwrap();
        assert!(
            out.starts_with("A red ") && out.ends_with(" parked on the left of a large couch."),
            "{out}"
        );
        // Colours only when asked, keeping the case pattern.
        let colours = EditableWords {
            colour_words: true,
            ..Default::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let p = sample_synonyms("Red", 1, colours, res(), &mut rng);
        assert_eq!(p.word_indices, [0]);
        assert!(
            ["Reddish", "Crimson"].contains(&p.replacements[0].as_str()),
            "{p:?}"
        );
        let p = sample_synonyms("RED", 1, colours, res(), &mut rng);
        assert!(
            ["REDDISH", "CRIMSON"].contains(&p.replacements[0].as_str()),
            "{p:?}"
        );
        // max_words bounds the count; nothing replaceable gives empty params.
        let p = sample_synonyms(caption, 1, EditableWords::default(), res(), &mut rng);
        assert_eq!(p.word_indices.len(), 1);
        let p = sample_synonyms(
            "the dog of a man",
            3,
            EditableWords::default(),
            res(),
            &mut rng,
        );
        assert_eq!(p, SynonymParams::default());
    }

    #[test]
    fn chinese_user_dictionary() {
        let res = TextResources {
            synonyms: SynonymDict::from_tsv("红色\t鲜红\n汽车\t轿车\n").unwrap(),
            ..auto_resources().clone()
        };
        let colours = EditableWords {
            colour_words: true,
            ..Default::default()
        };
        let caption = "一辆红色的汽车停在路边。";
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let p = sample_synonyms(caption, 5, colours, &res, &mut rng);
        // Words: 一辆 红色 的 汽车 停 在 路边 。
        assert_eq!(p.word_indices, [1, 3]);
        assert_eq!(p.replacements, ["鲜红", "轿车"]);
        assert_eq!(
            apply_synonyms(caption, &p, &res.segmenter).unwrap(),
            "一辆鲜红的轿车停在路边。"
        );
        // Colour words are protected by default.
        let p = sample_synonyms(caption, 5, EditableWords::default(), &res, &mut rng);
        assert_eq!(p.word_indices, [3]);
    }

    #[test]
    fn properties_over_real_captions() {
        for seed in 0..20u64 {
            for caption in captions() {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let p = sample_synonyms(caption, 3, EditableWords::default(), res(), &mut rng);
                let mut again = ChaCha8Rng::seed_from_u64(seed);
                assert_eq!(
                    p,
                    sample_synonyms(caption, 3, EditableWords::default(), res(), &mut again)
                );
                let seg = res().segmenter.segment(caption);
                assert!(p.word_indices.len() <= 3);
                assert!(p.word_indices.iter().all(|&i| (i as usize) < seg.len()));
                let out = apply_synonyms(caption, &p, &res().segmenter).unwrap();
                assert!(!out.trim().is_empty());
                if p.word_indices.is_empty() {
                    assert_eq!(out, caption);
                } else {
                    // Same number of words, only the listed ones differ.
                    let after = res().segmenter.segment(&out);
                    let changed: Vec<u32> = seg
                        .words()
                        .zip(after.words())
                        .enumerate()
                        .filter(|(_, (a, b))| a != b)
                        .map(|(i, _)| i as u32)
                        .collect();
                    if seg.joiner() == super::super::Joiner::Space {
                        assert_eq!(after.len(), seg.len(), "{caption} -> {out}");
                        assert_eq!(changed, p.word_indices, "{caption} -> {out}");
                    }
                }
            }
        }
    }
}
