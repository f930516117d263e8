use std::borrow::Cow;
use std::path::Path;

use super::*;
use crate::config::{describe, Config};

fn scheme(name: &str) -> Scheme {
    Scheme::named(&Config::default(), name).unwrap()
}

fn text() -> TextContext {
    TextContext::from_config(&Default::default()).unwrap()
}

fn row(caption: Option<&str>) -> RowInput<'_> {
    RowInput {
        source_width: 640,
        source_height: 480,
        width: 224,
        height: 224,
        caption,
        partner: None,
    }
}

const CAPTIONS: &[&str] = &[
    "A red car parked on the left side of the street.",
    "a dog on a sofa next to a lamp",
    "Two people walking to the right of a large building",
    "The leftmost cup is blue, and the cat sleeps on the rug",
    "一只小狗坐在红色汽车的左边",
    "bright copyright leftover lights",
    "x",
    "",
    "  spaced   out   caption  ",
];

#[test]
fn aligned_samples_within_ranges_and_at_the_right_rates() {
    let aligned = scheme("aligned");
    let t = text();
    let n = 4000;
    let (mut flips, mut replaced, mut bright_first) = (0, 0, 0);
    let caption = "one two three four five six seven eight nine ten";
    for seed in 0..n {
        let s = aligned.sample(seed, &row(Some(caption)), &t);
        let p = s.params;
        flips += p.hflip.unwrap() as u32;
        let b = p.brightness.unwrap();
        let c = p.contrast.unwrap();
        assert!((0.8..=1.2).contains(&b) && (0.8..=1.2).contains(&c));
        let r = p.rotate_deg.unwrap();
        assert!((-15.0..=15.0).contains(&r));
        let w = p.words_replaced.clone().unwrap();
        assert!(w.len() <= 1 && w.iter().all(|&i| (0..10).contains(&i)));
        replaced += w.len() as u32;
        let order = p.jitter_order.as_ref().unwrap().as_string();
        bright_first += (order == "brightness,contrast") as u32;
        assert!(order == "brightness,contrast" || order == "contrast,brightness");
        assert!(p.erase().is_none() && p.words_deleted.is_none());
        // `aligned` flips without touching the caption, as the original scheme does.
        assert!(p.hflip_caption_swaps.is_none() && p.segmentation.is_none());
        assert_eq!(s.caption.unwrap().contains("random_word"), !w.is_empty());
    }
    // Binomial(4000, p): 5 standard deviations is about 160 (p=.5) and 145 (p=.3).
    assert!((flips as i64 - 2000).abs() < 160, "flips {flips}");
    assert!(
        (bright_first as i64 - 2000).abs() < 160,
        "order {bright_first}"
    );
    assert!((replaced as i64 - 1200).abs() < 145, "replaced {replaced}");
}

#[test]
fn cross_modal_patch_fits_and_deletes_a_third() {
    let cm = scheme("cross_modal");
    let t = text();
    let caption = "w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 w10";
    for seed in 0..500 {
        let mut r = row(Some(caption));
        r.height = 100;
        let s = cm.sample(seed, &r, &t);
        let e = s.params.erase().unwrap();
        assert_eq!(e.size, 20);
        assert!(e.x >= 0 && e.x + e.size <= 224 && e.y >= 0 && e.y + e.size <= 100);
        let d = s.params.words_deleted.unwrap();
        assert_eq!(d.len(), 3);
        assert!(d.windows(2).all(|w| w[0] < w[1]) && d.iter().all(|&i| (0..11).contains(&i)));
        let kept: Vec<String> = (0..11)
            .filter(|i| !d.contains(i))
            .map(|i| format!("w{i}"))
            .collect();
        assert_eq!(s.caption.unwrap(), kept.join(" "));
    }
    // Five words or fewer: nothing deleted, caption kept byte for byte; null captions
    // record null; tiny images get an empty patch.
    let s = cm.sample(1, &row(Some("a  b c d e")), &t);
    assert_eq!(s.params.words_deleted, Some(vec![]));
    assert_eq!(s.caption.as_deref(), Some("a  b c d e"));
    let s = cm.sample(1, &row(None), &t);
    assert_eq!((s.params.words_deleted, s.caption), (None, None));
    let mut r = row(Some(""));
    r.width = 4;
    r.height = 3;
    assert_eq!(cm.sample(1, &r, &t).params.erase().unwrap().size, 0);
}

