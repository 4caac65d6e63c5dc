//! ONNX Runtime session options and creation, with the spec checked against the model's real I/O.

use std::fmt;

use ort::ep::{self, ExecutionProvider};
use ort::session::Session;
use ort::session::builder::{GraphOptimizationLevel, PrepackedWeights};
use ort::value::{TensorElementType, ValueType};
use serde::{Deserialize, Serialize};

use super::decode::Decoder;
use super::spec::{Layout, LoadedSpec};
use super::{InferError, OrtRuntime};

/// How a model session runs.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InferenceOptions {
    /// Inference lanes per model: threads that each run their own session of the model and take
    /// the next ready frame of any of its cameras. 0 (the default) plans them from the box's cores
    /// and the cameras sharing each model (`roadeye check` prints the plan).
    #[serde(default)]
    pub lanes: usize,
    /// Threads inside one inference (intra-op) of each lane. 0 (the default): one per lane under
    /// `roadeye run` (lanes × threads fill the cores), one per core for `roadeye detect`.
    #[serde(default)]
    pub intra_threads: usize,
    /// Graph optimisation level.
    #[serde(default)]
    pub optimization: OptLevel,
    /// ONNX Runtime's memory pattern: plans and pre-allocates every intermediate tensor of a run
    /// at once. Off by default: measured with CenterNet it held about 40 MB more per session.
    /// (ONNX Runtime's CPU arena, which keeps a run's intermediate tensors for the next one, stays
    /// on: with it off the demo's peak RSS rose from 235 MB to 284–310 MB, the freed tensors
    /// scattered over the C library's per-thread heaps instead.)
    #[serde(default)]
    pub memory_pattern: bool,
    /// Execution providers in order of preference; `cpu` is always the fallback for unsupported
    /// operators. A provider the runtime does not have is an error, never a silent fallback.
    #[serde(default = "default_providers")]
    pub execution_providers: Vec<Provider>,
}

fn default_providers() -> Vec<Provider> {
    vec![Provider::Cpu]
}

impl Default for InferenceOptions {
    fn default() -> Self {
        Self {
            lanes: 0,
            intra_threads: 0,
            optimization: OptLevel::default(),
            memory_pattern: false,
            execution_providers: default_providers(),
        }
    }
}

/// ONNX Runtime graph optimisation level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OptLevel {
    /// No graph optimisation: the model runs as exported.
    Disable,
    /// Semantics-preserving rewrites for every provider: constant folding, redundant node removal.
    Basic,
    /// Basic, plus complex node fusions on the nodes the CPU or CUDA provider runs.
    Extended,
    /// Every optimisation ONNX Runtime has, memory-layout ones included (the default).
    #[default]
    All,
}

/// An execution provider roadeye can ask ONNX Runtime for; apart from `cpu`, each needs an ONNX
/// Runtime built with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// ONNX Runtime's default CPU kernels; every runtime has them.
    Cpu,
    /// NVIDIA GPUs through CUDA.
    Cuda,
    /// NVIDIA GPUs and Jetson through TensorRT.
    Tensorrt,
    /// Intel CPUs, GPUs and NPUs through OpenVINO.
    Openvino,
    /// XNNPACK's optimised CPU kernels (Arm and x86).
    Xnnpack,
    /// The Arm Compute Library, for Arm Cortex-A CPUs.
    Acl,
    /// Rockchip's first-generation NPU (RK1808) through the RKNPU DDK.
    Rknpu,
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Provider::Cpu => "cpu",
            Provider::Cuda => "cuda",
            Provider::Tensorrt => "tensorrt",
            Provider::Openvino => "openvino",
            Provider::Xnnpack => "xnnpack",
            Provider::Acl => "acl",
            Provider::Rknpu => "rknpu",
        };
        f.write_str(s)
    }
}

const ALL_PROVIDERS: [Provider; 7] = [
    Provider::Cpu,
    Provider::Cuda,
    Provider::Tensorrt,
    Provider::Openvino,
    Provider::Xnnpack,
    Provider::Acl,
    Provider::Rknpu,
];

impl Provider {
    fn available(self) -> bool {
        let r = match self {
            Provider::Cpu => Ok(true),
            Provider::Cuda => ep::CUDA::is_available(),
            Provider::Tensorrt => ep::TensorRT::is_available(),
            Provider::Openvino => ep::OpenVINO::is_available(),
            Provider::Xnnpack => ep::XNNPACK::is_available(),
            Provider::Acl => ep::ACL::is_available(),
            Provider::Rknpu => ep::RKNPU::is_available(),
        };
        r.unwrap_or(false)
    }

    fn dispatch(self) -> Option<ep::ExecutionProviderDispatch> {
        let d = match self {
            Provider::Cpu => return None,
            Provider::Cuda => ep::CUDA::default().build(),
            Provider::Tensorrt => ep::TensorRT::default().build(),
            Provider::Openvino => ep::OpenVINO::default().build(),
            Provider::Xnnpack => ep::XNNPACK::default().build(),
            Provider::Acl => ep::ACL::default().build(),
            Provider::Rknpu => ep::RKNPU::default().build(),
        };
        Some(d.error_on_failure())
    }
}

/// The providers the loaded runtime has.
pub fn available_providers() -> Vec<Provider> {
    ALL_PROVIDERS
        .into_iter()
        .filter(|p| p.available())
        .collect()
}

