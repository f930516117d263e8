//! Reordering: swap two adjacent prepositional phrases after the head noun phrase,
//! where that keeps an English caption grammatical: "a dog on a sofa next to a lamp" ->
//! "a dog next to a lamp on a sofa".
//!
//! How phrases are found (whitespace captions only; Chinese captions are never
//! reordered):
//! - a phrase starts at a preposition of [`PREPOSITIONS`] or at "next to" / "close to"
//!   ("of", "for", "from", "to" never start one: they bind to the noun before them, as
//!   in "a cup of espresso"); a phrase runs to the next start or the end of the caption;
//!   the words before the first start are the head;
//! - a phrase is safe to move when it has at least two words and none of its words is
//!   verb-like (an auxiliary, a known verb form such as "poses" or "parked", or an
//!   "-ing" word that ends the phrase or is followed by a stop word, as in "sitting on"),
//!   a conjunction or relative word ("and", "which"), a pronoun ("it", "them"), or
//!   carries punctuation (a comma ends a clause); the caption's final "." is not counted
//!   and stays at the end;
//! - two adjacent safe phrases can be swapped when the word before the first is not
//!   verb-like or a stop word, i.e. the first phrase modifies a noun ("a man looking
//!   through a camera on a tripod" is left alone: "through a camera" belongs to
//!   "looking").
//!
//! Parameters: word indices `start < split < end`; words `start..split` and
//! `split..end` trade places. No safe pair: no parameters, caption unchanged.

use rand::Rng;

use super::edit::{edit_words, split_final, ParamsError};
use super::lexicon::{word_core, EN_STOP_WORDS};
use super::segment::{Joiner, Segmenter};

/// Single-word prepositions that start a movable phrase.
pub const PREPOSITIONS: &[&str] = &[
    "on",
    "in",
    "at",
    "by",
    "near",
    "under",
    "above",
    "below",
    "beneath",
    "behind",
    "beside",
    "inside",
    "outside",
    "over",
    "along",
    "alongside",
    "across",
    "against",
    "around",
    "among",
    "amid",
    "atop",
    "with",
    "without",
    "during",
    "through",
    "toward",
    "towards",
    "underneath",
    "within",
    "onto",
    "into",
    "beyond",
];

/// First words of two-word prepositions ("next to", "close to").
const BEFORE_TO: &[&str] = &["next", "close"];

const NOT_IN_PHRASE: &[&str] = &[
    // auxiliaries
    "is", "are", "was", "were", "be", "been", "being", "has", "have", "had", "can", "could", "will",
    "would", "may", "might", "do", "does", "did", // conjunctions and relative words
    "and", "or", "but", "while", "that", "which", "who", "whom", "whose", "where", "when", "as",
    "because", "if", "so", "then", // pronouns (their reference would move)
    "it", "its", "them", "him", "her", "this", "these", "those", "itself", "there", "here", "they",
    "he", "she",
];

/// Inflected forms of verbs common in captions (present 3rd person, past, participles).
const VERB_FORMS: &[&str] = &[
    "sits",
    "sat",
    "stands",
    "stood",
    "poses",
    "posed",
    "lies",
    "lays",
    "laid",
    "lay",
    "looks",
    "looked",
    "holds",
    "held",
    "rides",
    "rode",
    "walks",
    "walked",
    "runs",
    "ran",
    "eats",
    "ate",
    "eaten",
    "plays",
    "played",
    "shows",
    "showed",
    "shown",
    "flies",
    "flew",
    "hangs",
    "hung",
    "waits",
    "waited",
    "wears",
    "wore",
    "worn",
    "carries",
    "carried",
    "sleeps",
    "slept",
    "rests",
    "rested",
    "parks",
    "parked",
    "watches",
    "watched",
    "crosses",
    "crossed",
    "jumps",
    "jumped",
    "swims",
    "swam",
    "drives",
    "drove",
    "driven",
    "stares",
    "stared",
    "smiles",
    "smiled",
    "fills",
    "filled",
    "covers",
    "covered",
    "lines",
    "lined",
    "stains",
    "stained",
    "floats",
    "floated",
    "grows",
    "grew",
    "grown",
    "leans",
    "leaned",
    "perches",
    "perched",
    "grazes",
    "grazed",
    "reads",
    "talks",
    "talked",
    "cooks",
    "cooked",
    "works",
    "worked",
    "uses",
    "used",
    "faces",
    "faced",
    "points",
    "pointed",
    "leads",
    "led",
    "pulls",
    "pulled",
    "pushes",
    "pushed",
    "throws",
    "threw",
    "thrown",
    "catches",
    "caught",
    "kicks",
    "kicked",
    "hits",
    "swings",
    "swung",
    "surfs",
    "surfed",
    "skis",
    "skied",
    "skates",
    "skated",
    "placed",
    "stacked",
    "seated",
    "displayed",
    "filled",
    "mounted",
    "attached",
    "located",
    "surrounded",
    "taken",
    "made",
    "kept",
    "built",
    "painted",
    "written",
    "drawn",
    "printed",
];

