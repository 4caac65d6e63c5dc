//! Output decoders: model output tensors → candidate boxes in model-input pixels.
//!
//! Each output layout is described as data ([`Decoder`]) rather than as a forked code path per model:
//! `rows` covers `[1, N, 6]` detections (CenterNet, end-to-end models), `dense` covers the YOLO
//! anchor grids in both orientations, `nanodet` the GFL distribution heads.

mod dense;
mod nanodet;
mod rows;

use super::classes::ClassTable;
use super::spec::{Coords, DecoderSpec};
use crate::types::BBox;

/// A decoded box before mapping to the source image and NMS.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// In model-input pixels.
    pub bbox: BBox,
    /// Confidence (for YOLOv5-style outputs, objectness × class score); at least the class's
    /// threshold.
    pub score: f32,
    /// Output label id (after the class policy).
    pub class_id: u16,
}

impl Candidate {
    /// Whether its coordinates and score are finite numbers.
    pub fn is_finite(&self) -> bool {
        let b = self.bbox;
        self.score.is_finite() && [b.x1, b.y1, b.x2, b.y2].iter().all(|v| v.is_finite())
    }
}

/// A model output: its shape (all dimensions known) and its data, row-major.
#[derive(Debug, Clone, Copy)]
pub struct OutputTensor<'a> {
    /// Output name, as in the ONNX graph.
    pub name: &'a str,
    /// Its dimensions.
    pub shape: &'a [usize],
    /// Its values, row-major (decoding checks there are as many as `shape` says).
    pub data: &'a [f32],
}

/// A decoder's expectation of one output: `None` dimensions may be anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedShape {
    /// Output name, as in the ONNX graph.
    pub name: String,
    /// Expected dimensions; `None` accepts any size.
    pub dims: Vec<Option<usize>>,
}

impl ExpectedShape {
    /// Checks a shape as reported by the runtime (`-1` is a dynamic dimension and matches anything).
    pub fn check(&self, actual: &[i64]) -> Result<(), String> {
        let matches =
            actual.len() == self.dims.len()
                && self.dims.iter().zip(actual).all(|(want, &got)| {
                    got < 0 || want.is_none_or(|w| i64::try_from(w) == Ok(got))
                });
        if matches {
            Ok(())
        } else {
            Err(format!(
                "output '{}' has shape {}, the spec's decoder expects {}",
                self.name,
                fmt_dims(actual.iter().map(|&d| (d >= 0).then_some(d as usize))),
                fmt_dims(self.dims.iter().copied())
            ))
        }
    }
}

fn fmt_dims(dims: impl Iterator<Item = Option<usize>>) -> String {
    let parts: Vec<String> = dims
        .map(|d| d.map_or_else(|| "?".to_string(), |v| v.to_string()))
        .collect();
    format!("[{}]", parts.join(", "))
}

/// Why decoding failed: the outputs do not have the layout the spec declares.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecodeError {
    /// An output's shape differs from what the decoder expects, or its data does not fill the
    /// shape; the message names the output and both shapes.
    #[error("{0}")]
    Shape(String),
    /// A detection row's class column is not the index of one of the spec's classes.
    #[error("output '{output}' names class {class}, but the spec lists only {classes} classes")]
    ClassOutOfRange {
        /// The output's name.
        output: String,
        /// The class value as found (may be fractional, negative or NaN).
        class: f32,
        /// How many classes the spec lists.
        classes: usize,
    },
    /// The decoder was given a different number of output tensors than it reads.
    #[error("the decoder needs {expected} output tensors, got {got}")]
    OutputCount {
        /// How many it reads (one, or two per NanoDet head).
        expected: usize,
        /// How many it was given.
        got: usize,
    },
}

/// How to decode one model's outputs.
#[derive(Debug, Clone)]
pub enum Decoder {
    /// `[1, N, 6]`: `x1, y1, x2, y2, score, class`.
    Rows {
        /// Unit of the box coordinates.
        coords: Coords,
    },
    /// YOLO anchors: `cx, cy, w, h, [objectness], class scores…`.
    Dense {
        /// Unit of the box coordinates.
        coords: Coords,
        /// `[1, attrs, N]` (YOLOv8) instead of `[1, N, attrs]` (YOLOv5).
        attrs_first: bool,
        /// An objectness column multiplies the class scores (YOLOv5).
        objectness: bool,
    },
    /// NanoDet GFL heads.
    Nanodet {
        /// Bins per box side in the distribution (`reg_max + 1`).
        bins: usize,
        /// The stride of each head in input pixels, in the spec's order.
        strides: Vec<u32>,
    },
}