#[test]
fn sampling_is_a_function_of_the_seed() {
    let t = text();
    for name in BUILTIN_SCHEMES {
        let s = scheme(name);
        let r = row(Some("a dog on a sofa next to a lamp on the left"));
        assert_eq!(s.sample(9, &r, &t), s.sample(9, &r, &t), "{name}");
    }
    let aligned = scheme("aligned");
    let r = row(Some("a b c d"));
    assert_ne!(aligned.sample(9, &r, &t), aligned.sample(10, &r, &t));
}

#[test]
fn every_caption_replays_from_its_lineage() {
    // The caption of every scheme's row can be recomputed from the source caption and
    // the recorded parameters alone, and ops never empty a non-empty caption.
    let t = text();
    let mut config = Config::default();
    config.scheme.insert(
        "eda".into(),
        toml::from_str::<SchemeSpec>(
            r#"
image = [{ op = "hflip", p = 0.5 }]
text = [
  { op = "random_swap", n = 2 },
  { op = "random_insert", n = 1 },
  { op = "random_delete", p = 0.3 },
  { op = "reorder", p = 0.5 },
  { op = "random_char_swap", p = 0.3 },
]
"#,
        )
        .unwrap(),
    );
    let mut names: Vec<String> = BUILTIN_SCHEMES.iter().map(|s| s.to_string()).collect();
    names.push("eda".into());
    for name in &names {
        let s = Scheme::named(&config, name).unwrap();
        for (k, caption) in CAPTIONS.iter().enumerate() {
            for seed in 0..40u64 {
                let partner = Some((1, Some(CAPTIONS[(k + 1) % CAPTIONS.len()])));
                let r = RowInput {
                    partner,
                    ..row(Some(caption))
                };
                let sampled = s.sample(seed, &r, &t);
                let out = sampled.caption.clone().unwrap();
                if !caption.trim().is_empty() {
                    assert!(!out.trim().is_empty(), "{name} emptied {caption:?}");
                }
                let partner_caption = partner.and_then(|p| p.1);
                let replayed = s
                    .replay_caption(Some(caption), partner_caption, &sampled.params, &t)
                    .unwrap();
                assert_eq!(
                    replayed.as_deref(),
                    Some(out.as_str()),
                    "{name} seed {seed} {caption:?}"
                );
            }
        }
    }
}

#[test]
fn consistent_mirrors_the_caption_exactly_when_it_flips() {
    let s = scheme("consistent");
    let t = text();
    let caption = "A cat to the left of a lamp, right-hand side";
    let (mut flipped, mut kept) = (0, 0);
    for seed in 0..200 {
        let out = s.sample(seed, &row(Some(caption)), &t);
        let c = out.caption.unwrap();
        if out.params.hflip == Some(true) {
            flipped += 1;
            assert!(c.contains("right of") && c.contains("left-hand"), "{c}");
            assert_eq!(out.params.hflip_caption_swaps.as_ref().unwrap().len(), 2);
        } else {
            kept += 1;
            assert!(c.contains("left of") && c.contains("right-hand"), "{c}");
            assert!(out.params.hflip_caption_swaps.is_none());
        }
    }
    assert!(flipped > 50 && kept > 50);
}

