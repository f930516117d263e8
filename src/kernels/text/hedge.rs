//! Hedge insertion: wrap the caption in a hedging phrase ("a blurry photo of {}",
//! "probably {}", "{}, partially hidden"), for images that were blurred or occluded.
//!
//! A template holds `{}` exactly once, where the caption goes. Applying it:
//! - a blank caption is left alone (there is nothing to hedge);
//! - the caption's outer whitespace is dropped and its sentence punctuation ("." "!" "?"
//!   "。" ...) moves to the end of the result: "A dog." + "{}, partially hidden" ->
//!   "A dog, partially hidden.";
//! - when the template puts text before the caption, a capitalised article, determiner
//!   or number word starting the caption is lower-cased ("A dog" -> "a blurry photo of a
//!   dog"; the caption's own article is kept, which reads naturally after "of"); other
//!   first words keep their case (names);
//! - the result starts with a capital letter when the caption did.

use rand::Rng;

use super::edit::{split_final, ParamsError};
use super::lexicon::{is_number, word_core, CasePattern, EN_STOP_WORDS};
use super::words::split_words;

/// Default hedges for blurred images, English.
pub const BLUR_HEDGES_EN: &[&str] = &[
    "a blurry photo of {}",
    "a blurred image of {}",
    "probably {}",
    "what looks like {}",
    "{}, out of focus",
];
/// Default hedges for occluded (partly erased) images, English.
pub const OCCLUSION_HEDGES_EN: &[&str] = &[
    "{}, partially hidden",
    "{}, partly occluded",
    "probably {}",
    "part of {}",
];
/// Default hedges for blurred images, Chinese.
pub const BLUR_HEDGES_ZH: &[&str] = &["模糊的照片：{}", "可能是{}", "{}（画面模糊）"];
/// Default hedges for occluded images, Chinese.
pub const OCCLUSION_HEDGES_ZH: &[&str] = &["{}，部分被遮挡", "可能是{}"];

/// Hedge parameters (lineage: `template` string): the template applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HedgeParams {
    pub template: String,
}

const OP: &str = "hedge";

fn check_template(template: &str) -> Result<(), ParamsError> {
    if template.matches("{}").count() != 1 {
        return Err(ParamsError::new(
            OP,
            format!("template {template:?} must contain {{}} exactly once"),
        ));
    }
    Ok(())
}

/// Checks a configured template list: not empty, each template with `{}` exactly once
/// (for config validation).
pub fn check_hedge_templates<S: AsRef<str>>(templates: &[S]) -> Result<(), ParamsError> {
    if templates.is_empty() {
        return Err(ParamsError::new(OP, "the template list is empty"));
    }
    templates
        .iter()
        .try_for_each(|t| check_template(t.as_ref()))
}

/// Chooses a template uniformly. `None` for a blank caption (left alone).
pub fn sample_hedge<S: AsRef<str>>(
    caption: &str,
    templates: &[S],
    rng: &mut impl Rng,
) -> Result<Option<HedgeParams>, ParamsError> {
    check_hedge_templates(templates)?;
    if caption.trim().is_empty() {
        return Ok(None);
    }
    let template = templates[rng.random_range(0..templates.len())].as_ref();
    Ok(Some(HedgeParams {
        template: template.to_string(),
    }))
}

/// Whether a capitalised first word is a function word that reads in lower case inside
/// a phrase ("A", "The", "Two"), as opposed to a name.
fn lowers_inside_phrase(word: &str) -> bool {
    let core = word_core(word).1;
    CasePattern::of(core) == CasePattern::Title
        && (EN_STOP_WORDS.contains(&core.to_lowercase().as_str()) || is_number(core))
}

