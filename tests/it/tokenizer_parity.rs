//! Tokenization parity with the Python `tokenizers` library, and the batching properties
//! of `encode_batch` and `mlm_pseudo_labels` on the real BERT uncased tokenizer.
//!
//! Reference data: `tests/fixtures/tokenizers/bert_uncased.json`, produced by
//! `tests/fixtures/tokenizers/make_fixtures.py` with Python tokenizers from the same
//! `tokenizer.json` as `sample_data/tokenizer/bert-base-uncased/tokenizer.json`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use arrow::array::{Array, BooleanArray, Int32Array, ListArray, StringArray, UInt64Array};
use lakeaug::kernels::tokens::{
    mlm_pseudo_labels, token_list_type, MlmParams, TextTokenizer, IGNORE_LABEL,
};
use serde_json::Value;

const DEFAULT_MAX_TOKENS: usize = 512;

fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn tokenizer_json() -> PathBuf {
    let p = repo_path("sample_data/tokenizer/bert-base-uncased/tokenizer.json");
    assert!(p.is_file(), "tokenizer file missing: {}", p.display());
    p
}

fn tokenizer(max_tokens: usize) -> TextTokenizer {
    TextTokenizer::from_file(&tokenizer_json(), max_tokens).expect("load tokenizer")
}

fn fixture() -> Value {
    let p = repo_path("tests/fixtures/tokenizers/bert_uncased.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| {
        panic!(
            "tokenizer parity fixture {} is missing or unreadable ({e}); regenerate it with \
             tests/fixtures/tokenizers/make_fixtures.py",
            p.display()
        )
    });
    serde_json::from_str(&text).expect("fixture is valid JSON")
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("unsigned int") as u32)
        .collect()
}

fn list_row_i32(a: &ListArray, i: usize) -> Vec<i32> {
    let v = a.value(i);
    v.as_any()
        .downcast_ref::<Int32Array>()
        .expect("Int32 child")
        .values()
        .to_vec()
}

fn list_row_bool(a: &ListArray, i: usize) -> Vec<bool> {
    let v = a.value(i);
    let b = v
        .as_any()
        .downcast_ref::<BooleanArray>()
        .expect("Boolean child");
    (0..b.len()).map(|k| b.value(k)).collect()
}

fn rows(a: &ListArray) -> Vec<Option<Vec<i32>>> {
    (0..a.len())
        .map(|i| (!a.is_null(i)).then(|| list_row_i32(a, i)))
        .collect()
}

