//! The live agent against real components: an in-process RTSP server (gst-rtsp-server) serving
//! vtest.avi, the real model and ONNX Runtime, and the real GStreamer decoding.
//!
//! Waits poll a condition until a deadline; the deadlines are generous except where the product
//! promises a bound (frames resume within 10 s of a camera coming back).

mod common;

use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use roadeye::config::LoadedConfig;
use roadeye::infer::OrtRuntime;
use roadeye::pipeline::{Output, Pipelines};
use roadeye::source::sim::CameraSim;
use roadeye::source::{CameraState, CameraStatus};
use roadeye::types::Tracks;
use tokio::sync::mpsc;

/// The live tests share two cores: one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn config(dir: &Path, cameras: &str) -> LoadedConfig {
    let text = format!(
        "[site]\nid = \"test\"\ndevice = \"box\"\n[runtime]\nmodels_dir = \"{}\"\n[runtime.inference]\nintra_threads = 1\n{cameras}",
        common::root().join("models").display()
    );
    let path = common::write(dir, "box.toml", &text);
    let cfg = LoadedConfig::load(&path).expect("config");
    let problems = roadeye::config::validate::validate(&cfg);
    assert!(problems.is_empty(), "{problems:?}");
    cfg
}

fn status(agent: &Pipelines, id: &str) -> CameraStatus {
    agent
        .statuses()
        .into_iter()
        .find(|(c, _)| &**c == id)
        .map(|(_, s)| s)
        .expect("camera status")
}

/// Moves the tracks waiting on `rx` into `seen`.
fn drain(rx: &mut mpsc::Receiver<Output>, seen: &mut Vec<Tracks>) {
    while let Ok(o) = rx.try_recv() {
        if let Output::Tracks(t) = o {
            seen.push(t);
        }
    }
}

/// Polls `cond` every 100 ms (draining tracks meanwhile) until it holds or `limit` passes.
async fn wait_for(
    limit: Duration,
    rx: &mut mpsc::Receiver<Output>,
    seen: &mut Vec<Tracks>,
    mut cond: impl FnMut(&[Tracks]) -> bool,
) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        drain(rx, seen);
        if cond(seen) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// A 2 s, 30 fps H.264 clip made with GStreamer's test source.
fn short_clip(dir: &Path) -> std::path::PathBuf {
    use gstreamer::prelude::*;
    roadeye::source::init().expect("GStreamer");
    let path = dir.join("clip.mp4");
    let pipeline = gstreamer::parse::launch(&format!(
        "videotestsrc num-buffers=60 pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 ! \
         x264enc ! mp4mux ! filesink location={}",
        path.display()
    ))
    .expect("clip pipeline");
    pipeline.set_state(gstreamer::State::Playing).expect("play");
    let bus = pipeline.bus().expect("bus");
    let msg = bus
        .timed_pop_filtered(
            gstreamer::ClockTime::from_seconds(30),
            &[gstreamer::MessageType::Eos, gstreamer::MessageType::Error],
        )
        .expect("clip finished");
    assert!(
        matches!(msg.view(), gstreamer::MessageView::Eos(_)),
        "{msg:?}"
    );
    pipeline.set_state(gstreamer::State::Null).expect("stop");
    path
}