/// Words ending in "-ing" that are nouns in captions.
const ING_NOUNS: &[&str] = &[
    "building",
    "ceiling",
    "painting",
    "clothing",
    "evening",
    "morning",
    "thing",
    "something",
    "nothing",
    "string",
    "wing",
    "king",
    "ring",
    "swing",
    "spring",
    "railing",
    "awning",
    "drawing",
    "ending",
    "opening",
    "icing",
    "frosting",
    "bedding",
    "lighting",
    "siding",
    "landing",
    "parking",
    "living",
    "dining",
    "ping",
    "sibling",
    "wedding",
    "pudding",
    "stocking",
    "topping",
    "sling",
    "ceiling",
];

/// Lower-cased cores of the words.
fn cores(words: &[&str]) -> Vec<String> {
    words
        .iter()
        .map(|w| word_core(w).1.to_lowercase())
        .collect()
}

fn is_stop(core: &str) -> bool {
    EN_STOP_WORDS.contains(&core)
}

/// Whether word `i` (lower-cased cores `c`) acts as a verb here.
fn verb_like(c: &[String], i: usize) -> bool {
    let w = c[i].as_str();
    if VERB_FORMS.contains(&w) {
        return true;
    }
    let next_is_stop_or_end = c.get(i + 1).is_none_or(|n| is_stop(n));
    w.len() >= 5 && w.ends_with("ing") && !ING_NOUNS.contains(&w) && next_is_stop_or_end
}

/// Whether a phrase starts at word `i`.
fn starts_phrase(c: &[String], i: usize) -> bool {
    PREPOSITIONS.contains(&c[i].as_str())
        || (BEFORE_TO.contains(&c[i].as_str()) && c.get(i + 1).is_some_and(|n| n == "to"))
}

/// Reorder parameters (lineage: list<int32> `[start, split, end]`): words
/// `start..split` and `split..end` are swapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReorderParams {
    pub start: u32,
    pub split: u32,
    pub end: u32,
}

/// Every safe swap of `caption`, in order of position (see the module docs).
pub fn reorder_candidates(caption: &str, segmenter: &Segmenter) -> Vec<ReorderParams> {
    let seg = segmenter.segment(caption);
    if seg.joiner() != Joiner::Space || seg.len() < 5 {
        return Vec::new();
    }
    let mut words: Vec<&str> = seg.words().collect();
    // The caption's final punctuation stays where it is: ignore it.
    let n = words.len();
    words[n - 1] = split_final(words[n - 1]).0;
    let c = cores(&words);
    let starts: Vec<usize> = (1..n).filter(|&i| starts_phrase(&c, i)).collect();
    let bounds: Vec<(usize, usize)> = starts
        .iter()
        .enumerate()
        .map(|(k, &s)| (s, starts.get(k + 1).copied().unwrap_or(n)))
        .collect();
    let safe = |(s, e): (usize, usize)| {
        e - s >= 2
            && (s..e).all(|i| {
                let (pre, core, post) = word_core(words[i]);
                pre.is_empty()
                    && post.is_empty()
                    && !core.is_empty()
                    && !NOT_IN_PHRASE.contains(&c[i].as_str())
                    && !verb_like(&c, i)
            })
    };
    bounds
        .windows(2)
        .filter(|pair| {
            let (first, second) = (pair[0], pair[1]);
            let before = first.0 - 1;
            safe(first) && safe(second) && !verb_like(&c, before) && !is_stop(&c[before])
        })
        .map(|pair| ReorderParams {
            start: pair[0].0 as u32,
            split: pair[1].0 as u32,
            end: pair[1].1 as u32,
        })
        .collect()
}

/// Chooses one safe swap uniformly; `None` (caption left alone) when there is none.
pub fn sample_reorder(
    caption: &str,
    segmenter: &Segmenter,
    rng: &mut impl Rng,
) -> Option<ReorderParams> {
    let candidates = reorder_candidates(caption, segmenter);
    (!candidates.is_empty()).then(|| candidates[rng.random_range(0..candidates.len())])
}

