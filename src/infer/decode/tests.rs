//! Decoder tests on hand-built tensors with known answers.

use super::*;
use crate::infer::spec::{NanodetHead, Postprocess};

fn table(classes: usize, threshold: f32) -> ClassTable {
    let names: Vec<String> = (0..classes).map(|i| format!("c{i}")).collect();
    let p = Postprocess {
        score_threshold: threshold,
        ..Postprocess::default()
    };
    ClassTable::new(&names, &p)
}

fn run(
    d: &Decoder,
    outputs: &[OutputTensor<'_>],
    t: &ClassTable,
    size: (u32, u32),
) -> Result<Vec<Candidate>, DecodeError> {
    let mut out = Vec::new();
    d.decode(outputs, t, size, &mut out)?;
    Ok(out)
}

/// Runs a NanoDet decoder on one head: `scores` holds `classes` values per cell, `boxes` 4 sides
/// of `bins` values per cell.
fn run_head(
    d: &Decoder,
    scores: &[f32],
    boxes: &[f32],
    classes: usize,
    bins: usize,
    t: &ClassTable,
    size: (u32, u32),
) -> Result<Vec<Candidate>, DecodeError> {
    let s_shape = [1, scores.len() / classes, classes];
    let b_shape = [1, boxes.len() / (4 * bins), 4 * bins];
    let outs = [
        OutputTensor {
            name: "scores",
            shape: &s_shape,
            data: scores,
        },
        OutputTensor {
            name: "boxes",
            shape: &b_shape,
            data: boxes,
        },
    ];
    run(d, &outs, t, size)
}

fn tensor<'a>(shape: &'a [usize], data: &'a [f32]) -> OutputTensor<'a> {
    OutputTensor {
        name: "out",
        shape,
        data,
    }
}

#[test]
fn rows_keep_scored_rows_in_input_pixels() {
    let data = [
        10.,
        20.,
        110.,
        220.,
        0.9,
        2., //
        0.,
        0.,
        5.,
        5.,
        0.1,
        1., //
        1.,
        2.,
        3.,
        4.,
        f32::NAN,
        0., //
        30.,
        40.,
        50.,
        60.,
        0.5,
        0.,
    ];
    let d = Decoder::Rows {
        coords: Coords::Pixels,
    };
    let got = run(&d, &[tensor(&[1, 4, 6], &data)], &table(3, 0.3), (512, 512)).expect("decode");
    assert_eq!(
        got,
        vec![
            Candidate {
                bbox: BBox::new(10., 20., 110., 220.),
                score: 0.9,
                class_id: 2
            },
            Candidate {
                bbox: BBox::new(30., 40., 50., 60.),
                score: 0.5,
                class_id: 0
            },
        ]
    );
}

#[test]
fn rows_with_normalized_coords_scale_by_the_input_size() {
    let data = [0.25, 0.5, 0.75, 1.0, 0.8, 1.];
    let d = Decoder::Rows {
        coords: Coords::Normalized,
    };
    let got = run(&d, &[tensor(&[1, 1, 6], &data)], &table(2, 0.3), (640, 320)).expect("decode");
    assert_eq!(got[0].bbox, BBox::new(160., 160., 480., 320.));
}

#[test]
fn rows_with_a_class_beyond_the_spec_are_an_error() {
    let data = [0., 0., 1., 1., 0.9, 80.];
    let d = Decoder::Rows {
        coords: Coords::Pixels,
    };
    let err = run(
        &d,
        &[tensor(&[1, 1, 6], &data)],
        &table(80, 0.3),
        (512, 512),
    )
    .expect_err("class 80");
    assert!(
        err.to_string().contains("class 80") && err.to_string().contains("80 classes"),
        "{err}"
    );
}

#[test]
fn rows_of_the_wrong_width_are_a_shape_error() {
    let data = [0.; 10];
    let d = Decoder::Rows {
        coords: Coords::Pixels,
    };
    let err = run(&d, &[tensor(&[1, 2, 5], &data)], &table(3, 0.3), (512, 512)).expect_err("shape");
    assert_eq!(
        err.to_string(),
        "output 'out' has shape [1, 2, 5], the spec's decoder expects [1, ?, 6]"
    );
}

#[test]
fn yolov8_attributes_first() {
    // 2 anchors, 3 classes: rows are cx, cy, w, h, c0, c1, c2; columns are anchors.
    let data = [
        50., 300., //
        50., 300., //
        20., 40., //
        10., 40., //
        0.1, 0.2, //
        0.8, 0.1, //
        0.2, 0.25,
    ];
    let d = Decoder::new(&DecoderSpec::Yolov8 {
        output: "out".into(),
        coords: Coords::Pixels,
    });
    let got = run(&d, &[tensor(&[1, 7, 2], &data)], &table(3, 0.3), (640, 640)).expect("decode");
    assert_eq!(
        got,
        vec![Candidate {
            bbox: BBox::new(40., 45., 60., 55.),
            score: 0.8,
            class_id: 1
        }]
    );
}

#[test]
fn yolov5_multiplies_objectness() {
    // 2 anchors × (cx, cy, w, h, obj, c0, c1).
    let data = [
        100., 100., 50., 50., 0.9, 0.2, 0.5, //
        10., 10., 4., 4., 0.2, 0.9, 0.9,
    ];
    let d = Decoder::new(&DecoderSpec::Yolov5 {
        output: "out".into(),
        coords: Coords::Pixels,
    });
    let got = run(&d, &[tensor(&[1, 2, 7], &data)], &table(2, 0.3), (640, 640)).expect("decode");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].class_id, 1);
    assert!((got[0].score - 0.45).abs() < 1e-6);
    assert_eq!(got[0].bbox, BBox::new(75., 75., 125., 125.));
}