#[test]
fn an_rtsp_camera_gives_person_tracks_that_last() {
    let _one = serial();
    let dir = tempfile::tempdir().expect("tmp");
    // Over UDP, with the credentials in the URL.
    let video = common::media("vtest.avi");
    let sim = CameraSim::start(&video, "127.0.0.1", 0, "/plaza", Some(("viewer", "s3cret")))
        .expect("sim");
    let url = sim.url().replace("rtsp://", "rtsp://viewer:s3cret@");
    let cfg = config(
        dir.path(),
        &format!(
            "[[cameras]]\nid = \"plaza\"\nurl = \"{url}\"\ntransport = \"udp\"\n[cameras.detect]\nscore_threshold = 0.15\n"
        ),
    );
    let rt = OrtRuntime::init(None).expect("ONNX Runtime");
    runtime().block_on(async {
        let (agent, mut rx) = Pipelines::start(&cfg, rt).expect("agent");
        let mut seen = Vec::new();
        // A person tracked with one id over at least 2 s of stream time and 8 analysed frames.
        let lasting = |seen: &[Tracks]| {
            let mut spans: HashMap<u64, (Duration, Duration, u32)> = HashMap::new();
            for t in seen {
                for tr in t.tracks.iter().filter(|tr| &*tr.label == "person") {
                    let e = spans.entry(tr.id).or_insert((t.meta.pts, t.meta.pts, 0));
                    e.1 = t.meta.pts;
                    e.2 += 1;
                }
            }
            spans
                .values()
                .any(|(a, b, n)| *n >= 8 && b.saturating_sub(*a) >= Duration::from_secs(2))
        };
        let ok = wait_for(Duration::from_secs(60), &mut rx, &mut seen, lasting).await;
        let st = status(&agent, "plaza");
        agent.shutdown().await;
        assert!(
            ok,
            "no lasting person track in {} frames; status {st:?}",
            seen.len()
        );
        assert_eq!(st.state, CameraState::Streaming);
        assert!(st.frames_in > 0 && st.frames_analysed > 0);
        let persons: HashSet<u64> = seen
            .iter()
            .flat_map(|t| {
                t.tracks
                    .iter()
                    .filter(|tr| &*tr.label == "person")
                    .map(|tr| tr.id)
            })
            .collect();
        assert!(
            persons.len() >= 2,
            "vtest.avi has several people: {persons:?}"
        );
        assert!(
            seen.iter()
                .all(|t| t.meta.width == 768 && t.meta.height == 576)
        );
    });
    drop(sim);
}

#[test]
fn a_camera_comes_back_within_10_s_of_its_server_restarting() {
    let _one = serial();
    let dir = tempfile::tempdir().expect("tmp");
    let port = free_port();
    let video = common::media("vtest.avi");
    let creds = Some(("viewer", "s3cret"));
    let sim = CameraSim::start(&video, "127.0.0.1", port, "/plaza", creds).expect("sim");
    // Over TCP, with the credentials in their own fields.
    let cfg = config(
        dir.path(),
        &format!(
            "[[cameras]]\nid = \"plaza\"\nurl = \"{}\"\nusername = \"viewer\"\npassword = \"s3cret\"\n\
             stall_timeout_s = 3\nreconnect_min_s = 0.5\nreconnect_max_s = 2\nanalysis_fps = 2\n",
            sim.url()
        ),
    );
    let rt = OrtRuntime::init(None).expect("ONNX Runtime");
    runtime().block_on(async {
        let (agent, mut rx) = Pipelines::start(&cfg, rt).expect("agent");
        let mut seen = Vec::new();
        let streaming = wait_for(Duration::from_secs(30), &mut rx, &mut seen, |_| {
            status(&agent, "plaza").frames_analysed >= 3
        })
        .await;
        assert!(streaming, "never streamed: {:?}", status(&agent, "plaza"));
        drop(sim);
        // The camera notices and keeps retrying while the server is down.
        let noticed = wait_for(Duration::from_secs(20), &mut rx, &mut seen, |_| {
            status(&agent, "plaza").reconnects >= 2
        })
        .await;
        let down = status(&agent, "plaza");
        assert!(noticed, "no reconnect attempts: {down:?}");
        assert!(
            matches!(
                down.state,
                CameraState::Reconnecting { .. } | CameraState::Connecting
            ),
            "{down:?}"
        );
        assert!(down.last_error.is_some());
        let frames_before = down.frames_in;
        let sim = CameraSim::start(&video, "127.0.0.1", port, "/plaza", creds).expect("sim again");
        let restarted = Instant::now();
        let back = wait_for(Duration::from_secs(10), &mut rx, &mut seen, |_| {
            let s = status(&agent, "plaza");
            s.state == CameraState::Streaming && s.frames_in > frames_before
        })
        .await;
        let after = status(&agent, "plaza");
        // Stream time restarted with the new connection: its frames are a new generation.
        let first_generation = seen.first().map(|t| t.meta.generation);
        let new_generation = wait_for(Duration::from_secs(20), &mut rx, &mut seen, |seen| {
            seen.last().map(|t| t.meta.generation) > first_generation
        })
        .await;
        agent.shutdown().await;
        drop(sim);
        assert!(
            back,
            "frames did not resume within 10 s of the restart: {after:?}"
        );
        eprintln!(
            "frames resumed {:.1} s after the server restarted",
            restarted.elapsed().as_secs_f32()
        );
        assert!(new_generation, "no analysed frame from the new connection");
    });
}

