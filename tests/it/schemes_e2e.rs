//! End-to-end: the consistent schemes (consistent, light, sync, mixgen), user-declared
//! schemes and Chinese captions, through `lakeaug run`, checked against the inputs.

use std::borrow::Cow;
use std::path::Path;

use crate::common::*;
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use lakeaug::config::Config;
use lakeaug::kernels::image as img;
use lakeaug::lineage::params_from_batch;
use lakeaug::pipeline::{run, RunOptions};
use lakeaug::schemes::{Scheme, TextContext};

const NEW_SCHEMES: [&str; 4] = ["consistent", "light", "sync", "mixgen"];

fn options(inputs: &[String], out: &Path, config: Config) -> RunOptions {
    let mut o = RunOptions::new(inputs.to_vec(), out, config);
    o.threads = Some(2);
    o
}

fn strings(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let a = b.column_by_name(name).unwrap().as_string::<i32>();
    (0..a.len())
        .map(|i| a.is_valid(i).then(|| a.value(i).to_string()))
        .collect()
}

fn source_rows(b: &RecordBatch) -> Vec<i64> {
    b.column_by_name("source_row")
        .unwrap()
        .as_primitive::<Int64Type>()
        .values()
        .to_vec()
}

fn source_batch() -> RecordBatch {
    read_dir_batches(&repo_path("sample_data"))
        .into_iter()
        .find(|(rel, _)| rel == "photos.parquet")
        .unwrap()
        .1
}

fn mean_abs_diff(a: &img::RgbImage, b: &img::RgbImage) -> f64 {
    a.as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).abs())
        .sum::<f64>()
        / a.as_raw().len() as f64
}

fn resized_source(bytes: &[u8]) -> img::RgbImage {
    img::resize(
        &img::decode_rgb8(bytes, 64_000_000).unwrap(),
        224,
        224,
        img::ResizeMode::Stretch,
    )
}

#[test]
fn consistent_schemes_replay_from_lineage_and_keep_the_pairing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let config = Config {
        schemes: NEW_SCHEMES.iter().map(|s| s.to_string()).collect(),
        copies: 2,
        ..Config::default()
    };
    let summary = run(&options(&[sample_photos()], &out, config.clone())).unwrap();
    assert_eq!(summary.manifest.rows_written, 15 * 4 * 2);
    assert_eq!(summary.manifest.rows_rejected, 0);

    let source = source_batch();
    let src_captions = strings(&source, "caption");
    let src_images = source.column_by_name("image").unwrap().as_binary::<i32>();
    let text = TextContext::from_config(&config.text).unwrap();
    for name in NEW_SCHEMES {
        let scheme = Scheme::named(&config, name).unwrap();
        let b = scheme_batch(&out, name);
        assert_eq!(b.num_rows(), 30, "{name}");
        let captions = strings(&b, "caption");
        let images = b.column_by_name("image").unwrap().as_binary::<i32>();
        for (i, row) in source_rows(&b).into_iter().enumerate() {
            let p = params_from_batch(&b, i).unwrap();
            let own = src_captions[row as usize].as_deref();
            let partner = p
                .mix_partner_row
                .and_then(|r| src_captions[r as usize].as_deref());
            // Every caption is recomputed from the source and the lineage alone.
            let replayed = scheme.replay_caption(own, partner, &p, &text).unwrap();
            assert_eq!(replayed, captions[i], "{name} row {i}");
            // Every image is recomputed too (up to JPEG loss).
            let written = img::decode_rgb8(images.value(i), 64_000_000).unwrap();
            assert_eq!(written.dimensions(), (224, 224));
            let src = src_images.value(row as usize);
            let base = match scheme
                .crop_source(&img::decode_rgb8(src, 64_000_000).unwrap(), &p, 224, 224)
                .unwrap()
            {
                Some(cropped) => cropped,
                None => resized_source(src),
            };
            let partner_image = p
                .mix_partner_row
                .map(|r| resized_source(src_images.value(r as usize)));
            let expected = scheme
                .apply_image(Cow::Owned(base), &p, partner_image.as_ref())
                .unwrap();
            let diff = mean_abs_diff(&expected, &written);
            assert!(diff < 2.5, "{name} row {i}: mean abs diff {diff}");
        }
    }

    // consistent: a flipped image has its caption's left/right mirrored.
    let b = scheme_batch(&out, "consistent");
    let hflip = b.column_by_name("aug_hflip").unwrap().as_boolean();
    assert!(
        (0..b.num_rows()).any(|i| hflip.value(i)) && (0..b.num_rows()).any(|i| !hflip.value(i))
    );
    // mixgen: rows 2k and 2k+1 are each other's partners; the last row of the 15 is alone.
    let b = scheme_batch(&out, "mixgen");
    let partner = b
        .column_by_name("aug_mix_partner_row")
        .unwrap()
        .as_primitive::<Int64Type>();
    for (i, row) in source_rows(&b).into_iter().enumerate() {
        if row == 14 {
            assert!(partner.is_null(i));
        } else {
            assert_eq!(partner.value(i), row ^ 1);
            let own = src_captions[row as usize].as_deref().unwrap();
            let other = src_captions[(row ^ 1) as usize].as_deref().unwrap();
            assert_eq!(
                strings(&b, "caption")[i].as_deref(),
                Some(format!("{own} {other}").as_str())
            );
        }
    }
    // sync: a hedge exactly where the image was degraded.
    let b = scheme_batch(&out, "sync");
    let hedges = strings(&b, "aug_hedge");
    let sigma = b.column_by_name("aug_blur_sigma").unwrap();
    let erase = b.column_by_name("aug_erase_size").unwrap();
    for (i, hedge) in hedges.iter().enumerate() {
        assert_eq!(
            hedge.is_some(),
            sigma.is_valid(i) || erase.is_valid(i),
            "row {i}"
        );
    }
}

