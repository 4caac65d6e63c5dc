//! The model spec: a TOML file beside each `.onnx` that declares everything model-specific.
//!
//! No model constant lives in code: input name, layout, size, channel order, normalisation, resize
//! mode, output decoder and its parameters, class names, thresholds and NMS all come from here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::InferError;

/// The largest input width or height a spec may declare (the input tensor is allocated from it).
pub const MAX_INPUT_SIDE: u32 = 4096;

/// A model spec as written in `models/<name>.toml`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Short name used in logs and events, e.g. `centernet`.
    pub name: String,
    /// The ONNX file, relative to the spec file.
    pub file: PathBuf,
    /// One line on what the model is and where it comes from.
    #[serde(default)]
    pub about: String,
    /// How an image becomes the model's input tensor.
    pub input: InputSpec,
    /// How the model's outputs become detections.
    pub decoder: DecoderSpec,
    /// The model's class names, in index order.
    pub classes: ClassesSpec,
    /// Default thresholds and NMS; a camera may override them.
    #[serde(default)]
    pub postprocess: Postprocess,
}

/// The input tensor and the preprocessing that fills it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Input tensor name, exactly as in the ONNX graph.
    pub name: String,
    /// Memory layout of the input tensor.
    pub layout: Layout,
    /// Model input width in pixels.
    pub width: u32,
    /// Model input height in pixels.
    pub height: u32,
    /// Channel order the model expects.
    pub channel_order: ChannelOrder,
    /// How the image is fitted to the input size.
    pub resize: ResizeMode,
    /// Per-channel mean subtracted from the 0..255 pixel value, in the model's channel order.
    pub mean: [f32; 3],
    /// Per-channel divisor applied after the mean, in the model's channel order (255 maps to 0..1).
    pub std: [f32; 3],
    /// Grey level (0..255) of the padding added by letterbox resizing (114, the YOLO convention, if unset).
    #[serde(default = "default_pad")]
    pub pad_value: u8,
}

fn default_pad() -> u8 {
    114
}

/// Memory layout of an image tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// `[1, height, width, 3]` (TensorFlow style).
    Nhwc,
    /// `[1, 3, height, width]` (PyTorch style).
    Nchw,
}

/// Channel order of the input tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelOrder {
    /// Red, green, blue: the image's own order.
    Rgb,
    /// Blue, green, red (e.g. models trained on images read with OpenCV, such as NanoDet).
    Bgr,
}

/// How an image of any size is fitted to the model input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ResizeMode {
    /// Scale each axis independently to fill the input (aspect ratio not kept).
    Stretch,
    /// Scale uniformly to fit and pad the rest, centred (aspect ratio kept).
    Letterbox,
}

/// Which output decoder turns the output tensors into boxes, with its parameters.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum DecoderSpec {
    /// `[1, N, 6]` rows of `x1, y1, x2, y2, score, class`, not NMS'd by the model.
    Centernet {
        /// Output tensor name.
        output: String,
        /// Whether coordinates are input pixels or fractions of the input size.
        #[serde(default)]
        coords: Coords,
    },
    /// `[1, N, 6]` rows of `x1, y1, x2, y2, score, class` from a model with NMS built in (YOLOv10, NMS exports).
    End2end {
        /// Output tensor name.
        output: String,
        /// Whether coordinates are input pixels or fractions of the input size.
        #[serde(default)]
        coords: Coords,
    },
    /// `[1, 4 + C, N]`: `cx, cy, w, h` then C class scores per anchor (YOLOv8, YOLOv11).
    Yolov8 {
        /// Output tensor name.
        output: String,
        /// Whether coordinates are input pixels or fractions of the input size.
        #[serde(default)]
        coords: Coords,
    },
    /// `[1, N, 5 + C]`: `cx, cy, w, h, objectness` then C class scores per anchor (YOLOv5, YOLOv7).
    Yolov5 {
        /// Output tensor name.
        output: String,
        /// Whether coordinates are input pixels or fractions of the input size.
        #[serde(default)]
        coords: Coords,
    },
    /// NanoDet GFL heads: per stride, class scores `[1, N, C]` and box distributions `[1, N, 4 × bins]`.
    Nanodet {
        /// Bins per box side in the distribution (`reg_max + 1`).
        bins: usize,
        /// One entry per head.
        heads: Vec<NanodetHead>,
    },
}

/// One NanoDet head.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NanodetHead {
    /// Stride of this head in input pixels (8, 16, 32 …).
    pub stride: u32,
    /// Output tensor with the class scores (sigmoid already applied), `[1, N, C]`.
    pub scores: String,
    /// Output tensor with the box side distributions, `[1, N, 4 × bins]`.
    pub boxes: String,
}

/// Unit of output box coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Coords {
    /// Pixels of the model input.
    #[default]
    Pixels,
    /// Fractions (0..1) of the model input width and height.
    Normalized,
}

