//! The library's agent, started in this process (no subprocess) on vtest.avi with the real model,
//! publishing to a real Mosquitto: events arrive; a failed analysis is reported, counted,
//! restarted and flows again; reloads keep track ids rising and the other cameras' outputs flowing.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::mosquitto::{Mosquitto, Subscriber};
use common::wait;
use roadeye::agent::sink::SinkFuture;
use roadeye::agent::{Agent, Command, Report, Settings, Sink};
use roadeye::config::LoadedConfig;
use roadeye::infer::OrtRuntime;
use roadeye::pipeline::Output;
use roadeye::publish::ConfigHealth;
use tokio::sync::mpsc;

/// One camera's entry: vtest.avi looping at its own pace with the hand-counted line.
fn camera(id: &str, model: &str, score: f32) -> String {
    played(id, model, score, "loop = true")
}

/// A camera's entry on vtest.avi played as `playback` says.
fn played(id: &str, model: &str, score: f32, playback: &str) -> String {
    format!(
        "[[cameras]]\nid = \"{id}\"\nurl = \"file://{video}\"\n{playback}\nmodel = \"{model}\"\n\
         [cameras.detect]\nclasses = [\"person\"]\nscore_threshold = {score}\n{line}",
        video = common::media("vtest.avi").display(),
        line = common::VTEST_LINE.replace("plaza-x", &format!("{id}-x")),
    )
}

/// The box's config, publishing to Mosquitto on `port`, with the ops endpoints on `ops`; one
/// camera gets two inference lanes (one may fail while the other serves), more cameras the
/// automatic plan.
fn write_config(dir: &Path, port: u16, ops: u16, cameras: &[String]) -> PathBuf {
    let lanes = if cameras.len() == 1 {
        "[runtime.inference]\nlanes = 2\nintra_threads = 1\n"
    } else {
        ""
    };
    let text = format!(
        "[site]\nid = \"lib\"\ndevice = \"box\"\n[runtime]\nmodels_dir = \"{models}\"\n\
         {lanes}\
         [ops]\nlisten = \"127.0.0.1:{ops}\"\nwatch_config = false\n\
         [mqtt]\nhost = \"127.0.0.1\"\nport = {port}\nheartbeat_s = 1\nreconnect_max_s = 1\noutbox.path = \"{outbox}\"\n{cams}",
        models = common::root().join("models").display(),
        outbox = dir.join("outbox.redb").display(),
        cams = cameras.join("\n"),
    );
    common::write(dir, "box.toml", &text)
}

fn load(path: &Path) -> LoadedConfig {
    let cfg = LoadedConfig::load(path).expect("config");
    let problems = roadeye::config::validate::validate(&cfg);
    assert!(problems.is_empty(), "{problems:?}");
    cfg
}

/// What a probe sink saw: every output with the time it came, and each config report.
#[derive(Default)]
struct Seen {
    outputs: Vec<(Instant, Output)>,
    configs: Vec<(Instant, ConfigHealth)>,
}

