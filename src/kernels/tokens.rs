//! Tokenization and masked-language-model pseudo labels.
//!
//! Token sequences are Arrow `List<Int32>` arrays whose child field is arrow's default
//! list field (`Field::new_list_field`: name `"item"`), declared **non-nullable**: a row
//! is null (null caption) or a list of ids, never a list containing nulls. Ids are stored
//! as `Int32` because that is what downstream consumers (PyTorch `int64`/NumPy `int32`
//! loaders, Hugging Face datasets) read without a cast and every vocabulary fits.
//!
//! Sequences are not padded: a list array already carries each row's length, and padding
//! to the longest row of a batch would make results depend on batching. Padding is a
//! loader concern.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, BooleanArray, BooleanBufferBuilder, BooleanBuilder, Int32Array, ListArray, StringArray,
    UInt64Array,
};
use arrow::buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field, FieldRef};
use rand::Rng;
use tokenizers::{PostProcessor, Tokenizer, TruncationParams};

use crate::rng::{stream_rng, Stream};

/// Why a tokenizer could not be loaded, or tokens or MLM labels could not be made. Each
/// names the tokenizer file, or the row, and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot load tokenizer {}: {cause}", .path.display())]
    Load {
        path: PathBuf,
        cause: tokenizers::Error,
    },
    #[error("tokenizer {}: max_tokens = {max_tokens} is smaller than the {added} special tokens added to every caption", .path.display())]
    MaxTokens {
        path: PathBuf,
        max_tokens: usize,
        added: usize,
    },
    #[error("tokenizer {}: cannot set truncation: {cause}", .path.display())]
    Truncation {
        path: PathBuf,
        cause: tokenizers::Error,
    },
    #[error("tokenizer {}: vocabulary size {vocab_size} is not usable with Int32 ids", .path.display())]
    VocabSize { path: PathBuf, vocab_size: usize },
    #[error("tokenizing captions with {}: {cause}", .path.display())]
    Encode {
        path: PathBuf,
        cause: tokenizers::Error,
    },
    #[error("row {row}: token id {id} does not fit in Int32")]
    IdRange { row: usize, id: u32 },
    #[error("more than 2^31 tokens in a batch")]
    TooManyTokens,
    #[error("MLM {name} must be in [0, 1], got {value}")]
    Probability { name: &'static str, value: f64 },
    #[error("MLM mask_prob + random_prob must be at most 1, got {mask} + {random}")]
    ReplaceShare { mask: f64, random: f64 },
    #[error("mask id {0} too large")]
    MaskId(u32),
    #[error("vocabulary size {0} is not in 1..=2^31-1")]
    VocabRange(usize),
    #[error("mlm_pseudo_labels: {rows} token rows, {masks} special-token masks, {seeds} seeds")]
    Lengths {
        rows: usize,
        masks: usize,
        seeds: usize,
    },
    #[error("{column} must be {expected}, got {data_type}")]
    ColumnType {
        column: &'static str,
        expected: &'static str,
        data_type: DataType,
    },
    /// A row whose token lists, mask or seed do not agree.
    #[error("row {row}: {problem}")]
    Row { row: usize, problem: String },
    /// The tokenizer library returned something inconsistent.
    #[error("{0}")]
    Tokenizer(&'static str),
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
}

/// The label of positions that are not predicted (PyTorch's `CrossEntropyLoss`
/// `ignore_index`, as used by Hugging Face).
pub const IGNORE_LABEL: i32 = -100;

/// The child field of every token list array produced here: `"item"`, `Int32`, non-null.
pub fn token_list_field() -> FieldRef {
    Arc::new(Field::new_list_field(DataType::Int32, false))
}

/// The data type of token list columns: `List<Int32>` with [`token_list_field`].
pub fn token_list_type() -> DataType {
    DataType::List(token_list_field())
}

fn mask_list_field() -> FieldRef {
    Arc::new(Field::new_list_field(DataType::Boolean, false))
}

/// A Hugging Face tokenizer configured for lakeaug: truncation at `max_tokens` (special
/// tokens included), no padding.
#[derive(Clone)]
pub struct TextTokenizer {
    tokenizer: Tokenizer,
    path: PathBuf,
    max_tokens: usize,
    mask_id: Option<u32>,
    vocab_size: usize,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("path", &self.path)
            .field("max_tokens", &self.max_tokens)
            .field("mask_id", &self.mask_id)
            .field("vocab_size", &self.vocab_size)
            .finish()
    }
}

