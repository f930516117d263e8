//! Caption diffs for the samples: what the scheme did to a caption, as spans.
//!
//! The words of the source and stored captions are aligned (Myers' diff, from the
//! `similar` crate) and each edit is labelled from the row's lineage: a replacement is a
//! mirrored spatial word when the flip recorded `aug_hflip_caption_swaps`, a synonym when
//! `aug_synonym_words` is set, the replacement token otherwise; an insertion is the hedge
//! phrase (`aug_hedge`), MixGen's appended partner caption (`aug_mix_partner_row`) or an
//! EDA insertion; reordered phrases (`aug_reorder_spans`) show as moved. Every character
//! of the stored caption is in exactly one visible span, in order, so the visible spans
//! joined give back the stored caption; deleted words are extra spans, shown struck.

use similar::{capture_diff_slices, Algorithm, DiffOp};

use crate::schemes::AugParams;

/// What a span of the diff is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// Unchanged text (also the spaces between words).
    Same,
    /// Source text that is not in the stored caption (struck through).
    Deleted,
    /// New text.
    Inserted,
    /// A word replaced by the replacement token or another word.
    Replaced,
    /// A synonym put in for a word.
    Synonym,
    /// A spatial word mirrored with a horizontal flip (left <-> right).
    Mirrored,
    /// The hedge phrase saying what happened to the image.
    Hedge,
    /// MixGen's appended partner caption.
    Partner,
    /// Words moved by a reordering.
    Moved,
}

impl SpanKind {
    /// CSS class of the span.
    pub fn class(self) -> &'static str {
        match self {
            SpanKind::Same => "s",
            SpanKind::Deleted => "del",
            SpanKind::Inserted => "ins",
            SpanKind::Replaced => "rep",
            SpanKind::Synonym => "syn",
            SpanKind::Mirrored => "mir",
            SpanKind::Hedge => "hedge",
            SpanKind::Partner => "partner",
            SpanKind::Moved => "moved",
        }
    }

    /// Whether the span's text is part of the stored caption.
    pub fn in_caption(self) -> bool {
        self != SpanKind::Deleted
    }
}

/// One piece of the diff; `title` holds the source words a replacement stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub kind: SpanKind,
    pub text: String,
    pub title: Option<String>,
}

impl Span {
    fn new(kind: SpanKind, text: &str) -> Span {
        Span {
            kind,
            text: text.to_string(),
            title: None,
        }
    }
}