impl Seen {
    /// `camera`'s track ids on frames that came after `after`.
    fn ids(&self, camera: &str, after: Option<Instant>) -> Vec<u64> {
        self.outputs
            .iter()
            .filter(|(t, _)| after.is_none_or(|a| *t > a))
            .filter_map(|(_, o)| match o {
                Output::Tracks(t) if &*t.meta.camera == camera => {
                    Some(t.tracks.iter().map(|k| k.id))
                }
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// When `camera`'s frames came.
    fn frames(&self, camera: &str) -> Vec<Instant> {
        self.outputs
            .iter()
            .filter_map(|(t, o)| match o {
                Output::Tracks(k) if &*k.meta.camera == camera => Some(*t),
                _ => None,
            })
            .collect()
    }
}

struct Probe(Arc<Mutex<Seen>>);

impl Sink for Probe {
    fn emit<'a>(&'a mut self, o: &'a Output) -> SinkFuture<'a> {
        self.0
            .lock()
            .expect("lock")
            .outputs
            .push((Instant::now(), o.clone()));
        Box::pin(async { Ok(()) })
    }

    fn config(&mut self, config: &ConfigHealth) {
        self.0
            .lock()
            .expect("lock")
            .configs
            .push((Instant::now(), config.clone()));
    }

    fn close(self: Box<Self>, _grace: Duration) -> SinkFuture<'static> {
        Box::pin(async { Ok(()) })
    }
}

/// The agent running on its own runtime thread, with a probe and a command channel.
struct Running {
    commands: mpsc::Sender<Command>,
    seen: Arc<Mutex<Seen>>,
    ops: u16,
    handle: std::thread::JoinHandle<Result<Report, String>>,
}

impl Running {
    fn start(cfg: &LoadedConfig) -> Running {
        let rt = OrtRuntime::init(None).expect("ONNX Runtime");
        let (commands, rx) = mpsc::channel(8);
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (ops_tx, ops_rx) = std::sync::mpsc::channel();
        let (cfg, seen2) = (cfg.clone(), Arc::clone(&seen));
        let handle = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let settings = Settings {
                    summary_every: Duration::from_secs(1),
                    flush: Duration::from_secs(2),
                    print_stored: false,
                };
                let mut agent = Agent::start(&cfg, rt, settings)
                    .await
                    .expect("the agent starts");
                agent.add_sink(Box::new(Probe(seen2)));
                ops_tx
                    .send(agent.ops_addr().expect("ops endpoints").port())
                    .expect("send");
                agent.run(rx).await.map_err(|e| e.to_string())
            })
        });
        let ops = ops_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the agent started");
        Running {
            commands,
            seen,
            ops,
            handle,
        }
    }

    fn send(&self, c: Command) {
        self.commands
            .blocking_send(c)
            .expect("the agent takes commands");
    }

    fn stop(self) -> Report {
        self.send(Command::Stop("the test is done".into()));
        self.handle
            .join()
            .expect("the agent's thread")
            .expect("the agent ran")
    }

    /// Waits up to `limit` for the agent to stop by itself; how its run ended.
    fn ended(self, limit: Duration) -> Result<Report, String> {
        assert!(
            wait(limit, || self.handle.is_finished()),
            "the agent did not stop"
        );
        self.handle.join().expect("the agent's thread")
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().expect("lock")
    }

    fn health(&self) -> Option<(u16, String)> {
        common::http_get(self.ops, "/healthz")
    }

    /// Waits up to `limit` for `/healthz` to answer 200.
    fn wait_healthy(&self, limit: Duration) {
        assert!(
            wait(limit, || self.health().is_some_and(|(c, _)| c == 200)),
            "/healthz is not ok: {:?}",
            self.health()
        );
    }

    /// Sends `fault`, waits for `/healthz` to answer 503 and returns when it was sent and what
    /// `/healthz` said.
    fn fail(&self, fault: Command) -> (Instant, String) {
        self.send(fault);
        let at = Instant::now();
        let mut down = None;
        assert!(
            wait(Duration::from_secs(10), || {
                down = self.health().filter(|(c, _)| *c == 503);
                down.is_some()
            }),
            "/healthz never went 503: {:?}",
            self.health()
        );
        (at, down.map(|(_, body)| body).unwrap_or_default())
    }
}

/// A broker, a subscriber on `filter`, and the agent on one camera publishing to the broker.
fn one_camera(dir: &Path, filter: &str) -> (Mosquitto, Subscriber, Running) {
    let broker = Mosquitto::start(dir, "");
    let sub = Subscriber::start(broker.port, "ioc-lib", filter);
    let path = write_config(
        dir,
        broker.port,
        common::mosquitto::free_port(),
        &[camera("plaza", "centernet", 0.15)],
    );
    let agent = Running::start(&load(&path));
    (broker, sub, agent)
}

#[test]
fn the_library_agent_publishes_events_to_mosquitto() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_broker, sub, agent) = one_camera(dir.path(), "roadeye/#");
    assert!(
        sub.wait_until(Duration::from_secs(90), |r| {
            r.iter()
                .any(|m| m.topic.contains("/plaza/events/line_crossing"))
        }),
        "no line crossing reached the broker: {:?}",
        sub.received().iter().map(|r| &r.topic).collect::<Vec<_>>()
    );
    let status: Vec<_> = sub
        .on("/status")
        .into_iter()
        .filter(|m| m.topic.ends_with("/status"))
        .collect();
    assert!(
        status
            .iter()
            .any(|m| m.json()["cameras"][0]["state"] == "streaming"),
        "no heartbeat with the camera streaming: {:?}",
        status.iter().map(|m| m.json()).collect::<Vec<_>>()
    );
    let report = agent.stop();
    assert_eq!(report.reason, "the test is done");
}