impl DecoderSpec {
    /// The decoder's name as written in a spec.
    pub fn kind(&self) -> &'static str {
        match self {
            DecoderSpec::Centernet { .. } => "centernet",
            DecoderSpec::End2end { .. } => "end2end",
            DecoderSpec::Yolov8 { .. } => "yolov8",
            DecoderSpec::Yolov5 { .. } => "yolov5",
            DecoderSpec::Nanodet { .. } => "nanodet",
        }
    }

    /// Every output tensor the decoder reads, in the order it reads them.
    pub fn outputs(&self) -> Vec<&str> {
        match self {
            DecoderSpec::Centernet { output, .. }
            | DecoderSpec::End2end { output, .. }
            | DecoderSpec::Yolov8 { output, .. }
            | DecoderSpec::Yolov5 { output, .. } => vec![output.as_str()],
            DecoderSpec::Nanodet { heads, .. } => heads
                .iter()
                .flat_map(|h| [h.scores.as_str(), h.boxes.as_str()])
                .collect(),
        }
    }
}

/// Class names: inline or from a file of one name per line.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClassesSpec {
    /// A file with one class name per line, relative to the spec file.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Class names in index order (used when `file` is not set).
    #[serde(default)]
    pub names: Vec<String>,
}

/// NMS policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NmsMode {
    /// A box only suppresses boxes of its own class.
    ClassAware,
    /// A box suppresses overlapping boxes of any class (one object reported under two classes).
    CrossClass,
    /// No NMS (the model already did it).
    None,
}

/// Thresholds, class policy and NMS. Every field has a default; a camera overrides any of them.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Postprocess {
    /// Minimum score of a detection.
    #[serde(default = "default_score")]
    pub score_threshold: f32,
    /// Per-class minimum scores by output label, overriding `score_threshold`.
    #[serde(default)]
    pub class_thresholds: BTreeMap<String, f32>,
    /// Keep only these output labels (empty: keep all).
    #[serde(default)]
    pub classes: Vec<String>,
    /// Rename model classes, e.g. `{ truck = "vehicle", car = "vehicle" }`; unlisted classes keep their name.
    #[serde(default)]
    pub remap: BTreeMap<String, String>,
    /// NMS policy.
    #[serde(default = "default_nms")]
    pub nms: NmsMode,
    /// IoU above which a lower-scored box is suppressed.
    #[serde(default = "default_iou")]
    pub iou_threshold: f32,
    /// At most this many detections per image, highest scores first.
    #[serde(default = "default_max")]
    pub max_detections: usize,
}

fn default_score() -> f32 {
    0.3
}
fn default_nms() -> NmsMode {
    NmsMode::ClassAware
}
fn default_iou() -> f32 {
    0.5
}
fn default_max() -> usize {
    100
}

impl Default for Postprocess {
    fn default() -> Self {
        Self {
            score_threshold: default_score(),
            class_thresholds: BTreeMap::new(),
            classes: Vec::new(),
            remap: BTreeMap::new(),
            nms: default_nms(),
            iou_threshold: default_iou(),
            max_detections: default_max(),
        }
    }
}

/// Partial [`Postprocess`]: what a camera or the command line overrides.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PostprocessOverride {
    /// Minimum score of a detection.
    pub score_threshold: Option<f32>,
    /// Per-class minimum scores by output label (merged over the model's).
    #[serde(default)]
    pub class_thresholds: BTreeMap<String, f32>,
    /// Keep only these output labels.
    pub classes: Option<Vec<String>>,
    /// Rename model classes (replaces the model's remap).
    pub remap: Option<BTreeMap<String, String>>,
    /// NMS policy.
    pub nms: Option<NmsMode>,
    /// IoU above which a lower-scored box is suppressed.
    pub iou_threshold: Option<f32>,
    /// At most this many detections per image.
    pub max_detections: Option<usize>,
}

impl Postprocess {
    /// This policy with `over` applied on top.
    pub fn with(&self, over: &PostprocessOverride) -> Postprocess {
        let mut p = self.clone();
        if let Some(v) = over.score_threshold {
            p.score_threshold = v;
        }
        p.class_thresholds
            .extend(over.class_thresholds.iter().map(|(k, v)| (k.clone(), *v)));
        if let Some(v) = &over.classes {
            p.classes = v.clone();
        }
        if let Some(v) = &over.remap {
            p.remap = v.clone();
        }
        if let Some(v) = over.nms {
            p.nms = v;
        }
        if let Some(v) = over.iou_threshold {
            p.iou_threshold = v;
        }
        if let Some(v) = over.max_detections {
            p.max_detections = v;
        }
        p
    }
}

/// A spec read from disk, with its paths resolved and its class names loaded.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    /// The spec as written.
    pub spec: ModelSpec,
    /// Where the spec was read from.
    pub spec_path: PathBuf,
    /// The ONNX file, resolved against the spec's folder.
    pub model_path: PathBuf,
    /// Class names in index order.
    pub class_names: Vec<String>,
}