#[test]
fn ids_match_python_tokenizers_for_every_fixture_case() {
    let fx = fixture();
    let cases = fx["cases"].as_array().expect("cases array");
    assert!(cases.len() >= 100, "fixture has only {} cases", cases.len());

    // Group the cases by truncation length; each group is encoded as one batch.
    let mut groups: BTreeMap<usize, Vec<&Value>> = BTreeMap::new();
    for case in cases {
        let max = match &case["max_length"] {
            Value::Null => DEFAULT_MAX_TOKENS,
            v => v.as_u64().expect("max_length int") as usize,
        };
        groups.entry(max).or_default().push(case);
    }
    // An effectively unlimited tokenizer tells how long each text is before truncation.
    let unlimited = tokenizer(1 << 20);
    let mut checked = 0;
    for (max, group) in groups {
        let tok = tokenizer(max);
        let texts: Vec<&str> = group
            .iter()
            .map(|c| c["text"].as_str().expect("text"))
            .collect();
        let captions = StringArray::from(texts.clone());
        let enc = tok.encode_batch(&captions).expect("encode");
        let full = unlimited.encode_batch(&captions).expect("encode");
        assert_eq!(enc.input_ids.data_type(), &token_list_type());
        for (i, case) in group.iter().enumerate() {
            let text = texts[i];
            let want_ids = u32s(&case["ids"]);
            let got_ids: Vec<u32> = list_row_i32(&enc.input_ids, i)
                .into_iter()
                .map(|x| x as u32)
                .collect();
            assert_eq!(got_ids, want_ids, "ids of {text:?} (max {max})");
            let want_mask: Vec<bool> = u32s(&case["special_tokens_mask"])
                .into_iter()
                .map(|m| m != 0)
                .collect();
            assert_eq!(
                list_row_bool(&enc.special_tokens_mask, i),
                want_mask,
                "special_tokens_mask of {text:?}"
            );
            if let Some(tokens) = case["tokens"].as_array() {
                let got: Vec<String> = want_ids
                    .iter()
                    .map(|&id| tok.inner().id_to_token(id).expect("known id"))
                    .collect();
                let want: Vec<&str> = tokens.iter().map(|t| t.as_str().expect("str")).collect();
                assert_eq!(got, want, "tokens of {text:?}");
            }
            let full_len = full.input_ids.value_length(i) as usize;
            assert_eq!(
                enc.truncated.value(i),
                full_len > max,
                "truncated flag of {text:?} ({full_len} tokens, max {max})"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, cases.len());
    // The fixture's explicit truncation cases really truncate.
    assert!(cases.iter().filter(|c| !c["max_length"].is_null()).count() >= 3);
}

/// Scheme 3 of the original comparison pads the batch to its longest row; our unpadded
/// rows must equal the reference rows with the padding (attention mask 0) removed.
#[test]
fn unpadded_rows_match_the_padded_reference_batch() {
    let fx = fixture();
    let pb = &fx["padded_batch"];
    let texts: Vec<&str> = pb["texts"]
        .as_array()
        .expect("texts")
        .iter()
        .map(|t| t.as_str().expect("str"))
        .collect();
    let tok = tokenizer(pb["max_length"].as_u64().expect("max_length") as usize);
    let enc = tok
        .encode_batch(&StringArray::from(texts.clone()))
        .expect("encode");
    let ids = pb["ids"].as_array().expect("ids");
    let attention = pb["attention_mask"].as_array().expect("attention_mask");
    assert_eq!(ids.len(), texts.len());
    for i in 0..texts.len() {
        let keep = u32s(&attention[i]).iter().filter(|&&a| a == 1).count();
        let want: Vec<i32> = u32s(&ids[i])[..keep].iter().map(|&x| x as i32).collect();
        assert_eq!(
            list_row_i32(&enc.input_ids, i),
            want,
            "row {i}: {:?}",
            texts[i]
        );
    }
}

#[test]
fn known_ids_and_special_tokens() {
    let tok = tokenizer(DEFAULT_MAX_TOKENS);
    // bert-base-uncased: [CLS]=101, [SEP]=102, [MASK]=103, "hello"=7592, "world"=2088.
    assert_eq!(tok.mask_token_id(), Some(103));
    assert_eq!(tok.vocab_size(), 30522);
    let enc = tok
        .encode_batch(&StringArray::from(vec!["Hello  World"]))
        .unwrap();
    assert_eq!(list_row_i32(&enc.input_ids, 0), vec![101, 7592, 2088, 102]);
    assert_eq!(
        list_row_bool(&enc.special_tokens_mask, 0),
        vec![true, false, false, true]
    );
    assert!(!enc.truncated.value(0));
}

#[test]
fn load_errors_name_the_file() {
    let missing = repo_path("no/such/tokenizer.json");
    let err = TextTokenizer::from_file(&missing, 512).unwrap_err();
    assert!(
        err.to_string().contains("no/such/tokenizer.json"),
        "{err:#}"
    );
    // Fewer tokens than [CLS] + [SEP] cannot be honoured.
    let err = TextTokenizer::from_file(&tokenizer_json(), 1).unwrap_err();
    assert!(err.to_string().contains("tokenizer.json"), "{err:#}");
    // Bytes: same tokenizer as the file; bad bytes name the label given.
    let bytes = std::fs::read(tokenizer_json()).unwrap();
    let label = std::path::Path::new("<bundled bert>");
    let from_bytes = TextTokenizer::from_bytes(&bytes, label, 512).unwrap();
    let caps = StringArray::from(vec!["A red car on the left."]);
    assert_eq!(
        rows(&from_bytes.encode_batch(&caps).unwrap().input_ids),
        rows(&tokenizer(512).encode_batch(&caps).unwrap().input_ids)
    );
    let err = TextTokenizer::from_bytes(b"{not json", label, 512).unwrap_err();
    assert!(err.to_string().contains("<bundled bert>"), "{err:#}");
    // Exactly [CLS] [SEP] is allowed: everything else is cut.
    let tok = tokenizer(2);
    let enc = tok
        .encode_batch(&StringArray::from(vec!["a dog", ""]))
        .unwrap();
    assert_eq!(
        rows(&enc.input_ids),
        vec![Some(vec![101, 102]), Some(vec![101, 102])]
    );
    assert_eq!(enc.truncated, BooleanArray::from(vec![true, false]));
}

/// The fixture's untruncated texts (captions and edge cases), with every ninth row null.
fn captions() -> Vec<Option<String>> {
    let fx = fixture();
    let mut v: Vec<Option<String>> = fx["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .filter(|c| c["max_length"].is_null())
        .map(|c| Some(c["text"].as_str().expect("str").to_string()))
        .collect();
    for i in (0..v.len()).step_by(9) {
        v[i] = None;
    }
    v
}

#[test]
fn encoding_handles_nulls_and_slices_and_does_not_depend_on_batching() {
    let tok = tokenizer(DEFAULT_MAX_TOKENS);
    let caps = StringArray::from(captions());
    let whole = tok.encode_batch(&caps).unwrap();
    assert_eq!(whole.input_ids.len(), caps.len());
    for i in 0..caps.len() {
        assert_eq!(whole.input_ids.is_null(i), caps.is_null(i));
        assert_eq!(whole.special_tokens_mask.is_null(i), caps.is_null(i));
        assert_eq!(whole.truncated.is_null(i), caps.is_null(i));
    }
    // Each row encoded alone (via a one-row slice) gives the same row.
    let mut single = Vec::new();
    for i in 0..caps.len() {
        let one = tok.encode_batch(&caps.slice(i, 1)).unwrap();
        single.extend(rows(&one.input_ids));
    }
    assert_eq!(single, rows(&whole.input_ids));
}

#[test]
fn mlm_labels_do_not_depend_on_batching() {
    let tok = tokenizer(DEFAULT_MAX_TOKENS);
    let mask = tok.mask_token_id().unwrap();
    let caps = StringArray::from(captions());
    let n = caps.len();
    let seeds = UInt64Array::from_iter_values((0..n as u64).map(|i| i.wrapping_mul(0x9E37_79B9)));
    let params = MlmParams::default();

    let whole = tok.encode_batch(&caps).unwrap();
    let (m, l) = mlm_pseudo_labels(&whole, &seeds, &params, mask, tok.vocab_size()).unwrap();

    // Encode and label the same rows as two separate batches.
    let cut = n / 3;
    let mut m_split = Vec::new();
    let mut l_split = Vec::new();
    for (start, len) in [(0, cut), (cut, n - cut)] {
        let enc = tok.encode_batch(&caps.slice(start, len)).unwrap();
        let (mi, li) = mlm_pseudo_labels(
            &enc,
            &seeds.slice(start, len),
            &params,
            mask,
            tok.vocab_size(),
        )
        .unwrap();
        m_split.extend(rows(&mi));
        l_split.extend(rows(&li));
    }
    assert_eq!(m_split, rows(&m));
    assert_eq!(l_split, rows(&l));

    // Sanity on real tokens: [CLS]/[SEP] never selected, labels equal the original ids
    // where selected, some positions selected overall.
    let mut selected = 0;
    for i in 0..n {
        if whole.input_ids.is_null(i) {
            assert!(m.is_null(i) && l.is_null(i));
            continue;
        }
        let ids = list_row_i32(&whole.input_ids, i);
        let special = list_row_bool(&whole.special_tokens_mask, i);
        let labels = list_row_i32(&l, i);
        for k in 0..ids.len() {
            if special[k] {
                assert_eq!(labels[k], IGNORE_LABEL);
            } else if labels[k] != IGNORE_LABEL {
                assert_eq!(labels[k], ids[k]);
                selected += 1;
            }
        }
    }
    assert!(selected > 0);
}