#[test]
fn yolo_class_count_must_match_the_spec() {
    let data = [0.; 14];
    let d = Decoder::new(&DecoderSpec::Yolov8 {
        output: "out".into(),
        coords: Coords::Pixels,
    });
    let err = run(
        &d,
        &[tensor(&[1, 7, 2], &data)],
        &table(80, 0.3),
        (640, 640),
    )
    .expect_err("shape");
    assert!(err.to_string().contains("expects [1, 84, ?]"), "{err}");
}

/// One-hot-ish logits: the distribution's mass on bin `k`.
fn peaked(bins: usize, k: usize) -> Vec<f32> {
    (0..bins).map(|i| if i == k { 50.0 } else { 0.0 }).collect()
}

#[test]
fn nanodet_gfl_decodes_distances_around_cell_centres() {
    let (bins, stride, classes) = (4usize, 8u32, 2usize);
    // A 16×16 input at stride 8: a 2×2 grid, 4 cells.
    let mut scores = vec![0f32; 4 * classes];
    scores[3 * classes + 1] = 0.7; // cell 3 = row 1, col 1, class 1
    scores[classes] = 0.2; // cell 1, below threshold
    let mut boxes = vec![0f32; 4 * 4 * bins];
    let sides = [1usize, 2, 3, 0]; // left, top, right, bottom in bins
    for (s, &k) in sides.iter().enumerate() {
        let at = 3 * 4 * bins + s * bins;
        boxes[at..at + bins].copy_from_slice(&peaked(bins, k));
    }
    let d = Decoder::Nanodet {
        bins,
        strides: vec![stride],
    };
    let got = run_head(
        &d,
        &scores,
        &boxes,
        classes,
        bins,
        &table(classes, 0.35),
        (16, 16),
    )
    .expect("decode");
    assert_eq!(got.len(), 1);
    let c = got[0];
    assert_eq!((c.class_id, c.score), (1, 0.7));
    // Centre (12, 12); sides 8, 16, 24, 0 px.
    for (a, b) in c.bbox.to_array().iter().zip([4., -4., 36., 12.]) {
        assert!((a - b).abs() < 1e-3, "{:?}", c.bbox);
    }
}

#[test]
fn nanodet_softmax_takes_the_expectation() {
    let d = Decoder::Nanodet {
        bins: 2,
        strides: vec![10],
    };
    let scores = [0.9f32];
    // Equal logits on both bins: expected distance 0.5 bins = 5 px each side.
    let boxes = [0f32; 8];
    let got = run_head(&d, &scores, &boxes, 1, 2, &table(1, 0.3), (10, 10)).expect("decode");
    assert_eq!(got[0].bbox, BBox::new(0., 0., 10., 10.));
}

#[test]
fn nanodet_needs_every_head() {
    let d = Decoder::Nanodet {
        bins: 2,
        strides: vec![8, 16],
    };
    let scores = [0.9f32];
    let boxes = [0f32; 8];
    assert_eq!(
        run_head(&d, &scores, &boxes, 1, 2, &table(1, 0.3), (16, 16)).expect_err("count"),
        DecodeError::OutputCount {
            expected: 4,
            got: 2
        }
    );
}

