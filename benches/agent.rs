//! The whole box, in one run: what the raw runtime can do, and how much of it the real agent turns
//! into analysed frames.
//!
//! 1. The box limit: the model on frames already at its input size, over every split of the cores
//!    into lanes × intra-op threads (each lane its own session, on its own frames); the best split
//!    is the limit, the best single session the one-session limit.
//! 2. The agent (the library's `Agent`: real GStreamer sources on vtest.avi, the inference lanes,
//!    tracker, rules, and the durable outbox of the MQTT link to an embedded broker) with 1, 2, 4
//!    and 8 paced cameras (vtest plays at its 10 fps, looping): aggregate analysed fps, each
//!    camera's share, frames dropped, the time from a frame's hand-over to its tracks (every
//!    frame) and to its events stored in the outbox (p50/p99), and the mean time per stage.
//! 3. One camera replayed with every frame analysed.
//!
//! Every figure is printed as a ratio to the limits measured in the same run: the machine is noisy,
//! ratios within one run are what can be compared.
//!
//! `cargo bench --bench agent` (20 s per figure), `cargo bench --bench agent -- --quick` (4 s, for
//! CI); `-- --model centernet-int8` for another model, `-- --cameras 1,4` for fewer runs,
//! `-- --limits-only [--memory-pattern]` for the raw limits alone (with ONNX Runtime's memory pattern).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use roadeye::agent::sink::SinkFuture;
use roadeye::agent::{Agent, Command, Settings, Sink};
use roadeye::config::LoadedConfig;
use roadeye::infer::{InferenceOptions, LoadedSpec, ModelRunner, OrtRuntime};
use roadeye::pipeline::{Output, cores};
use roadeye::source::{GstPixels, Pipeline, SourceSettings, Transport};
use roadeye::types::{CameraId, FramePixels, RgbView};

struct Args {
    quick: bool,
    memory_pattern: bool,
    model: String,
    cameras: Vec<usize>,
}

fn args() -> Args {
    let mut a = Args {
        quick: false,
        memory_pattern: false,
        model: "centernet".into(),
        cameras: vec![1, 2, 4, 8],
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" | "--test" => a.quick = true,
            // The raw limits only: with ONNX Runtime's memory pattern on.
            "--memory-pattern" => a.memory_pattern = true,
            "--limits-only" => a.cameras.clear(),
            "--model" => a.model = it.next().expect("--model NAME"),
            "--cameras" => {
                a.cameras = it
                    .next()
                    .expect("--cameras 1,2,4")
                    .split(',')
                    .map(|n| n.parse().expect("a number of cameras"))
                    .collect();
            }
            _ => {}
        }
    }
    a
}

/// `--memory-pattern`, for the raw limits.
static MEMORY_PATTERN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn vtest() -> PathBuf {
    let p = root().join(".deps/media/vtest.avi");
    assert!(
        p.is_file(),
        "{} is missing: run scripts/setup.sh",
        p.display()
    );
    p
}

/// The first `n` frames of `video`, decoded by the agent's own source pipeline, unthrottled.
fn decode(video: &Path, n: usize) -> Vec<image::RgbImage> {
    use gstreamer as gst;
    let uri = gst::glib::filename_to_uri(video, None)
        .expect("uri")
        .to_string();
    let settings = SourceSettings {
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
    };
    let frames: Arc<Mutex<Vec<image::RgbImage>>> = Arc::default();
    let f2 = Arc::clone(&frames);
    let pipeline = Pipeline::build(&settings, move |sample| {
        let mut f = f2.lock().expect("frames");
        if f.len() < n
            && let Some((p, _)) = GstPixels::from_sample(&sample)
            && let Some(img) = p.view().and_then(|v| v.to_rgb_image())
        {
            f.push(img);
        }
    })
    .expect("pipeline");
    let bus = pipeline.bus().expect("bus");
    pipeline.play().expect("play");
    while frames.lock().expect("frames").len() < n {
        if let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(5)) {
            match msg.view() {
                gst::MessageView::Eos(_) => break,
                gst::MessageView::Error(e) => panic!("decode: {}", e.error()),
                _ => {}
            }
        }
    }
    drop(pipeline);
    std::mem::take(&mut *frames.lock().expect("frames"))
}