#[test]
fn a_failed_analysis_is_reported_counted_restarted_and_flows_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_broker, sub, agent) = one_camera(dir.path(), "roadeye/+/lib/box/status");
    agent.wait_healthy(Duration::from_secs(60));
    assert!(
        wait(Duration::from_secs(60), || !agent
            .seen()
            .ids("plaza", None)
            .is_empty()),
        "the camera made no tracks"
    );
    let before = agent
        .seen()
        .ids("plaza", None)
        .into_iter()
        .max()
        .unwrap_or(0);
    let (failed_at, body) = agent.fail(Command::FailAnalysis {
        camera: "plaza".into(),
        why: "injected fault".into(),
    });
    assert!(
        body.contains("camera 'plaza' is failed: analysis failed: panicked: injected fault"),
        "the reason is not in /healthz: {body}"
    );
    let metrics = common::http_get(agent.ops, "/metrics").expect("metrics").1;
    for line in [
        "roadeye_stage_failures_total{stage=\"analysis\",camera=\"plaza\"} 1",
        "roadeye_camera_state{camera=\"plaza\",state=\"failed\"} 1",
        "roadeye_camera_up{camera=\"plaza\"} 0",
    ] {
        assert!(metrics.contains(line), "no '{line}' in\n{metrics}");
    }
    assert!(
        sub.wait_until(Duration::from_secs(10), |r| r
            .iter()
            .any(
                |m| m.topic.ends_with("/status") && m.json()["cameras"][0]["state"] == "failed"
            )),
        "no heartbeat said the camera failed"
    );
    // Restarted after its delay: healthy again, with new tracks whose ids carry on.
    agent.wait_healthy(Duration::from_secs(30));
    let recovered = failed_at.elapsed();
    assert!(
        wait(Duration::from_secs(30), || !agent
            .seen()
            .ids("plaza", Some(failed_at + recovered))
            .is_empty()),
        "no tracks after the restart"
    );
    let after = agent.seen().ids("plaza", Some(failed_at + recovered));
    assert!(
        after.iter().all(|id| *id > before),
        "track ids were reused after the restart: before up to {before}, after {after:?}"
    );
    let metrics = common::http_get(agent.ops, "/metrics").expect("metrics").1;
    assert!(
        metrics.contains("roadeye_stage_failures_total{stage=\"analysis\",camera=\"plaza\"} 1"),
        "the failure is no longer counted:\n{metrics}"
    );
    agent.stop();
}

/// East is replayed as fast as the lanes go, so that its outputs during a reload of a tenth of a
/// second can be counted.
const FAST: &str = "realtime = false";

#[test]
fn a_failed_inference_lane_is_reported_restarted_and_the_other_lane_carries_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_broker, _sub, agent) = one_camera(dir.path(), "roadeye/+/lib/box/status");
    agent.wait_healthy(Duration::from_secs(60));
    let (failed_at, body) = agent.fail(Command::FailInference {
        model: "centernet".into(),
        why: "injected lane fault".into(),
    });
    assert!(
        body.contains("inference 'centernet/lane-")
            && body.contains("failed: panicked: injected lane fault"),
        "the reason is not in /healthz: {body}"
    );
    let metrics = common::http_get(agent.ops, "/metrics").expect("metrics").1;
    assert!(
        metrics.contains("roadeye_stage_failures_total{stage=\"inference\",lane=\"centernet/lane-"),
        "the lane's failure is not counted:\n{metrics}"
    );
    // The other lane serves the camera meanwhile.
    let frames = |a: &Running| {
        a.seen()
            .frames("plaza")
            .into_iter()
            .filter(|t| *t > failed_at)
            .count()
    };
    assert!(
        wait(Duration::from_secs(2), || frames(&agent) > 3),
        "the camera's frames stopped while one lane was down"
    );
    agent.wait_healthy(Duration::from_secs(30));
    agent.stop();
}

