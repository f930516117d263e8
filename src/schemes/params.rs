//! The sampled parameters of one output row; each field is one `aug_*` lineage column.

/// Order in which colour jitter applied its factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JitterOrder {
    BrightnessContrast,
    ContrastBrightness,
}

impl JitterOrder {
    /// As written to `aug_jitter_order`.
    pub fn as_str(self) -> &'static str {
        match self {
            JitterOrder::BrightnessContrast => "brightness,contrast",
            JitterOrder::ContrastBrightness => "contrast,brightness",
        }
    }

    pub fn parse(s: &str) -> Option<JitterOrder> {
        match s {
            "brightness,contrast" => Some(JitterOrder::BrightnessContrast),
            "contrast,brightness" => Some(JitterOrder::ContrastBrightness),
            _ => None,
        }
    }
}

/// The erased square, in pixels of the output image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Erase {
    pub x: i32,
    pub y: i32,
    pub size: i32,
}

/// Everything a scheme sampled for one row; `None` where the scheme does not sample it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AugParams {
    pub hflip: Option<bool>,
    pub brightness: Option<f32>,
    pub contrast: Option<f32>,
    pub jitter_order: Option<JitterOrder>,
    pub rotate_deg: Option<f32>,
    pub erase: Option<Erase>,
    /// Word indices in the source caption replaced by the replacement token.
    pub words_replaced: Option<Vec<i32>>,
    /// Word indices in the source caption deleted.
    pub words_deleted: Option<Vec<i32>>,
}
