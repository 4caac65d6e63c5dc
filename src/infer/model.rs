//! One model session: the input tensor it is fed and the outputs it returns, in the order its
//! decoder reads them. Shared by every camera that uses the model; each camera has its own
//! [`Postprocessor`](super::detector::Postprocessor).

use std::time::{Duration, Instant};

use ort::session::builder::PrepackedWeights;
use ort::session::{HasSelectedOutputs, OutputSelector, RunOptions, Session};
use ort::value::TensorRef;

use super::decode::OutputTensor;
use super::detector::Postprocessor;
use super::preprocess::{Preprocessor, Transform};
use super::spec::LoadedSpec;
use super::{InferError, InferenceOptions, OrtRuntime, session};
use crate::pixels::PixelView;
use crate::types::Detection;

/// Time spent in each step of one detection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    /// Resizing the image and filling the input tensor.
    pub preprocess: Duration,
    /// The ONNX Runtime session run, including handing it the input tensor.
    pub run: Duration,
    /// Reading the outputs, decoding, mapping boxes to the image and NMS.
    pub postprocess: Duration,
}

/// One model output copied out of the session.
#[derive(Debug, Clone)]
pub struct RawTensor {
    /// Output name.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its values, row-major.
    pub data: Vec<f32>,
}

/// Raw model outputs copied out of the session (for benchmarks and tools), in the decoder's order.
#[derive(Debug, Clone)]
pub struct RawOutputs {
    /// The outputs the decoder reads.
    pub tensors: Vec<RawTensor>,
}

impl RawOutputs {
    /// Borrowed views, as [`Postprocessor::run`] takes them.
    pub fn views(&self) -> Vec<OutputTensor<'_>> {
        self.tensors
            .iter()
            .map(|t| OutputTensor {
                name: &t.name,
                shape: &t.shape,
                data: &t.data,
            })
            .collect()
    }
}

/// An opened model with its preprocessing.
pub struct ModelRunner {
    session: Session,
    spec: LoadedSpec,
    pre: Preprocessor,
    outputs: Vec<String>,
    run_options: RunOptions<HasSelectedOutputs>,
}

impl ModelRunner {
    /// Opens the model of `spec` with `opts` and checks it against the spec.
    pub fn new(
        rt: &OrtRuntime,
        spec: LoadedSpec,
        opts: &InferenceOptions,
    ) -> Result<ModelRunner, InferError> {
        Self::with_session(session::open(rt, &spec, opts, None)?, spec)
    }

    /// `count` runners of the same model (one per inference lane), each with its own session;
    /// the sessions share one copy of the pre-packed weights.
    pub fn lanes(
        rt: &OrtRuntime,
        spec: &LoadedSpec,
        opts: &InferenceOptions,
        count: usize,
    ) -> Result<Vec<ModelRunner>, InferError> {
        let shared = PrepackedWeights::new();
        (0..count.max(1))
            .map(|_| {
                Self::with_session(session::open(rt, spec, opts, Some(&shared))?, spec.clone())
            })
            .collect()
    }

    fn with_session(session: Session, spec: LoadedSpec) -> Result<ModelRunner, InferError> {
        let outputs: Vec<String> = spec
            .spec
            .decoder
            .outputs()
            .into_iter()
            .map(String::from)
            .collect();
        let selector = outputs
            .iter()
            .fold(OutputSelector::no_default(), |s, name| s.with(name.clone()));
        let run_options = RunOptions::new()
            .map_err(|e| InferError::ModelLoad {
                path: spec.model_path.clone(),
                message: e.to_string(),
            })?
            .with_outputs(selector);
        Ok(ModelRunner {
            session,
            pre: Preprocessor::new(&spec.spec.input),
            spec,
            outputs,
            run_options,
        })
    }

    /// The spec the model was opened with.
    pub fn spec(&self) -> &LoadedSpec {
        &self.spec
    }

    /// Fills the input tensor from `img`.
    pub fn preprocess<'a>(
        &mut self,
        img: impl Into<PixelView<'a>>,
    ) -> Result<Transform, InferError> {
        self.pre.run(img)
    }

    /// Detects objects in `img` with `post` (a camera's class policy and NMS), timing each step.
    pub fn detect<'a>(
        &mut self,
        img: impl Into<PixelView<'a>>,
        post: &mut Postprocessor,
    ) -> Result<(Vec<Detection>, Timings), InferError> {
        self.detect_with(img, |views, transform| post.run(views, transform))
    }

    /// [`detect`](Self::detect) with the post-processing given as a function of the outputs and
    /// the preprocessing's transform (so that a shared [`Postprocessor`] is locked only while it
    /// decodes).
    pub fn detect_with<'a>(
        &mut self,
        img: impl Into<PixelView<'a>>,
        post: impl FnOnce(&[OutputTensor<'_>], &Transform) -> Result<Vec<Detection>, InferError>,
    ) -> Result<(Vec<Detection>, Timings), InferError> {
        let t0 = Instant::now();
        let transform = self.pre.run(img)?;
        let t1 = Instant::now();
        let (dets, run) = self.run(|views| post(views, &transform))?;
        let total = t1.elapsed();
        Ok((
            dets,
            Timings {
                preprocess: t1 - t0,
                run,
                postprocess: total.saturating_sub(run),
            },
        ))
    }

    /// Runs the model on the tensor of the last [`ModelRunner::preprocess`] and copies its outputs
    /// out (for benchmarks and tools).
    pub fn run_raw(&mut self) -> Result<RawOutputs, InferError> {
        let (raw, _) = self.run(|views| {
            Ok(RawOutputs {
                tensors: views
                    .iter()
                    .map(|v| RawTensor {
                        name: v.name.to_string(),
                        shape: v.shape.to_vec(),
                        data: v.data.to_vec(),
                    })
                    .collect(),
            })
        })?;
        Ok(raw)
    }

    /// Runs the session on the current input tensor and hands the outputs, in the decoder's order,
    /// to `f`; also returns the time the session took.
    pub fn run<R>(
        &mut self,
        f: impl FnOnce(&[OutputTensor<'_>]) -> Result<R, InferError>,
    ) -> Result<(R, Duration), InferError> {
        let started = Instant::now();
        let model = &self.spec.spec.name;
        let run_err = |e: ort::Error| InferError::Run {
            model: model.clone(),
            message: e.to_string(),
        };
        let input =
            TensorRef::from_array_view((self.pre.shape(), self.pre.tensor())).map_err(run_err)?;
        let outputs = self
            .session
            .run_with_options(
                ort::inputs![self.spec.spec.input.name.as_str() => input],
                &self.run_options,
            )
            .map_err(run_err)?;
        let run = started.elapsed();
        let mut shapes: Vec<Vec<usize>> = Vec::with_capacity(self.outputs.len());
        let mut datas: Vec<&[f32]> = Vec::with_capacity(self.outputs.len());
        for name in &self.outputs {
            let value = outputs.get(name).ok_or_else(|| InferError::Run {
                model: model.clone(),
                message: format!("the model returned no output '{name}'"),
            })?;
            let (shape, data) = value.try_extract_tensor::<f32>().map_err(run_err)?;
            shapes.push(
                shape
                    .iter()
                    .map(|&d| usize::try_from(d).unwrap_or(0))
                    .collect(),
            );
            datas.push(data);
        }
        let views: Vec<OutputTensor<'_>> = self
            .outputs
            .iter()
            .zip(&shapes)
            .zip(&datas)
            .map(|((name, shape), data)| OutputTensor { name, shape, data })
            .collect();
        Ok((f(&views)?, run))
    }
}
