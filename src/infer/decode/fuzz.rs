//! Hostile tensors, generated: whatever shape and values a model (or a wrong spec) hands a
//! decoder — NaN, ±∞, huge, negative, empty, the wrong number of dimensions or outputs — it never
//! panics, and what it returns is a named error or boxes with finite coordinates, scores in the
//! threshold's range and classes of the spec.

use proptest::prelude::*;

use super::*;
use crate::infer::spec::{NanodetHead, Postprocess};

/// Values a broken model can produce.
fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        4 => -2.0f32..2.0,
        2 => -1e3f32..1e3,
        1 => Just(f32::NAN),
        1 => Just(f32::INFINITY),
        1 => Just(f32::NEG_INFINITY),
        1 => Just(f32::MAX),
        1 => Just(-f32::MAX),
        1 => Just(f32::MIN_POSITIVE),
        1 => 0.0f32..80.0,
    ]
}

/// A shape of 0 to 4 dimensions of 0 to 40, and data for it (sometimes too short or too long).
fn tensor() -> impl Strategy<Value = (Vec<usize>, Vec<f32>)> {
    prop::collection::vec(0usize..40, 0..=4).prop_flat_map(|shape| {
        let n = shape.iter().product::<usize>().min(4096);
        let len = prop_oneof![8 => Just(n), 1 => 0..n + 1, 1 => n..n + 8];
        (
            Just(shape),
            len.prop_flat_map(|l| prop::collection::vec(value(), l)),
        )
    })
}

fn decoders() -> Vec<DecoderSpec> {
    let head = |stride: u32| NanodetHead {
        stride,
        scores: format!("s{stride}"),
        boxes: format!("b{stride}"),
    };
    vec![
        DecoderSpec::Centernet {
            output: "out".into(),
            coords: Coords::Pixels,
        },
        DecoderSpec::End2end {
            output: "out".into(),
            coords: Coords::Normalized,
        },
        DecoderSpec::Yolov8 {
            output: "out".into(),
            coords: Coords::Pixels,
        },
        DecoderSpec::Yolov5 {
            output: "out".into(),
            coords: Coords::Normalized,
        },
        DecoderSpec::Nanodet {
            bins: 8,
            heads: vec![head(8), head(16)],
        },
    ]
}

/// Every box finite, at least the threshold, of one of the spec's classes.
fn sane(out: &[Candidate], threshold: f32, classes: usize) -> Result<(), TestCaseError> {
    for c in out {
        let b = c.bbox;
        prop_assert!(
            [b.x1, b.y1, b.x2, b.y2].iter().all(|v| v.is_finite()),
            "a box that is not finite: {c:?}"
        );
        prop_assert!(c.score.is_finite() && c.score >= threshold * 0.999, "{c:?}");
        prop_assert!(usize::from(c.class_id) < classes, "{c:?}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn any_tensors_give_a_named_error_or_sane_boxes(
        which in 0usize..5,
        tensors in prop::collection::vec(tensor(), 0..5),
        classes in 1usize..90,
        threshold in 0.05f32..0.9,
        size in (1u32..1024, 1u32..1024),
    ) {
        let spec = &decoders()[which];
        let names: Vec<String> = (0..classes).map(|i| format!("c{i}")).collect();
        let table = ClassTable::new(
            &names,
            &Postprocess { score_threshold: threshold, ..Postprocess::default() },
        );
        let outputs: Vec<OutputTensor<'_>> = tensors
            .iter()
            .map(|(shape, data)| OutputTensor { name: "out", shape, data })
            .collect();
        let mut out = Vec::new();
        if Decoder::new(spec).decode(&outputs, &table, size, &mut out).is_ok() {
            sane(&out, threshold, classes)?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Tensors of exactly the shapes the spec declares, holding hostile values: the decoding
    /// itself runs over NaN, infinities and huge numbers.
    #[test]
    fn hostile_values_in_the_declared_shapes_give_sane_boxes(
        which in 0usize..5,
        classes in 1usize..12,
        anchors in 0usize..30,
        side in 2u32..12,
        seed in prop::collection::vec(value(), 64),
        threshold in 0.05f32..0.9,
    ) {
        let spec = &decoders()[which];
        let d = Decoder::new(spec);
        let input = side * 8;
        let shapes: Vec<Vec<usize>> = d
            .expected(spec, classes, input, input)
            .iter()
            .map(|e| e.dims.iter().map(|v| v.unwrap_or(anchors)).collect())
            .collect();
        let data: Vec<Vec<f32>> = shapes
            .iter()
            .map(|sh| {
                let n: usize = sh.iter().product();
                (0..n).map(|i| seed[(i * 7 + n) % seed.len()]).collect()
            })
            .collect();
        let outputs: Vec<OutputTensor<'_>> = shapes
            .iter()
            .zip(&data)
            .map(|(shape, data)| OutputTensor { name: "out", shape, data })
            .collect();
        let names: Vec<String> = (0..classes).map(|i| format!("c{i}")).collect();
        let table = ClassTable::new(
            &names,
            &Postprocess { score_threshold: threshold, ..Postprocess::default() },
        );
        let mut out = Vec::new();
        match d.decode(&outputs, &table, (input, input), &mut out) {
            Ok(()) => sane(&out, threshold, classes)?,
            // Rows name their class in a column: a hostile value there is a named error.
            Err(e) => prop_assert!(
                matches!(e, DecodeError::ClassOutOfRange { .. }),
                "the declared shapes were refused: {e}"
            ),
        }
    }
}
