//! Words as Python `str.split()` sees them, and the Arrow array kernels of the reference schemes.
//!
//! Words are what Python's `str.split()` (no argument) returns: maximal runs of
//! non-whitespace characters, where whitespace is exactly Python's `str.isspace`.
//! Kernels that change a caption re-join its words with single spaces, as the reference
//! schemes do (`" ".join(words)`); rows that are left alone keep their exact bytes.
//!
//! All array kernels propagate nulls (a null caption gives a null output) and work on
//! sliced arrays (logical row `i` is `array.value(i)`, whatever the array's offset).

use arrow::array::{Array, Int32Array, ListArray, StringArray, StringBuilder};
use arrow::error::ArrowError;

/// Whether `c` is whitespace for Python's `str.isspace` (and so for `str.split()`).
///
/// Rust's `char::is_whitespace` (Unicode `White_Space`) agrees with Python everywhere
/// except the ASCII information separators U+001C..=U+001F, which Python counts as
/// whitespace (bidirectional class B/S). Neither counts U+200B ZERO WIDTH SPACE.
#[inline]
pub fn is_python_whitespace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// The words of `s` with Python `str.split()` semantics: split on runs of Python
/// whitespace (see [`is_python_whitespace`]), leading/trailing whitespace ignored, no
/// empty words.
pub fn split_words(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_python_whitespace).filter(|w| !w.is_empty())
}

/// The number of words of `s` (`len(s.split())` in Python).
pub fn word_count(s: &str) -> usize {
    split_words(s).count()
}

/// Bytes of string data covered by the logical rows of `a` (correct for sliced arrays,
/// whose value buffer may extend beyond them).
fn covered_bytes(a: &StringArray) -> usize {
    let offsets = a.value_offsets();
    match (offsets.first(), offsets.last()) {
        (Some(first), Some(last)) => usize::try_from(last - first).unwrap_or(0),
        _ => 0,
    }
}

fn check_same_len(
    kernel: &str,
    what: &str,
    captions: usize,
    other: usize,
) -> Result<(), ArrowError> {
    if captions == other {
        Ok(())
    } else {
        Err(ArrowError::InvalidArgumentError(format!(
            "{kernel}: {captions} captions but {other} {what}"
        )))
    }
}

/// Replace the word at `index[i]` of caption `i` by `token`.
///
/// - a null caption gives a null output;
/// - a null index leaves the caption unchanged, byte for byte;
/// - otherwise the words (per [`split_words`]) are re-joined with single spaces, with word
///   `index[i]` (0-based) replaced by `token`.
///
/// A negative or out-of-range index is an error naming the row.
pub fn replace_words(
    captions: &StringArray,
    index: &Int32Array,
    token: &str,
) -> Result<StringArray, ArrowError> {
    check_same_len("replace_words", "indices", captions.len(), index.len())?;
    // Upper bound on the output size: each row loses at least nothing but whitespace it
    // collapses and gains at most `token`.
    let data_capacity = covered_bytes(captions).saturating_add(
        token
            .len()
            .saturating_mul(captions.len() - captions.null_count().min(captions.len())),
    );
    let mut out = StringBuilder::with_capacity(captions.len(), data_capacity);
    // One scratch buffer for the whole array instead of one String per row.
    let mut buf = String::new();
    for row in 0..captions.len() {
        if captions.is_null(row) {
            out.append_null();
            continue;
        }
        let caption = captions.value(row);
        if index.is_null(row) {
            out.append_value(caption);
            continue;
        }
        let target = index.value(row);
        let out_of_range = |words: usize| {
            ArrowError::InvalidArgumentError(format!(
                "replace_words: row {row}: word index {target} out of range for a caption of {words} words"
            ))
        };
        let Ok(target) = usize::try_from(target) else {
            return Err(out_of_range(word_count(caption)));
        };
        buf.clear();
        let mut words = 0;
        for (k, word) in split_words(caption).enumerate() {
            if k > 0 {
                buf.push(' ');
            }
            buf.push_str(if k == target { token } else { word });
            words += 1;
        }
        if target >= words {
            return Err(out_of_range(words));
        }
        out.append_value(&buf);
    }
    Ok(out.finish())
}

