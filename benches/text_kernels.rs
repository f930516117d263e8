//! Caption and token kernels on a batch of 256 real captions (the project's photo
//! captions, repeated), and the caption ops (flip, synonyms, hedge, reorder, EDA) on the
//! same captions and on Chinese ones.
//!
//! Run: `cargo bench --bench text_kernels`. Set `TOKENIZERS_PARALLELISM=false` to measure
//! the tokenizer on one thread.

use std::hint::black_box;
use std::path::PathBuf;

use arrow::array::{Int32Array, Int32Builder, ListBuilder, StringArray, UInt64Array};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lakeaug::kernels::text::eda::{
    sample_random_deletion, sample_random_insertion, sample_random_swap,
};
use lakeaug::kernels::text::flip::flip_caption;
use lakeaug::kernels::text::hedge::{apply_hedge, sample_hedge, BLUR_HEDGES_EN};
use lakeaug::kernels::text::reorder::sample_reorder;
use lakeaug::kernels::text::synonyms::{apply_synonyms, sample_synonyms};
use lakeaug::kernels::text::{
    delete_words, replace_words, word_count, word_edit_distance, EditableWords, Language,
    TextResources,
};
use lakeaug::kernels::tokens::{mlm_pseudo_labels, MlmParams, TextTokenizer};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const BATCH: usize = 256;

fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// 256 captions: the fixture's untruncated texts, cycled.
fn captions() -> StringArray {
    let p = repo_path("tests/fixtures/tokenizers/bert_uncased.json");
    let text = std::fs::read_to_string(&p).expect("tokenizer fixture");
    let fx: serde_json::Value = serde_json::from_str(&text).expect("json");
    let texts: Vec<String> = fx["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .filter(|c| c["max_length"].is_null())
        .map(|c| c["text"].as_str().expect("text").to_string())
        .collect();
    StringArray::from_iter_values(texts.iter().cycle().take(BATCH))
}

fn bench(c: &mut Criterion) {
    let caps = captions();
    let bytes: usize = caps.iter().flatten().map(str::len).sum();
    let counts: Vec<usize> = caps.iter().flatten().map(word_count).collect();

    // Scheme 1: replace the middle word where there is one.
    let replace_idx: Int32Array = counts
        .iter()
        .map(|&n| (n > 0).then_some((n / 2) as i32))
        .collect();
    // Scheme 2: delete every third word of captions longer than five words.
    let mut b = ListBuilder::new(Int32Builder::new());
    for &n in &counts {
        if n > 5 {
            for k in (0..n).step_by(3).take(n / 3) {
                b.values().append_value(k as i32);
            }
        }
        b.append(true);
    }
    let delete_idx = b.finish();

    let mut g = c.benchmark_group("text_kernels");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("replace_words/256", |bn| {
        bn.iter(|| replace_words(black_box(&caps), black_box(&replace_idx), "random_word").unwrap())
    });
    g.bench_function("delete_words/256", |bn| {
        bn.iter(|| delete_words(black_box(&caps), black_box(&delete_idx)).unwrap())
    });
    g.bench_function("word_edit_distance/256", |bn| {
        bn.iter(|| {
            caps.iter()
                .flatten()
                .zip(caps.iter().flatten().skip(1))
                .map(|(a, b)| word_edit_distance(black_box(a), black_box(b)))
                .sum::<usize>()
        })
    });

    let tok = TextTokenizer::from_file(
        &repo_path("sample_data/tokenizer/bert-base-uncased/tokenizer.json"),
        512,
    )
    .expect("tokenizer");
    g.bench_function("encode_batch/256", |bn| {
        bn.iter(|| tok.encode_batch(black_box(&caps)).unwrap())
    });
    let enc = tok.encode_batch(&caps).unwrap();
    let seeds = UInt64Array::from_iter_values(0..BATCH as u64);
    let mask = tok.mask_token_id().expect("mask token");
    g.bench_function("mlm_pseudo_labels/256", |bn| {
        bn.iter(|| {
            mlm_pseudo_labels(
                black_box(&enc),
                &seeds,
                &MlmParams::default(),
                mask,
                tok.vocab_size(),
            )
            .unwrap()
        })
    });
    g.finish();
}

/// Chinese captions (hand-written, as in the unit tests), cycled to 256.
const ZH_CAPTIONS: &[&str] = &[
    "一辆红色的汽车停在路边。",
    "一只猫坐在沙发的左边，右边有一盏灯。",
    "桌子上有一杯咖啡和一本书。",
    "一个穿着橙色宇航服的女人站在美国国旗前面。",
];

/// Each caption op over the batch: sample with a fresh per-row generator (as the
/// pipeline does), then apply.
fn bench_caption_ops(c: &mut Criterion) {
    let caps = captions();
    let en: Vec<&str> = caps.iter().flatten().collect();
    let zh: Vec<&str> = ZH_CAPTIONS.iter().copied().cycle().take(BATCH).collect();
    let res = TextResources::new(Language::Auto);
    let seg = &res.segmenter;
    let keep = EditableWords::default();
    let mut g = c.benchmark_group("caption_ops");
    g.throughput(Throughput::Elements(BATCH as u64));
    for (lang, batch) in [("en", &en), ("zh", &zh)] {
        g.bench_function(format!("segment/{lang}/256"), |bn| {
            bn.iter(|| {
                batch
                    .iter()
                    .map(|c| seg.segment(black_box(c)).len())
                    .sum::<usize>()
            })
        });
        g.bench_function(format!("flip_caption/{lang}/256"), |bn| {
            bn.iter(|| {
                batch
                    .iter()
                    .map(|c| flip_caption(black_box(c), seg).caption.len())
                    .sum::<usize>()
            })
        });
        g.bench_function(format!("synonyms/{lang}/256"), |bn| {
            bn.iter(|| {
                for (row, c) in batch.iter().enumerate() {
                    let mut rng = ChaCha8Rng::seed_from_u64(row as u64);
                    let p = sample_synonyms(c, 2, keep, &res, &mut rng);
                    black_box(apply_synonyms(c, &p, seg).unwrap());
                }
            })
        });
        g.bench_function(format!("eda_sample/{lang}/256"), |bn| {
            bn.iter(|| {
                for (row, c) in batch.iter().enumerate() {
                    let mut rng = ChaCha8Rng::seed_from_u64(row as u64);
                    black_box(sample_random_swap(c, 1, keep, &res, &mut rng));
                    black_box(sample_random_insertion(c, 1, keep, &res, &mut rng));
                    black_box(sample_random_deletion(c, 0.1, keep, &res, &mut rng).unwrap());
                }
            })
        });
    }
    g.bench_function("hedge/en/256", |bn| {
        bn.iter(|| {
            for (row, c) in en.iter().enumerate() {
                let mut rng = ChaCha8Rng::seed_from_u64(row as u64);
                let p = sample_hedge(c, BLUR_HEDGES_EN, &mut rng).unwrap().unwrap();
                black_box(apply_hedge(c, &p).unwrap());
            }
        })
    });
    g.bench_function("reorder_sample/en/256", |bn| {
        bn.iter(|| {
            for (row, c) in en.iter().enumerate() {
                let mut rng = ChaCha8Rng::seed_from_u64(row as u64);
                black_box(sample_reorder(c, seg, &mut rng));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench, bench_caption_ops);
criterion_main!(benches);
