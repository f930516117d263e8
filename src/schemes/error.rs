//! Typed errors of op parameters, scheme declarations and config validation.
//!
//! Messages keep the form users see in `invalid config FILE, line N: ...`: they name the
//! parameter, its value and the rule it breaks.

use std::path::{Path, PathBuf};

use crate::kernels::text::{ParamsError, SynonymDictError};

/// A parameter value an op (or a scheme's MLM settings) refuses.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OpError {
    #[error("{param} = {value} must be between 0 and 1")]
    NotAProbability { param: &'static str, value: f64 },
    #[error("{param} = {value} must be a finite number >= 0")]
    NotNonNegative { param: &'static str, value: f64 },
    /// Any other rule on one parameter, e.g. `kernel_size = 4 must be odd`.
    #[error("{param} = {value} must {rule}")]
    Rule {
        param: &'static str,
        value: String,
        rule: &'static str,
    },
    /// A rule on the op as a whole, e.g. `divisor must be at least 1`.
    #[error("{0}")]
    Op(&'static str),
    /// A bad hedge template.
    #[error(transparent)]
    Template(#[from] ParamsError),
    /// An op inside `one_of`.
    #[error("{op}: {source}")]
    InOneOf {
        op: &'static str,
        #[source]
        source: Box<OpError>,
    },
}

impl OpError {
    pub(crate) fn rule(
        param: &'static str,
        value: impl std::fmt::Debug,
        rule: &'static str,
    ) -> Self {
        OpError::Rule {
            param,
            value: format!("{value:?}"),
            rule,
        }
    }
}

/// Checks that `value` is a probability.
pub(crate) fn probability(param: &'static str, value: f64) -> Result<(), OpError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(OpError::NotAProbability { param, value })
    }
}

/// Checks that `value` is finite and not negative.
pub(crate) fn non_negative(param: &'static str, value: f64) -> Result<(), OpError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(OpError::NotNonNegative { param, value })
    }
}

/// Image or caption op list of a scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpList {
    Image,
    Text,
}

impl OpList {
    pub fn name(self) -> &'static str {
        match self {
            OpList::Image => "image",
            OpList::Text => "text",
        }
    }
}

impl std::fmt::Display for OpList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A scheme declaration that does not hold together.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SchemeError {
    #[error("{list} op `{op}`: {source}")]
    BadOp {
        list: OpList,
        index: usize,
        op: &'static str,
        #[source]
        source: OpError,
    },
    /// Each op records its own columns, so it may appear once per scheme.
    #[error("{list} op `{op}` is listed twice")]
    Twice {
        list: OpList,
        index: usize,
        op: &'static str,
    },
    #[error("mlm: {0}")]
    Mlm(#[source] OpError),
}

impl SchemeError {
    /// Which op of the declaration is wrong (`None`: the scheme as a whole).
    pub fn location(&self) -> Option<(OpList, usize)> {
        match *self {
            SchemeError::BadOp { list, index, .. } | SchemeError::Twice { list, index, .. } => {
                Some((list, index))
            }
            SchemeError::Mlm(_) => None,
        }
    }
}

/// A config whose values do not hold together (checked after parsing, and again after
/// command-line overrides).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidConfig {
    #[error("`schemes` is empty: name at least one of {known}")]
    NoSchemes { known: String },
    #[error("unknown scheme `{name}` (known: {known}; declare new ones as [scheme.NAME])")]
    UnknownScheme { name: String, known: String },
    #[error("scheme `{0}` is listed twice")]
    SchemeListedTwice(String),
    #[error("[scheme.{name}] {source}")]
    Scheme {
        name: String,
        #[source]
        source: SchemeError,
    },
    /// `[scheme.aligned]` next to a changed `[aligned]`: which one would count?
    #[error("`{0}` is declared twice: as [scheme.{0}] and in its [{0}] section; keep one")]
    DeclaredTwice(String),
    /// A value of a section, e.g. `aligned.hflip_prob = 1.5 must be between 0 and 1`.
    #[error("{section}.{source}")]
    Section {
        section: &'static str,
        #[source]
        source: OpError,
    },
    #[error("`copies` = {value} is out of range (1..={max})")]
    Copies { value: u32, max: u32 },
    #[error("image.size = {value} is out of range (1..={max})")]
    ImageSize { value: u32, max: u32 },
    #[error("image.quality = {0} is out of range (1..=100)")]
    ImageQuality(u8),
    #[error("tokens.max_tokens must be at least 2 ([CLS] and [SEP])")]
    MaxTokens,
}

/// Why a config file (or its synonym dictionary) cannot be used. Names the file, and the
/// line of a bad op.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid config {}: {source}", .path.display())]
    Syntax {
        path: PathBuf,
        #[source]
        source: Box<toml::de::Error>,
    },
    #[error("invalid config {}{}: {source}", .path.display(), at_line(.line))]
    Invalid {
        path: PathBuf,
        line: Option<usize>,
        #[source]
        source: InvalidConfig,
    },
    #[error("cannot read synonym dictionary {}: {source}", .path.display())]
    ReadSynonyms {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid synonym dictionary {}: {source}", .path.display())]
    Synonyms {
        path: PathBuf,
        #[source]
        source: SynonymDictError,
    },
}

impl ConfigError {
    pub(crate) fn invalid(path: &Path, line: Option<usize>, source: InvalidConfig) -> Self {
        ConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            source,
        }
    }
}

fn at_line(line: &Option<usize>) -> String {
    line.map(|l| format!(", line {l}")).unwrap_or_default()
}
