//! The detector: a model with one class policy, for single-stream use (`roadeye detect`, benches).
//! Cameras share a [`ModelRunner`] and keep their own [`Postprocessor`].

use std::sync::Arc;

use super::classes::ClassTable;
use super::decode::{Candidate, Decoder, OutputTensor};
use super::model::{ModelRunner, RawOutputs, Timings};
use super::preprocess::Transform;
use super::spec::{LoadedSpec, Postprocess, PostprocessOverride};
use super::{InferError, InferenceOptions, OrtRuntime, nms};
use crate::pixels::PixelView;
use crate::types::Detection;

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

    /// The postprocessing of `spec` with `over` applied, after checking the resulting class policy
    /// against the model's classes.
    pub fn with_override(
        spec: &LoadedSpec,
        over: &PostprocessOverride,
    ) -> Result<Postprocessor, InferError> {
        let policy = spec.spec.postprocess.with(over);
        let problems: Vec<String> = super::classes::policy_problems(&policy, &spec.class_names)
            .iter()
            .map(ToString::to_string)
            .collect();
        if !problems.is_empty() {
            return Err(InferError::PolicyInvalid { problems });
        }
        Ok(Postprocessor::new(spec, policy))
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

/// One model and one class policy, ready to detect objects in RGB images.
pub struct Detector {
    runner: ModelRunner,
    post: Postprocessor,
}

impl Detector {
    /// Opens the model of `spec` and checks it against the spec; `over` adjusts the spec's thresholds.
    pub fn new(
        rt: &OrtRuntime,
        spec: LoadedSpec,
        opts: &InferenceOptions,
        over: &PostprocessOverride,
    ) -> Result<Detector, InferError> {
        let post = Postprocessor::with_override(&spec, over)?;
        Ok(Detector {
            runner: ModelRunner::new(rt, spec, opts)?,
            post,
        })
    }

    /// Detects objects in `img`; boxes are in `img`'s pixels.
    pub fn detect<'a>(
        &mut self,
        img: impl Into<PixelView<'a>>,
    ) -> Result<Vec<Detection>, InferError> {
        self.detect_timed(img).map(|(d, _)| d)
    }

    /// [`Detector::detect`] with the time of each step.
    pub fn detect_timed<'a>(
        &mut self,
        img: impl Into<PixelView<'a>>,
    ) -> Result<(Vec<Detection>, Timings), InferError> {
        self.runner.detect(img, &mut self.post)
    }

    /// Fills the input tensor from `img` (the first step of [`Detector::detect`]).
    pub fn preprocess<'a>(
        &mut self,
        img: impl Into<PixelView<'a>>,
    ) -> Result<Transform, InferError> {
        self.runner.preprocess(img)
    }

    /// Runs the model on the tensor of the last [`Detector::preprocess`] and copies its outputs out.
    pub fn run_raw(&mut self) -> Result<RawOutputs, InferError> {
        self.runner.run_raw()
    }

    /// The spec the model was opened with.
    pub fn spec(&self) -> &LoadedSpec {
        self.runner.spec()
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