#[test]
fn wrong_credentials_are_reported_without_the_password() {
    let _one = serial();
    let dir = tempfile::tempdir().expect("tmp");
    let sim = CameraSim::start(
        &common::media("vtest.avi"),
        "127.0.0.1",
        0,
        "/plaza",
        Some(("viewer", "right")),
    )
    .expect("sim");
    let url = sim.url().replace("rtsp://", "rtsp://viewer:Wr0ngPass@");
    let cfg = config(
        dir.path(),
        &format!(
            "[[cameras]]\nid = \"plaza\"\nurl = \"{url}\"\nstall_timeout_s = 3\nreconnect_min_s = 0.5\nreconnect_max_s = 1\n"
        ),
    );
    let rt = OrtRuntime::init(None).expect("ONNX Runtime");
    runtime().block_on(async {
        let (agent, mut rx) = Pipelines::start(&cfg, rt).expect("agent");
        let mut seen = Vec::new();
        let failed = wait_for(Duration::from_secs(20), &mut rx, &mut seen, |_| {
            status(&agent, "plaza").reconnects >= 2
        })
        .await;
        let st = status(&agent, "plaza");
        agent.shutdown().await;
        assert!(failed, "{st:?}");
        assert_eq!(st.frames_in, 0);
        let err = st.last_error.expect("the camera says why");
        assert!(
            err.to_lowercase().contains("unauthorized") || err.contains("401"),
            "{err}"
        );
        assert!(!err.contains("Wr0ngPass"), "the password leaked: {err}");
    });
    drop(sim);
}

#[test]
fn an_unreachable_camera_backs_off_while_another_keeps_streaming() {
    let _one = serial();
    let dir = tempfile::tempdir().expect("tmp");
    let dead_port = free_port();
    let video = common::media("vtest.avi");
    let cfg = config(
        dir.path(),
        &format!(
            "[[cameras]]\nid = \"dead\"\nurl = \"rtsp://127.0.0.1:{dead_port}/nothing\"\nstall_timeout_s = 2\nreconnect_min_s = 0.2\nreconnect_max_s = 1\n\n\
             [[cameras]]\nid = \"alive\"\nurl = \"file://{}\"\nloop = true\nanalysis_fps = 3\n",
            video.display()
        ),
    );
    let rt = OrtRuntime::init(None).expect("ONNX Runtime");
    runtime().block_on(async {
        let (agent, mut rx) = Pipelines::start(&cfg, rt).expect("agent");
        let mut seen = Vec::new();
        let mut longest_wait = Duration::ZERO;
        let ok = wait_for(Duration::from_secs(40), &mut rx, &mut seen, |_| {
            if let CameraState::Reconnecting { retry_in, .. } = status(&agent, "dead").state {
                longest_wait = longest_wait.max(retry_in);
            }
            status(&agent, "dead").reconnects >= 5 && status(&agent, "alive").frames_analysed >= 10
        })
        .await;
        let (dead, alive) = (status(&agent, "dead"), status(&agent, "alive"));
        // The live camera keeps going while the dead one retries.
        let analysed_then = alive.frames_analysed;
        let still = wait_for(Duration::from_secs(20), &mut rx, &mut seen, |_| {
            status(&agent, "alive").frames_analysed >= analysed_then + 5
        })
        .await;
        agent.shutdown().await;
        assert!(ok, "dead {dead:?}, alive {alive:?}");
        assert!(still, "the live camera stalled");
        assert!(
            matches!(
                dead.state,
                CameraState::Reconnecting { .. } | CameraState::Connecting
            ),
            "{dead:?}"
        );
        assert_eq!(dead.frames_in, 0);
        assert!(dead.last_error.is_some(), "the dead camera reports why");
        // The backoff doubled from 0.2 s up to its 1 s cap.
        assert_eq!(longest_wait, Duration::from_secs(1), "{dead:?}");
        assert_eq!(alive.state, CameraState::Streaming);
        assert!(seen.iter().all(|t| &*t.meta.camera == "alive"));
    });
}

