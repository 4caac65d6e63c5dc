//! Parity with the reference: `roadeye detect` on the darknet sample images must give the detections
//! that ONNX Runtime in Python gives for the same models (tests/data/golden, made by
//! scripts/golden.py): the same classes, boxes within IoU ≥ 0.95 and scores within 0.03.
//!
//! The two resizes are the same algorithm in different code, so a detection whose score is within
//! the tolerance of the threshold may be on one side only; such borderline ones are excused.

mod common;

use serde_json::Value;

const IMAGES: [&str; 5] = ["dog", "person", "kite", "horses", "giraffe"];
const MIN_IOU: f32 = 0.95;
const MAX_SCORE_DIFF: f32 = 0.03;

#[derive(Debug, Clone)]
struct Det {
    class: String,
    score: f32,
    bbox: [f32; 4],
}

fn dets(v: &Value) -> Vec<Det> {
    v["detections"]
        .as_array()
        .expect("detections array")
        .iter()
        .map(|d| Det {
            class: d["class"].as_str().expect("class").to_string(),
            score: d["score"].as_f64().expect("score") as f32,
            bbox: std::array::from_fn(|i| d["box"][i].as_f64().expect("box") as f32),
        })
        .collect()
}

fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let area = |r: &[f32; 4]| (r[2] - r[0]) * (r[3] - r[1]);
    inter / (area(a) + area(b) - inter)
}

/// The detections of `from` that are clearly above the threshold and have no partner in `to`.
/// Matching is one-to-one: a detection of `to` pairs with at most one of `from`, so duplicates that
/// survived NMS on one side show up as unmatched.
fn unmatched(from: &[Det], to: &[Det], threshold: f32) -> Vec<String> {
    let mut taken = vec![false; to.len()];
    let mut out = Vec::new();
    for d in from {
        let partner = to.iter().enumerate().position(|(i, o)| {
            !taken[i]
                && o.class == d.class
                && iou(&o.bbox, &d.bbox) >= MIN_IOU
                && (o.score - d.score).abs() <= MAX_SCORE_DIFF
        });
        match partner {
            Some(i) => taken[i] = true,
            None if d.score >= threshold + MAX_SCORE_DIFF => {
                out.push(format!("{} {:.3} {:?}", d.class, d.score, d.bbox))
            }
            None => {}
        }
    }
    out
}

fn check_model(model: &str) {
    let images: Vec<_> = IMAGES
        .iter()
        .map(|i| common::media(&format!("{i}.jpg")))
        .collect();
    let (ok, stdout, stderr) = common::run(
        common::roadeye()
            .args(["detect", "--json", "--model"])
            .arg(common::model_spec(model))
            .args(&images),
    );
    assert!(ok, "detect failed: {stderr}");
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), IMAGES.len(), "one line per image: {stdout}");
    let mut failures = Vec::new();
    let mut compared = 0;
    for (name, got) in IMAGES.iter().zip(&lines) {
        let path = common::root().join(format!("tests/data/golden/{model}/{name}.json"));
        let golden: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("golden file"))
                .expect("golden JSON");
        assert_eq!(got["width"], golden["image_size"][0], "{name}: width");
        assert_eq!(got["height"], golden["image_size"][1], "{name}: height");
        let threshold = golden["score_threshold"].as_f64().expect("threshold") as f32;
        let (want, have) = (dets(&golden), dets(got));
        compared += want.len();
        for miss in unmatched(&want, &have, threshold) {
            failures.push(format!(
                "{model}/{name}: reference {miss} not found by roadeye"
            ));
        }
        for extra in unmatched(&have, &want, threshold) {
            failures.push(format!(
                "{model}/{name}: roadeye {extra} not in the reference"
            ));
        }
    }
    assert!(
        compared >= 10,
        "too few reference detections to compare: {compared}"
    );
    assert!(
        failures.is_empty(),
        "parity failures:\n{}",
        failures.join("\n")
    );
}

#[test]
fn centernet_matches_the_onnxruntime_reference() {
    check_model("centernet");
}

#[test]
fn nanodet_matches_the_onnxruntime_reference() {
    check_model("nanodet");
}
