//! The detector: one model session with its spec, preprocessing and postprocessing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ort::session::{HasSelectedOutputs, OutputSelector, RunOptions, Session};
use ort::value::TensorRef;

use super::classes::ClassTable;
use super::decode::{Candidate, Decoder, OutputTensor};
use super::preprocess::{Preprocessor, Transform};
use super::spec::{LoadedSpec, Postprocess, PostprocessOverride};
use super::{InferError, InferenceOptions, OrtRuntime, nms, session};
use crate::types::{Detection, RgbView};

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

/// Model outputs → detections in source pixels: decode, class policy, box mapping, NMS. Pure.
#[derive(Debug, Clone)]
pub struct Postprocessor {
    model: String,
    decoder: Decoder,
    table: ClassTable,
    policy: Postprocess,
    input_size: (u32, u32),
    candidates: Vec<Candidate>,
}

impl Postprocessor {
    /// The postprocessing of `spec`'s model under `policy` (classes, thresholds, NMS).
    ///
    /// Unknown class names in `policy` are ignored: check it first with
    /// [`policy_problems`](super::classes::policy_problems).
    pub fn new(spec: &LoadedSpec, policy: Postprocess) -> Postprocessor {
        Postprocessor {
            model: spec.spec.name.clone(),
            decoder: Decoder::new(&spec.spec.decoder),
            table: ClassTable::new(&spec.class_names, &policy),
            policy,
            input_size: (spec.spec.input.width, spec.spec.input.height),
            candidates: Vec::new(),
        }
    }

    /// Decodes `outputs` (in the decoder's order) and maps them through `transform`.
    pub fn run(
        &mut self,
        outputs: &[OutputTensor<'_>],
        transform: &Transform,
    ) -> Result<Vec<Detection>, InferError> {
        self.candidates.clear();
        self.decoder
            .decode(outputs, &self.table, self.input_size, &mut self.candidates)
            .map_err(|source| InferError::Decode {
                model: self.model.clone(),
                source,
            })?;
        let labels = self.table.labels();
        let mut dets: Vec<Detection> = self
            .candidates
            .iter()
            .map(|c| Detection {
                bbox: transform.to_source(&c.bbox),
                score: c.score,
                class_id: c.class_id,
                label: Arc::clone(&labels[usize::from(c.class_id)]),
            })
            .collect();
        nms::suppress(
            &mut dets,
            self.policy.nms,
            self.policy.iou_threshold,
            self.policy.max_detections,
        );
        Ok(dets)
    }

    /// Output labels, indexed by [`Detection::class_id`].
    pub fn labels(&self) -> &[Arc<str>] {
        self.table.labels()
    }

    /// The policy in force: the spec's `[postprocess]` with any overrides applied.
    pub fn policy(&self) -> &Postprocess {
        &self.policy
    }
}

/// One model, ready to detect objects in RGB images.
pub struct Detector {
    session: Session,
    spec: LoadedSpec,
    pre: Preprocessor,
    post: Postprocessor,
    outputs: Vec<String>,
    run_options: RunOptions<HasSelectedOutputs>,
}

impl Detector {
    /// Opens the model of `spec` and checks it against the spec; `over` adjusts the spec's thresholds.
    pub fn new(
        rt: &OrtRuntime,
        spec: LoadedSpec,
        opts: &InferenceOptions,
        over: &PostprocessOverride,
    ) -> Result<Detector, InferError> {
        let policy = spec.spec.postprocess.with(over);
        let problems: Vec<String> = super::classes::policy_problems(&policy, &spec.class_names)
            .iter()
            .map(ToString::to_string)
            .collect();
        if !problems.is_empty() {
            return Err(InferError::PolicyInvalid { problems });
        }
        let session = session::open(rt, &spec, opts)?;
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
        Ok(Detector {
            session,
            pre: Preprocessor::new(&spec.spec.input),
            post: Postprocessor::new(&spec, policy),
            spec,
            outputs,
            run_options,
        })
    }

    /// Detects objects in `img`; boxes are in `img`'s pixels.
    pub fn detect(&mut self, img: RgbView<'_>) -> Result<Vec<Detection>, InferError> {
        self.detect_timed(img).map(|(d, _)| d)
    }

    /// [`Detector::detect`] with the time of each step.
    pub fn detect_timed(
        &mut self,
        img: RgbView<'_>,
    ) -> Result<(Vec<Detection>, Timings), InferError> {
        let t0 = Instant::now();
        let transform = self.pre.run(img)?;
        let t1 = Instant::now();
        let (dets, run) = self.run_model(|post, views| post.run(views, &transform))?;
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

    /// Fills the input tensor from `img` (the first step of [`Detector::detect`]).
    pub fn preprocess(&mut self, img: RgbView<'_>) -> Result<Transform, InferError> {
        self.pre.run(img)
    }

    /// Runs the model on the tensor of the last [`Detector::preprocess`] and copies its outputs out
    /// (for benchmarks and tools).
    pub fn run_raw(&mut self) -> Result<RawOutputs, InferError> {
        let (raw, _) = self.run_model(|_, views| {
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
    fn run_model<R>(
        &mut self,
        f: impl FnOnce(&mut Postprocessor, &[OutputTensor<'_>]) -> Result<R, InferError>,
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
        Ok((f(&mut self.post, &views)?, run))
    }

    /// The spec the model was opened with.
    pub fn spec(&self) -> &LoadedSpec {
        &self.spec
    }

    /// Output labels, indexed by [`Detection::class_id`].
    pub fn labels(&self) -> &[Arc<str>] {
        self.post.labels()
    }

    /// A copy of the postprocessing stage (for benchmarks and offline tools).
    pub fn postprocessor(&self) -> Postprocessor {
        self.post.clone()
    }
}