/// Delete the words listed in `indices[i]` (0-based, any order) from caption `i`.
///
/// `indices` is a `List<Int32>` with one entry per caption:
/// - a null caption gives a null output;
/// - a null or empty list leaves the caption unchanged, byte for byte;
/// - otherwise the remaining words are re-joined with single spaces (deleting every word
///   gives the empty string).
///
/// Errors (naming the row): a list child that is not `Int32`, a null list element, a
/// negative or out-of-range index, or an index listed twice.
pub fn delete_words(
    captions: &StringArray,
    indices: &ListArray,
) -> Result<StringArray, ArrowError> {
    check_same_len("delete_words", "index lists", captions.len(), indices.len())?;
    let values = indices
        .values()
        .as_any()
        .downcast_ref::<Int32Array>()
        .ok_or_else(|| {
            ArrowError::InvalidArgumentError(format!(
                "delete_words: index lists must be List<Int32>, got {}",
                indices.data_type()
            ))
        })?;
    // Offsets of a sliced ListArray are already sliced and index the full child array.
    let offsets = indices.value_offsets();
    let mut out = StringBuilder::with_capacity(captions.len(), covered_bytes(captions));
    // Scratch buffers reused across rows: the row's words and which of them to delete.
    let mut buf = String::new();
    let mut words: Vec<&str> = Vec::new();
    let mut delete: Vec<bool> = Vec::new();
    for row in 0..captions.len() {
        if captions.is_null(row) {
            out.append_null();
            continue;
        }
        let caption = captions.value(row);
        let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
        if indices.is_null(row) || start == end {
            out.append_value(caption);
            continue;
        }
        words.clear();
        words.extend(split_words(caption));
        delete.clear();
        delete.resize(words.len(), false);
        for pos in start..end {
            if values.is_null(pos) {
                return Err(ArrowError::InvalidArgumentError(format!(
                    "delete_words: row {row}: null word index"
                )));
            }
            let target = values.value(pos);
            let slot = usize::try_from(target)
                .ok()
                .and_then(|t| delete.get_mut(t))
                .ok_or_else(|| {
                    ArrowError::InvalidArgumentError(format!(
                        "delete_words: row {row}: word index {target} out of range for a caption of {} words",
                        words.len()
                    ))
                })?;
            if *slot {
                return Err(ArrowError::InvalidArgumentError(format!(
                    "delete_words: row {row}: word index {target} listed more than once"
                )));
            }
            *slot = true;
        }
        buf.clear();
        for (word, _) in words.iter().zip(&delete).filter(|(_, &d)| !d) {
            if !buf.is_empty() {
                buf.push(' ');
            }
            buf.push_str(word);
        }
        out.append_value(&buf);
    }
    Ok(out.finish())
}