#[test]
fn skip_policy_never_flips_captions_with_spatial_words() {
    let mut config = Config::default();
    config.scheme.insert(
        "skipper".into(),
        toml::from_str(r#"image = [{ op = "hflip", p = 1.0, captions = "skip" }]"#).unwrap(),
    );
    let s = Scheme::named(&config, "skipper").unwrap();
    let t = text();
    let p = s.sample(1, &row(Some("a cup on the left")), &t).params;
    assert_eq!((p.hflip, p.hflip_skipped), (Some(false), Some(true)));
    let p = s.sample(1, &row(Some("a bright cup")), &t).params;
    assert_eq!((p.hflip, p.hflip_skipped), (Some(true), Some(false)));
}

#[test]
fn light_crops_inside_the_source_and_keeps_named_colours() {
    let s = scheme("light");
    let t = text();
    for seed in 0..300 {
        let p = s.sample(seed, &row(Some("a red bus")), &t).params;
        let c = p.crop().unwrap();
        assert!(c.x >= 0 && c.y >= 0 && c.x + c.width <= 640 && c.y + c.height <= 480);
        let area = f64::from(c.width * c.height) / (640.0 * 480.0);
        assert!((0.75..=1.0).contains(&area), "area {area}");
        assert_eq!((p.hue, p.hue_skipped), (None, Some(true)));
        assert_eq!(p.jitter_order.unwrap().0.len(), 4);
        let p = s.sample(seed, &row(Some("a bus")), &t).params;
        assert_eq!(p.hue_skipped, Some(false));
        assert!(p.hue.unwrap().abs() <= 0.02);
    }
}

#[test]
fn sync_hedges_exactly_when_the_image_is_degraded() {
    let s = scheme("sync");
    let t = text();
    let mut seen = [0; 4];
    for seed in 0..400 {
        let out = s.sample(seed, &row(Some("a dog on a beach")), &t);
        let p = &out.params;
        let blurred = p.blur_sigma.is_some();
        let erased = p.erase().is_some();
        seen[blurred as usize * 2 + erased as usize] += 1;
        assert_eq!(p.hedge.is_some(), blurred || erased, "seed {seed}");
        let c = out.caption.unwrap();
        assert_eq!(c == "a dog on a beach", !(blurred || erased));
        if let Some(sigma) = p.blur_sigma {
            assert!((1.0..=2.0).contains(&sigma));
            assert!(p.blur_kernel.unwrap() % 2 == 1);
        }
    }
    assert!(seen.iter().all(|&k| k > 50), "{seen:?}");
}

#[test]
fn mixgen_records_the_partner_and_appends_its_caption() {
    let s = scheme("mixgen");
    let t = text();
    let r = RowInput {
        partner: Some((7, Some("a cat"))),
        ..row(Some("a dog"))
    };
    let out = s.sample(3, &r, &t);
    assert_eq!(out.params.mix_partner_row, Some(7));
    assert_eq!(out.params.mix_lambda, Some(0.5));
    assert_eq!(out.caption.as_deref(), Some("a dog a cat"));
    // Without a partner (last row of an odd file) nothing is mixed.
    let out = s.sample(3, &row(Some("a dog")), &t);
    assert_eq!(out.params.mix_partner_row, None);
    assert_eq!(out.caption.as_deref(), Some("a dog"));
    // The blend itself: lambda * own + (1 - lambda) * partner.
    let a = RgbImage::from_pixel(2, 2, image::Rgb([200, 0, 101]));
    let b = RgbImage::from_pixel(2, 2, image::Rgb([100, 50, 0]));
    let p = AugParams {
        mix_partner_row: Some(7),
        mix_lambda: Some(0.5),
        ..Default::default()
    };
    let out = s.apply_image(Cow::Owned(a), &p, Some(&b)).unwrap();
    assert_eq!(out.get_pixel(1, 1).0[..2], [150, 25]);
}

#[test]
fn user_schemes_parse_and_bad_ones_point_at_the_line() {
    let text = r#"seed = 3
schemes = ["aligned", "mine"]

[scheme.mine]
image = [
  { op = "hflip", p = 0.25 },
  { op = "gaussian_blur", sigma = [0.5, 1.0], p = 0.5 },
]
text = [{ op = "synonym", max_words = 2 }]
"#;
    let config = Config::from_toml(text, Path::new("c.toml")).unwrap();
    let mine = Scheme::named(&config, "mine").unwrap();
    assert_eq!(
        mine.image_ops[0],
        ImageOp::Hflip {
            p: 0.25,
            captions: FlipCaptions::Swap
        }
    );
    assert_eq!(
        mine.text_ops,
        vec![TextOp::Synonym(Synonym {
            p: 1.0,
            max_words: 2,
            also_edit: vec![],
        })]
    );
    // Built-in declared schemes stay available next to user ones.
    assert!(config.known_schemes().contains(&"light".to_string()));

    let bad_value = text.replace("p = 0.25", "p = 1.25");
    let err = Config::from_toml(&bad_value, Path::new("c.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 6") && err.contains("hflip") && err.contains("1.25"),
        "{err}"
    );

    let unknown_op = text.replace("gaussian_blur", "motion_blur");
    let err = Config::from_toml(&unknown_op, Path::new("c.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 7") && err.contains("motion_blur"),
        "{err}"
    );

    let unknown_param = text.replace("max_words = 2", "max_word = 2");
    let err = Config::from_toml(&unknown_param, Path::new("c.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 9") && err.contains("max_word"), "{err}");

    let twice = text.replace(
        r#"text = [{ op = "synonym", max_words = 2 }]"#,
        "text = [\n  { op = \"reorder\" },\n  { op = \"reorder\" },\n]",
    );
    let err = Config::from_toml(&twice, Path::new("c.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 11") && err.contains("twice"), "{err}");

    let undeclared = "schemes = [\"nope\"]\n";
    let err = Config::from_toml(undeclared, Path::new("c.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unknown scheme `nope`") && err.contains("[scheme.NAME]"),
        "{err}"
    );
}

#[test]
fn the_config_template_round_trips_with_every_scheme() {
    let c = Config::default();
    let back = Config::from_toml(&c.to_toml(), Path::new("x.toml")).unwrap();
    assert_eq!(back, c);
    // The manifest stores the config as JSON; it must read back too.
    let json: Config = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(json, c);
    for name in BUILTIN_SCHEMES {
        assert_eq!(
            Scheme::named(&back, name).unwrap(),
            Scheme::named(&c, name).unwrap()
        );
    }
}

#[test]
fn describe_lists_every_op_and_scheme() {
    let d = describe(&Config::default());
    for doc in op_docs() {
        assert!(d.contains(&format!("\n{} (", doc.name)), "{}", doc.name);
        // Defaults shown are the ones serde fills in.
        for param in &doc.help.params {
            let line = format!(
                "    {} = {}: ",
                param.name,
                param.default.as_deref().unwrap_or("(required)")
            );
            assert!(d.contains(&line), "{line}");
        }
    }
    for name in BUILTIN_SCHEMES {
        assert!(d.contains(&format!("\n{name}")), "{name}");
    }
    assert!(
        d.contains(r#"{ op = "hflip", captions = "swap", p = 0.5 }"#),
        "{d}"
    );
}

/// The image ops applied one kernel at a time, in scheme order: what `apply_image` does
/// without deferring flips and colour tables.
fn apply_image_one_op_at_a_time(
    s: &Scheme,
    mut image: RgbImage,
    p: &AugParams,
    partner: Option<&RgbImage>,
) -> RgbImage {
    for op in &s.image_ops {
        match op {
            ImageOp::Hflip { .. } if p.hflip == Some(true) => img::hflip(&mut image),
            ImageOp::ColorJitter { .. } => {
                img::apply_color_ops(&mut image, &jitter_ops(p).collect::<Vec<_>>())
            }
            ImageOp::Rotate { .. } => {
                if let Some(a) = p.rotate_deg.filter(|a| *a != 0.0) {
                    image = img::rotate_nearest(&image, a);
                }
            }
            ImageOp::GaussianBlur { .. } => {
                if let (Some(sigma), Some(k)) = (p.blur_sigma, p.blur_kernel) {
                    image = img::gaussian_blur(&image, k as u32, sigma).unwrap();
                }
            }
            ImageOp::ErasePatch { .. } => {
                if let Some(e) = p.erase() {
                    img::erase(&mut image, e.x as u32, e.y as u32, e.size as u32);
                }
            }
            ImageOp::Mixgen { .. } => {
                if let (Some(l), Some(o)) = (p.mix_lambda, partner) {
                    image = img::mixgen_blend(&image, o, l).unwrap();
                }
            }
            _ => {}
        }
    }
    image
}

#[test]
fn deferred_image_ops_give_the_bytes_of_one_op_at_a_time() {
    // Every built-in scheme plus one that jitters all four factors between two flips and
    // erases before rotating, on a photo-like image, over many seeds.
    let mut config = Config::default();
    let extra: SchemeSpec = toml::from_str(
        r#"
image = [
  { op = "hflip", p = 0.5, captions = "ignore" },
  { op = "color_jitter", brightness = 0.4, contrast = 0.4, saturation = 0.4, hue = 0.1 },
  { op = "erase_patch", fraction = 0.2, p = 0.5 },
  { op = "rotate", degrees = 30 },
]
"#,
    )
    .unwrap();
    config.scheme.insert("everything".into(), extra);
    let photo = RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([
            (x * 4 + y) as u8,
            (255 - x * 3) as u8,
            ((x * y + 17) % 256) as u8,
        ])
    });
    let partner = RgbImage::from_fn(64, 48, |x, y| image::Rgb([y as u8 * 5, x as u8, 90]));
    let t = text();
    let mut names: Vec<String> = BUILTIN_SCHEMES.iter().map(|s| s.to_string()).collect();
    names.push("everything".into());
    let mut flipped_and_rotated = 0;
    let mut lent_back = 0;
    for name in &names {
        let s = Scheme::named(&config, name).unwrap();
        for seed in 0..60 {
            let input = RowInput {
                source_width: 64,
                source_height: 48,
                width: 64,
                height: 48,
                caption: Some("a red car on the left"),
                partner: Some((1, Some("a dog"))),
            };
            let p = s.sample(seed, &input, &t).params;
            flipped_and_rotated +=
                (p.hflip == Some(true) && p.rotate_deg.is_some_and(|a| a != 0.0)) as u32;
            let fused = s
                .apply_image(Cow::Borrowed(&photo), &p, Some(&partner))
                .unwrap();
            let reference = apply_image_one_op_at_a_time(&s, photo.clone(), &p, Some(&partner));
            assert!(*fused == reference, "scheme {name} seed {seed}: {p:?}");
            // A scheme without image ops lends the image back, uncopied.
            if s.image_ops.is_empty() {
                assert!(matches!(fused, Cow::Borrowed(_)), "scheme {name}");
                lent_back += 1;
            }
        }
    }
    // The fused path (flip + tables inside the rotation) was exercised.
    assert!(flipped_and_rotated > 40, "{flipped_and_rotated}");
    assert_eq!(lent_back, 60, "pseudo_label has no image ops");
}