#[test]
fn reloads_keep_track_ids_rising_and_other_cameras_flowing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Mosquitto::start(dir.path(), "");
    let (port, ops) = (broker.port, common::mosquitto::free_port());
    let path = write_config(
        dir.path(),
        port,
        ops,
        &[
            played("east", "centernet", 0.15, FAST),
            camera("west", "centernet", 0.15),
        ],
    );
    let agent = Running::start(&load(&path));
    assert!(
        wait(Duration::from_secs(60), || agent
            .seen()
            .ids("east", None)
            .len()
            > 20),
        "east made no tracks"
    );
    // Writes the file with east's threshold and west's model, asks for a reload and waits for
    // it to be applied: when it was asked and when applied.
    let reload = |east_score: f32, west_model: &str| {
        write_config(
            dir.path(),
            port,
            ops,
            &[
                played("east", "centernet", east_score, FAST),
                camera("west", west_model, 0.15),
            ],
        );
        let asked = Instant::now();
        agent.send(Command::Reload("the test edited the file".into()));
        let applied = || {
            agent
                .seen()
                .configs
                .iter()
                .find(|(t, c)| *t > asked && c.rejected.is_none())
                .map(|(t, _)| *t)
        };
        assert!(
            wait(Duration::from_secs(60), || applied().is_some()),
            "the reload was not applied: {:?}",
            agent
                .seen()
                .configs
                .iter()
                .map(|(_, c)| c)
                .collect::<Vec<_>>()
        );
        (asked, applied().expect("applied"))
    };
    // A new score threshold restarts east's pipeline: its ids carry on above the old ones.
    let (_, done) = reload(0.2, "centernet");
    let before = agent.seen().ids("east", None);
    let old_max = agent
        .seen()
        .outputs
        .iter()
        .filter(|(t, _)| *t < done)
        .filter_map(|(_, o)| match o {
            Output::Tracks(t) if &*t.meta.camera == "east" => t.tracks.iter().map(|k| k.id).max(),
            _ => None,
        })
        .max()
        .expect("east's ids before the reload");
    assert!(
        wait(Duration::from_secs(60), || !agent
            .seen()
            .ids("east", Some(done))
            .is_empty()),
        "east made no tracks after its restart ({} before)",
        before.len()
    );
    let new = agent.seen().ids("east", Some(done));
    assert!(
        new.iter().all(|id| *id > old_max),
        "east's ids after the reload {new:?} do not carry on from {old_max}"
    );
    // West switches to CenterNet int8: while its model loads, east's outputs keep coming.
    let (asked, done) = reload(0.2, "centernet-int8");
    let during = agent
        .seen()
        .frames("east")
        .into_iter()
        .filter(|t| *t > asked && *t < done)
        .count();
    println!(
        "the model switch took {:.2} s; east delivered {during} frame(s) meanwhile",
        done.duration_since(asked).as_secs_f64()
    );
    assert!(
        during > 0,
        "no output of east while west's model loaded ({:.2} s)",
        done.duration_since(asked).as_secs_f64()
    );
    assert!(
        wait(Duration::from_secs(60), || !agent
            .seen()
            .ids("west", Some(done))
            .is_empty()),
        "west made no tracks with CenterNet int8"
    );
    agent.stop();
}

/// The (rule or kind, time) of each event and statistics message a probe saw after `after`.
fn sent_after(seen: &Seen, after: Instant) -> Vec<(String, u64)> {
    seen.outputs
        .iter()
        .filter(|(t, _)| *t > after)
        .filter_map(|(_, o)| match o {
            Output::Event(e) => Some((e.rule.clone(), roadeye::types::ms_since_epoch(e.time))),
            Output::Stats(s) => Some(("stats".into(), roadeye::types::ms_since_epoch(s.start))),
            Output::Tracks(_) => None,
        })
        .collect()
}

/// The same of each message the broker delivered.
fn delivered(sub: &Subscriber) -> Vec<(String, u64)> {
    sub.received()
        .iter()
        .filter_map(|r| {
            if r.topic.ends_with("/stats") {
                Some(("stats".into(), r.json()["start_ms"].as_u64()?))
            } else if r.topic.contains("/events/") {
                let j = r.json();
                Some((j["rule"].as_str()?.to_string(), j["time_ms"].as_u64()?))
            } else {
                None
            }
        })
        .collect()
}

#[test]
fn a_dead_mqtt_session_stops_the_agent_with_an_error_and_its_messages_wait_in_the_outbox() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (broker, sub, agent) = one_camera(dir.path(), "roadeye/+/lib/+/#");
    assert!(
        sub.wait_until(Duration::from_secs(60), |r| r
            .iter()
            .any(|m| m.topic.contains("/events/"))),
        "no event reached the broker"
    );
    agent.send(Command::FailOutputs("injected session fault".into()));
    let failed_at = Instant::now();
    let seen = Arc::clone(&agent.seen);
    let ended = agent.ended(Duration::from_secs(30));
    let err = ended.expect_err("the run must end with an error");
    assert!(
        err.contains("the MQTT session stopped while running"),
        "the error does not name the session: {err}"
    );
    // What was decided after the session died (at least the interval in progress, reported at
    // the stop) waits in the outbox and reaches the broker after a restart.
    let kept = sent_after(&seen.lock().expect("lock"), failed_at);
    assert!(!kept.is_empty(), "nothing was decided after the failure");
    let path = dir.path().join("box.toml");
    let again = Running::start(&load(&path));
    assert!(
        sub.wait_until(Duration::from_secs(60), |_| {
            let got = delivered(&sub);
            kept.iter().all(|k| got.contains(k))
        }),
        "lost after the session died: {:?} not in {:?}",
        kept,
        delivered(&sub)
    );
    again.stop();
    drop(broker);
}