/// Mask tokens looked up, in order, when finding the tokenizer's mask token
/// (WordPiece/BERT style, then BPE/RoBERTa style).
const MASK_TOKENS: [&str; 2] = ["[MASK]", "<mask>"];

impl TextTokenizer {
    /// Load a `tokenizer.json` (Hugging Face tokenizers format).
    ///
    /// Truncation is set to `max_tokens` tokens per caption including the special tokens
    /// the post-processor adds (`[CLS]`, `[SEP]`), cutting from the right as Hugging Face's
    /// `truncation=True, max_length=max_tokens` does; padding is switched off whatever the
    /// file says. Errors name the file.
    pub fn from_file(path: &Path, max_tokens: usize) -> Result<Self, TokenError> {
        let tokenizer = Tokenizer::from_file(path).map_err(|cause| TokenError::Load {
            path: path.to_path_buf(),
            cause,
        })?;
        Self::configure(tokenizer, path, max_tokens)
    }

    /// Like [`TextTokenizer::from_file`], from the bytes of a `tokenizer.json` (e.g. one
    /// bundled with `include_bytes!`); `name` stands for the file in errors and
    /// [`TextTokenizer::path`].
    pub fn from_bytes(bytes: &[u8], name: &Path, max_tokens: usize) -> Result<Self, TokenError> {
        let tokenizer = Tokenizer::from_bytes(bytes).map_err(|cause| TokenError::Load {
            path: name.to_path_buf(),
            cause,
        })?;
        Self::configure(tokenizer, name, max_tokens)
    }

    fn configure(
        mut tokenizer: Tokenizer,
        path: &Path,
        max_tokens: usize,
    ) -> Result<Self, TokenError> {
        // The library subtracts the special tokens from max_length without checking.
        let added = tokenizer
            .get_post_processor()
            .map_or(0, |p| p.added_tokens(false));
        if max_tokens < added.max(1) {
            return Err(TokenError::MaxTokens {
                path: path.to_path_buf(),
                max_tokens,
                added,
            });
        }
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..TruncationParams::default()
            }))
            .map_err(|cause| TokenError::Truncation {
                path: path.to_path_buf(),
                cause,
            })?;
        tokenizer.with_padding(None);
        let mask_id = MASK_TOKENS.iter().find_map(|t| tokenizer.token_to_id(t));
        let vocab_size = tokenizer.get_vocab_size(true);
        if vocab_size == 0 || i32::try_from(vocab_size).is_err() {
            return Err(TokenError::VocabSize {
                path: path.to_path_buf(),
                vocab_size,
            });
        }
        Ok(Self {
            tokenizer,
            path: path.to_path_buf(),
            max_tokens,
            mask_id,
            vocab_size,
        })
    }

    /// The id of the mask token (`[MASK]`, or `<mask>` for BPE-style vocabularies).
    pub fn mask_token_id(&self) -> Option<u32> {
        self.mask_id
    }

    /// The number of ids, added tokens included (`len(tokenizer)` in Hugging Face terms).
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// The truncation length, special tokens included.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// The file this tokenizer was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The underlying Hugging Face tokenizer.
    pub fn inner(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Tokenize a batch of captions with special tokens.
    ///
    /// Uses the library's batch encoder, which runs on the rayon thread pool unless
    /// `TOKENIZERS_PARALLELISM` is set to a false value; the result of every row depends
    /// on that row alone. Null captions give null rows in every output.
    pub fn encode_batch(&self, captions: &StringArray) -> Result<EncodedBatch, TokenError> {
        let inputs: Vec<&str> = captions.iter().flatten().collect();
        // `_fast` skips computing offsets, which we do not use; ids are identical.
        let encodings = self
            .tokenizer
            .encode_batch_fast(inputs, true)
            .map_err(|cause| TokenError::Encode {
                path: self.path.clone(),
                cause,
            })?;

        let total: usize = encodings.iter().map(|e| e.len()).sum();
        let mut ids: Vec<i32> = Vec::with_capacity(total);
        let mut special = BooleanBufferBuilder::new(total);
        let mut offsets: Vec<i32> = Vec::with_capacity(captions.len() + 1);
        offsets.push(0);
        let mut truncated = BooleanBuilder::with_capacity(captions.len());
        let mut encodings = encodings.iter();
        for row in 0..captions.len() {
            if captions.is_null(row) {
                truncated.append_null();
            } else {
                let enc = encodings.next().ok_or(TokenError::Tokenizer(
                    "tokenizer returned fewer encodings than captions",
                ))?;
                for &id in enc.get_ids() {
                    ids.push(i32::try_from(id).map_err(|_| TokenError::IdRange { row, id })?);
                }
                for &m in enc.get_special_tokens_mask() {
                    special.append(m != 0);
                }
                // The library moves what truncation cut off into `overflowing`.
                truncated.append_value(!enc.get_overflowing().is_empty());
            }
            offsets.push(i32::try_from(ids.len()).map_err(|_| TokenError::TooManyTokens)?);
        }
        if special.len() != ids.len() {
            return Err(TokenError::Tokenizer(
                "tokenizer returned a special-tokens mask of a different length than the ids",
            ));
        }
        let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
        let nulls = captions.nulls().cloned();
        let input_ids = ListArray::try_new(
            token_list_field(),
            offsets.clone(),
            Arc::new(Int32Array::from(ids)),
            nulls.clone(),
        )?;
        let special_tokens_mask = ListArray::try_new(
            mask_list_field(),
            offsets,
            Arc::new(BooleanArray::new(special.finish(), None)),
            nulls,
        )?;
        Ok(EncodedBatch {
            input_ids,
            special_tokens_mask,
            truncated: truncated.finish(),
        })
    }
}

