//! Detection: model spec, ONNX Runtime session, preprocessing, output decoders and NMS.

pub mod classes;
pub mod decode;
pub mod detector;
pub mod nms;
pub mod preprocess;
pub mod runtime;
pub mod session;
pub mod spec;

use std::path::PathBuf;

pub use detector::{Detector, Timings};
pub use runtime::OrtRuntime;
pub use session::{InferenceOptions, OptLevel, Provider};
pub use spec::{LoadedSpec, ModelSpec, Postprocess, PostprocessOverride};

/// Everything that can go wrong between a model spec and a list of detections.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    #[error(
        "ONNX Runtime (libonnxruntime.so) not found. Looked in:\n{}\nInstall it with `scripts/setup.sh` (a project-local copy from the PyPI onnxruntime wheel), or point ORT_DYLIB_PATH or the config's `runtime.onnxruntime` at libonnxruntime.so",
        .searched.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n")
    )]
    RuntimeNotFound { searched: Vec<String> },
    #[error("{origin} points to '{}', which does not exist", .path.display())]
    RuntimeMissing { origin: String, path: PathBuf },
    #[error("cannot load ONNX Runtime from '{}': {message}", .path.display())]
    RuntimeLoad { path: PathBuf, message: String },
    #[error("cannot read '{}': {source}", .path.display())]
    SpecRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("model spec '{}' is not valid TOML for a spec: {message}", .path.display())]
    SpecParse { path: PathBuf, message: String },
    #[error("model spec '{}' has {} problem(s):\n{}", .path.display(), .problems.len(), bullets(.problems))]
    SpecInvalid {
        path: PathBuf,
        problems: Vec<String>,
    },
    #[error("the detection settings (the model's [postprocess] with the camera's [detect] or the command line's --score/--classes) have {} problem(s):\n{}", .problems.len(), bullets(.problems))]
    PolicyInvalid { problems: Vec<String> },
    #[error("cannot load model '{}': {message}", .path.display())]
    ModelLoad { path: PathBuf, message: String },
    #[error("model '{}' does not match its spec '{}':\n{}", .model.display(), .spec.display(), bullets(.problems))]
    Mismatch {
        model: PathBuf,
        spec: PathBuf,
        problems: Vec<String>,
    },
    #[error(
        "execution provider '{provider}' is not available in this ONNX Runtime (it has: {}); use a runtime built with it or choose another provider",
        .available.join(", ")
    )]
    ProviderUnavailable {
        provider: String,
        available: Vec<String>,
    },
    #[error("execution provider '{provider}' failed to start: {message}")]
    ProviderFailed { provider: String, message: String },
    #[error("model '{model}' failed to run: {message}")]
    Run { model: String, message: String },
    #[error("model '{model}': {source}")]
    Decode {
        model: String,
        #[source]
        source: decode::DecodeError,
    },
    #[error("preprocessing failed: {0}")]
    Preprocess(String),
}

fn bullets(items: &[String]) -> String {
    items
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}