/// Opens `spec`'s model with `opts`, after checking every requested provider exists. Sessions of
/// one model opened with the same `shared` container keep one copy of its pre-packed weights.
pub fn open(
    rt: &OrtRuntime,
    spec: &LoadedSpec,
    opts: &InferenceOptions,
    shared: Option<&PrepackedWeights>,
) -> Result<Session, InferError> {
    let load_err = |message: String| InferError::ModelLoad {
        path: spec.model_path.clone(),
        message,
    };
    for p in &opts.execution_providers {
        if !p.available() {
            return Err(InferError::ProviderUnavailable {
                provider: p.to_string(),
                available: available_providers()
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            });
        }
    }
    let level = match opts.optimization {
        OptLevel::Disable => GraphOptimizationLevel::Disable,
        OptLevel::Basic => GraphOptimizationLevel::Level1,
        OptLevel::Extended => GraphOptimizationLevel::Level2,
        OptLevel::All => GraphOptimizationLevel::All,
    };
    let mut b = Session::builder(rt.environment())
        .and_then(|b| {
            b.with_optimization_level(level)
                .map_err(ort::Error::<()>::from)
        })
        .map_err(|e| load_err(e.to_string()))?;
    if opts.intra_threads > 0 {
        b = b
            .with_intra_threads(opts.intra_threads)
            .map_err(|e| load_err(e.to_string()))?;
    }
    if let Some(w) = shared {
        // Lanes run side by side: a thread pool spinning between operators would take the core
        // another lane needs.
        b = b
            .with_prepacked_weights(w)
            .map_err(|e| load_err(e.to_string()))?
            .with_intra_op_spinning(false)
            .map_err(|e| load_err(e.to_string()))?;
    }
    if !opts.memory_pattern {
        b = b
            .with_memory_pattern(false)
            .map_err(|e| load_err(e.to_string()))?;
    }
    for p in &opts.execution_providers {
        if let Some(d) = p.dispatch() {
            b = b
                .with_execution_providers([d])
                .map_err(|e| InferError::ProviderFailed {
                    provider: p.to_string(),
                    message: e.to_string(),
                })?;
        }
    }
    let session = b
        .commit_from_file(&spec.model_path)
        .map_err(|e| load_err(e.to_string()))?;
    let problems = io_problems(&session, spec);
    if problems.is_empty() {
        Ok(session)
    } else {
        Err(InferError::Mismatch {
            model: spec.model_path.clone(),
            spec: spec.spec_path.clone(),
            problems,
        })
    }
}

/// Every difference between what the spec declares and what the model really has.
fn io_problems(session: &Session, spec: &LoadedSpec) -> Vec<String> {
    let s = &spec.spec;
    let mut out = Vec::new();
    let names = |list: &[ort::value::Outlet]| {
        list.iter()
            .map(|o| format!("'{}'", o.name()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match session.inputs().iter().find(|i| i.name() == s.input.name) {
        None => out.push(format!(
            "input.name: the model has no input '{}' (its inputs: {})",
            s.input.name,
            names(session.inputs())
        )),
        Some(input) => {
            let (w, h) = (i64::from(s.input.width), i64::from(s.input.height));
            let want = match s.input.layout {
                Layout::Nhwc => [1, h, w, 3],
                Layout::Nchw => [1, 3, h, w],
            };
            match input.dtype() {
                ValueType::Tensor { ty, shape, .. } => {
                    if *ty != TensorElementType::Float32 {
                        out.push(format!(
                            "input '{}': element type is {ty:?}; roadeye feeds float32",
                            s.input.name
                        ));
                    }
                    let fits = shape.len() == 4
                        && shape.iter().zip(want).all(|(&got, w)| got < 0 || got == w);
                    if !fits {
                        out.push(format!(
                            "input '{}': the model's shape is {:?}, the spec ({:?} {}x{}) means {:?}",
                            s.input.name, &shape[..], s.input.layout, s.input.width, s.input.height, want
                        ));
                    }
                }
                other => out.push(format!(
                    "input '{}' is not a tensor but {other:?}",
                    s.input.name
                )),
            }
        }
    }
    for other in session.inputs().iter().filter(|i| i.name() != s.input.name) {
        out.push(format!(
            "input.name: the model has a second input '{}' that roadeye cannot feed (only '{}' is fed)",
            other.name(),
            s.input.name
        ));
    }
    let decoder = Decoder::new(&s.decoder);
    let expected = decoder.expected(
        &s.decoder,
        spec.class_names.len(),
        s.input.width,
        s.input.height,
    );
    for e in expected {
        match session.outputs().iter().find(|o| o.name() == e.name) {
            None => out.push(format!(
                "decoder: the model has no output '{}' (its outputs: {})",
                e.name,
                names(session.outputs())
            )),
            Some(o) => match o.dtype() {
                ValueType::Tensor { ty, shape, .. } => {
                    if *ty != TensorElementType::Float32 {
                        out.push(format!(
                            "output '{}': element type is {ty:?}, not float32",
                            e.name
                        ));
                    }
                    if let Err(m) = e.check(shape) {
                        out.push(format!("decoder ({}): {m}", s.decoder.kind()));
                    }
                }
                other => out.push(format!("output '{}' is not a tensor but {other:?}", e.name)),
            },
        }
    }
    out
}
