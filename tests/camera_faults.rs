//! Misbehaving cameras, each fault a named test: a real gst-rtsp-server camera made to stall with
//! its session open, trickle at 1 fps, shift or repeat its timestamps, change its resolution and
//! frame rate, send corrupt H.264, start on P-frames, and close its sessions — against the
//! library's agent (real decoding, model, tracker, rules, a real Mosquitto) with a second, good
//! camera beside it. Each test asserts that the agent keeps running, that the faulty camera's state
//! in `/metrics` tells the truth while the fault lasts (never `streaming` while no frame comes for
//! longer than the stall timeout), that the good camera is not slowed, that frames are dated by
//! the wall clock whatever the camera's timestamps say, and that frames resume within 10 s of the
//! fault's end. Each prints one line of the fault table: fault → what the agent did → recovery.

mod common;

use std::time::{Duration, Instant, SystemTime};

use common::faulty::{FAULT, Fault, FaultyCamera};
use common::library::{Running, load, write_config};
use common::mosquitto::{Mosquitto, free_port};
use common::wait;

/// The faulty camera's stall timeout in the tests' config.
const STALL_S: f64 = 3.0;
/// The longest a camera may take to deliver frames again after a fault ends.
const RECOVERY: Duration = Duration::from_secs(10);

fn entry(id: &str, url: &str) -> String {
    format!(
        "[[cameras]]\nid = \"{id}\"\nurl = \"{url}\"\nmodel = \"centernet\"\nanalysis_fps = 5\n\
         stall_timeout_s = {STALL_S}\nreconnect_min_s = 0.5\nreconnect_max_s = 2\n"
    )
}

struct Bench {
    bad: FaultyCamera,
    _good: FaultyCamera,
    agent: Running,
    _broker: Mosquitto,
    _dir: tempfile::TempDir,
}

/// One reading of a camera from `/metrics`.
#[derive(Debug, Clone)]
struct Reading {
    at: Instant,
    state: String,
    frames_in: f64,
    analysed: f64,
    reconnects: f64,
}

impl Bench {
    fn start() -> Bench {
        let dir = tempfile::tempdir().expect("tempdir");
        let broker = Mosquitto::start(dir.path(), "");
        let (bad, good) = (FaultyCamera::start(), FaultyCamera::start());
        let path = write_config(
            dir.path(),
            broker.port,
            free_port(),
            &[entry("bad", &bad.url), entry("good", &good.url)],
        );
        let agent = Running::start(&load(&path));
        let bench = Bench {
            bad,
            _good: good,
            agent,
            _broker: broker,
            _dir: dir,
        };
        for cam in ["bad", "good"] {
            assert!(
                bench.wait_frames(cam, Duration::from_secs(60)).is_some(),
                "camera '{cam}' never streamed: {:?}",
                bench.read(cam)
            );
        }
        bench
    }

