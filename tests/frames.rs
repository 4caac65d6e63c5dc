//! Frames stay in the decoder's format until inference takes them: the camera pipeline hands over
//! vtest.avi's frames as I420 (no conversion in GStreamer), their RGB is what GStreamer's own
//! `videoconvert` makes of them, and CenterNet finds the same objects in them whether it is fed the
//! YUV frame (resized plane by plane, converted at the input size) or GStreamer's RGB frame.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use roadeye::infer::{Detector, InferenceOptions, LoadedSpec, OrtRuntime, PostprocessOverride};
use roadeye::pixels::PixelView;
use roadeye::source::{GstPixels, Pipeline, SourceSettings, Transport};
use roadeye::types::{CameraId, Detection, FramePixels};

const FRAMES: usize = 12;

fn settings(uri: String) -> SourceSettings {
    SourceSettings {
        camera: CameraId::from("frames"),
        display: uri.clone(),
        uri,
        transport: Transport::default(),
        latency: Duration::ZERO,
        username: None,
        password: None,
        looping: false,
        realtime: false,
        analysis_fps: None,
        analysis_width: None,
        stall_timeout: Duration::from_secs(10),
        reconnect_min: Duration::from_secs(1),
        reconnect_max: Duration::from_secs(8),
    }
}

/// The first frames of vtest.avi as the camera pipeline hands them over.
fn camera_frames() -> Vec<GstPixels> {
    let uri = format!("file://{}", common::media("vtest.avi").display());
    let frames: Arc<Mutex<Vec<GstPixels>>> = Arc::default();
    let f2 = Arc::clone(&frames);
    let pipeline = Pipeline::build(&settings(uri), move |sample| {
        let mut f = f2.lock().expect("frames");
        if f.len() < FRAMES
            && let Some((p, _)) = GstPixels::from_sample(&sample)
        {
            f.push(p);
        }
    })
    .expect("pipeline");
    drain(
        pipeline.bus().expect("bus"),
        || pipeline.play().expect("play"),
        &frames,
    );
    drop(pipeline);
    std::mem::take(&mut *frames.lock().expect("frames"))
}

/// The same frames converted to RGB by GStreamer's `videoconvert`.
fn gstreamer_rgb() -> Vec<image::RgbImage> {
    roadeye::source::init().expect("gstreamer");
    let path = common::media("vtest.avi");
    let desc = format!(
        "filesrc location={} ! decodebin ! videoconvert ! video/x-raw,format=RGB ! appsink name=out sync=false",
        path.display()
    );
    let pipeline = gst::parse::launch(&desc)
        .expect("launch")
        .downcast::<gst::Pipeline>()
        .expect("a pipeline");
    let sink = pipeline
        .by_name("out")
        .expect("appsink")
        .downcast::<gst_app::AppSink>()
        .expect("an appsink");
    let frames: Arc<Mutex<Vec<image::RgbImage>>> = Arc::default();
    let f2 = Arc::clone(&frames);
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Flushing)?;
                let mut f = f2.lock().expect("frames");
                if f.len() < FRAMES
                    && let Some((p, _)) = GstPixels::from_sample(&sample)
                    && let Some(PixelView::Rgb(v)) = p.view()
                {
                    f.push(v.to_image());
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    drain(
        pipeline.bus().expect("bus"),
        || {
            pipeline.set_state(gst::State::Playing).expect("play");
        },
        &frames,
    );
    let _ = pipeline.set_state(gst::State::Null);
    std::mem::take(&mut *frames.lock().expect("frames"))
}

fn drain<T>(bus: gst::Bus, play: impl FnOnce(), frames: &Mutex<Vec<T>>) {
    play();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while frames.lock().expect("frames").len() < FRAMES && std::time::Instant::now() < deadline {
        if let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(5)) {
            match msg.view() {
                gst::MessageView::Eos(_) => break,
                gst::MessageView::Error(e) => panic!("decode: {}", e.error()),
                _ => {}
            }
        }
    }
}

