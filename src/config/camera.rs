//! `[[cameras]]`: one entry per camera.

use serde::{Deserialize, Serialize};

use crate::infer::PostprocessOverride;

/// One camera and how it is analysed.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CameraConfig {
    /// Camera id, unique on this box (letters, digits, `-`, `_`); an MQTT topic segment.
    pub id: String,
    /// Human-readable name, free text.
    #[serde(default)]
    pub name: String,
    /// Video source: `rtsp://`, `rtsps://`, `file://`, `http(s)://` or `v4l2:///dev/videoN`.
    pub url: String,
    /// Set to false to keep the camera in the file but not analyse it.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Model: a name in `runtime.models_dir` (`centernet`) or a path to a spec `.toml`.
    #[serde(default = "default_model")]
    pub model: String,
    /// Overrides of the model's thresholds, classes and NMS for this camera.
    #[serde(default)]
    pub detect: PostprocessOverride,
}

fn yes() -> bool {
    true
}

fn default_model() -> String {
    crate::paths::DEFAULT_MODEL.to_string()
}

/// URL schemes a camera source may use.
pub const SCHEMES: [&str; 6] = ["rtsp", "rtsps", "file", "http", "https", "v4l2"];