#[test]
fn new_schemes_do_not_depend_on_threads_or_batch_size() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        schemes: NEW_SCHEMES.iter().map(|s| s.to_string()).collect(),
        ..Config::default()
    };
    let mut outputs = Vec::new();
    for (k, (threads, batch)) in [(1, 2), (2, 6), (2, 128)].into_iter().enumerate() {
        let out = dir.path().join(format!("out{k}"));
        let mut o = options(&[sample_photos()], &out, config.clone());
        o.threads = Some(threads);
        o.batch_size = batch;
        run(&o).unwrap();
        outputs.push(out);
    }
    for name in NEW_SCHEMES {
        let first = scheme_batch(&outputs[0], name);
        for other in &outputs[1..] {
            assert_same_values(&first, &scheme_batch(other, name), name);
        }
    }
}

#[test]
fn chinese_captions_get_word_level_edits_with_a_user_dictionary() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("zh.parquet");
    let captions = [
        "一辆红色汽车停在房子的左边",
        "一只小狗坐在汽车旁边",
        "桌子上有一杯咖啡",
        "A red car on the left",
    ];
    write_pairs(
        &input,
        captions
            .iter()
            .map(|_| Some(gradient_jpeg(64, 48)))
            .collect(),
        captions.iter().map(|c| Some(*c)).collect(),
    );
    let dict = dir.path().join("zh.tsv");
    std::fs::write(&dict, "汽车\t轿车\n小狗\t小犬\ncar\tautomobile\n").unwrap();
    let config_path = dir.path().join("c.toml");
    std::fs::write(
        &config_path,
        format!(
            "schemes = [\"zh\"]\n[text]\nsynonyms = {:?}\n[scheme.zh]\nimage = [{{ op = \"hflip\", p = 1.0 }}]\ntext = [{{ op = \"synonym\", max_words = 3 }}]\n",
            dict.display().to_string()
        ),
    )
    .unwrap();
    let config = Config::from_file(&config_path).unwrap();
    let out = dir.path().join("out");
    run(&options(&[input.display().to_string()], &out, config)).unwrap();
    let b = scheme_batch(&out, "zh");
    let got = strings(&b, "caption");
    // Flipped (p = 1): 左边 -> 右边 and left -> right; dictionary synonyms applied to
    // jieba words, re-joined without spaces.
    assert_eq!(got[0].as_deref(), Some("一辆红色轿车停在房子的右边"));
    assert_eq!(got[1].as_deref(), Some("一只小犬坐在轿车旁边"));
    assert_eq!(got[2].as_deref(), Some("桌子上有一杯咖啡"));
    assert_eq!(got[3].as_deref(), Some("A red automobile on the right"));
    assert_eq!(
        strings(&b, "aug_segmentation"),
        vec![
            Some("jieba".to_string()),
            Some("jieba".to_string()),
            Some("jieba".to_string()),
            Some("whitespace".to_string())
        ]
    );
}
