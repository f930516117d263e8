//! `lakeaug schemes`: every scheme and op, with the parameters a config gives them. The
//! op reference is generated from the ops' own declarations ([`op_docs`]).

use std::fmt::Write;

use super::Config;
use crate::schemes::{inline_toml, op_docs, records, Scheme};

/// A human-readable description of every scheme with the parameters `config` gives them,
/// and of every op a declared scheme can use.
pub fn describe(config: &Config) -> String {
    let i = &config.image;
    let mut out = format!(
        "Every scheme first decodes the image (EXIF orientation applied, RGB), refuses images over \
{max_pixels} pixels, and resizes to {size}x{size} (resize = {resize:?}, bilinear with antialiasing as \
torchvision Resize); output images are encoded as {format:?} (quality {quality}). Every output caption \
is tokenized into input_ids (max_tokens = {max_tokens}).

Schemes. aligned, cross_modal and pseudo_label (the original comparison) are configured by their own
sections ([aligned], [cross_modal], [pseudo_label]), shown with the ops they stand for; they can also be
redeclared as [scheme.NAME]. consistent, light, sync and mixgen are built in as [scheme.NAME] and can be
redeclared. Image ops run in the order listed, except that random_resized_crop crops the decoded source
image before the resize and mixgen blends last; caption ops run in order, each on the caption the
previous one produced, and word indices in aug_* columns refer to the words that op saw.
",
        max_pixels = i.max_pixels,
        size = i.size,
        resize = i.resize,
        format = i.format,
        quality = i.quality,
        max_tokens = config.tokens.max_tokens,
    );
    for name in config.known_schemes() {
        let Ok(scheme) = Scheme::named(config, &name) else {
            continue;
        };
        let _ = write!(out, "\n{name}");
        match config.section_of(&name) {
            Some(section) => {
                let _ = writeln!(out, "   [{name}] {}", inline_toml(&section));
            }
            None => out.push('\n'),
        }
        if scheme.image_ops.is_empty() && scheme.text_ops.is_empty() {
            let _ = writeln!(out, "  image  (resize only)\n  text   (unchanged)");
        }
        for op in &scheme.image_ops {
            let _ = writeln!(out, "  image  {}", inline_toml(op));
        }
        for op in &scheme.text_ops {
            let _ = writeln!(out, "  text   {}", inline_toml(op));
        }
        if let Some(mlm) = config.scheme_spec(&name).and_then(|s| s.mlm) {
            let _ = writeln!(out, "  mlm    {}", inline_toml(&mlm));
        }
    }
    out.push_str(
        "\nmlm: BERT masked-LM pseudo labels over the caption's tokens: each non-special position is\n\
selected with p = select_prob; a selected token becomes [MASK] with p = mask_prob, a random token\n\
with p = random_prob, else stays -> mlm_input_ids, mlm_labels (-100 = not selected).\n",
    );
    out.push_str("\nOps (parameter = default: meaning):\n");
    for doc in op_docs() {
        let help = &doc.help;
        let _ = writeln!(out, "\n{} ({} op): {}", doc.name, doc.kind, help.meaning);
        for param in &help.params {
            let default = param.default.as_deref().unwrap_or("(required)");
            let _ = writeln!(out, "    {} = {default}: {}", param.name, param.meaning);
        }
        let _ = writeln!(out, "    records: {}", records(help.columns));
    }
    out.push_str(
        "\nreplace_word and delete_words split captions into Python str.split() words; the other caption\n\
ops split them with [text] language (auto: jieba for captions with Han characters, else whitespace)\n\
and use [text] synonyms (TSV) or the bundled English dictionary derived from WordNet 3.0.\n\
Print a config with every default: lakeaug schemes --config-template\n",
    );
    out
}
