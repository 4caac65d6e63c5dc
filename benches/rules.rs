//! Tracker + every rule on a busy scene: 100 objects per frame (60 vehicles in four lanes, 40
//! people crossing) on a 1920×1080 camera with the north approach of configs/intersection.toml
//! (three counting lines, two queues, a crossing zone, wrong-way, no-stopping, a calibration) plus
//! an armed intrusion zone with loitering. Target: ≤ 0.2 ms per frame.
//!
//! Run: `cargo bench --bench rules` (`-- --quick` for a short run).

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::Criterion;
use roadeye::config::Config;
use roadeye::rules::{CameraRules, RulesConfig};
use roadeye::track::{Tracker, TrackerParams};
use roadeye::types::{BBox, Detection, FrameMeta, Tracks};

const OBJECTS: usize = 100;
const TARGET_MS: f64 = 0.2;
const W: f32 = 1920.0;
const H: f32 = 1080.0;

fn rules_config() -> RulesConfig {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("configs/intersection.toml");
    let text = std::fs::read_to_string(&path).expect("configs/intersection.toml");
    let cfg = Config::parse(&text).expect("intersection config");
    let mut rules = cfg.cameras[0].rules();
    rules.zones.push(
        toml::from_str(
            r#"
            id = "median-strip"
            points = [[0.5, 0.3], [0.52, 0.3], [0.52, 0.85], [0.5, 0.85]]
            loiter_after_s = 30
            intrusion = { classes = ["person"] }
            "#,
        )
        .expect("zone"),
    );
    rules
}

/// The detections of frame `i` (10 fps): vehicles move down their lanes at 20–60 km/h-like pixel
/// speeds and wrap around; people walk across the picture; ±1 px of deterministic jitter.
fn scene(i: u64, labels: &[Arc<str>; 3]) -> Vec<Detection> {
    let mut seed = i
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut jitter = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) % 3) as f32 - 1.0
    };
    let t = i as f32 * 0.1;
    let mut out = Vec::with_capacity(OBJECTS);
    for k in 0..OBJECTS {
        let (cx, cy, w, h, class) = if k < 60 {
            let lane = (k % 4) as f32;
            let speed = 40.0 + 15.0 * (k % 5) as f32;
            let y = (k as f32 * 97.0 + speed * t) % (H + 200.0) - 100.0;
            (200.0 + lane * 180.0 + 0.1 * y, y, 120.0, 80.0, k % 3)
        } else {
            let x = (k as f32 * 53.0 + 15.0 * t) % (W + 100.0) - 50.0;
            (x, 940.0 + (k % 5) as f32 * 20.0, 30.0, 70.0, 0)
        };
        let (x1, y1) = (cx - w / 2.0 + jitter(), cy - h / 2.0 + jitter());
        out.push(Detection {
            bbox: BBox::new(x1.max(0.0), y1.max(0.0), (x1 + w).min(W), (y1 + h).min(H)),
            score: 0.5 + 0.004 * (k % 100) as f32,
            class_id: class as u16,
            label: Arc::clone(&labels[class]),
        });
    }
    out.retain(|d| d.bbox.x2 > d.bbox.x1 + 4.0 && d.bbox.y2 > d.bbox.y1 + 4.0);
    out
}

struct Bench {
    tracker: Tracker,
    rules: CameraRules,
    frames: Vec<Vec<Detection>>,
    i: usize,
    start: SystemTime,
}

impl Bench {
    fn new() -> Bench {
        let labels: [Arc<str>; 3] = [
            Arc::from("person"),
            Arc::from("car"),
            Arc::from("motorcycle"),
        ];
        // Motorcycles and cars in the lanes; index 0 = people on the crossing.
        let frames = (0..600).map(|i| scene(i, &labels)).collect();
        let tz = jiff::tz::TimeZone::get("Asia/Ho_Chi_Minh").expect("tz");
        Bench {
            tracker: Tracker::new(TrackerParams::default()),
            rules: CameraRules::new("north", &rules_config(), tz).expect("rules"),
            frames,
            i: 0,
            start: SystemTime::now(),
        }
    }

    /// Tracker + rules on the next frame; returns the events and tracks produced.
    fn step(&mut self, with_rules: bool) -> (usize, usize) {
        let n = self.i;
        self.i += 1;
        let pts = Duration::from_millis(100 * n as u64);
        let dets = &self.frames[n % self.frames.len()];
        let tracks = self.tracker.update(pts, dets);
        let count = tracks.len();
        if !with_rules {
            return (0, count);
        }
        let frame = Tracks {
            meta: FrameMeta {
                camera: Arc::from("north"),
                seq: n as u64,
                pts,
                generation: 1 + (n / self.frames.len()) as u64,
                captured_at: self.start + pts,
                arrived: std::time::Instant::now(),
                width: W as u32,
                height: H as u32,
            },
            tracks,
        };
        let (events, _) = self.rules.update(&frame);
        (events.len(), count)
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let mut b = Bench::new();
    // Warm up past track confirmation.
    for _ in 0..50 {
        b.step(true);
    }
    c.bench_function("tracker + rules, 100 objects", |bench| {
        bench.iter(|| black_box(b.step(true)))
    });
    let mut t = Bench::new();
    for _ in 0..50 {
        t.step(false);
    }
    c.bench_function("tracker only, 100 objects", |bench| {
        bench.iter(|| black_box(t.step(false)))
    });
    c.final_summary();

    // Interleaved medians over one pass of the scene, both measured in this run.
    let (mut all, mut tracker_only) = (Vec::new(), Vec::new());
    let (mut events, mut tracks) = (0, 0);
    let mut a = Bench::new();
    let mut o = Bench::new();
    for _ in 0..600 {
        let s = Instant::now();
        let (e, n) = a.step(true);
        all.push(s.elapsed().as_secs_f64() * 1e3);
        events += e;
        tracks = tracks.max(n);
        let s = Instant::now();
        black_box(o.step(false));
        tracker_only.push(s.elapsed().as_secs_f64() * 1e3);
    }
    let (all, only) = (median(&mut all), median(&mut tracker_only));
    println!(
        "\n{OBJECTS} objects/frame ({tracks} confirmed tracks at most, {events} events over 600 frames):"
    );
    println!(
        "tracker + rules {all:.3} ms/frame (median), tracker alone {only:.3} ms → rules add {:.0} %",
        100.0 * (all - only) / only.max(1e-9)
    );
    let ratio = all / TARGET_MS;
    let verdict = if ratio <= 1.0 { "ok" } else { "OVER" };
    println!("tracker + rules / {TARGET_MS} ms target = {ratio:.2} {verdict}");
}