/// Frames of vtest at the model's input size, decoded once.
fn input_frames(spec: &LoadedSpec, n: usize) -> Vec<image::RgbImage> {
    let frames = decode(&vtest(), n);
    assert!(!frames.is_empty(), "no frame decoded from vtest.avi");
    let (w, h) = (spec.spec.input.width, spec.spec.input.height);
    frames
        .iter()
        .map(|f| image::imageops::resize(f, w, h, image::imageops::FilterType::Triangle))
        .collect()
}

/// Frames per second of `lanes` sessions with `threads` intra-op threads each, side by side.
fn raw_fps(
    rt: &'static OrtRuntime,
    spec: &LoadedSpec,
    frames: &Arc<Vec<image::RgbImage>>,
    lanes: usize,
    threads: usize,
    secs: f64,
) -> f64 {
    let opts = InferenceOptions {
        lanes,
        intra_threads: threads,
        memory_pattern: MEMORY_PATTERN.load(std::sync::atomic::Ordering::SeqCst),
        ..InferenceOptions::default()
    };
    let runners = ModelRunner::lanes(rt, spec, &opts, lanes).expect("open the model");
    let start = Instant::now() + Duration::from_millis(300);
    let end = start + Duration::from_secs_f64(secs);
    let handles: Vec<_> = runners
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            let frames = Arc::clone(frames);
            std::thread::spawn(move || {
                let mut done = 0u64;
                let mut k = i * 7;
                // Warm up, then count.
                while Instant::now() < end {
                    let f = &frames[k % frames.len()];
                    k += 1;
                    let view = RgbView::packed(f.width(), f.height(), f.as_raw()).expect("view");
                    r.preprocess(view).expect("preprocess");
                    r.run(|_| Ok(())).expect("run");
                    if Instant::now() > start {
                        done += 1;
                    }
                }
                done
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().expect("lane")).sum();
    total as f64 / secs
}

/// The best of every lanes × threads split that fits the cores, and the best single session.
struct Limits {
    box_fps: f64,
    box_split: (usize, usize),
    one_session_fps: f64,
}

fn limits(rt: &'static OrtRuntime, spec: &LoadedSpec, secs: f64) -> Limits {
    let frames = Arc::new(input_frames(spec, 24));
    let n = cores();
    let mut out = Limits {
        box_fps: 0.0,
        box_split: (1, 1),
        one_session_fps: 0.0,
    };
    println!(
        "box limit ({n} cores, {} on frames at its input size):",
        spec.spec.name
    );
    for lanes in 1..=n {
        let threads = n / lanes;
        if lanes * threads != n && lanes != 1 {
            continue;
        }
        let fps = raw_fps(rt, spec, &frames, lanes, threads, secs);
        println!("  {lanes} lane(s) × {threads} thread(s): {fps:.1} fps");
        if fps > out.box_fps {
            out.box_fps = fps;
            out.box_split = (lanes, threads);
        }
    }
    // One session: the best of its thread counts (all cores was measured above).
    out.one_session_fps = raw_fps(rt, spec, &frames, 1, n, secs);
    for threads in 1..n {
        let fps = raw_fps(rt, spec, &frames, 1, threads, secs);
        println!("  1 lane × {threads} thread(s): {fps:.1} fps");
        out.one_session_fps = out.one_session_fps.max(fps);
    }
    println!(
        "  box limit {:.1} fps ({} × {}); one-session limit {:.1} fps",
        out.box_fps, out.box_split.0, out.box_split.1, out.one_session_fps
    );
    out
}

/// A config of `n` cameras on vtest.avi with the demo's counting line and zone.
fn config(dir: &Path, model: &str, n: usize, replay: bool, port: u16) -> LoadedConfig {
    let mut text = format!(
        "[site]\nid = \"bench\"\ndevice = \"box\"\n[runtime]\nmodels_dir = \"{}\"\n[ops]\nlisten = \"off\"\n\
         [mqtt]\nembedded = true\nport = {port}\nheartbeat_s = 5\noutbox.path = \"{}\"\n",
        root().join("models").display(),
        dir.join(format!("outbox-{n}-{replay}.redb")).display()
    );
    let uri = format!("file://{}", vtest().display());
    for i in 0..n {
        text.push_str(&format!(
            "[[cameras]]\nid = \"cam{i}\"\nurl = \"{uri}\"\nloop = {}\nrealtime = {}\nmodel = \"{model}\"\n\
             [cameras.detect]\nscore_threshold = 0.15\nclasses = [\"person\"]\n\
             [[cameras.lines]]\nid = \"x\"\npoints = [[0.35, 0.62], [0.35, 0.28]]\nforward = \"eastbound\"\nbackward = \"westbound\"\n\
             [[cameras.zones]]\nid = \"centre\"\npoints = [[0.58, 0.33], [0.85, 0.33], [0.85, 0.55], [0.58, 0.55]]\n",
            !replay, !replay
        ));
    }
    let path = dir.join(format!("bench-{n}-{replay}.toml"));
    std::fs::write(&path, text).expect("write the config");
    let cfg = LoadedConfig::load(&path).expect("load the config");
    let problems = roadeye::config::validate::validate(&cfg);
    assert!(problems.is_empty(), "{problems:?}");
    cfg
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// What one agent run measured.
struct Run {
    fps: Vec<f64>,
    dropped: u64,
    tracks_ms: Vec<f64>,
    stored_ms: Vec<f64>,
    stages: Vec<(String, f64)>,
}

/// Mean of each stage histogram, from the metrics text.
fn stage_means(text: &str) -> Vec<(String, f64)> {
    let mut sums: HashMap<String, (f64, f64)> = HashMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("roadeye_stage_seconds_") else {
            continue;
        };
        let (what, value) = match rest.rsplit_once(' ') {
            Some(p) => p,
            None => continue,
        };
        let Some(stage) = what
            .split("stage=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
        else {
            continue;
        };
        let v: f64 = value.parse().unwrap_or(0.0);
        let e = sums.entry(stage.to_string()).or_default();
        if what.starts_with("sum") {
            e.0 += v;
        } else if what.starts_with("count") {
            e.1 += v;
        }
    }
    roadeye::ops::metrics::STAGES
        .iter()
        .filter_map(|s| {
            sums.get(*s)
                .filter(|(_, n)| *n > 0.0)
                .map(|(sum, n)| (s.to_string(), sum / n * 1000.0))
        })
        .collect()
}

/// Frame → tracks of every analysed frame, while counting.
struct Probe {
    counting: Arc<std::sync::atomic::AtomicBool>,
    tracks_ms: Arc<Mutex<Vec<f64>>>,
}

impl Sink for Probe {
    fn emit<'a>(&'a mut self, o: &'a Output) -> SinkFuture<'a> {
        if let Output::Tracks(t) = o
            && self.counting.load(std::sync::atomic::Ordering::SeqCst)
        {
            let ms = t.meta.arrived.elapsed().as_secs_f64() * 1000.0;
            self.tracks_ms.lock().expect("lock").push(ms);
        }
        Box::pin(async { Ok(()) })
    }

    fn close(self: Box<Self>, _grace: Duration) -> SinkFuture<'static> {
        Box::pin(async { Ok(()) })
    }
}

async fn agent_run(rt: &'static OrtRuntime, cfg: &LoadedConfig, warm: f64, secs: f64) -> Run {
    let settings = Settings {
        summary_every: Duration::from_secs(5),
        flush: Duration::from_secs(1),
        print_stored: false,
    };
    let mut agent = Agent::start(cfg, rt, settings)
        .await
        .expect("start the agent");
    let stored: Arc<Mutex<Vec<f64>>> = Arc::default();
    let tracks: Arc<Mutex<Vec<f64>>> = Arc::default();
    let counting = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (s2, c2) = (Arc::clone(&stored), Arc::clone(&counting));
    let metrics = agent.metrics();
    metrics.listen(Box::new(move |stage, _camera, secs| {
        if stage == "stored" && c2.load(std::sync::atomic::Ordering::SeqCst) {
            s2.lock().expect("lock").push(secs * 1000.0);
        }
    }));
    agent.add_sink(Box::new(Probe {
        counting: Arc::clone(&counting),
        tracks_ms: Arc::clone(&tracks),
    }));
    let board = agent.board();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let running = tokio::spawn(agent.run(rx));
    let snapshot = || -> Vec<(CameraId, u64, u64)> {
        board
            .cameras()
            .into_iter()
            .map(|(id, s)| (id, s.frames_analysed, s.frames_dropped))
            .collect()
    };
    tokio::time::sleep(Duration::from_secs_f64(warm)).await;
    let first = snapshot();
    let started_at = Instant::now();
    counting.store(true, std::sync::atomic::Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    let elapsed = started_at.elapsed().as_secs_f64();
    let last = snapshot();
    counting.store(false, std::sync::atomic::Ordering::SeqCst);
    let stages = stage_means(&metrics.encode());
    tx.send(Command::Stop("the bench is done".into()))
        .await
        .expect("the agent runs");
    running
        .await
        .expect("the agent's task")
        .expect("the agent ran");
    let tracks_ms = std::mem::take(&mut *tracks.lock().expect("lock"));
    let mut fps = Vec::new();
    let mut dropped = 0;
    for (id, analysed, drops) in &last {
        let (a0, d0) = first
            .iter()
            .find(|(i, _, _)| i == id)
            .map_or((0, 0), |(_, a, d)| (*a, *d));
        fps.push((analysed - a0) as f64 / elapsed);
        dropped += drops - d0;
    }
    let stored_ms = std::mem::take(&mut *stored.lock().expect("lock"));
    Run {
        fps,
        dropped,
        tracks_ms,
        stored_ms,
        stages,
    }
}

fn report(label: &str, run: &mut Run, limits: &Limits) {
    let total: f64 = run.fps.iter().sum();
    let fair = total / run.fps.len().max(1) as f64;
    let spread = run
        .fps
        .iter()
        .map(|f| (f / fair - 1.0) * 100.0)
        .fold(0.0f64, |m, d| m.max(d.abs()));
    println!(
        "{label}: {total:.1} fps analysed = {:.2} × box limit, {:.2} × one-session limit; shares within ±{spread:.1} %; {} dropped",
        total / limits.box_fps,
        total / limits.one_session_fps,
        run.dropped
    );
    println!(
        "  frame → tracks p50 {:.0} ms, p99 {:.0} ms; frame → stored p50 {:.0} ms, p99 {:.0} ms ({} events)",
        quantile(&mut run.tracks_ms, 0.5),
        quantile(&mut run.tracks_ms, 0.99),
        quantile(&mut run.stored_ms, 0.5),
        quantile(&mut run.stored_ms, 0.99),
        run.stored_ms.len()
    );
    let stages: Vec<String> = run
        .stages
        .iter()
        .map(|(s, ms)| format!("{s} {ms:.1}"))
        .collect();
    println!("  mean ms per stage: {}", stages.join(", "));
}

fn main() {
    let a = args();
    let secs = if a.quick { 4.0 } else { 20.0 };
    let rt = OrtRuntime::init(None).expect("ONNX Runtime (run scripts/setup.sh)");
    let spec_path = root().join("models").join(format!("{}.toml", a.model));
    let spec = LoadedSpec::load(&spec_path).expect("the model spec");
    if a.memory_pattern {
        MEMORY_PATTERN.store(true, std::sync::atomic::Ordering::SeqCst);
        println!("ONNX Runtime's memory pattern on (raw limits only)");
    }
    let lim = limits(rt, &spec, secs / 2.0);
    let one_inference_ms = 1000.0 / lim.one_session_fps;
    let dir = tempfile::tempdir().expect("a temporary folder");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    for &n in &a.cameras {
        let cfg = config(dir.path(), &a.model, n, false, free_port());
        let mut run = runtime.block_on(agent_run(rt, &cfg, 3.0, secs));
        report(&format!("{n} paced camera(s)"), &mut run, &lim);
        if n == 1 {
            println!(
                "  frame → stored p99 = {:.2} × one inference ({one_inference_ms:.0} ms)",
                quantile(&mut run.stored_ms, 0.99) / one_inference_ms
            );
        }
    }
    if a.cameras.is_empty() {
        return;
    }
    let cfg = config(dir.path(), &a.model, 1, true, free_port());
    let mut run = runtime.block_on(agent_run(rt, &cfg, 2.0, secs));
    report("1 camera replayed, every frame", &mut run, &lim);
    // The limits again: how far the machine moved while the agent ran.
    let after = limits(rt, &spec, secs / 2.0);
    println!(
        "box limit before {:.1} fps, after {:.1} fps ({:+.0} %): ratios above are against the one before",
        lim.box_fps,
        after.box_fps,
        (after.box_fps / lim.box_fps - 1.0) * 100.0
    );
}
