//! Run configuration: the TOML file (`--config`), its defaults, and command-line overrides.
//!
//! Everything that changes output values lives in [`Config`] and goes into the config hash
//! recorded in the manifest; knobs that only change speed (threads, batch size) do not.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::kernels::image::{OutputFormat, ResizeMode};
use crate::kernels::text::{self, SynonymDict, TextResources};
use crate::schemes::error::{ConfigError, InvalidConfig, OpList};
use crate::schemes::spec::{builtin_specs, OpLocation, SchemeSpec, BUILTIN_SCHEMES};
use crate::schemes::{SchemeCatalog, TextContext};

mod describe;
pub use describe::describe;

pub use crate::schemes::spec::{AlignedConfig, CrossModalConfig, PseudoLabelConfig};

/// Most output rows per input row and scheme (`copies`): more is refused as a mistake.
pub const MAX_COPIES: u32 = 1024;
/// Largest output image side (`image.size`): an 8192x8192 RGB image is 200 MB per copy
/// in flight.
pub const MAX_IMAGE_SIZE: u32 = 8192;

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
    /// Keep truncated or corrupt JPEGs (marked in `source_decode_warning`) instead of
    /// rejecting them (`--accept-truncated-images`). Left out of the serialized config
    /// while false, so config hashes of existing outputs do not change.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub accept_truncated: bool,
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
            accept_truncated: false,
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
        Some((OpList::Image, i)) => spec.get_ref().image.get(i)?.span(),
        Some((OpList::Text, i)) => spec.get_ref().text.get(i)?.span(),
        None => spec.span(),
    };
    Some(text[..span.start.min(text.len())].matches('\n').count() + 1)
}

impl Config {
    /// Parse a TOML config; errors point at the offending line.
    pub fn from_toml(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: origin.to_path_buf(),
            source: Box::new(e),
        })?;
        // Built-in declared schemes the file does not redeclare keep their defaults.
        for (name, spec) in builtin_specs() {
            config.scheme.entry(name).or_insert(spec);
        }
        config.validate().map_err(|e| {
            let line = match &e {
                InvalidConfig::Scheme { name, source } => op_line(text, name, source.location()),
                InvalidConfig::DeclaredTwice(name) => op_line(text, name, None),
                _ => None,
            };
            ConfigError::invalid(origin, line, e)
        })?;
        Ok(config)
    }

    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_path_buf(),
            source: e,
        })?;
        Config::from_toml(&text, path)
    }

    /// Check value ranges that serde cannot express.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        let known = || self.known_schemes().join(", ");
        // Declarations first: their errors carry a line number.
        self.validate_schemes()?;
        if self.schemes.is_empty() {
            return Err(InvalidConfig::NoSchemes { known: known() });
        }
        let mut seen = std::collections::HashSet::new();
        for s in &self.schemes {
            if self.scheme_spec(s).is_none() {
                return Err(InvalidConfig::UnknownScheme {
                    name: s.clone(),
                    known: known(),
                });
            }
            if !seen.insert(s) {
                return Err(InvalidConfig::SchemeListedTwice(s.clone()));
            }
        }
        if self.copies == 0 || self.copies > MAX_COPIES {
            return Err(InvalidConfig::Copies {
                value: self.copies,
                max: MAX_COPIES,
            });
        }
        if self.image.size == 0 || self.image.size > MAX_IMAGE_SIZE {
            return Err(InvalidConfig::ImageSize {
                value: self.image.size,
                max: MAX_IMAGE_SIZE,
            });
        }
        if !(1..=100).contains(&self.image.quality) {
            return Err(InvalidConfig::ImageQuality(self.image.quality));
        }
        if self.tokens.max_tokens < 2 {
            return Err(InvalidConfig::MaxTokens);
        }
        self.aligned.validate()?;
        self.cross_modal.validate()?;
        self.pseudo_label
            .validate()
            .map_err(|source| InvalidConfig::Section {
                section: "pseudo_label",
                source,
            })?;
        Ok(())
    }

    /// The declaration of scheme `name`: its `[scheme.NAME]`, else for the original three
    /// the op list their section stands for, else a built-in declaration. `None` for an
    /// unknown name.
    pub fn scheme_spec(&self, name: &str) -> Option<SchemeSpec> {
        if let Some(spec) = self.scheme.get(name) {
            return Some(spec.clone());
        }
        let from_section = match name {
            "aligned" => Some(self.aligned.spec()),
            "cross_modal" => Some(self.cross_modal.spec()),
            "pseudo_label" => Some(self.pseudo_label.spec()),
            _ => None,
        };
        // A config built in code may lack the built-in declarations a file gets.
        from_section.or_else(|| builtin_specs().remove(name))
    }

    /// The section (`[aligned]`, `[cross_modal]`, `[pseudo_label]`) that configures scheme
    /// `name`, as TOML; `None` for other schemes and for an original one redeclared as
    /// `[scheme.NAME]`.
    pub fn section_of(&self, name: &str) -> Option<toml::Value> {
        if self.scheme.contains_key(name) {
            return None;
        }
        match name {
            "aligned" => toml::Value::try_from(&self.aligned).ok(),
            "cross_modal" => toml::Value::try_from(&self.cross_modal).ok(),
            "pseudo_label" => toml::Value::try_from(&self.pseudo_label).ok(),
            _ => None,
        }
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
    fn validate_schemes(&self) -> Result<(), InvalidConfig> {
        for (name, spec) in &self.scheme {
            // `[scheme.aligned]` replaces the `[aligned]` section; both set is ambiguous.
            let section_changed = match name.as_str() {
                "aligned" => self.aligned != AlignedConfig::default(),
                "cross_modal" => self.cross_modal != CrossModalConfig::default(),
                "pseudo_label" => self.pseudo_label != PseudoLabelConfig::default(),
                _ => false,
            };
            if section_changed {
                return Err(InvalidConfig::DeclaredTwice(name.clone()));
            }
            spec.validate().map_err(|source| InvalidConfig::Scheme {
                name: name.clone(),
                source,
            })?;
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

impl TextContext {
    /// Build from the `[text]` section: segmentation and an optional user dictionary.
    pub fn from_config(c: &TextConfig) -> Result<TextContext, ConfigError> {
        let language = match c.language {
            Language::Auto => text::Language::Auto,
            Language::Whitespace => text::Language::Whitespace,
            Language::Chinese => text::Language::Chinese,
        };
        let mut resources = TextResources::new(language);
        if let Some(path) = &c.synonyms {
            let tsv =
                std::fs::read_to_string(path).map_err(|source| ConfigError::ReadSynonyms {
                    path: path.clone(),
                    source,
                })?;
            resources.synonyms =
                SynonymDict::from_tsv(&tsv).map_err(|source| ConfigError::Synonyms {
                    path: path.clone(),
                    source,
                })?;
        }
        Ok(TextContext { resources })
    }
}

impl SchemeCatalog for Config {
    fn selected(&self) -> &[String] {
        &self.schemes
    }

    fn scheme_spec(&self, name: &str) -> Option<SchemeSpec> {
        Config::scheme_spec(self, name)
    }

    fn known_schemes(&self) -> Vec<String> {
        Config::known_schemes(self)
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