    fn read(&self, camera: &str) -> Reading {
        let metrics = common::http_get(self.agent.ops, "/metrics")
            .expect("/metrics answers")
            .1;
        let value = |name: &str| {
            let key = format!("{name}{{camera=\"{camera}\"}} ");
            metrics
                .lines()
                .find_map(|l| l.strip_prefix(&key))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        let state = metrics
            .lines()
            .filter(|l| l.starts_with(&format!("roadeye_camera_state{{camera=\"{camera}\",")))
            .find(|l| l.ends_with(" 1"))
            .and_then(|l| l.split("state=\"").nth(1))
            .and_then(|s| s.split('"').next())
            .unwrap_or("unknown")
            .to_string();
        Reading {
            at: Instant::now(),
            state,
            frames_in: value("roadeye_camera_frames_in_total"),
            analysed: value("roadeye_camera_frames_analysed_total"),
            reconnects: value("roadeye_camera_reconnects_total"),
        }
    }

    /// Waits until `camera` has analysed frames since now; how long that took.
    fn wait_frames(&self, camera: &str, limit: Duration) -> Option<Duration> {
        let start = Instant::now();
        let before = self.read(camera).analysed;
        wait(limit, || {
            let r = self.read(camera);
            r.analysed >= before + 3.0 && r.state == "streaming"
        })
        .then(|| start.elapsed())
    }

    /// Readings of both cameras every 250 ms for `length`.
    fn watch(&self, length: Duration) -> (Vec<Reading>, Vec<Reading>) {
        let (mut bad, mut good) = (Vec::new(), Vec::new());
        let end = Instant::now() + length;
        while Instant::now() < end {
            bad.push(self.read("bad"));
            good.push(self.read("good"));
            std::thread::sleep(Duration::from_millis(250));
        }
        (bad, good)
    }

    /// Runs `fault` on the bad camera for `FAULT` (`during` acts at its start), checks every
    /// promise, and returns what the agent did and how long frames took to resume.
    fn survive(
        self,
        name: &str,
        fault: Fault,
        during: impl FnOnce(&Bench) + Send,
    ) -> (String, Duration) {
        let since = Instant::now();
        self.bad.set(fault);
        let (bad, good) = std::thread::scope(|s| {
            s.spawn(|| during(&self));
            self.watch(FAULT)
        });
        self.bad.set(Fault::None);
        self.bad.resize(320, 240, 10);
        let recovered = self.wait_frames("bad", RECOVERY + Duration::from_secs(20));
        let recovered = recovered.unwrap_or_else(|| {
            panic!(
                "{name}: no frames {} s after the fault ended: {:?}",
                (RECOVERY + Duration::from_secs(20)).as_secs(),
                self.read("bad")
            )
        });
        assert!(
            recovered <= RECOVERY,
            "{name}: frames resumed {:.1} s after the fault ended, more than {} s",
            recovered.as_secs_f64(),
            RECOVERY.as_secs()
        );
        truthful(name, &bad);
        unaffected(name, &good);
        self.dated_by_the_wall_clock(name, since);
        let last = self.read("bad");
        let states: Vec<&str> = {
            let mut s: Vec<&str> = bad.iter().map(|r| r.state.as_str()).collect();
            s.dedup();
            s
        };
        let analysed = bad.last().map_or(0.0, |r| r.analysed) - bad[0].analysed;
        let did = format!(
            "states {}, {:.0} frames analysed in {} s, {} reconnect(s)",
            states.join(" → "),
            analysed,
            FAULT.as_secs(),
            last.reconnects - bad[0].reconnects,
        );
        println!(
            "fault table | {name} | {did} | frames again {:.1} s after the end",
            recovered.as_secs_f64()
        );
        self.agent.stop();
        (did, recovered)
    }

    /// Every frame analysed since `since` is dated within 2 s of when it arrived.
    fn dated_by_the_wall_clock(&self, name: &str, since: Instant) {
        let seen = self.agent.seen();
        let now_wall = SystemTime::now();
        let now = Instant::now();
        for (at, o) in seen.outputs.iter().filter(|(t, _)| *t > since) {
            if let roadeye::pipeline::Output::Tracks(t) = o {
                let arrived_wall = now_wall - now.duration_since(*at);
                let off = match t.meta.captured_at.duration_since(arrived_wall) {
                    Ok(d) => d,
                    Err(e) => e.duration(),
                };
                assert!(
                    off < Duration::from_secs(2),
                    "{name}: camera '{}' frame {} dated {:.1} s away from its arrival",
                    t.meta.camera,
                    t.meta.seq,
                    off.as_secs_f64()
                );
            }
        }
    }
}

/// The state never says `streaming` through a silence longer than the stall timeout (plus the
/// time to notice), and the agent's readings never stop (it keeps running).
fn truthful(name: &str, readings: &[Reading]) {
    let slack = Duration::from_secs_f64(STALL_S + 2.0);
    let mut last_frame = readings[0].at;
    let mut last_count = readings[0].frames_in;
    for r in readings {
        if r.frames_in > last_count {
            (last_frame, last_count) = (r.at, r.frames_in);
        } else if r.state == "streaming" {
            assert!(
                r.at.duration_since(last_frame) <= slack,
                "{name}: 'streaming' {:.1} s after the last frame: {r:?}",
                r.at.duration_since(last_frame).as_secs_f64()
            );
        }
    }
}

/// The good camera streamed throughout and was analysed at its rate (5 fps, at least half of it).
fn unaffected(name: &str, readings: &[Reading]) {
    assert!(
        readings.iter().all(|r| r.state == "streaming"),
        "{name}: the good camera left 'streaming': {:?}",
        readings.iter().find(|r| r.state != "streaming")
    );
    let (first, last) = (&readings[0], &readings[readings.len() - 1]);
    let fps = (last.analysed - first.analysed) / last.at.duration_since(first.at).as_secs_f64();
    assert!(
        fps >= 2.5,
        "{name}: the good camera was analysed at {fps:.1} fps"
    );
}

#[test]
fn a_camera_that_stalls_with_its_session_open_is_reconnected_and_recovers() {
    let bench = Bench::start();
    let (did, _) = bench.survive("stall, socket open", Fault::Stall, |_| {});
    assert!(
        did.contains("reconnecting"),
        "the stall was never noticed: {did}"
    );
}

#[test]
fn a_camera_trickling_1_fps_stays_streaming_at_its_rate() {
    let bench = Bench::start();
    let (did, _) = bench.survive("1 fps trickle", Fault::Trickle, |_| {});
    assert!(
        !did.contains("reconnecting"),
        "a slow camera is not a dead one: {did}"
    );
}

#[test]
fn timestamps_jumping_hours_forwards_do_not_stop_the_camera() {
    let bench = Bench::start();
    bench.survive("PTS +3 h", Fault::Shift(3.0 * 3600.0), |_| {});
}

#[test]
fn timestamps_jumping_backwards_do_not_stop_the_camera() {
    let bench = Bench::start();
    // The stream has run for at least a few seconds: 3 s back stays above zero.
    bench.survive("PTS −3 s", Fault::Shift(-3.0), |_| {});
}

#[test]
fn repeated_timestamps_do_not_stop_the_camera() {
    let bench = Bench::start();
    bench.survive("PTS repeated", Fault::Repeat, |_| {});
}

#[test]
fn a_resolution_and_frame_rate_change_mid_stream_is_followed() {
    let bench = Bench::start();
    bench.survive("640×480 at 5 fps mid-stream", Fault::None, |b| {
        b.bad.resize(640, 480, 5)
    });
}

#[test]
fn corrupt_h264_does_not_stop_the_agent() {
    let bench = Bench::start();
    bench.survive("flipped bytes in 1 frame of 3", Fault::Corrupt, |_| {});
}

#[test]
fn a_stream_starting_on_p_frames_recovers_at_the_next_key_frame() {
    let bench = Bench::start();
    bench.survive(
        "starts on P-frames, sessions closed",
        Fault::StartOnDelta,
        |b| {
            // Closing the session makes the agent join again, onto P-frames.
            b.bad.kick()
        },
    );
}

#[test]
fn a_camera_closing_its_sessions_every_few_seconds_is_rejoined() {
    let bench = Bench::start();
    let (did, _) = bench.survive("sessions closed every 4 s", Fault::None, |b| {
        let started = Instant::now();
        b.bad.kick();
        std::thread::sleep(Duration::from_secs(4));
        b.bad.kick();
        std::thread::sleep(Duration::from_secs(4));
        b.bad.kick();
        assert!(started.elapsed() < FAULT);
    });
    assert!(
        !did.contains(" 0 reconnect"),
        "the closed sessions were not noticed: {did}"
    );
}