/// Word-level Levenshtein distance between `a` and `b`: the least number of word
/// insertions, deletions and substitutions turning the words of `a` into those of `b`
/// (words per [`split_words`], compared exactly, case-sensitive).
pub fn word_edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<&str> = split_words(a).collect();
    let b: Vec<&str> = split_words(b).collect();
    // Keep the DP row over the shorter side.
    let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    let mut row: Vec<usize> = (0..=short.len()).collect();
    for (i, lw) in long.iter().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, sw) in short.iter().enumerate() {
            let substitute = diag + usize::from(lw != sw);
            diag = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diag + 1);
        }
    }
    row[short.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int32Builder, ListBuilder};

    /// Every code point for which CPython 3.11 `chr(c).isspace()` is true (computed by
    /// `[hex(c) for c in range(0x110000) if chr(c).isspace()]`).
    const PYTHON_SPACES: &[u32] = &[
        0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001,
        0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029,
        0x202f, 0x205f, 0x3000,
    ];

    fn strings(v: &[Option<&str>]) -> StringArray {
        StringArray::from(v.to_vec())
    }

    fn lists(v: &[Option<Vec<i32>>]) -> ListArray {
        let mut b = ListBuilder::new(Int32Builder::new());
        for row in v {
            match row {
                Some(items) => {
                    b.values().append_slice(items);
                    b.append(true);
                }
                None => b.append(false),
            }
        }
        b.finish()
    }

    fn collect(a: &StringArray) -> Vec<Option<&str>> {
        a.iter().collect()
    }

    #[test]
    fn whitespace_is_exactly_pythons() {
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            assert_eq!(
                is_python_whitespace(c),
                PYTHON_SPACES.contains(&(c as u32)),
                "U+{:04X}",
                c as u32
            );
        }
    }

    #[test]
    fn split_matches_python_str_split() {
        // Expected values are Python's `s.split()` on the same strings.
        let cases: &[(&str, &[&str])] = &[
            ("", &[]),
            ("   ", &[]),
            ("dog", &["dog"]),
            ("  a dog  ", &["a", "dog"]),
            (
                "a  dog\tin\n\nthe\r\npark",
                &["a", "dog", "in", "the", "park"],
            ),
            ("a\u{a0}dog\u{3000}x\u{2009}y", &["a", "dog", "x", "y"]),
            ("a\u{1c}b\u{1f}c\u{85}d", &["a", "b", "c", "d"]),
            ("zero\u{200b}width", &["zero\u{200b}width"]),
            ("caf\u{e9} na\u{ef}ve", &["caf\u{e9}", "na\u{ef}ve"]),
        ];
        for (s, expected) in cases {
            assert_eq!(split_words(s).collect::<Vec<_>>(), *expected, "{s:?}");
            assert_eq!(word_count(s), expected.len(), "{s:?}");
        }
    }

    #[test]
    fn replace_words_known_outputs() {
        let captions = strings(&[
            Some("a dog  runs\tfast"),
            Some("  leading and trailing  "),
            Some("one"),
            Some("x\u{a0}y"),
            None,
            Some("kept   as\tis "),
            Some(""),
        ]);
        let index = Int32Array::from(vec![
            Some(1),
            Some(2),
            Some(0),
            Some(1),
            Some(0),
            None,
            None,
        ]);
        let out = replace_words(&captions, &index, "random_word").unwrap();
        assert_eq!(
            collect(&out),
            vec![
                Some("a random_word runs fast"),
                Some("leading and random_word"),
                Some("random_word"),
                Some("x random_word"),
                None,
                Some("kept   as\tis "),
                Some(""),
            ]
        );
    }

    #[test]
    fn replace_words_sliced_input() {
        let captions = strings(&[
            Some("skip me"),
            Some("a b c"),
            None,
            Some("d  e"),
            Some("z"),
        ]);
        let index = Int32Array::from(vec![Some(0), Some(2), Some(0), Some(0), Some(5)]);
        let out = replace_words(&captions.slice(1, 3), &index.slice(1, 3), "T").unwrap();
        assert_eq!(collect(&out), vec![Some("a b T"), None, Some("T e")]);
        assert_eq!(out.offset(), 0);
    }

    #[test]
    fn replace_words_errors() {
        let captions = strings(&[Some("a b"), Some("one two three")]);
        let err = replace_words(&captions, &Int32Array::from(vec![0, 3]), "T").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("row 1") && msg.contains("index 3"), "{msg}");
        let err = replace_words(&captions, &Int32Array::from(vec![-1, 0]), "T").unwrap_err();
        assert!(err.to_string().contains("row 0"), "{err}");
        // An empty caption has no word 0.
        let empty = strings(&[Some("  ")]);
        assert!(replace_words(&empty, &Int32Array::from(vec![0]), "T").is_err());
        // Length mismatch.
        assert!(replace_words(&captions, &Int32Array::from(vec![0]), "T").is_err());
    }

    #[test]
    fn delete_words_known_outputs() {
        let captions = strings(&[
            Some("the quick  brown fox jumps over"),
            Some("a\tb c"),
            Some("unchanged   spacing "),
            Some("also  unchanged"),
            None,
            Some("only"),
        ]);
        let idx = lists(&[
            Some(vec![4, 0]),
            Some(vec![0, 1, 2]),
            None,
            Some(vec![]),
            Some(vec![0]),
            Some(vec![0]),
        ]);
        let out = delete_words(&captions, &idx).unwrap();
        assert_eq!(
            collect(&out),
            vec![
                Some("quick brown fox over"),
                Some(""),
                Some("unchanged   spacing "),
                Some("also  unchanged"),
                None,
                Some(""),
            ]
        );
    }

    #[test]
    fn delete_words_sliced_input() {
        let captions = strings(&[Some("x y"), Some("a b c d"), Some("e  f"), Some("g")]);
        let idx = lists(&[Some(vec![0]), Some(vec![1, 3]), None, Some(vec![7])]);
        let out = delete_words(&captions.slice(1, 2), &idx.slice(1, 2)).unwrap();
        assert_eq!(collect(&out), vec![Some("a c"), Some("e  f")]);
    }

    #[test]
    fn delete_words_errors() {
        let captions = strings(&[Some("a b c"), Some("d e")]);
        let dup = delete_words(&captions, &lists(&[Some(vec![0]), Some(vec![1, 1])])).unwrap_err();
        assert!(dup.to_string().contains("row 1") && dup.to_string().contains("more than once"));
        let oob = delete_words(&captions, &lists(&[Some(vec![3]), None])).unwrap_err();
        assert!(oob.to_string().contains("row 0") && oob.to_string().contains("index 3"));
        assert!(delete_words(&captions, &lists(&[Some(vec![-1]), None])).is_err());
        assert!(delete_words(&captions, &lists(&[None])).is_err());
        // Null element inside a list.
        let mut b = ListBuilder::new(Int32Builder::new());
        b.values().append_null();
        b.append(true);
        b.append(false);
        assert!(delete_words(&captions, &b.finish()).is_err());
    }

    #[test]
    fn edit_distance_hand_checked() {
        assert_eq!(word_edit_distance("", ""), 0);
        assert_eq!(word_edit_distance("a b c", ""), 3);
        assert_eq!(word_edit_distance("", "a b"), 2);
        assert_eq!(word_edit_distance("a  dog\truns", "a dog runs"), 0);
        // One substitution.
        assert_eq!(word_edit_distance("a dog runs", "a cat runs"), 1);
        // Deletion of one word.
        assert_eq!(word_edit_distance("a big dog runs", "a dog runs"), 1);
        // Classic kitten/sitting at word level: k->s, e->i, +g = 3.
        assert_eq!(word_edit_distance("k i t t e n", "s i t t i n g"), 3);
        // Reordering two words costs two substitutions.
        assert_eq!(word_edit_distance("red car", "car red"), 2);
        // Case matters.
        assert_eq!(word_edit_distance("Dog", "dog"), 1);
        // Symmetric.
        assert_eq!(
            word_edit_distance("the cat sat on the mat", "a cat sat mat"),
            word_edit_distance("a cat sat mat", "the cat sat on the mat")
        );
        // the->a, delete "on", delete "the" = 3.
        assert_eq!(
            word_edit_distance("the cat sat on the mat", "a cat sat mat"),
            3
        );
    }
}
