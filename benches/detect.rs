//! Detection benchmarks on the real models: preprocessing (1920×1080 → model input), decode + NMS,
//! and the session run, each separately; then the per-frame overhead ratio
//! `(preprocess + postprocess) / run`, measured on the same frames in the same run (target ≤ 0.10).
//!
//! Needs `scripts/setup.sh` (ONNX Runtime and the sample images). Run: `cargo bench --bench detect`.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::Criterion;
use image::RgbImage;
use image::imageops::FilterType;
use roadeye::infer::{Detector, InferenceOptions, LoadedSpec, OrtRuntime, PostprocessOverride};
use roadeye::types::RgbView;

const MODELS: [&str; 2] = ["centernet", "nanodet"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A real 1920×1080 frame: the dog.jpg sample scaled to full HD.
fn full_hd_frame() -> RgbImage {
    let p = root().join(".deps/media/dog.jpg");
    let img = image::open(&p)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/setup.sh)", p.display()))
        .to_rgb8();
    image::imageops::resize(&img, 1920, 1080, FilterType::Triangle)
}

fn detector(model: &str) -> Detector {
    let rt = OrtRuntime::init(None).expect("ONNX Runtime (run scripts/setup.sh)");
    let spec = LoadedSpec::load(&root().join(format!("models/{model}.toml"))).expect("spec");
    Detector::new(
        rt,
        spec,
        &InferenceOptions::default(),
        &PostprocessOverride::default(),
    )
    .expect("detector")
}

fn benches(c: &mut Criterion, frame: &RgbImage) {
    for model in MODELS {
        let mut det = detector(model);
        let view = RgbView::from(frame);
        let mut group = c.benchmark_group(model);
        group
            .sample_size(20)
            .measurement_time(Duration::from_secs(4));
        group.bench_function("preprocess 1920x1080", |b| {
            b.iter(|| black_box(det.preprocess(black_box(view)).expect("pre")))
        });
        let transform = det.preprocess(view).expect("pre");
        group.bench_function("session run", |b| {
            b.iter(|| black_box(det.run_raw().expect("run")))
        });
        let raw = det.run_raw().expect("run");
        let mut post = det.postprocessor();
        group.bench_function("decode + nms", |b| {
            b.iter(|| black_box(post.run(&raw.views(), &transform).expect("post")))
        });
        group.finish();
    }
}

/// Median per-step times of the real detection path over `n` frames.
fn overhead_ratio(model: &str, frame: &RgbImage, n: usize) -> (f64, f64, f64) {
    let mut det = detector(model);
    let view = RgbView::from(frame);
    let _ = det.detect_timed(view).expect("warm-up");
    let (mut pre, mut run, mut post) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        let (_, t) = det.detect_timed(view).expect("detect");
        pre.push(t.preprocess.as_secs_f64() * 1e3);
        run.push(t.run.as_secs_f64() * 1e3);
        post.push(t.postprocess.as_secs_f64() * 1e3);
    }
    (median(&mut pre), median(&mut run), median(&mut post))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let frame = full_hd_frame();
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c, &frame);
    c.final_summary();
    println!("\nPer-frame overhead on a 1920x1080 frame (medians of 30 detections):");
    println!(
        "{:<10} {:>10} {:>10} {:>10} {:>22}",
        "model", "pre ms", "run ms", "post ms", "(pre+post)/run"
    );
    for model in MODELS {
        let (pre, run, post) = overhead_ratio(model, &frame, 30);
        let ratio = (pre + post) / run;
        let verdict = if ratio <= 0.10 { "ok" } else { "OVER" };
        println!("{model:<10} {pre:>10.2} {run:>10.2} {post:>10.2} {ratio:>15.3} ≤ 0.10 {verdict}");
    }
}
