//! The library's agent started in this process (no subprocess) on vtest.avi with the real model,
//! publishing to a real Mosquitto, with a probe sink that records every output and config report.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::mosquitto::{Mosquitto, Subscriber};
use super::wait;
use roadeye::agent::sink::SinkFuture;
use roadeye::agent::{Agent, Command, Report, Settings, Sink};
use roadeye::config::LoadedConfig;
use roadeye::infer::OrtRuntime;
use roadeye::pipeline::Output;
use roadeye::publish::ConfigHealth;
use tokio::sync::mpsc;

/// One camera's entry: vtest.avi looping at its own pace with the hand-counted line.
pub fn camera(id: &str, model: &str, score: f32) -> String {
    played(id, model, score, "loop = true")
}

/// A camera's entry on vtest.avi played as `playback` says.
pub fn played(id: &str, model: &str, score: f32, playback: &str) -> String {
    format!(
        "[[cameras]]\nid = \"{id}\"\nurl = \"file://{video}\"\n{playback}\nmodel = \"{model}\"\n\
         [cameras.detect]\nclasses = [\"person\"]\nscore_threshold = {score}\n{line}",
        video = super::media("vtest.avi").display(),
        line = super::VTEST_LINE.replace("plaza-x", &format!("{id}-x")),
    )
}

/// The box's config, publishing to Mosquitto on `port`, with the ops endpoints on `ops`; one
/// camera gets two inference lanes (one may fail while the other serves), more cameras the
/// automatic plan.
pub fn write_config(dir: &Path, port: u16, ops: u16, cameras: &[String]) -> PathBuf {
    write_config_with(dir, port, ops, "", cameras)
}

/// The same, with `extra` sections (e.g. `[snapshots]`).
pub fn write_config_with(
    dir: &Path,
    port: u16,
    ops: u16,
    extra: &str,
    cameras: &[String],
) -> PathBuf {
    let lanes = if cameras.len() == 1 {
        "[runtime.inference]\nlanes = 2\nintra_threads = 1\n"
    } else {
        ""
    };
    let text = format!(
        "[site]\nid = \"lib\"\ndevice = \"box\"\n[runtime]\nmodels_dir = \"{models}\"\n\
         {lanes}\
         [ops]\nlisten = \"127.0.0.1:{ops}\"\nwatch_config = false\n\
         [mqtt]\nhost = \"127.0.0.1\"\nport = {port}\nheartbeat_s = 1\nreconnect_max_s = 1\noutbox.path = \"{outbox}\"\n{extra}\n{cams}",
        models = super::root().join("models").display(),
        outbox = dir.join("outbox.redb").display(),
        cams = cameras.join("\n"),
    );
    super::write(dir, "box.toml", &text)
}

pub fn load(path: &Path) -> LoadedConfig {
    let cfg = LoadedConfig::load(path).expect("config");
    let problems = roadeye::config::validate::validate(&cfg);
    assert!(problems.is_empty(), "{problems:?}");
    cfg
}

/// What a probe sink saw: every output with the time it came, and each config report.
#[derive(Default)]
pub struct Seen {
    pub outputs: Vec<(Instant, Output)>,
    pub configs: Vec<(Instant, ConfigHealth)>,
}

impl Seen {
    /// `camera`'s track ids on frames that came after `after`.
    pub fn ids(&self, camera: &str, after: Option<Instant>) -> Vec<u64> {
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
    pub fn frames(&self, camera: &str) -> Vec<Instant> {
        self.outputs
            .iter()
            .filter_map(|(t, o)| match o {
                Output::Tracks(k) if &*k.meta.camera == camera => Some(*t),
                _ => None,
            })
            .collect()
    }
}

pub struct Probe(pub Arc<Mutex<Seen>>);

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
pub struct Running {
    commands: mpsc::Sender<Command>,
    pub seen: Arc<Mutex<Seen>>,
    pub ops: u16,
    handle: std::thread::JoinHandle<Result<Report, String>>,
}

impl Running {
    pub fn start(cfg: &LoadedConfig) -> Running {
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

    pub fn send(&self, c: Command) {
        self.commands
            .blocking_send(c)
            .expect("the agent takes commands");
    }

    pub fn stop(self) -> Report {
        self.send(Command::Stop("the test is done".into()));
        self.handle
            .join()
            .expect("the agent's thread")
            .expect("the agent ran")
    }

    /// Waits up to `limit` for the agent to stop by itself; how its run ended.
    pub fn ended(self, limit: Duration) -> Result<Report, String> {
        assert!(
            wait(limit, || self.handle.is_finished()),
            "the agent did not stop"
        );
        self.handle.join().expect("the agent's thread")
    }

    pub fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().expect("lock")
    }

    pub fn health(&self) -> Option<(u16, String)> {
        super::http_get(self.ops, "/healthz")
    }

    /// Waits up to `limit` for `/healthz` to answer 200.
    pub fn wait_healthy(&self, limit: Duration) {
        assert!(
            wait(limit, || self.health().is_some_and(|(c, _)| c == 200)),
            "/healthz is not ok: {:?}",
            self.health()
        );
    }

    /// Sends `fault`, waits for `/healthz` to answer 503 and returns when it was sent and what
    /// `/healthz` said.
    pub fn fail(&self, fault: Command) -> (Instant, String) {
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
pub fn one_camera(dir: &Path, filter: &str) -> (Mosquitto, Subscriber, Running) {
    one_camera_with(dir, filter, "")
}

/// The same, with `extra` sections in the config.
pub fn one_camera_with(dir: &Path, filter: &str, extra: &str) -> (Mosquitto, Subscriber, Running) {
    let broker = Mosquitto::start(dir, "");
    let sub = Subscriber::start(broker.port, "ioc-lib", filter);
    let path = write_config_with(
        dir,
        broker.port,
        super::mosquitto::free_port(),
        extra,
        &[camera("plaza", "centernet", 0.15)],
    );
    let agent = Running::start(&load(&path));
    (broker, sub, agent)
}
