//! Run configuration: the TOML file (`--config`), its defaults, and command-line overrides.
//!
//! Everything that changes output values lives in [`Config`] and goes into the config hash
//! recorded in the manifest; knobs that only change speed (threads, batch size) do not.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::kernels::image::{OutputFormat, ResizeMode};
use crate::schemes::{builtin_specs, OpLocation, SchemeSpec, BUILTIN_SCHEMES};

/// The resolved configuration of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Run seed; every row's seed derives from it.
    pub seed: u64,
    /// Schemes to run, in output order.
    pub schemes: Vec<String>,
    /// Output rows per input row and scheme, each with its own random draw.
    pub copies: u32,
    /// Input column names.
    pub columns: Columns,
    /// Image decoding, resizing and encoding.
    pub image: ImageConfig,
    /// Tokenization.
    pub tokens: TokenConfig,
    /// Parameters of the `aligned` scheme.
    pub aligned: AlignedConfig,
    /// Parameters of the `cross_modal` scheme.
    pub cross_modal: CrossModalConfig,
    /// Parameters of the `pseudo_label` scheme.
    pub pseudo_label: PseudoLabelConfig,
    /// Caption handling shared by the caption ops: word segmentation and dictionaries.
    pub text: TextConfig,
    /// Schemes declared as op lists (`[scheme.NAME]`); the built-in `consistent`, `light`,
    /// `sync` and `mixgen` are declared here too and can be redeclared.
    pub scheme: BTreeMap<String, SchemeSpec>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: 0,
            schemes: vec![
                "aligned".into(),
                "cross_modal".into(),
                "pseudo_label".into(),
            ],
            copies: 1,
            columns: Columns::default(),
            image: ImageConfig::default(),
            tokens: TokenConfig::default(),
            aligned: AlignedConfig::default(),
            cross_modal: CrossModalConfig::default(),
            pseudo_label: PseudoLabelConfig::default(),
            text: TextConfig::default(),
            scheme: builtin_specs(),
        }
    }
}