/// The tokens of a batch of captions.
#[derive(Debug, Clone)]
pub struct EncodedBatch {
    /// `List<Int32>` (child field `"item"`, non-null; see [`token_list_type`]): the ids,
    /// `[CLS]` and `[SEP]` included. Null where the caption was null.
    pub input_ids: ListArray,
    /// `List<Boolean>` (child field `"item"`, non-null) with the same lengths and nulls as
    /// `input_ids`: true at special tokens added by the post-processor (`[CLS]`, `[SEP]`),
    /// as the library's `special_tokens_mask` (what Hugging Face's `run_mlm.py` hands to
    /// the collator with `return_special_tokens_mask=True`).
    pub special_tokens_mask: ListArray,
    /// True where the caption had more than `max_tokens` tokens and was cut; null where
    /// the caption was null.
    pub truncated: BooleanArray,
}

/// Masked-language-model corruption probabilities (Hugging Face
/// `DataCollatorForLanguageModeling` defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MlmParams {
    /// Probability that a non-special position is selected for prediction (`mlm_probability`).
    pub select_prob: f64,
    /// Of the selected positions, the share replaced by the mask token (`mask_replace_prob`).
    pub mask_prob: f64,
    /// Of the selected positions, the share replaced by a uniformly random id
    /// (`random_replace_prob`); the rest keep their id.
    pub random_prob: f64,
}

impl Default for MlmParams {
    fn default() -> Self {
        Self {
            select_prob: 0.15,
            mask_prob: 0.8,
            random_prob: 0.1,
        }
    }
}

impl MlmParams {
    fn validate(&self) -> Result<(), TokenError> {
        for (name, value) in [
            ("select_prob", self.select_prob),
            ("mask_prob", self.mask_prob),
            ("random_prob", self.random_prob),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(TokenError::Probability { name, value });
            }
        }
        if self.mask_prob + self.random_prob > 1.0 + 1e-12 {
            return Err(TokenError::ReplaceShare {
                mask: self.mask_prob,
                random: self.random_prob,
            });
        }
        Ok(())
    }
}