#[test]
fn expected_shapes_follow_the_spec() {
    let spec = DecoderSpec::Nanodet {
        bins: 11,
        heads: vec![
            NanodetHead {
                stride: 8,
                scores: "s8".into(),
                boxes: "b8".into(),
            },
            NanodetHead {
                stride: 16,
                scores: "s16".into(),
                boxes: "b16".into(),
            },
        ],
    };
    let d = Decoder::new(&spec);
    let e = d.expected(&spec, 80, 416, 416);
    assert_eq!(e.len(), 4);
    assert_eq!(
        e[0],
        ExpectedShape {
            name: "s8".into(),
            dims: vec![Some(1), Some(2704), Some(80)]
        }
    );
    assert_eq!(e[3].dims, vec![Some(1), Some(676), Some(44)]);
    assert!(e[0].check(&[1, 2704, 80]).is_ok());
    assert!(e[0].check(&[-1, -1, 80]).is_ok(), "dynamic dims match");
    assert!(e[0].check(&[1, 2704, 81]).is_err());
    assert!(e[0].check(&[2704, 80]).is_err(), "rank");
}

#[test]
fn end2end_specs_decode_rows() {
    let d = Decoder::new(&DecoderSpec::End2end {
        output: "out".into(),
        coords: Coords::Normalized,
    });
    assert!(matches!(
        d,
        Decoder::Rows {
            coords: Coords::Normalized
        }
    ));
    let data = [0.5, 0.5, 1.0, 1.0, 0.9, 0.];
    let got = run(&d, &[tensor(&[1, 1, 6], &data)], &table(1, 0.3), (640, 480)).expect("decode");
    assert_eq!(got[0].bbox, BBox::new(320., 240., 640., 480.));
}

#[test]
fn nan_scores_never_become_candidates_in_any_layout() {
    let nan = f32::NAN;
    // yolov8: one anchor whose class scores are NaN and one whose box is fine but objectness NaN (v5).
    let v8 = [10., 10., 4., 4., nan, nan];
    let d8 = Decoder::new(&DecoderSpec::Yolov8 {
        output: "out".into(),
        coords: Coords::Pixels,
    });
    assert!(
        run(&d8, &[tensor(&[1, 6, 1], &v8)], &table(2, 0.0), (64, 64))
            .expect("v8")
            .is_empty()
    );
    let v5 = [10., 10., 4., 4., nan, 0.9, 0.9];
    let d5 = Decoder::new(&DecoderSpec::Yolov5 {
        output: "out".into(),
        coords: Coords::Pixels,
    });
    assert!(
        run(&d5, &[tensor(&[1, 1, 7], &v5)], &table(2, 0.0), (64, 64))
            .expect("v5")
            .is_empty()
    );
    let d = Decoder::Nanodet {
        bins: 2,
        strides: vec![8],
    };
    let scores = [nan, nan];
    let boxes = [0f32; 8];
    assert!(
        run_head(&d, &scores, &boxes, 2, 2, &table(2, 0.0), (8, 8))
            .expect("nanodet")
            .is_empty()
    );
}

#[test]
fn a_filtered_top_class_does_not_hand_its_box_to_a_weaker_class() {
    // Anchor: person 0.9, car 0.35. With only cars kept, the anchor is a person and is dropped.
    let names: Vec<String> = ["person", "car"].iter().map(|s| s.to_string()).collect();
    let p = Postprocess {
        classes: vec!["car".into()],
        ..Postprocess::default()
    };
    let t = ClassTable::new(&names, &p);
    let v8 = [10., 10., 4., 4., 0.9, 0.35];
    let d8 = Decoder::new(&DecoderSpec::Yolov8 {
        output: "out".into(),
        coords: Coords::Pixels,
    });
    assert!(
        run(&d8, &[tensor(&[1, 6, 1], &v8)], &t, (64, 64))
            .expect("v8")
            .is_empty()
    );
    let d = Decoder::Nanodet {
        bins: 2,
        strides: vec![8],
    };
    let scores = [0.9, 0.35];
    let boxes = [0f32; 8];
    assert!(
        run_head(&d, &scores, &boxes, 2, 2, &t, (8, 8))
            .expect("nanodet")
            .is_empty()
    );
}

#[test]
fn nanodet_cells_must_fill_the_grid() {
    // A 16×16 input at stride 8 has 4 cells; an output with 3 is the wrong layout.
    let d = Decoder::Nanodet {
        bins: 2,
        strides: vec![8],
    };
    let scores = [0.9f32; 3];
    let boxes = [0f32; 24];
    let err = run_head(&d, &scores, &boxes, 1, 2, &table(1, 0.3), (16, 16)).expect_err("grid");
    assert!(err.to_string().contains("expects [1, 4, 1]"), "{err}");
}