/// Swaps the two spans; the caption's final punctuation stays at the end. `None` returns
/// the caption unchanged. Errors unless `start < split < end <= words`.
pub fn apply_reorder(
    caption: &str,
    params: Option<&ReorderParams>,
    segmenter: &Segmenter,
) -> Result<String, ParamsError> {
    let Some(p) = params else {
        return Ok(caption.to_string());
    };
    let seg = segmenter.segment(caption);
    let (start, split, end) = (p.start as usize, p.split as usize, p.end as usize);
    if !(start < split && split < end && end <= seg.len()) {
        return Err(ParamsError::new(
            "reorder",
            format!(
                "spans {start}..{split} and {split}..{end} do not fit a caption of {} words",
                seg.len()
            ),
        ));
    }
    Ok(edit_words(&seg, |mut words| {
        words[start..end].rotate_left(split - start);
        words
    }))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{auto_resources, captions};
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn seg() -> &'static Segmenter {
        &auto_resources().segmenter
    }

    /// Every safe reordering of `caption`.
    fn reorderings(caption: &str) -> Vec<String> {
        reorder_candidates(caption, seg())
            .iter()
            .map(|p| apply_reorder(caption, Some(p), seg()).unwrap())
            .collect()
    }

    #[test]
    fn swaps_adjacent_prepositional_phrases() {
        let cases: &[(&str, &[&str])] = &[
            ("a dog on a sofa next to a lamp", &["a dog next to a lamp on a sofa"]),
            ("A cat on a mat in a sunny kitchen.", &["A cat in a sunny kitchen on a mat."]),
            (
                "A cup of coffee on a table next to a window",
                &["A cup of coffee next to a window on a table"],
            ),
            (
                "A dog on a sofa in a room with a lamp",
                &[
                    "A dog in a room on a sofa with a lamp",
                    "A dog on a sofa with a lamp in a room",
                ],
            ),
            (
                "A woman in an orange flight suit with a flag on the left and a white shuttle model on the right.",
                &["A woman with a flag in an orange flight suit on the left and a white shuttle model on the right."],
            ),
            (
                "A bus in front of a building under a cloudy sky.",
                &["A bus under a cloudy sky in front of a building."],
            ),
            (
                "a car in a parking lot near a tall tree",
                &["a car near a tall tree in a parking lot"],
            ),
            (
                "Two dogs, one on a sofa next to a lamp",
                &["Two dogs, one next to a lamp on a sofa"],
            ),
        ];
        for (caption, expected) in cases {
            assert_eq!(reorderings(caption), *expected, "{caption}");
        }
    }

    #[test]
    fn leaves_unsafe_captions_alone() {
        for caption in [
            // Verb inside the first phrase.
            "A smiling woman in an orange spacesuit poses in front of an American flag.",
            "A cup of espresso on a red saucer sitting on a wooden table.",
            "A red motorcycle with a black seat parked in a cluttered garage.",
            // The first phrase belongs to a verb.
            "A black and white photo of a man looking through a camera on a tripod.",
            "A white rocket stands on a launch pad against a dark blue evening sky.",
            // One phrase only, or none.
            "Rows of old coins laid out on a dark surface.",
            "A microscope image of tissue stained brown and blue.",
            // A comma ends the clause; a pronoun refers back.
            "a dog on a sofa, next to a lamp",
            "a bowl on a table with it",
            "一只猫在沙发上，旁边有一盏灯。",
            "",
        ] {
            assert_eq!(reorderings(caption), Vec::<String>::new(), "{caption}");
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            assert_eq!(sample_reorder(caption, seg(), &mut rng), None);
            assert_eq!(apply_reorder(caption, None, seg()).unwrap(), caption);
        }
    }

    #[test]
    fn bad_params_are_errors() {
        let p = ReorderParams {
            start: 2,
            split: 2,
            end: 4,
        };
        assert!(apply_reorder("a b c d e", Some(&p), seg()).is_err());
        let p = ReorderParams {
            start: 1,
            split: 2,
            end: 6,
        };
        let e = apply_reorder("a b c d e", Some(&p), seg()).unwrap_err();
        assert!(e.to_string().contains("5 words"), "{e}");
    }

    #[test]
    fn properties_over_real_captions() {
        let mut changed = 0;
        for caption in captions() {
            let n = seg().segment(caption).len() as u32;
            for seed in 0..5 {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let p = sample_reorder(caption, seg(), &mut rng);
                let mut again = ChaCha8Rng::seed_from_u64(seed);
                assert_eq!(p, sample_reorder(caption, seg(), &mut again));
                let out = apply_reorder(caption, p.as_ref(), seg()).unwrap();
                match p {
                    None => assert_eq!(out, caption),
                    Some(p) => {
                        changed += 1;
                        assert!(p.start >= 1 && p.start < p.split && p.split < p.end && p.end <= n);
                        // Same words (as a multiset), same final punctuation.
                        let mut a: Vec<&str> = caption.split_whitespace().collect();
                        let mut b: Vec<&str> = out.split_whitespace().collect();
                        let strip = |v: &mut Vec<&str>| {
                            v.iter_mut().for_each(|w| *w = w.trim_end_matches('.'));
                            v.sort();
                        };
                        strip(&mut a);
                        strip(&mut b);
                        assert_eq!(a, b, "{caption} -> {out}");
                        assert_eq!(caption.ends_with('.'), out.ends_with('.'));
                        // Swapping back restores the caption (modulo spacing).
                        let back = ReorderParams {
                            start: p.start,
                            split: p.start + (p.end - p.split),
                            end: p.end,
                        };
                        let restored = apply_reorder(&out, Some(&back), seg()).unwrap();
                        assert_eq!(
                            restored,
                            caption.split_whitespace().collect::<Vec<_>>().join(" ")
                        );
                    }
                }
            }
        }
        assert!(changed > 0);
    }
}
