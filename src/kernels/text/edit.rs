//! What the word-editing ops share: their error type, index checks and the handling of
//! a caption's final punctuation.

use super::lexicon::word_core;
use super::segment::Segmented;

/// Parameters that do not fit the caption they are applied to (e.g. a lineage column
/// replayed on another caption). Names the op and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{op}: {message}")]
pub struct ParamsError {
    pub op: &'static str,
    pub message: String,
}

impl ParamsError {
    pub(crate) fn new(op: &'static str, message: impl Into<String>) -> Self {
        ParamsError {
            op,
            message: message.into(),
        }
    }
}

/// Checks that two parallel parameter lists have the same length.
pub(crate) fn check_parallel(
    op: &'static str,
    (a_name, a_len): (&str, usize),
    (b_name, b_len): (&str, usize),
) -> Result<(), ParamsError> {
    if a_len == b_len {
        return Ok(());
    }
    Err(ParamsError::new(
        op,
        format!("{a_len} {a_name} but {b_len} {b_name}"),
    ))
}

/// Checks that `indices` are strictly increasing word indices below `words`.
pub(crate) fn check_increasing(
    op: &'static str,
    indices: &[u32],
    words: usize,
) -> Result<(), ParamsError> {
    for (k, &i) in indices.iter().enumerate() {
        if i as usize >= words {
            return Err(ParamsError::new(
                op,
                format!("word index {i} out of range for a caption of {words} words"),
            ));
        }
        if k > 0 && indices[k - 1] >= i {
            return Err(ParamsError::new(
                op,
                format!(
                    "word indices must be strictly increasing, got {} then {i}",
                    indices[k - 1]
                ),
            ));
        }
    }
    Ok(())
}

/// Sentence-final punctuation that belongs to the caption rather than to its last word.
const FINAL_PUNCTUATION: &[char] = &['.', '!', '?', '…', '。', '！', '？'];

/// `word` split into its body and trailing sentence punctuation ("table." -> ("table",
/// ".")); words without a core keep everything in the body.
pub(crate) fn split_final(word: &str) -> (&str, &str) {
    if word_core(word).1.is_empty() {
        return (word, "");
    }
    let body = word.trim_end_matches(FINAL_PUNCTUATION);
    (body, &word[body.len()..])
}

/// Edits the words of `seg` and re-joins them. `edit` receives the words with the
/// caption's sentence punctuation taken off the last word, and returns the new words;
/// the punctuation is put back on the new last word, so it stays at the end of the
/// caption whatever moved ("a sofa on a table." -> "a table on a sofa.").
pub(crate) fn edit_words(
    seg: &Segmented<'_>,
    edit: impl FnOnce(Vec<String>) -> Vec<String>,
) -> String {
    let mut words: Vec<String> = seg.words().map(String::from).collect();
    let mut punct = String::new();
    if let Some(last) = words.last_mut() {
        let body_len = split_final(last).0.len();
        punct = last.split_off(body_len);
    }
    let mut out = edit(words);
    if let Some(last) = out.last_mut() {
        last.push_str(&punct);
    }
    seg.join(out)
}