/// A config of the previous version: the original schemes configured by their sections.
const OLD_CONFIG: &str = r#"seed = 11
schemes = ["aligned", "cross_modal", "pseudo_label"]

[aligned]
rotate_degrees = 7.0
replace_token = "zzz"

[cross_modal]
delete_divisor = 2
"#;

#[test]
fn original_sections_still_load_and_are_op_lists() {
    let old = Config::from_toml(OLD_CONFIG, Path::new("old.toml")).unwrap();
    // The hash the previous version recorded in its manifest for this file (and for the
    // defaults): the config's serialized form did not change.
    assert_eq!(old.hash(), OLD_CONFIG_HASH);
    assert_eq!(Config::default().hash(), DEFAULT_CONFIG_HASH);

    // The same schemes declared as op lists behave the same, row for row.
    let declared = r#"seed = 11
schemes = ["aligned", "cross_modal", "pseudo_label"]

[scheme.aligned]
image = [
  { op = "hflip", p = 0.5, captions = "ignore" },
  { op = "color_jitter", brightness = 0.2, contrast = 0.2, keep_named_colours = false },
  { op = "rotate", degrees = 7.0 },
]
text = [{ op = "replace_word", p = 0.3, token = "zzz" }]

[scheme.cross_modal]
image = [{ op = "erase_patch", fraction = 0.2 }]
text = [{ op = "delete_words", above = 5, divisor = 2 }]

[scheme.pseudo_label]
mlm = { select_prob = 0.15, mask_prob = 0.8, random_prob = 0.1 }
"#;
    let new = Config::from_toml(declared, Path::new("new.toml")).unwrap();
    let t = text();
    for name in ["aligned", "cross_modal", "pseudo_label"] {
        let (a, b) = (
            Scheme::named(&old, name).unwrap(),
            Scheme::named(&new, name).unwrap(),
        );
        assert_eq!(a, b, "{name}");
        for seed in 0..50 {
            let r = row(Some("a dog on a sofa next to a lamp in the room"));
            assert_eq!(a.sample(seed, &r, &t), b.sample(seed, &r, &t));
        }
    }
    let describe_old = describe(&old);
    assert!(
        describe_old.contains("[aligned] { brightness = 0.2,") && describe_old.contains("zzz"),
        "{describe_old}"
    );

    // Both forms at once would be ambiguous.
    let both = format!("{declared}\n[aligned]\nrotate_degrees = 3.0\n");
    let err = Config::from_toml(&both, Path::new("both.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 4") && err.contains("`aligned` is declared twice"),
        "{err}"
    );
}