/// How captions are split into words for the caption ops other than the original two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    /// Chinese (and other Han-script) captions are segmented with jieba, others on spaces.
    #[default]
    Auto,
    /// Words are Python `str.split()` words.
    Whitespace,
    /// Every caption is segmented with jieba and re-joined without spaces.
    Chinese,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TextConfig {
    pub language: Language,
    /// A synonym dictionary (TSV: `word<TAB>synonym|synonym...`) used instead of the
    /// bundled English one (derived from WordNet 3.0); any language.
    pub synonyms: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Columns {
    pub image: String,
    pub caption: String,
    /// Optional row identifier, copied into rejects.
    pub id: Option<String>,
}

impl Default for Columns {
    fn default() -> Self {
        Columns {
            image: "image".into(),
            caption: "caption".into(),
            id: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ResizeSetting {
    /// Resize to `size` x `size`, ignoring the aspect ratio (torchvision `Resize((s, s))`).
    Stretch,
    /// Shorter side to `size`, then centre crop (torchvision `Resize(s)` + `CenterCrop(s)`).
    ShorterSideCenterCrop,
}

impl From<ResizeSetting> for ResizeMode {
    fn from(s: ResizeSetting) -> Self {
        match s {
            ResizeSetting::Stretch => ResizeMode::Stretch,
            ResizeSetting::ShorterSideCenterCrop => ResizeMode::ShorterSideCenterCrop,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum FormatSetting {
    Jpeg,
    Png,
    Webp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImageConfig {
    /// Output side in pixels (square output).
    pub size: u32,
    pub resize: ResizeSetting,
    pub format: FormatSetting,
    /// JPEG quality 1-100 (ignored for PNG and lossless WebP).
    pub quality: u8,
    /// Images with more pixels than this are rejected before decoding (decompression bombs).
    pub max_pixels: u64,
    /// Write Hugging Face `datasets` features: the image column as an `Image`
    /// (`struct<bytes, path>`), the caption as `Value("string")` (see `hf_features`). Left
    /// out of the serialized config when off, so older outputs keep their config hash.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub hf_features: bool,
}

impl Default for ImageConfig {
    fn default() -> Self {
        ImageConfig {
            size: 224,
            resize: ResizeSetting::Stretch,
            format: FormatSetting::Jpeg,
            quality: 95,
            max_pixels: 64_000_000,
            hf_features: false,
        }
    }
}

impl ImageConfig {
    pub fn output_format(&self) -> OutputFormat {
        match self.format {
            FormatSetting::Jpeg => OutputFormat::Jpeg {
                quality: self.quality,
            },
            FormatSetting::Png => OutputFormat::Png,
            FormatSetting::Webp => OutputFormat::WebP,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenConfig {
    /// A Hugging Face `tokenizer.json`; `None` means the bundled BERT uncased one.
    pub tokenizer: Option<PathBuf>,
    /// Truncation length, [CLS] and [SEP] included.
    pub max_tokens: usize,
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig {
            tokenizer: None,
            max_tokens: 512,
        }
    }
}

impl PseudoLabelConfig {
    /// Check the probabilities (errors name the field).
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [
            ("select_prob", self.select_prob),
            ("mask_prob", self.mask_prob),
            ("random_prob", self.random_prob),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{name} = {p} must be between 0 and 1"));
            }
        }
        if self.mask_prob + self.random_prob > 1.0 {
            return Err("mask_prob + random_prob must not exceed 1".into());
        }
        Ok(())
    }
}

/// The line of `text` where op `at` of `[scheme.NAME]` is declared, found by parsing the
/// file again with spans (the config itself is span-free, so it also reads from JSON).
fn op_line(text: &str, scheme: &str, at: OpLocation) -> Option<usize> {
    #[derive(Deserialize)]
    struct Doc {
        #[serde(default)]
        scheme: BTreeMap<String, toml::Spanned<Spec>>,
    }
    #[derive(Deserialize)]
    struct Spec {
        #[serde(default)]
        image: Vec<toml::Spanned<toml::Value>>,
        #[serde(default)]
        text: Vec<toml::Spanned<toml::Value>>,
    }
    let doc: Doc = toml::from_str(text).ok()?;
    let spec = doc.scheme.get(scheme)?;
    let span = match at {
        Some(("image", i)) => spec.get_ref().image.get(i)?.span(),
        Some((_, i)) => spec.get_ref().text.get(i)?.span(),
        None => spec.span(),
    };
    Some(text[..span.start.min(text.len())].matches('\n').count() + 1)
}

/// Scheme 1 of the original comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlignedConfig {
    pub hflip_prob: f64,
    /// Brightness factor drawn from [max(0, 1 - b), 1 + b].
    pub brightness: f32,
    /// Contrast factor drawn from [max(0, 1 - c), 1 + c].
    pub contrast: f32,
    /// Rotation angle drawn from [-d, d] degrees.
    pub rotate_degrees: f32,
    /// Probability that one word is replaced.
    pub replace_prob: f64,
    pub replace_token: String,
}

impl Default for AlignedConfig {
    fn default() -> Self {
        AlignedConfig {
            hflip_prob: 0.5,
            brightness: 0.2,
            contrast: 0.2,
            rotate_degrees: 15.0,
            replace_prob: 0.3,
            replace_token: "random_word".into(),
        }
    }
}

/// Scheme 2 of the original comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CrossModalConfig {
    /// Patch side as a fraction of the shorter image side (floored to whole pixels).
    pub patch_fraction: f64,
    /// Words are deleted only from captions with more than this many words.
    pub delete_above_words: usize,
    /// floor(n / divisor) words are deleted.
    pub delete_divisor: usize,
}

impl Default for CrossModalConfig {
    fn default() -> Self {
        CrossModalConfig {
            patch_fraction: 0.2,
            delete_above_words: 5,
            delete_divisor: 3,
        }
    }
}

/// Scheme 3 of the original comparison: BERT masked-LM pseudo labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PseudoLabelConfig {
    pub select_prob: f64,
    pub mask_prob: f64,
    pub random_prob: f64,
}

impl Default for PseudoLabelConfig {
    fn default() -> Self {
        PseudoLabelConfig {
            select_prob: 0.15,
            mask_prob: 0.8,
            random_prob: 0.1,
        }
    }
}

impl Config {
    /// Parse a TOML config; errors point at the offending line.
    pub fn from_toml(text: &str, origin: &Path) -> anyhow::Result<Config> {
        let mut config: Config = toml::from_str(text)
            .map_err(|e| anyhow::anyhow!("invalid config {}: {e}", origin.display()))?;
        // Built-in declared schemes the file does not redeclare keep their defaults.
        for (name, spec) in builtin_specs() {
            config.scheme.entry(name).or_insert(spec);
        }
        if let Err((name, msg, at)) = config.validate_schemes() {
            let line = op_line(text, &name, at)
                .map(|l| format!(", line {l}"))
                .unwrap_or_default();
            anyhow::bail!("invalid config {}{line}: {msg}", origin.display());
        }
        config
            .validate()
            .map_err(|e| anyhow::anyhow!("invalid config {}: {e}", origin.display()))?;
        Ok(config)
    }

    pub fn from_file(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
        Config::from_toml(&text, path)
    }

    /// Check value ranges that serde cannot express.
    pub fn validate(&self) -> Result<(), String> {
        if self.schemes.is_empty() {
            return Err(format!(
                "`schemes` is empty: name at least one of {}",
                self.known_schemes().join(", ")
            ));
        }
        let known = self.known_schemes();
        for s in &self.schemes {
            if !known.contains(s) {
                return Err(format!(
                    "unknown scheme `{s}` (known: {}; declare new ones as [scheme.NAME])",
                    known.join(", ")
                ));
            }
        }
        self.validate_schemes().map_err(|(_, msg, _)| msg)?;
        let mut seen = std::collections::HashSet::new();
        for s in &self.schemes {
            if !seen.insert(s) {
                return Err(format!("scheme `{s}` is listed twice"));
            }
        }
        if self.copies == 0 {
            return Err("`copies` must be at least 1".into());
        }
        if self.image.size == 0 || self.image.size > 16384 {
            return Err(format!(
                "image.size = {} is out of range (1..=16384)",
                self.image.size
            ));
        }
        if !(1..=100).contains(&self.image.quality) {
            return Err(format!(
                "image.quality = {} is out of range (1..=100)",
                self.image.quality
            ));
        }
        if self.tokens.max_tokens < 2 {
            return Err("tokens.max_tokens must be at least 2 ([CLS] and [SEP])".into());
        }
        let probs = [
            ("aligned.hflip_prob", self.aligned.hflip_prob),
            ("aligned.replace_prob", self.aligned.replace_prob),
            (
                "cross_modal.patch_fraction",
                self.cross_modal.patch_fraction,
            ),
        ];
        for (name, p) in probs {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{name} = {p} must be between 0 and 1"));
            }
        }
        self.pseudo_label
            .validate()
            .map_err(|e| format!("pseudo_label.{e}"))?;
        let ranges = [
            ("aligned.brightness", self.aligned.brightness),
            ("aligned.contrast", self.aligned.contrast),
            ("aligned.rotate_degrees", self.aligned.rotate_degrees),
        ];
        for (name, v) in ranges {
            if !v.is_finite() || v < 0.0 {
                return Err(format!("{name} = {v} must be a finite number >= 0"));
            }
        }
        if self.cross_modal.delete_divisor == 0 {
            return Err("cross_modal.delete_divisor must be at least 1".into());
        }
        Ok(())
    }

    /// Every scheme this config can run: the built-in ones and those it declares.
    pub fn known_schemes(&self) -> Vec<String> {
        let mut names: Vec<String> = BUILTIN_SCHEMES.iter().map(|s| s.to_string()).collect();
        names.extend(
            self.scheme
                .keys()
                .filter(|k| !BUILTIN_SCHEMES.contains(&k.as_str()))
                .cloned(),
        );
        names
    }

    /// Check the declared schemes; the error names the scheme and where the bad op is.
    fn validate_schemes(&self) -> Result<(), (String, String, OpLocation)> {
        for (name, spec) in &self.scheme {
            if ["aligned", "cross_modal", "pseudo_label"].contains(&name.as_str()) {
                return Err((
                    name.clone(),
                    format!("[scheme.{name}]: `{name}` is configured in its own [{name}] section"),
                    None,
                ));
            }
            spec.validate()
                .map_err(|(msg, at)| (name.clone(), format!("[scheme.{name}] {msg}"), at))?;
        }
        Ok(())
    }

    /// Hex hash of everything that determines output values (recorded in the manifest).
    pub fn hash(&self) -> String {
        let json = serde_json::to_vec(self).expect("config serializes");
        blake3::hash(&json).to_hex()[..16].to_string()
    }

    /// The config as TOML, with every default filled in (`lakeaug schemes --config-template`).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("config serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_original_comparison() {
        let c = Config::default();
        assert_eq!(c.image.size, 224);
        assert_eq!(c.aligned.hflip_prob, 0.5);
        assert_eq!(c.aligned.rotate_degrees, 15.0);
        assert_eq!(c.aligned.replace_prob, 0.3);
        assert_eq!(c.aligned.replace_token, "random_word");
        assert_eq!(c.cross_modal.patch_fraction, 0.2);
        assert_eq!(c.pseudo_label.select_prob, 0.15);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn partial_toml_keeps_other_defaults() {
        let c = Config::from_toml(
            "seed = 7\n[aligned]\nrotate_degrees = 5.0\n",
            Path::new("x.toml"),
        )
        .unwrap();
        assert_eq!(c.seed, 7);
        assert_eq!(c.aligned.rotate_degrees, 5.0);
        assert_eq!(c.aligned.hflip_prob, 0.5);
        assert_eq!(c.schemes.len(), 3);
    }

    #[test]
    fn unknown_key_and_bad_values_are_refused_with_location() {
        let err = Config::from_toml(
            "seed = 1\n[aligned]\nflip_prob = 0.5\n",
            Path::new("x.toml"),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("flip_prob") && msg.contains("line 3"), "{msg}");
        let err =
            Config::from_toml("[aligned]\nhflip_prob = 1.5\n", Path::new("x.toml")).unwrap_err();
        assert!(err.to_string().contains("aligned.hflip_prob"), "{err}");
        let err = Config::from_toml("schemes = [\"nope\"]\n", Path::new("x.toml")).unwrap_err();
        assert!(err.to_string().contains("unknown scheme `nope`"), "{err}");
    }

    #[test]
    fn round_trips_through_toml_and_hash_tracks_values() {
        let c = Config::default();
        let back = Config::from_toml(&c.to_toml(), Path::new("x.toml")).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.hash(), c.hash());
        let mut d = c.clone();
        d.seed = 1;
        assert_ne!(d.hash(), c.hash());
    }
}