fn upper_first(s: &str) -> String {
    CasePattern::Title.apply(s)
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The caption wrapped in the template (see the module docs).
pub fn apply_hedge(caption: &str, params: &HedgeParams) -> Result<String, ParamsError> {
    check_template(&params.template)?;
    let trimmed = caption.trim_matches(super::words::is_python_whitespace);
    if trimmed.is_empty() {
        return Ok(caption.to_string());
    }
    let (body, punct) = split_final(trimmed);
    let (before, after) = params.template.split_once("{}").expect("checked: one {}");
    let starts_upper = body.chars().next().is_some_and(char::is_uppercase);
    let body = match split_words(body).next() {
        Some(first) if !before.is_empty() && lowers_inside_phrase(first) => lower_first(body),
        _ => body.to_string(),
    };
    let out = format!("{before}{body}{after}{punct}");
    Ok(if starts_upper { upper_first(&out) } else { out })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::captions;
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn hedge(caption: &str, template: &str) -> String {
        apply_hedge(
            caption,
            &HedgeParams {
                template: template.into(),
            },
        )
        .unwrap()
    }

    #[test]
    fn known_outputs() {
        let cases = [
            (
                "a dog on a sofa",
                "a blurry photo of {}",
                "a blurry photo of a dog on a sofa",
            ),
            (
                "A dog on a sofa.",
                "a blurry photo of {}",
                "A blurry photo of a dog on a sofa.",
            ),
            ("The moon.", "probably {}", "Probably the moon."),
            (
                "Two cats!",
                "what looks like {}",
                "What looks like two cats!",
            ),
            ("A dog.", "{}, partially hidden", "A dog, partially hidden."),
            ("  a dog  ", "{}, partly occluded", "a dog, partly occluded"),
            (
                "Paris at night.",
                "a blurred image of {}",
                "A blurred image of Paris at night.",
            ),
            ("NASA rocket", "probably {}", "Probably NASA rocket"),
            ("dog", "part of {}", "part of dog"),
            (
                "一辆红色的汽车停在路边。",
                "{}，部分被遮挡",
                "一辆红色的汽车停在路边，部分被遮挡。",
            ),
            ("一辆红色的汽车。", "可能是{}", "可能是一辆红色的汽车。"),
            ("...", "probably {}", "probably ..."),
        ];
        for (caption, template, expected) in cases {
            assert_eq!(hedge(caption, template), expected, "{caption} / {template}");
        }
        // Blank captions are left alone, exactly.
        assert_eq!(hedge("  ", "probably {}"), "  ");
        assert_eq!(hedge("", "probably {}"), "");
    }

    #[test]
    fn templates_are_checked() {
        assert!(check_hedge_templates(BLUR_HEDGES_EN).is_ok());
        assert!(check_hedge_templates(OCCLUSION_HEDGES_EN).is_ok());
        assert!(check_hedge_templates(BLUR_HEDGES_ZH).is_ok());
        assert!(check_hedge_templates(OCCLUSION_HEDGES_ZH).is_ok());
        let e = check_hedge_templates(&["probably"]).unwrap_err();
        assert!(e.to_string().contains("exactly once"), "{e}");
        assert!(check_hedge_templates(&["{} {}"]).is_err());
        assert!(check_hedge_templates::<&str>(&[]).is_err());
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert!(sample_hedge("a dog", &["bad"], &mut rng).is_err());
        assert_eq!(sample_hedge(" ", BLUR_HEDGES_EN, &mut rng).unwrap(), None);
        let bad = HedgeParams {
            template: "none".into(),
        };
        assert!(apply_hedge("a dog", &bad).is_err());
    }

    #[test]
    fn properties() {
        let mut seen = std::collections::HashSet::new();
        for seed in 0..30u64 {
            for caption in captions() {
                let draw = |seed| {
                    let mut rng = ChaCha8Rng::seed_from_u64(seed);
                    sample_hedge(caption, OCCLUSION_HEDGES_EN, &mut rng).unwrap()
                };
                let p = draw(seed).unwrap();
                assert_eq!(Some(&p), draw(seed).as_ref());
                seen.insert(p.template.clone());
                let out = apply_hedge(caption, &p).unwrap();
                // The hedge words are all there, and the caption's words too.
                let (before, after) = p.template.split_once("{}").unwrap();
                let lower = out.to_lowercase();
                assert!(lower.contains(&before.to_lowercase()), "{out}");
                assert!(lower.contains(after), "{out}");
                assert!(out.len() > caption.trim().len(), "{out}");
            }
        }
        assert_eq!(seen.len(), OCCLUSION_HEDGES_EN.len());
    }
}