impl LoadedSpec {
    /// Reads and checks a spec file (everything that can be checked without opening the model).
    pub fn load(path: &Path) -> Result<LoadedSpec, InferError> {
        let text = std::fs::read_to_string(path).map_err(|e| InferError::SpecRead {
            path: path.to_path_buf(),
            source: e,
        })?;
        let spec: ModelSpec = toml::from_str(&text).map_err(|e| InferError::SpecParse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let model_path = dir.join(&spec.file);
        let mut problems = Vec::new();
        let class_names = match &spec.classes.file {
            Some(_) if !spec.classes.names.is_empty() => {
                problems.push("classes: set either `file` or `names`, not both".to_string());
                Vec::new()
            }
            Some(file) => {
                let p = dir.join(file);
                match std::fs::read_to_string(&p) {
                    Ok(text) => parse_class_lines(&text).unwrap_or_else(|line| {
                        problems.push(format!(
                            "classes.file: line {line} of '{}' is blank (each line is a class, in index order)",
                            p.display()
                        ));
                        Vec::new()
                    }),
                    Err(e) => {
                        problems.push(format!("classes.file: cannot read '{}': {e}", p.display()));
                        Vec::new()
                    }
                }
            }
            None => spec.classes.names.clone(),
        };
        let loaded = LoadedSpec {
            spec,
            spec_path: path.to_path_buf(),
            model_path,
            class_names,
        };
        let found_classes = problems.is_empty();
        if found_classes {
            problems.extend(loaded.problems());
        } else {
            // Without the class names, only the checks that do not need them.
            problems.extend(
                loaded
                    .problems()
                    .into_iter()
                    .filter(|p| !p.starts_with("classes") && !p.starts_with("postprocess")),
            );
        }
        if !problems.is_empty() {
            return Err(InferError::SpecInvalid {
                path: path.to_path_buf(),
                problems,
            });
        }
        Ok(loaded)
    }

    /// Every problem of the spec that can be seen without the model, as `field: message`.
    pub fn problems(&self) -> Vec<String> {
        let s = &self.spec;
        let mut out = Vec::new();
        if !self.model_path.is_file() {
            out.push(format!(
                "file: model '{}' not found (the path is relative to the spec file)",
                self.model_path.display()
            ));
        }
        if s.input.width == 0 || s.input.height == 0 {
            out.push("input: width and height must be at least 1".into());
        }
        if s.input.width > MAX_INPUT_SIDE || s.input.height > MAX_INPUT_SIDE {
            out.push(format!(
                "input: {}x{} is larger than any detector's input; width and height must be at most {MAX_INPUT_SIDE}",
                s.input.width, s.input.height
            ));
        }
        if s.input.mean.iter().any(|v| !v.is_finite()) {
            out.push("input.mean: every value must be finite".into());
        }
        if s.input.std.iter().any(|v| *v == 0.0 || !v.is_finite()) {
            out.push("input.std: every value must be finite and non-zero".into());
        }
        if self.class_names.is_empty() {
            out.push("classes: no class names (set `file` or `names`)".into());
        }
        if self.class_names.len() > usize::from(u16::MAX) {
            out.push("classes: more than 65535 classes".into());
        }
        if let DecoderSpec::Nanodet { bins, heads } = &s.decoder {
            if *bins < 2 {
                out.push("decoder.bins: must be at least 2".into());
            }
            if heads.is_empty() {
                out.push("decoder.heads: at least one head is needed".into());
            }
            for (i, h) in heads.iter().enumerate() {
                if h.stride == 0
                    || !s.input.width.is_multiple_of(h.stride)
                    || !s.input.height.is_multiple_of(h.stride)
                {
                    out.push(format!(
                        "decoder.heads[{i}].stride: {} must divide the input size {}x{}",
                        h.stride, s.input.width, s.input.height
                    ));
                }
            }
        }
        out.extend(
            super::classes::policy_problems(&s.postprocess, &self.class_names)
                .into_iter()
                .map(|p| format!("postprocess.{p}")),
        );
        out
    }
}

/// Class names from a file of one per line; trailing blank lines are ignored, an interior blank line
/// (which would shift every later class id) is reported by its 1-based number.
fn parse_class_lines(text: &str) -> Result<Vec<String>, usize> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let used = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(0, |i| i + 1);
    match lines[..used].iter().position(|l| l.is_empty()) {
        Some(i) => Err(i + 1),
        None => Ok(lines[..used].iter().map(|l| l.to_string()).collect()),
    }
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_files_keep_index_order_and_reject_gaps() {
        assert_eq!(
            parse_class_lines("person\nbicycle\n\n\n"),
            Ok(vec!["person".into(), "bicycle".into()])
        );
        assert_eq!(parse_class_lines("person\n\ncar\n"), Err(2));
        assert_eq!(
            parse_class_lines(" person \r\ncar"),
            Ok(vec!["person".into(), "car".into()])
        );
    }
}