#[test]
fn camera_frames_are_handed_over_as_decoded_and_convert_as_gstreamer_does() {
    let yuv = camera_frames();
    let rgb = gstreamer_rgb();
    assert_eq!(yuv.len(), FRAMES, "frames from the camera pipeline");
    assert_eq!(rgb.len(), FRAMES, "frames from videoconvert");
    for (i, (a, b)) in yuv.iter().zip(&rgb).enumerate() {
        let view = a.view().expect("a readable frame");
        assert!(
            matches!(view, PixelView::Yuv(_)),
            "frame {i} was converted before the slot"
        );
        assert_eq!((view.width(), view.height()), (768, 576));
        let ours = view.to_rgb_image().expect("to RGB");
        let PixelView::Yuv(planes) = view else {
            unreachable!("checked above")
        };
        let exact = bt601(&planes);
        let gst = to_f64(b);
        let mine = to_f64(&ours);
        // GStreamer's converter truncates in fixed point: it comes out 1–4 levels darker than
        // the formula, ours within rounding of it.
        for (name, against, max_bias) in [
            ("the BT.601 formula", &exact, 0.75),
            ("videoconvert", &gst, 4.5),
        ] {
            let (bias, within) = compare(&mine, against);
            assert!(
                bias.iter().all(|b| b.abs() <= max_bias) && within > 0.99,
                "frame {i} against {name}: mean difference {bias:.2?} levels (R, G, B), {:.2} % within 8",
                within * 100.0
            );
        }
    }
}

fn to_f64(img: &image::RgbImage) -> Vec<f64> {
    img.as_raw().iter().map(|v| f64::from(*v)).collect()
}

/// RGB of a limited-range BT.601 I420 picture by the textbook formula, chroma repeated 2×2.
fn bt601(v: &roadeye::pixels::YuvView<'_>) -> Vec<f64> {
    let (y, (u, vv)) = (v.y(), v.chroma());
    let mut out = Vec::with_capacity(v.width() as usize * v.height() as usize * 3);
    for r in 0..v.height() as usize {
        for c in 0..v.width() as usize {
            let l = 1.164 * (f64::from(y.data[r * y.stride + c]) - 16.0);
            let cb = f64::from(u.data[r / 2 * u.stride + c / 2]) - 128.0;
            let cr = f64::from(vv.data[r / 2 * vv.stride + c / 2]) - 128.0;
            for x in [l + 1.596 * cr, l - 0.392 * cb - 0.813 * cr, l + 2.017 * cb] {
                out.push(x.clamp(0.0, 255.0));
            }
        }
    }
    out
}

/// The mean signed difference per channel, and the share of values within 8 levels.
fn compare(a: &[f64], b: &[f64]) -> ([f64; 3], f64) {
    let mut bias = [0.0; 3];
    let mut within = 0usize;
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        bias[i % 3] += x - y;
        within += usize::from((x - y).abs() <= 8.0);
    }
    let n = a.len() as f64;
    (bias.map(|s| s * 3.0 / n), within as f64 / n)
}

#[test]
fn detections_on_yuv_frames_match_those_on_gstreamer_rgb() {
    let yuv = camera_frames();
    let rgb = gstreamer_rgb();
    let rt = OrtRuntime::init(None).expect("ONNX Runtime");
    let spec = LoadedSpec::load(&common::model_spec("centernet")).expect("spec");
    let over = PostprocessOverride::default();
    let mut det = Detector::new(rt, spec, &InferenceOptions::default(), &over).expect("model");
    let (mut total, mut matched) = (0usize, 0usize);
    for (a, b) in yuv.iter().zip(&rgb) {
        let from_yuv = det.detect(a.view().expect("view")).expect("detect yuv");
        let from_rgb = det.detect(b).expect("detect rgb");
        let clear: Vec<&Detection> = from_rgb.iter().filter(|d| d.score >= 0.4).collect();
        total += clear.len();
        matched += clear
            .iter()
            .filter(|d| {
                from_yuv.iter().any(|o| {
                    o.class_id == d.class_id
                        && o.bbox.iou(&d.bbox) >= 0.9
                        && (o.score - d.score).abs() <= 0.05
                })
            })
            .count();
    }
    assert!(total >= FRAMES, "too few people found to compare: {total}");
    assert!(
        matched as f64 >= 0.95 * total as f64,
        "{matched} of {total} detections found again on the YUV frames"
    );
}