/// Byte ranges of the words of `s`: runs of non-space characters, with every Han
/// character a word of its own (captions without spaces are compared character by
/// character).
fn words(s: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in s.char_indices() {
        if c.is_whitespace() || is_han(c) {
            if let Some(st) = start.take() {
                out.push((st, i));
            }
            if is_han(c) {
                out.push((i, i + c.len_utf8()));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(st) = start {
        out.push((st, s.len()));
    }
    out
}

fn is_han(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2A6DF)
}

/// The diff of `source` into `stored`, labelled from `p`.
pub fn caption_diff(source: &str, stored: &str, p: &AugParams) -> Vec<Span> {
    let old = words(source);
    let new = words(stored);
    let old_w: Vec<&str> = old.iter().map(|&(a, b)| &source[a..b]).collect();
    let new_w: Vec<&str> = new.iter().map(|&(a, b)| &stored[a..b]).collect();
    let ops = capture_diff_slices(Algorithm::Myers, &old_w, &new_w);

    let mirrored = p
        .hflip_caption_swaps
        .as_ref()
        .is_some_and(|s| !s.is_empty());
    let synonyms = p.synonym_words.as_ref().is_some_and(|s| !s.is_empty());
    let moved = p.reorder_spans.as_ref().is_some_and(|s| !s.is_empty());
    let insert_kind = if p.hedge.is_some() {
        SpanKind::Hedge
    } else if p.mix_partner_row.is_some() {
        SpanKind::Partner
    } else if moved {
        SpanKind::Moved
    } else {
        SpanKind::Inserted
    };
    let replace_kind = |from: &str, to: &str| {
        let (f, t) = (from.to_lowercase(), to.to_lowercase());
        if mirrored
            && ((f.contains("left") && t.contains("right"))
                || (f.contains("right") && t.contains("left")))
        {
            SpanKind::Mirrored
        } else if synonyms {
            SpanKind::Synonym
        } else if moved {
            SpanKind::Moved
        } else {
            SpanKind::Replaced
        }
    };

    let mut spans: Vec<Span> = Vec::new();
    // Byte position in `stored` up to which spans have been emitted.
    let mut at = 0usize;
    let emit_new = |spans: &mut Vec<Span>, at: &mut usize, idx: usize, kind, title| {
        let (a, b) = new[idx];
        if a > *at {
            push(spans, Span::new(SpanKind::Same, &stored[*at..a]));
        }
        push(
            spans,
            Span {
                kind,
                text: stored[a..b].to_string(),
                title,
            },
        );
        *at = b;
    };
    let deleted = |range: std::ops::Range<usize>| Span {
        kind: SpanKind::Deleted,
        text: old_w[range].join(" "),
        title: None,
    };
    for op in ops {
        match op {
            DiffOp::Equal { new_index, len, .. } => {
                for k in new_index..new_index + len {
                    emit_new(&mut spans, &mut at, k, SpanKind::Same, None);
                }
            }
            DiffOp::Delete {
                old_index, old_len, ..
            } => {
                if moved {
                    // A moved phrase is shown where it went, not as a deletion.
                    continue;
                }
                if let Some((a, _)) = new.get(spans_next_word(&new, at)) {
                    // Keep the space before the deletion with the text before it.
                    if *a > at {
                        push(&mut spans, Span::new(SpanKind::Same, &stored[at..*a]));
                        at = *a;
                    }
                }
                push(&mut spans, deleted(old_index..old_index + old_len));
            }
            DiffOp::Insert {
                new_index, new_len, ..
            } => {
                for k in new_index..new_index + new_len {
                    emit_new(&mut spans, &mut at, k, insert_kind, None);
                }
            }
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => {
                if old_len == new_len {
                    for d in 0..new_len {
                        let from = old_w[old_index + d];
                        let kind = replace_kind(from, new_w[new_index + d]);
                        emit_new(
                            &mut spans,
                            &mut at,
                            new_index + d,
                            kind,
                            Some(from.to_string()),
                        );
                    }
                } else {
                    let from = old_w[old_index..old_index + old_len].join(" ");
                    if !moved {
                        if let Some((a, _)) = new.get(new_index) {
                            if *a > at {
                                push(&mut spans, Span::new(SpanKind::Same, &stored[at..*a]));
                                at = *a;
                            }
                        }
                        push(&mut spans, deleted(old_index..old_index + old_len));
                    }
                    for k in new_index..new_index + new_len {
                        let kind = if moved { SpanKind::Moved } else { insert_kind };
                        let title = moved.then(|| from.clone());
                        emit_new(&mut spans, &mut at, k, kind, title);
                    }
                }
            }
        }
    }
    if at < stored.len() {
        push(&mut spans, Span::new(SpanKind::Same, &stored[at..]));
    }
    spans
}

/// Index of the first word of `new` starting at or after byte `at`.
fn spans_next_word(new: &[(usize, usize)], at: usize) -> usize {
    new.partition_point(|&(a, _)| a < at)
}

/// Appends `span`, merging it into the previous one when both are plain text.
fn push(spans: &mut Vec<Span>, span: Span) {
    if span.text.is_empty() {
        return;
    }
    if let Some(last) = spans.last_mut() {
        if last.kind == span.kind
            && last.title.is_none()
            && span.title.is_none()
            && span.kind != SpanKind::Deleted
        {
            last.text.push_str(&span.text);
            return;
        }
    }
    spans.push(span);
}

/// The stored caption back from its spans (what a test checks).
pub fn joined(spans: &[Span]) -> String {
    spans
        .iter()
        .filter(|s| s.kind.in_caption())
        .map(|s| s.text.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(spans: &[Span]) -> Vec<(SpanKind, &str)> {
        spans.iter().map(|s| (s.kind, s.text.as_str())).collect()
    }

    #[test]
    fn deletions_are_struck_and_the_caption_comes_back() {
        let src = "A cup of espresso on a red saucer";
        let out = "cup of espresso on red saucer";
        let p = AugParams {
            words_deleted: Some(vec![0, 5]),
            ..Default::default()
        };
        let spans = caption_diff(src, out, &p);
        assert_eq!(joined(&spans), out);
        let del: Vec<&str> = spans
            .iter()
            .filter(|s| s.kind == SpanKind::Deleted)
            .map(|s| s.text.as_str())
            .collect();
        assert_eq!(del, ["A", "a"]);
    }

    #[test]
    fn replacements_carry_the_old_word() {
        let p = AugParams {
            words_replaced: Some(vec![1]),
            ..Default::default()
        };
        let spans = caption_diff("a dog runs", "a random_word runs", &p);
        assert_eq!(joined(&spans), "a random_word runs");
        let rep = spans.iter().find(|s| s.kind == SpanKind::Replaced).unwrap();
        assert_eq!(rep.text, "random_word");
        assert_eq!(rep.title.as_deref(), Some("dog"));
    }

    #[test]
    fn mirrored_words_and_hedges_are_labelled() {
        let p = AugParams {
            hflip: Some(true),
            hflip_caption_swaps: Some(vec![3]),
            ..Default::default()
        };
        let spans = caption_diff("a cat on the left", "a cat on the right", &p);
        assert!(kinds(&spans).contains(&(SpanKind::Mirrored, "right")));
        let p = AugParams {
            hedge: Some("a blurry photo of {}".into()),
            ..Default::default()
        };
        let spans = caption_diff("a cat", "a blurry photo of a cat", &p);
        assert_eq!(joined(&spans), "a blurry photo of a cat");
        assert!(spans.iter().any(|s| s.kind == SpanKind::Hedge));
    }

    #[test]
    fn odd_spacing_and_han_text_survive() {
        let p = AugParams::default();
        for (src, out) in [
            ("  two  spaces ", "two spaces"),
            ("红色的汽车在路上", "红色的轿车在路上"),
            ("", "new words"),
            ("old words", ""),
        ] {
            assert_eq!(
                joined(&caption_diff(src, out, &p)),
                out,
                "{src:?} -> {out:?}"
            );
        }
    }
}
