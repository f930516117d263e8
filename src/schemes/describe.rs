//! `lakeaug schemes`: every scheme and op, with the parameters a config gives them.

use std::fmt::Write;

use super::{Scheme, OP_DOCS};
use crate::config::Config;

/// A human-readable description of every scheme with the parameters `config` gives them,
/// and of every op a declared scheme can use.
pub fn describe(config: &Config) -> String {
    let mut out = describe_original(config);
    out.push_str(
        "\nDeclared schemes ([scheme.NAME] in the config; consistent, light, sync and mixgen are built in\n\
and can be redeclared). Image ops run in the order listed, except that random_resized_crop crops the\n\
decoded source image before the resize and mixgen blends last; caption ops run in order, each on the\n\
caption the previous one produced, and word indices in aug_* columns refer to the words that op saw.\n\n",
    );
    for name in config.known_schemes() {
        if ["aligned", "cross_modal", "pseudo_label"].contains(&name.as_str()) {
            continue;
        }
        let Ok(scheme) = Scheme::named(config, &name) else {
            continue;
        };
        let _ = writeln!(out, "{name}");
        for op in &scheme.image_ops {
            let _ = writeln!(out, "  image  {}", inline_toml(op));
        }
        for op in &scheme.text_ops {
            let _ = writeln!(out, "  text   {}", inline_toml(op));
        }
        if let Some(m) = &scheme.mlm {
            let _ = writeln!(out, "  mlm    {m:?}");
        }
    }
    out.push_str("\nOps (parameter = default: meaning):\n");
    for doc in OP_DOCS {
        let _ = writeln!(out, "\n{} ({} op): {}", doc.name, doc.kind, doc.meaning);
        for (param, default, meaning) in doc.params {
            let _ = writeln!(out, "    {param} = {default}: {meaning}");
        }
        let _ = writeln!(out, "    records: {}", doc.columns);
    }
    out.push_str(
        "\nCaption ops other than replace_word and delete_words split captions with [text] language\n\
(auto: jieba for captions with Han characters, else whitespace) and use [text] synonyms (TSV) or\n\
the bundled English dictionary derived from WordNet 3.0.\n\
Print a config with every default: lakeaug schemes --config-template\n",
    );
    out
}

/// An op as the inline TOML table a config declares it with.
fn inline_toml(op: &impl serde::Serialize) -> String {
    inline(&toml::Value::try_from(op).expect("ops serialize"))
}

fn inline(value: &toml::Value) -> String {
    match value {
        toml::Value::Table(t) => {
            // `op` first, as one writes it.
            let mut parts: Vec<String> = t
                .get("op")
                .map(|v| format!("op = {}", inline(v)))
                .into_iter()
                .collect();
            parts.extend(
                t.iter()
                    .filter(|(k, _)| k.as_str() != "op")
                    .map(|(k, v)| format!("{k} = {}", inline(v))),
            );
            format!("{{ {} }}", parts.join(", "))
        }
        toml::Value::Array(a) => {
            let items: Vec<String> = a.iter().map(inline).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

fn describe_original(config: &Config) -> String {
    let a = &config.aligned;
    let c = &config.cross_modal;
    let p = &config.pseudo_label;
    let i = &config.image;
    format!(
        "Every scheme first decodes the image (EXIF orientation applied, RGB), refuses images over \
{max_pixels} pixels, and resizes to {size}x{size} (resize = {resize:?}, bilinear with antialiasing as \
torchvision Resize); output images are encoded as {format:?} (quality {quality}). Every output caption \
is tokenized into input_ids (max_tokens = {max_tokens}).

aligned        [aligned] in the config
  image  hflip           p = hflip_prob = {hflip}                      -> aug_hflip
         color jitter    brightness = {b}, contrast = {ct}: factors uniform in [max(0,1-x), 1+x],
                         applied in a random order (torchvision ColorJitter)
                                                                   -> aug_brightness, aug_contrast, aug_jitter_order
         rotate          angle uniform in [-{deg}, {deg}] degrees, counter-clockwise, nearest, fill 0
                         (rotate_degrees)                          -> aug_rotate_deg
  text   replace word    with p = replace_prob = {rp}, one uniformly chosen word becomes
                         replace_token = {token:?}                  -> aug_words_replaced

cross_modal    [cross_modal]
  image  erase patch     square of side floor(patch_fraction * min(h, w)), patch_fraction = {pf},
                         set to 0 at a uniform position inside the image
                                                                   -> aug_erase_x, aug_erase_y, aug_erase_size
  text   delete words    if a caption has more than delete_above_words = {above} words,
                         floor(n / delete_divisor) (= {div}) distinct words are deleted -> aug_words_deleted

pseudo_label   [pseudo_label]
  image  (resize only)
  text   (unchanged); BERT masked-LM pseudo labels over the caption's tokens: each non-special
         position is selected with p = select_prob = {sp}; a selected token becomes [MASK] with
         p = mask_prob = {mp}, a random token with p = random_prob = {rnd}, else stays
                                                                   -> mlm_input_ids, mlm_labels (-100 = not selected)

Words are whitespace-separated (Python str.split()); word indices refer to the source caption.
",
        max_pixels = i.max_pixels,
        size = i.size,
        resize = i.resize,
        format = i.format,
        quality = i.quality,
        max_tokens = config.tokens.max_tokens,
        hflip = a.hflip_prob,
        b = a.brightness,
        ct = a.contrast,
        deg = a.rotate_degrees,
        rp = a.replace_prob,
        token = a.replace_token,
        pf = c.patch_fraction,
        above = c.delete_above_words,
        div = c.delete_divisor,
        sp = p.select_prob,
        mp = p.mask_prob,
        rnd = p.random_prob,
    )
}
