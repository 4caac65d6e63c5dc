//! `[runtime]`: how this box runs models.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::infer::InferenceOptions;

/// Runtime settings shared by every camera.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Path of libonnxruntime.so; when unset, roadeye searches `ORT_DYLIB_PATH`, the binary's
    /// folder, `../lib/roadeye`, a project-local `.deps/onnxruntime` and the system folders.
    #[serde(default)]
    pub onnxruntime: Option<PathBuf>,
    /// Folder where model names (`model = "centernet"`) resolve to `<name>.toml`, relative to this
    /// file. Unset: the first of `$ROADEYE_MODELS_DIR`, `./models`, `../share/roadeye/models` from
    /// the binary, a `models/` above the binary and `/usr/share/roadeye/models` that has the model.
    #[serde(default)]
    pub models_dir: Option<PathBuf>,
    /// Session options for every model.
    #[serde(default)]
    pub inference: InferenceOptions,
}