#[test]
fn config_errors_are_typed() {
    let err = Config::from_toml("[aligned]\nhflip_prob = 1.5\n", Path::new("x.toml")).unwrap_err();
    assert!(matches!(
        err,
        ConfigError::Invalid {
            source: InvalidConfig::Section {
                section: "aligned",
                source: OpError::NotAProbability {
                    param: "hflip_prob",
                    ..
                }
            },
            ..
        }
    ));
    let spec: SchemeSpec =
        toml::from_str(r#"text = [{ op = "one_of", ops = [{ op = "reorder", p = 2.0 }] }]"#)
            .unwrap();
    let e = spec.validate().unwrap_err();
    assert_eq!(e.location(), Some((OpList::Text, 0)));
    assert_eq!(
        e.to_string(),
        "text op `one_of`: reorder: p = 2 must be between 0 and 1"
    );
}

#[test]
fn docs_op_table_is_generated_from_the_ops() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/schemes.md")).unwrap();
    let table = op_table_markdown();
    assert!(
        doc.contains(&table),
        "docs/schemes.md's op table is out of date; replace it with:\n{table}"
    );
}

/// `Config::hash()` of [`OLD_CONFIG`] and of the defaults, as the version before schemes
/// became op lists recorded them in its manifests.
const OLD_CONFIG_HASH: &str = "6ef685967270bc90";
const DEFAULT_CONFIG_HASH: &str = "8b0aaa71279f9a3e";
