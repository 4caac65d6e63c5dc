//! End-to-end throughput on vtest.avi, in one run: decode-only fps (GStreamer to RGB, unthrottled),
//! inference-only fps (the model on frames already in memory), and end-to-end fps (decode → infer →
//! track, every frame, the stages on their own threads as in the agent). Prints
//! end-to-end / min(decode, infer) (target ≥ 0.9) and the peak resident memory.
//!
//! `cargo bench --bench pipeline` (whole video), `cargo bench --bench pipeline -- --quick` (smoke).

use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gstreamer as gst;
use roadeye::infer::{InferenceOptions, LoadedSpec, ModelRunner, OrtRuntime, Postprocessor};
use roadeye::source::{GstPixels, Pipeline, SourceSettings, Transport};
use roadeye::track::{Tracker, TrackerParams};
use roadeye::types::{FramePixels, RgbView};

fn view(img: &image::RgbImage) -> RgbView<'_> {
    RgbView::packed(img.width(), img.height(), img.as_raw()).expect("view")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn settings(video: &std::path::Path) -> SourceSettings {
    let uri = gst::glib::filename_to_uri(video, None)
        .expect("uri")
        .to_string();
    SourceSettings {
        camera: "bench".into(),
        display: uri.clone(),
        uri,
        transport: Transport::Tcp,
        latency: Duration::from_millis(200),
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

/// What a decode run saw.
struct Decoded {
    frames: usize,
    /// When the first frame reached the callback.
    first: Instant,
    /// When the last one did.
    last: Instant,
}

impl Decoded {
    /// Frames per second between the first and the last frame (start-up excluded).
    fn fps(&self) -> f64 {
        (self.frames.saturating_sub(1)) as f64 / (self.last - self.first).as_secs_f64().max(1e-9)
    }
}

/// Plays the file unthrottled, calling `on_frame` for its first `limit` frames.
fn decode(
    video: &std::path::Path,
    limit: usize,
    on_frame: impl Fn(gst::Sample) + Send + Sync + 'static,
) -> Decoded {
    let stats: Arc<Mutex<(usize, Option<Instant>, Instant)>> =
        Arc::new(Mutex::new((0, None, Instant::now())));
    let (done_tx, done_rx) = mpsc::sync_channel::<()>(1);
    let st = Arc::clone(&stats);
    let pipeline = Pipeline::build(&settings(video), move |sample| {
        let mut s = st.lock().expect("stats");
        if s.0 >= limit {
            return;
        }
        s.0 += 1;
        let now = Instant::now();
        s.1.get_or_insert(now);
        s.2 = now;
        let reached = s.0 == limit;
        drop(s);
        on_frame(sample);
        if reached {
            let _ = done_tx.try_send(());
        }
    })
    .expect("pipeline");
    let bus = pipeline.bus().expect("bus");
    pipeline.play().expect("play");
    while done_rx.try_recv().is_err() {
        if let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(2)) {
            match msg.view() {
                gst::MessageView::Eos(_) => break,
                gst::MessageView::Error(e) => panic!("decode: {}", e.error()),
                _ => {}
            }
        }
    }
    drop(pipeline);
    let s = stats.lock().expect("stats");
    Decoded {
        frames: s.0,
        first: s.1.unwrap_or(s.2),
        last: s.2,
    }
}

/// Runs the agent on `video` (looping, real time) for `seconds`; returns (frames in, analysed,
/// dropped, seconds).
fn agent_path(video: &std::path::Path, seconds: f64) -> (u64, u64, u64, f64) {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg_path = dir.path().join("bench.toml");
    std::fs::write(
        &cfg_path,
        format!(
            "[site]\nid = \"bench\"\ndevice = \"bench\"\n[runtime]\nmodels_dir = \"{}\"\n\
             [[cameras]]\nid = \"plaza\"\nurl = \"file://{}\"\nloop = true\n",
            root().join("models").display(),
            video.display()
        ),
    )
    .expect("config");
    let cfg = roadeye::config::LoadedConfig::load(&cfg_path).expect("config");
    let rt = OrtRuntime::init(None).expect("ONNX Runtime");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (agent, mut tracks) = roadeye::pipeline::Agent::start(&cfg, rt).expect("agent");
        let until = tokio::time::Instant::now() + Duration::from_secs_f64(seconds);
        while let Ok(Some(_)) = tokio::time::timeout_at(until, tracks.recv()).await {}
        let st = agent.statuses().remove(0).1;
        agent.shutdown_draining(&mut tracks, drop).await;
        (st.frames_in, st.frames_analysed, st.frames_dropped, seconds)
    })
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let video = root().join(".deps/media/vtest.avi");
    assert!(
        video.is_file(),
        "{} missing: run scripts/setup.sh",
        video.display()
    );
    roadeye::source::init().expect("GStreamer");
    let rt = OrtRuntime::init(None).expect("ONNX Runtime (run scripts/setup.sh)");
    let spec = LoadedSpec::load(&root().join("models/centernet.toml")).expect("spec");
    let threads: usize = std::env::var("ROADEYE_BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let opts = InferenceOptions {
        intra_threads: threads,
        ..InferenceOptions::default()
    };
    let mut runner = ModelRunner::new(rt, spec.clone(), &opts).expect("model");
    let mut post = Postprocessor::new(&spec, spec.spec.postprocess.clone());

    // Frames for inference-only, decoded beforehand and kept in memory.
    let frames: Arc<Mutex<Vec<image::RgbImage>>> = Arc::default();
    let store = Arc::clone(&frames);
    decode(&video, 25, move |sample| {
        if let Some(p) = GstPixels::from_sample(&sample)
            && let Some(v) = p.view()
        {
            let mut img = image::RgbImage::new(v.width(), v.height());
            for y in 0..v.height() {
                let row = v.row(y);
                img.as_mut()[(y * v.width() * 3) as usize..][..row.len()].copy_from_slice(row);
            }
            store.lock().expect("frames").push(img);
        }
    });
    let frames = std::mem::take(&mut *frames.lock().expect("frames"));
    let _ = runner.detect(view(&frames[0]), &mut post).expect("warm-up");

    // The machine is shared and noisy: the three measurements are interleaved in rounds and the
    // medians compared, so a slow spell hits all of them alike.
    let (rounds, per_round) = if quick { (1, 20) } else { (5, 120) };
    let (mut dec, mut inf, mut e2e) = (Vec::new(), Vec::new(), Vec::new());
    let mut shared = Some((runner, post));
    let mut tracks = 0usize;
    for _ in 0..rounds {
        let (runner_r, post_r) = shared.take().expect("model");
        let (mut runner_r, mut post_r) = (runner_r, post_r);
        // 1. Decode only.
        dec.push(decode(&video, per_round, |_| {}).fps());
        // 2. Inference only.
        let started = Instant::now();
        for img in frames.iter().cycle().take(per_round) {
            runner_r.detect(view(img), &mut post_r).expect("detect");
        }
        inf.push(per_round as f64 / started.elapsed().as_secs_f64());
        // 3. End to end: every frame decoded, detected and tracked; decoding on GStreamer's thread,
        //    inference and tracking on another, joined by a bounded queue (back-pressure, no drops).
        let (tx, rx) = mpsc::sync_channel::<(Duration, GstPixels)>(2);
        let tx = Mutex::new(tx);
        let worker = std::thread::spawn(move || {
            let mut tracker = Tracker::new(TrackerParams::default());
            let mut seen = 0usize;
            while let Ok((pts, pixels)) = rx.recv() {
                let v = pixels.view().expect("view");
                let (dets, _) = runner_r.detect(v, &mut post_r).expect("detect");
                seen += tracker.update(pts, &dets).len();
            }
            (runner_r, post_r, seen, Instant::now())
        });
        let run = decode(&video, per_round, move |sample| {
            let pts = sample
                .buffer()
                .and_then(|b| b.pts())
                .map_or(Duration::ZERO, |p| Duration::from_nanos(p.nseconds()));
            if let Some(p) = GstPixels::from_sample(&sample) {
                let _ = tx.lock().expect("tx").send((pts, p));
            }
        });
        let (runner_r, post_r, seen, finished) = worker.join().expect("worker");
        // From the first decoded frame to the last one detected and tracked.
        e2e.push(run.frames.saturating_sub(1) as f64 / (finished - run.first).as_secs_f64());
        tracks += seen;
        shared = Some((runner_r, post_r));
    }
    let (decode_fps, infer_fps, e2e_fps) = (median(&mut dec), median(&mut inf), median(&mut e2e));
    let ratio = e2e_fps / decode_fps.min(infer_fps);
    let decoded = rounds * per_round;
    println!(
        "vtest.avi 768x576, centernet 512x512: medians of {rounds} round(s) of {per_round} frames per measurement ({decoded} each){}",
        if quick { ", quick" } else { "" }
    );
    println!("  decode-only       {decode_fps:8.1} fps");
    println!("  inference-only    {infer_fps:8.1} fps");
    println!("  end-to-end        {e2e_fps:8.1} fps  ({tracks} track observations)");
    println!(
        "  end-to-end / min(decode, inference) = {ratio:.3}  (target >= 0.9: {})",
        if ratio >= 0.9 { "ok" } else { "BELOW" }
    );
    // 4. The agent itself (roadeye run's path: latest-frame slot, shared inference thread, tracker
    //    task) on vtest.avi played in real time like a 10 fps camera: does it keep up?
    let (delivered, analysed, dropped, seconds) =
        agent_path(&video, if quick { 4.0 } else { 20.0 });
    println!(
        "  agent path (vtest.avi as a live 10 fps camera, {seconds:.0} s): analysed {analysed} of {delivered} frames, {dropped} dropped"
    );
    println!("  peak RSS          {:8.1} MiB", peak_rss_mib());
}