/// BERT masked-LM pseudo labels, as Hugging Face `DataCollatorForLanguageModeling` makes
/// them.
///
/// Each non-special position is selected with probability `select_prob`. A selected
/// position becomes `mask_id` with probability `mask_prob`, a uniformly random id in
/// `0..vocab_size` with probability `random_prob` (special ids included, as in Hugging
/// Face), and keeps its id otherwise. Labels are the original id at selected positions
/// and [`IGNORE_LABEL`] (-100) elsewhere.
///
/// Row `i` draws only from `stream_rng(seeds[i], Stream::Tokens)`, in position order, one
/// uniform for every non-special position and, when selected, one for the replacement
/// kind and possibly one for the random id; so a row's result never depends on the batch
/// it is in. (The collator draws whole-batch tensors from one torch generator instead;
/// the distribution is the same, the streams are not.)
///
/// Returns `(mlm_input_ids, mlm_labels)`, both `List<Int32>` like `input_ids`, null
/// where `input_ids` is null. Errors: length mismatches between the arrays, a null seed
/// on a non-null row, nulls inside lists, invalid probabilities, `vocab_size` 0 or not
/// fitting Int32, `mask_id` not fitting Int32.
pub fn mlm_pseudo_labels(
    encoded: &EncodedBatch,
    seeds: &UInt64Array,
    params: &MlmParams,
    mask_id: u32,
    vocab_size: usize,
) -> Result<(ListArray, ListArray), TokenError> {
    params.validate()?;
    let mask_id = i32::try_from(mask_id).map_err(|_| TokenError::MaskId(mask_id))?;
    let vocab = u32::try_from(vocab_size)
        .ok()
        .filter(|&v| v > 0 && i32::try_from(v).is_ok())
        .ok_or(TokenError::VocabRange(vocab_size))?;

    let ids = &encoded.input_ids;
    let special = &encoded.special_tokens_mask;
    let rows = ids.len();
    if special.len() != rows || seeds.len() != rows {
        return Err(TokenError::Lengths {
            rows,
            masks: special.len(),
            seeds: seeds.len(),
        });
    }
    let id_values = ids
        .values()
        .as_any()
        .downcast_ref::<Int32Array>()
        .ok_or_else(|| TokenError::ColumnType {
            column: "input_ids",
            expected: "List<Int32>",
            data_type: ids.data_type().clone(),
        })?;
    let special_values = special
        .values()
        .as_any()
        .downcast_ref::<BooleanArray>()
        .ok_or_else(|| TokenError::ColumnType {
            column: "special_tokens_mask",
            expected: "List<Boolean>",
            data_type: special.data_type().clone(),
        })?;
    let id_offsets = ids.value_offsets();
    let special_offsets = special.value_offsets();
    let check_child_nulls = id_values.null_count() > 0 || special_values.null_count() > 0;

    let first = id_offsets.first().copied().unwrap_or(0);
    let last = id_offsets.last().copied().unwrap_or(0);
    let capacity = usize::try_from(last - first).unwrap_or(0);
    let mut out_ids: Vec<i32> = Vec::with_capacity(capacity);
    let mut out_labels: Vec<i32> = Vec::with_capacity(capacity);
    let mut offsets: Vec<i32> = Vec::with_capacity(rows + 1);
    offsets.push(0);

    for row in 0..rows {
        if !ids.is_null(row) {
            let bad_row = |problem: String| TokenError::Row { row, problem };
            if special.is_null(row) {
                return Err(bad_row("tokens present but special-token mask null".into()));
            }
            if seeds.is_null(row) {
                return Err(bad_row("null seed".into()));
            }
            let (start, end) = (id_offsets[row] as usize, id_offsets[row + 1] as usize);
            let mask_start = special_offsets[row] as usize;
            let mask_len = special_offsets[row + 1] as usize - mask_start;
            if mask_len != end - start {
                return Err(bad_row(format!(
                    "{} token ids but a special-token mask of {mask_len}",
                    end - start
                )));
            }
            let mut rng = stream_rng(seeds.value(row), Stream::Tokens);
            for (k, pos) in (start..end).enumerate() {
                let mpos = mask_start + k;
                if check_child_nulls && (id_values.is_null(pos) || special_values.is_null(mpos)) {
                    return Err(bad_row("null inside a token list".into()));
                }
                let id = id_values.value(pos);
                if special_values.value(mpos) || rng.random::<f64>() >= params.select_prob {
                    out_ids.push(id);
                    out_labels.push(IGNORE_LABEL);
                    continue;
                }
                let kind: f64 = rng.random();
                let new_id = if kind < params.mask_prob {
                    mask_id
                } else if kind < params.mask_prob + params.random_prob {
                    // `vocab` fits i32, so the draw does too.
                    rng.random_range(0..vocab) as i32
                } else {
                    id
                };
                out_ids.push(new_id);
                out_labels.push(id);
            }
        }
        let len = i32::try_from(out_ids.len()).map_err(|_| TokenError::TooManyTokens)?;
        offsets.push(len);
    }
    let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
    let nulls: Option<NullBuffer> = ids.nulls().cloned();
    let mlm_ids = ListArray::try_new(
        token_list_field(),
        offsets.clone(),
        Arc::new(Int32Array::from(out_ids)),
        nulls.clone(),
    )?;
    let labels = ListArray::try_new(
        token_list_field(),
        offsets,
        Arc::new(Int32Array::from(out_labels)),
        nulls,
    )?;
    Ok((mlm_ids, labels))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{BooleanBuilder, Int32Builder, ListBuilder};

    const CLS: i32 = 101;
    const SEP: i32 = 102;
    const MASK: u32 = 103;
    const VOCAB: usize = 30522;

    /// A batch built by hand: `None` rows are null, `Some(ids)` rows get [CLS] ids [SEP].
    fn batch(rows: &[Option<Vec<i32>>]) -> EncodedBatch {
        let mut ids = ListBuilder::new(Int32Builder::new()).with_field(token_list_field());
        let mut special = ListBuilder::new(BooleanBuilder::new()).with_field(mask_list_field());
        let mut truncated = BooleanBuilder::new();
        for row in rows {
            match row {
                Some(r) => {
                    ids.values().append_value(CLS);
                    ids.values().append_slice(r);
                    ids.values().append_value(SEP);
                    ids.append(true);
                    special.values().append_value(true);
                    for _ in r {
                        special.values().append_value(false);
                    }
                    special.values().append_value(true);
                    special.append(true);
                    truncated.append_value(false);
                }
                None => {
                    ids.append(false);
                    special.append(false);
                    truncated.append_null();
                }
            }
        }
        EncodedBatch {
            input_ids: ids.finish(),
            special_tokens_mask: special.finish(),
            truncated: truncated.finish(),
        }
    }

    fn rows_of(a: &ListArray) -> Vec<Option<Vec<i32>>> {
        (0..a.len())
            .map(|i| {
                (!a.is_null(i)).then(|| {
                    let v = a.value(i);
                    v.as_any()
                        .downcast_ref::<Int32Array>()
                        .unwrap()
                        .values()
                        .to_vec()
                })
            })
            .collect()
    }

    /// Content ids drawn from 1000..1100 so that random replacements (uniform over 30522
    /// ids) are recognisable as ids outside that range.
    fn content(row: usize, len: usize) -> Vec<i32> {
        (0..len)
            .map(|k| 1000 + ((row * 7 + k * 13) % 100) as i32)
            .collect()
    }

    #[test]
    fn statistics_match_the_collator() {
        let n_rows = 4000;
        let rows: Vec<Option<Vec<i32>>> = (0..n_rows).map(|r| Some(content(r, 40))).collect();
        let enc = batch(&rows);
        let seeds = UInt64Array::from_iter_values(0..n_rows as u64);
        let (mlm, labels) =
            mlm_pseudo_labels(&enc, &seeds, &MlmParams::default(), MASK, VOCAB).unwrap();
        let (mlm, labels, orig) = (rows_of(&mlm), rows_of(&labels), rows_of(&enc.input_ids));

        let (mut positions, mut selected, mut masked, mut random, mut kept) = (0, 0, 0, 0, 0);
        let mut random_sum = 0u64;
        for ((m, l), o) in mlm.iter().zip(&labels).zip(&orig) {
            let (m, l, o) = (
                m.as_ref().unwrap(),
                l.as_ref().unwrap(),
                o.as_ref().unwrap(),
            );
            assert_eq!((m.len(), l.len()), (o.len(), o.len()));
            // Special positions are never selected and never changed.
            for &p in &[0, o.len() - 1] {
                assert_eq!(l[p], IGNORE_LABEL);
                assert_eq!(m[p], o[p]);
            }
            for p in 1..o.len() - 1 {
                positions += 1;
                if l[p] == IGNORE_LABEL {
                    assert_eq!(m[p], o[p], "unselected positions keep their id");
                    continue;
                }
                assert_eq!(l[p], o[p], "labels are the original ids where selected");
                selected += 1;
                if m[p] == MASK as i32 {
                    masked += 1;
                } else if m[p] == o[p] {
                    kept += 1;
                } else {
                    assert!((0..VOCAB as i32).contains(&m[p]));
                    random += 1;
                    random_sum += m[p] as u64;
                }
            }
        }
        // 160,000 positions: sd of the selected share is 0.0009, bounds are ~6 sd.
        let sel = selected as f64 / positions as f64;
        assert!((sel - 0.15).abs() < 0.006, "selected share {sel}");
        // ~24,000 selected: sd of the mask share 0.0026, of the random/kept shares 0.0019.
        let share = |x: usize| x as f64 / selected as f64;
        assert!(
            (share(masked) - 0.8).abs() < 0.015,
            "mask share {}",
            share(masked)
        );
        assert!(
            (share(random) - 0.1).abs() < 0.012,
            "random share {}",
            share(random)
        );
        assert!(
            (share(kept) - 0.1).abs() < 0.012,
            "kept share {}",
            share(kept)
        );
        // Random ids are uniform over the vocabulary: mean near VOCAB/2 (sd ~180 here).
        let mean = random_sum as f64 / random as f64;
        assert!(
            (mean - VOCAB as f64 / 2.0).abs() < 1500.0,
            "random id mean {mean}"
        );
    }

    #[test]
    fn extreme_probabilities() {
        let enc = batch(&[Some(content(0, 30)), Some(content(1, 5))]);
        let seeds = UInt64Array::from(vec![1, 2]);
        let all = MlmParams {
            select_prob: 1.0,
            mask_prob: 1.0,
            random_prob: 0.0,
        };
        let (mlm, labels) = mlm_pseudo_labels(&enc, &seeds, &all, MASK, VOCAB).unwrap();
        for ((m, l), o) in rows_of(&mlm)
            .iter()
            .zip(rows_of(&labels))
            .zip(rows_of(&enc.input_ids))
        {
            let (m, l, o) = (m.as_ref().unwrap(), l.unwrap(), o.unwrap());
            let n = o.len();
            let mut expected_m = vec![MASK as i32; n];
            let mut expected_l = o.clone();
            expected_m[0] = CLS;
            expected_m[n - 1] = SEP;
            expected_l[0] = IGNORE_LABEL;
            expected_l[n - 1] = IGNORE_LABEL;
            assert_eq!(m, &expected_m);
            assert_eq!(l, expected_l);
        }
        let keep = MlmParams {
            select_prob: 1.0,
            mask_prob: 0.0,
            random_prob: 0.0,
        };
        let (mlm, _) = mlm_pseudo_labels(&enc, &seeds, &keep, MASK, VOCAB).unwrap();
        assert_eq!(rows_of(&mlm), rows_of(&enc.input_ids));
        let none = MlmParams {
            select_prob: 0.0,
            ..MlmParams::default()
        };
        let (mlm, labels) = mlm_pseudo_labels(&enc, &seeds, &none, MASK, VOCAB).unwrap();
        assert_eq!(rows_of(&mlm), rows_of(&enc.input_ids));
        assert!(rows_of(&labels)
            .iter()
            .flatten()
            .flatten()
            .all(|&l| l == IGNORE_LABEL));
    }

    #[test]
    fn deterministic_and_independent_of_batching() {
        let rows: Vec<Option<Vec<i32>>> = (0..50)
            .map(|r| (r % 7 != 3).then(|| content(r, 10 + r % 13)))
            .collect();
        let enc = batch(&rows);
        let seeds = UInt64Array::from_iter_values((0..50u64).map(|s| s * 1_000_003));
        let p = MlmParams::default();
        let (m1, l1) = mlm_pseudo_labels(&enc, &seeds, &p, MASK, VOCAB).unwrap();
        let (m2, l2) = mlm_pseudo_labels(&enc, &seeds, &p, MASK, VOCAB).unwrap();
        assert_eq!((&m1, &l1), (&m2, &l2));
        // Rows 3, 10, 17, 24, 31, 38, 45 are null.
        assert_eq!(m1.null_count(), 7);

        // The same rows processed as two sliced sub-batches give the same rows.
        let part = |start: usize, len: usize| EncodedBatch {
            input_ids: enc.input_ids.slice(start, len),
            special_tokens_mask: enc.special_tokens_mask.slice(start, len),
            truncated: enc.truncated.slice(start, len),
        };
        let (ma, la) =
            mlm_pseudo_labels(&part(0, 17), &seeds.slice(0, 17), &p, MASK, VOCAB).unwrap();
        let (mb, lb) =
            mlm_pseudo_labels(&part(17, 33), &seeds.slice(17, 33), &p, MASK, VOCAB).unwrap();
        let mut m_split = rows_of(&ma);
        m_split.extend(rows_of(&mb));
        let mut l_split = rows_of(&la);
        l_split.extend(rows_of(&lb));
        assert_eq!(m_split, rows_of(&m1));
        assert_eq!(l_split, rows_of(&l1));

        // Another seed gives another result for a long row.
        let long = batch(&[Some(content(0, 200))]);
        let a = mlm_pseudo_labels(&long, &UInt64Array::from(vec![1]), &p, MASK, VOCAB).unwrap();
        let b = mlm_pseudo_labels(&long, &UInt64Array::from(vec![2]), &p, MASK, VOCAB).unwrap();
        assert_ne!(rows_of(&a.1), rows_of(&b.1));
    }

    #[test]
    fn nulls_and_errors() {
        let enc = batch(&[None, Some(content(0, 3))]);
        let p = MlmParams::default();
        // A null seed is fine on a null row.
        let (m, l) = mlm_pseudo_labels(
            &enc,
            &UInt64Array::from(vec![None, Some(5)]),
            &p,
            MASK,
            VOCAB,
        )
        .unwrap();
        assert!(m.is_null(0) && l.is_null(0) && !m.is_null(1));
        assert_eq!(m.data_type(), &token_list_type());
        // ... but not on a row with tokens.
        let err = mlm_pseudo_labels(
            &enc,
            &UInt64Array::from(vec![Some(1), None]),
            &p,
            MASK,
            VOCAB,
        )
        .unwrap_err();
        assert!(err.to_string().contains("row 1"), "{err}");
        let seeds = UInt64Array::from(vec![1, 2]);
        assert!(mlm_pseudo_labels(&enc, &UInt64Array::from(vec![1]), &p, MASK, VOCAB).is_err());
        assert!(mlm_pseudo_labels(&enc, &seeds, &p, MASK, 0).is_err());
        for bad in [
            MlmParams {
                select_prob: 1.5,
                ..p
            },
            MlmParams {
                select_prob: f64::NAN,
                ..p
            },
            MlmParams {
                mask_prob: 0.8,
                random_prob: 0.3,
                ..p
            },
            MlmParams {
                random_prob: -0.1,
                ..p
            },
        ] {
            assert!(
                mlm_pseudo_labels(&enc, &seeds, &bad, MASK, VOCAB).is_err(),
                "{bad:?}"
            );
        }
        // Mask shorter than the ids.
        let mut broken = enc.clone();
        broken.special_tokens_mask = batch(&[None, Some(content(0, 2))]).special_tokens_mask;
        assert!(mlm_pseudo_labels(&broken, &seeds, &p, MASK, VOCAB).is_err());
    }
}