#[test]
fn a_file_plays_once_at_its_rate_and_the_camera_ends() {
    let _one = serial();
    let dir = tempfile::tempdir().expect("tmp");
    let clip = short_clip(dir.path());
    assert!(clip.is_file());
    let cfg = config(
        dir.path(),
        "[[cameras]]\nid = \"clip\"\nurl = \"file:clip.mp4\"\nanalysis_fps = 5\nanalysis_width = 160\n",
    );
    let rt = OrtRuntime::init(None).expect("ONNX Runtime");
    runtime().block_on(async {
        let (agent, mut rx) = Pipelines::start(&cfg, rt).expect("agent");
        let mut seen = Vec::new();
        let ended = wait_for(Duration::from_secs(30), &mut rx, &mut seen, |_| {
            status(&agent, "clip").state == CameraState::Ended
        })
        .await;
        let st = status(&agent, "clip");
        agent.shutdown().await;
        drain(&mut rx, &mut seen);
        assert!(ended, "{st:?}");
        assert_eq!(st.frames_in, 60, "{st:?}");
        // 5 of 30 fps: 10 of the 60 frames go to analysis, the rest are skipped by the policy.
        assert!((48..=52).contains(&st.frames_skipped), "{st:?}");
        // Every frame is accounted for (one may still wait in the slot when the file ends).
        let accounted = st.frames_skipped + st.frames_analysed + st.frames_dropped;
        assert!(st.frames_in - accounted <= 1, "{st:?}");
        assert_eq!(st.reconnects, 0);
        // Scaled in GStreamer to the analysis width, aspect ratio kept.
        assert!(
            seen.iter()
                .all(|t| (t.meta.width, t.meta.height) == (160, 120)),
            "{:?}",
            seen[0].meta
        );
        // Played like a camera: frames were received as far apart as their timestamps say.
        let (first, last) = (seen.first().expect("frames"), seen.last().expect("frames"));
        let stream = last.meta.pts.saturating_sub(first.meta.pts);
        let wall = last
            .meta
            .captured_at
            .duration_since(first.meta.captured_at)
            .expect("clock");
        assert!(stream >= Duration::from_millis(1400), "{stream:?}");
        assert!(
            wall.as_secs_f64() >= 0.8 * stream.as_secs_f64(),
            "wall {wall:?} for stream {stream:?}"
        );
    });
}

#[test]
fn cameras_sharing_a_model_are_served_fairly() {
    let _one = serial();
    let dir = tempfile::tempdir().expect("tmp");
    let video = common::media("vtest.avi");
    let cam = |id: &str| {
        format!(
            "[[cameras]]\nid = \"{id}\"\nurl = \"file://{}\"\nloop = true\n",
            video.display()
        )
    };
    let cfg = config(dir.path(), &format!("{}\n{}", cam("a"), cam("b")));
    let rt = OrtRuntime::init(None).expect("ONNX Runtime");
    runtime().block_on(async {
        let (agent, mut rx) = Pipelines::start(&cfg, rt).expect("agent");
        let mut seen = Vec::new();
        let ok = wait_for(Duration::from_secs(60), &mut rx, &mut seen, |_| {
            status(&agent, "a").frames_analysed + status(&agent, "b").frames_analysed >= 24
        })
        .await;
        let (a, b) = (status(&agent, "a"), status(&agent, "b"));
        agent.shutdown().await;
        assert!(ok, "{a:?} {b:?}");
        let (na, nb) = (a.frames_analysed as f64, b.frames_analysed as f64);
        assert!(na / nb > 0.6 && na / nb < 1.67, "unfair: a {na}, b {nb}");
    });
}
