//! The decoders against raw model outputs recorded by the Python reference (tests/data/golden/*/dog.raw.json):
//! same tensor in, same boxes out. No runtime needed: this pins decoding, box mapping and NMS.

mod common;

use roadeye::infer::LoadedSpec;
use roadeye::infer::decode::OutputTensor;
use roadeye::infer::detector::Postprocessor;
use roadeye::infer::preprocess::Transform;
use roadeye::infer::spec::ResizeMode;
use serde_json::Value;

fn json(rel: &str) -> Value {
    let p = common::root().join(rel);
    serde_json::from_str(&std::fs::read_to_string(&p).expect("fixture")).expect("JSON")
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

#[test]
fn centernet_rows_decode_map_and_suppress_like_the_reference() {
    let raw = json("tests/data/golden/centernet/dog.raw.json");
    let golden = json("tests/data/golden/centernet/dog.json");
    let spec = LoadedSpec::load(&common::model_spec("centernet")).expect("spec");
    let rows: Vec<f32> = raw["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .flat_map(floats)
        .collect();
    let shape = [1, rows.len() / 6, 6];
    let out = [OutputTensor {
        name: "tower_0/detections",
        shape: &shape,
        data: &rows,
    }];
    let (_, t) = Transform::fit(768, 576, 512, 512, ResizeMode::Stretch);
    let mut post = Postprocessor::new(&spec, spec.spec.postprocess.clone());
    let dets = post.run(&out, &t).expect("decode");
    let want = golden["detections"].as_array().expect("detections");
    // The five raw rows hold the four reference detections plus the truck that cross-class NMS removes.
    assert_eq!(dets.len(), want.len(), "{dets:?}");
    for (d, w) in dets.iter().zip(want) {
        assert_eq!(&*d.label, w["class"].as_str().expect("class"));
        assert!((d.score - w["score"].as_f64().expect("score") as f32).abs() < 1e-4);
        for (a, b) in d.bbox.to_array().iter().zip(floats(&w["box"])) {
            assert!((a - b).abs() < 0.01, "{:?} vs {:?}", d.bbox, w["box"]);
        }
    }
    assert!(
        dets.iter().all(|d| &*d.label != "truck"),
        "cross-class NMS removes the pickup's truck"
    );
}

#[test]
fn nanodet_gfl_cells_decode_like_the_reference() {
    let raw = json("tests/data/golden/nanodet/dog.raw.json");
    let spec = LoadedSpec::load(&common::model_spec("nanodet")).expect("spec");
    let classes = spec.class_names.len();
    let bins = 11;
    // Stride-8 head with only the recorded cells set; the other heads empty.
    let cells = |stride: usize| (416 / stride) * (416 / stride);
    let mut scores: Vec<Vec<f32>> = [8, 16, 32]
        .iter()
        .map(|&s| vec![0.0; cells(s) * classes])
        .collect();
    let boxes: Vec<Vec<f32>> = [8, 16, 32]
        .iter()
        .map(|&s| vec![0.0; cells(s) * 4 * bins])
        .collect();
    let mut boxes = boxes;
    let recorded = raw["cells"].as_array().expect("cells");
    for c in recorded {
        let cell = c["cell"].as_u64().expect("cell") as usize;
        let class = c["class"].as_u64().expect("class") as usize;
        scores[0][cell * classes + class] = c["score"].as_f64().expect("score") as f32;
        boxes[0][cell * 4 * bins..(cell + 1) * 4 * bins].copy_from_slice(&floats(&c["regression"]));
    }
    let shapes: Vec<[usize; 3]> = [8, 16, 32]
        .iter()
        .flat_map(|&s| [[1, cells(s), classes], [1, cells(s), 4 * bins]])
        .collect();
    let names = spec.spec.decoder.outputs();
    let outs: Vec<OutputTensor<'_>> = (0..6)
        .map(|i| OutputTensor {
            name: names[i],
            shape: &shapes[i],
            data: if i % 2 == 0 {
                &scores[i / 2]
            } else {
                &boxes[i / 2]
            },
        })
        .collect();
    // Identity transform: compare in input pixels; no NMS so every cell comes out.
    let (_, t) = Transform::fit(416, 416, 416, 416, ResizeMode::Stretch);
    let mut policy = spec.spec.postprocess.clone();
    policy.score_threshold = 0.01;
    policy.nms = roadeye::infer::spec::NmsMode::None;
    let mut post = Postprocessor::new(&spec, policy);
    let dets = post.run(&outs, &t).expect("decode");
    assert_eq!(dets.len(), recorded.len());
    for c in recorded {
        let want = floats(&c["box_input_px"]);
        let score = c["score"].as_f64().expect("score") as f32;
        let d = dets
            .iter()
            .find(|d| d.score == score)
            .expect("cell decoded");
        for (a, b) in d.bbox.to_array().iter().zip(&want) {
            assert!(
                (a - b.clamp(0.0, 416.0)).abs() < 0.01,
                "{:?} vs {want:?}",
                d.bbox
            );
        }
    }
}

#[test]
fn letterboxed_input_boxes_map_back_to_known_source_pixels() {
    // 1920×1080 letterboxed into 640×640: scale 1/3, 140 px bands top and bottom. An end-to-end
    // model row covering the picture area must come back as the whole frame, and a row at input
    // (320, 320)-(420, 370) as (960, 540)-(1260, 690).
    let dir = tempfile::tempdir().expect("tmp");
    let spec_path = common::write(
        dir.path(),
        "e2e.toml",
        &format!(
            r#"name = "e2e"
file = "{}"
[input]
name = "images"
layout = "nchw"
width = 640
height = 640
channel_order = "rgb"
resize = "letterbox"
mean = [0.0, 0.0, 0.0]
std = [255.0, 255.0, 255.0]
[decoder]
kind = "end2end"
output = "output0"
[classes]
names = ["person", "car"]
[postprocess]
nms = "none"
"#,
            common::root().join("models/centernet.onnx").display()
        ),
    );
    let spec = LoadedSpec::load(&spec_path).expect("spec");
    let (_, t) = Transform::fit(1920, 1080, 640, 640, ResizeMode::Letterbox);
    let rows = [
        0., 140., 640., 500., 0.9, 1., 320., 320., 420., 370., 0.8, 0.,
    ];
    let out = [OutputTensor {
        name: "output0",
        shape: &[1, 2, 6],
        data: &rows,
    }];
    let mut post = Postprocessor::new(&spec, spec.spec.postprocess.clone());
    let dets = post.run(&out, &t).expect("decode");
    assert_eq!(dets.len(), 2);
    assert_eq!(&*dets[0].label, "car");
    assert_eq!(dets[0].bbox.to_array(), [0., 0., 1920., 1080.]);
    assert_eq!(&*dets[1].label, "person");
    assert_eq!(dets[1].bbox.to_array(), [960., 540., 1260., 690.]);
}