impl Decoder {
    /// The decoder a spec's `[decoder]` section describes.
    pub fn new(spec: &DecoderSpec) -> Decoder {
        match spec {
            DecoderSpec::Centernet { coords, .. } | DecoderSpec::End2end { coords, .. } => {
                Decoder::Rows { coords: *coords }
            }
            DecoderSpec::Yolov8 { coords, .. } => Decoder::Dense {
                coords: *coords,
                attrs_first: true,
                objectness: false,
            },
            DecoderSpec::Yolov5 { coords, .. } => Decoder::Dense {
                coords: *coords,
                attrs_first: false,
                objectness: true,
            },
            DecoderSpec::Nanodet { bins, heads } => Decoder::Nanodet {
                bins: *bins,
                strides: heads.iter().map(|h| h.stride).collect(),
            },
        }
    }

    /// The shapes the decoder needs, for a model with `classes` classes and input `in_w × in_h`,
    /// in the order of [`DecoderSpec::outputs`].
    pub fn expected(
        &self,
        spec: &DecoderSpec,
        classes: usize,
        in_w: u32,
        in_h: u32,
    ) -> Vec<ExpectedShape> {
        let names = spec.outputs();
        let dims: Vec<Vec<Option<usize>>> = match self {
            Decoder::Rows { .. } => vec![vec![Some(1), None, Some(6)]],
            Decoder::Dense {
                attrs_first,
                objectness,
                ..
            } => {
                let attrs = 4 + usize::from(*objectness) + classes;
                if *attrs_first {
                    vec![vec![Some(1), Some(attrs), None]]
                } else {
                    vec![vec![Some(1), None, Some(attrs)]]
                }
            }
            Decoder::Nanodet { bins, strides } => strides
                .iter()
                .flat_map(|&s| {
                    let cells = (in_w / s.max(1)) as usize * (in_h / s.max(1)) as usize;
                    [
                        vec![Some(1), Some(cells), Some(classes)],
                        vec![Some(1), Some(cells), Some(4 * bins)],
                    ]
                })
                .collect(),
        };
        names
            .into_iter()
            .zip(dims)
            .map(|(name, dims)| ExpectedShape {
                name: name.to_string(),
                dims,
            })
            .collect()
    }

    /// Decodes `outputs` (in the order of [`DecoderSpec::outputs`]) into `out`, appending. A
    /// box whose coordinates or score are not finite (a model's overflow: ∞ − ∞, NaN) is
    /// dropped: it could only poison NMS, the tracker and the rules.
    pub fn decode(
        &self,
        outputs: &[OutputTensor<'_>],
        table: &ClassTable,
        input_size: (u32, u32),
        out: &mut Vec<Candidate>,
    ) -> Result<(), DecodeError> {
        let result = self.decode_all(outputs, table, input_size, out);
        out.retain(Candidate::is_finite);
        result
    }

    fn decode_all(
        &self,
        outputs: &[OutputTensor<'_>],
        table: &ClassTable,
        input_size: (u32, u32),
        out: &mut Vec<Candidate>,
    ) -> Result<(), DecodeError> {
        let scale = |coords: Coords| match coords {
            Coords::Pixels => (1.0, 1.0),
            Coords::Normalized => (input_size.0 as f32, input_size.1 as f32),
        };
        match self {
            Decoder::Rows { coords } => {
                let t = single(outputs)?;
                rows::decode(t, table, scale(*coords), out)
            }
            Decoder::Dense {
                coords,
                attrs_first,
                objectness,
            } => {
                let t = single(outputs)?;
                dense::decode(t, table, scale(*coords), *attrs_first, *objectness, out)
            }
            Decoder::Nanodet { bins, strides } => {
                if outputs.len() != strides.len() * 2 {
                    return Err(DecodeError::OutputCount {
                        expected: strides.len() * 2,
                        got: outputs.len(),
                    });
                }
                for (pair, &stride) in outputs.chunks_exact(2).zip(strides) {
                    if stride == 0 || *bins == 0 {
                        return Err(DecodeError::Shape(format!(
                            "nanodet head of stride {stride} with {bins} bins cannot be decoded"
                        )));
                    }
                    let grid = (
                        (input_size.0 / stride) as usize,
                        (input_size.1 / stride) as usize,
                    );
                    nanodet::decode(pair[0], pair[1], *bins, stride, grid, table, out)?;
                }
                Ok(())
            }
        }
    }
}

fn single<'a>(outputs: &'a [OutputTensor<'a>]) -> Result<&'a OutputTensor<'a>, DecodeError> {
    match outputs {
        [t] => Ok(t),
        _ => Err(DecodeError::OutputCount {
            expected: 1,
            got: outputs.len(),
        }),
    }
}

/// Checks a runtime shape against the expected dims (all concrete here).
fn require(t: &OutputTensor<'_>, dims: &[Option<usize>]) -> Result<(), DecodeError> {
    let expected = ExpectedShape {
        name: t.name.to_string(),
        dims: dims.to_vec(),
    };
    let actual: Vec<i64> = t.shape.iter().map(|&d| d as i64).collect();
    expected.check(&actual).map_err(DecodeError::Shape)?;
    let len: usize = t.shape.iter().product();
    if t.data.len() != len {
        return Err(DecodeError::Shape(format!(
            "output '{}' holds {} values, its shape says {len}",
            t.name,
            t.data.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
