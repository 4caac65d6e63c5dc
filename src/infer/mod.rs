//! Detection: model spec, ONNX Runtime session, preprocessing, output decoders and NMS.

pub mod classes;
pub mod decode;
pub mod detector;
pub mod model;
pub mod nms;
pub mod picture;
pub mod preprocess;
pub mod runtime;
pub mod session;
pub mod spec;

use std::path::PathBuf;

pub use detector::{Detector, Postprocessor};
pub use model::{ModelRunner, RawOutputs, RawTensor, Timings};
pub use runtime::OrtRuntime;
pub use session::{InferenceOptions, OptLevel, Provider};
pub use spec::{LoadedSpec, ModelSpec, Postprocess, PostprocessOverride};

/// Everything that can go wrong between a model spec and a list of detections.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    /// No ONNX Runtime library was named and none was found in the default places.
    #[error(
        "ONNX Runtime (libonnxruntime.so) not found. Looked in:\n{}\nInstall it with `scripts/setup.sh` (a project-local copy from the PyPI onnxruntime wheel), or point ORT_DYLIB_PATH or the config's `runtime.onnxruntime` at libonnxruntime.so",
        .searched.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n")
    )]
    RuntimeNotFound {
        /// Every path tried, in search order.
        searched: Vec<String>,
    },
    /// An explicitly named ONNX Runtime library (from the config, `--onnxruntime` or
    /// `ORT_DYLIB_PATH`) does not exist; there is no fallback to the default places.
    #[error("{origin} points to '{}', which does not exist", .path.display())]
    RuntimeMissing {
        /// Where the path came from, e.g. `ORT_DYLIB_PATH`.
        origin: String,
        /// The path as given.
        path: PathBuf,
    },
    /// The ONNX Runtime library was found but could not be loaded or initialised (e.g. a version
    /// the bindings do not support, another CPU architecture or a missing dependency).
    #[error("cannot load ONNX Runtime from '{}': {message}", .path.display())]
    RuntimeLoad {
        /// The library that was tried.
        path: PathBuf,
        /// The loader's or ONNX Runtime's error.
        message: String,
    },
    /// A model spec file could not be read.
    #[error("cannot read '{}': {source}", .path.display())]
    SpecRead {
        /// The spec file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A model spec is not valid TOML, or has unknown, missing or mistyped fields.
    #[error("model spec '{}' is not valid TOML for a spec: {message}", .path.display())]
    SpecParse {
        /// The spec file.
        path: PathBuf,
        /// The parser's error, naming the line and the field.
        message: String,
    },
    /// A model spec parses but is inconsistent: every problem that shows without opening the
    /// model (missing ONNX or class file, zero input size, no class names, a `[postprocess]` that
    /// names unknown classes …).
    #[error("model spec '{}' has {} problem(s):\n{}", .path.display(), .problems.len(), bullets(.problems))]
    SpecInvalid {
        /// The spec file.
        path: PathBuf,
        /// Every problem, each as `field: message`.
        problems: Vec<String>,
    },
    /// The detection settings (the spec's `[postprocess]` with a camera's or the command line's
    /// overrides applied) do not fit the model's classes or are out of range.
    #[error("the detection settings (the model's [postprocess] with the camera's [detect] or the command line's --score/--classes) have {} problem(s):\n{}", .problems.len(), bullets(.problems))]
    PolicyInvalid {
        /// Every problem, each as `field: message` with the field relative to `[postprocess]`.
        problems: Vec<String>,
    },
    /// ONNX Runtime could not create a session for the model (unreadable or invalid ONNX file,
    /// unsupported operator, bad session option).
    #[error("cannot load model '{}': {message}", .path.display())]
    ModelLoad {
        /// The ONNX file.
        path: PathBuf,
        /// ONNX Runtime's error.
        message: String,
    },
    /// The model opened, but its inputs or outputs differ from what its spec declares (names,
    /// element types, shapes).
    #[error("model '{}' does not match its spec '{}':\n{}", .model.display(), .spec.display(), bullets(.problems))]
    Mismatch {
        /// The ONNX file.
        model: PathBuf,
        /// The spec file.
        spec: PathBuf,
        /// Every difference, one message each.
        problems: Vec<String>,
    },
    /// A requested execution provider is not compiled into the loaded ONNX Runtime; roadeye
    /// never falls back silently.
    #[error(
        "execution provider '{provider}' is not available in this ONNX Runtime (it has: {}); use a runtime built with it or choose another provider",
        .available.join(", ")
    )]
    ProviderUnavailable {
        /// The provider as written in the config, e.g. `cuda`.
        provider: String,
        /// The providers the loaded runtime has, e.g. `cpu`.
        available: Vec<String>,
    },
    /// An execution provider is in the runtime but failed to initialise (e.g. no device or a
    /// driver problem).
    #[error("execution provider '{provider}' failed to start: {message}")]
    ProviderFailed {
        /// The provider as written in the config, e.g. `cuda`.
        provider: String,
        /// ONNX Runtime's error.
        message: String,
    },
    /// Running the model failed, or it did not return an output the decoder reads.
    #[error("model '{model}' failed to run: {message}")]
    Run {
        /// The model's name from its spec.
        model: String,
        /// ONNX Runtime's error, or which output is missing.
        message: String,
    },
    /// The model's outputs, as returned at run time, do not have the layout its spec's decoder
    /// expects.
    #[error("model '{model}': {source}")]
    Decode {
        /// The model's name from its spec.
        model: String,
        /// What did not match.
        #[source]
        source: decode::DecodeError,
    },
    /// The image could not be turned into the model's input tensor (e.g. it is empty); the
    /// message says why.
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
