//! The agent: one assembly of every stage, started and stopped in one written order.
//!
//! ```text
//!  camera threads ──Frame──▶ inference lanes ──Analysed──▶ analysis tasks ──Output──▶ Agent::run
//!  (source/)     latest-frame  (pipeline/lanes,  (detections,  (track/ + rules/,   (tracks, events,
//!                slot          one per model)     frame)        supervised)         statistics)
//!                                                                                        │
//!             Board (telemetry) ◀── every stage          sinks: Mqtt (outbox → broker) ◀─┤
//!               ├─▶ /metrics, /healthz (ops/)                   or Stdout             ◀─┘
//!               └─▶ heartbeat (publish/ status)
//! ```
//!
//! Start: telemetry → outputs (the MQTT link, its embedded broker) → snapshot writer → ops
//! endpoints → pipelines. Stop: pipelines (their last outputs drained into the outputs) →
//! outputs (flushed within the grace) → endpoints. A reload is applied while outputs keep
//! flowing; commands (reload, stop) arrive on a channel, so the CLI only turns signals into them.

mod assemble;
mod mqtt;
mod reload;
pub mod sink;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

pub use mqtt::Mqtt;
pub use reload::Reloader;
pub use sink::{Sink, SinkError, Stdout};

use crate::config::LoadedConfig;
use crate::infer::OrtRuntime;
use crate::ops::{Board, HttpServer, Metrics, SnapshotError};
use crate::pipeline::{Hooks, Output, PipelineError, Pipelines, Snapshots, Summary};
use crate::publish::LinkError;
use crate::source::CameraState;

/// How often the config file is checked for a change.
const WATCH_EVERY: Duration = Duration::from_secs(2);

/// Why the agent could not start or failed while running.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The pipelines could not start.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The MQTT link could not start.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// The snapshot writer could not start.
    #[error(transparent)]
    Snapshots(#[from] SnapshotError),
    /// `ops.listen` is not an address.
    #[error("ops.listen: {0}")]
    Listen(String),
    /// An output failed.
    #[error(transparent)]
    Sink(#[from] SinkError),
}

/// The agent's clocks.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Seconds between track summaries in the log (and the cameras' health for the heartbeat).
    pub summary_every: Duration,
    /// At a stop, how long to keep sending what the broker has not acknowledged yet.
    pub flush: Duration,
    /// Print each event and statistics message on stdout once it is stored in the outbox (what
    /// `roadeye run` does; without a link they are printed anyway, as the only output).
    pub print_stored: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            summary_every: Duration::from_secs(5),
            flush: Duration::from_secs(5),
            print_stored: true,
        }
    }
}

/// What the running agent can be asked.
#[derive(Debug, Clone)]
pub enum Command {
    /// Read the config file again and apply it (the reason is logged).
    Reload(String),
    /// Stop (the reason is logged).
    Stop(String),
    /// Make a camera's analysis fail, as a bug would: how the supervision is tested.
    #[doc(hidden)]
    FailAnalysis {
        /// The camera.
        camera: String,
        /// The panic's text.
        why: String,
    },
    /// Make the outputs fail (the MQTT session panics), as a bug would: how the watch on the
    /// outputs is tested.
    #[doc(hidden)]
    FailOutputs(String),
    /// Make the snapshot writer fail at its next snapshot, as a bug would: how the supervision
    /// is tested.
    #[doc(hidden)]
    FailSnapshots(String),
    /// Make the ops endpoints fail, as a bug would: how the supervision is tested.
    #[doc(hidden)]
    FailEndpoints(String),
    /// Make an inference lane of a model fail, as a bug would: how the supervision is tested.
    #[doc(hidden)]
    FailInference {
        /// The model's name.
        model: String,
        /// The panic's text.
        why: String,
    },
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Why it stopped.
    pub reason: String,
}

/// The running agent.
pub struct Agent {
    settings: Settings,
    board: Arc<Board>,
    metrics: Arc<Metrics>,
    pipelines: Pipelines,
    outputs: mpsc::Receiver<Output>,
    outlet: Outlet,
    http: Option<HttpServer>,
    snapshots: Option<Arc<Snapshots>>,
    reloader: Reloader,
    watching: bool,
}

/// The outputs and what is counted on the way to them.
struct Outlet {
    sinks: Vec<Box<dyn Sink>>,
    summary: Summary,
    metrics: Arc<Metrics>,
}

impl Outlet {
    async fn emit(&mut self, o: &Output) -> Result<(), SinkError> {
        match o {
            Output::Tracks(t) => {
                let before = self.summary.total_tracks(&t.meta.camera);
                self.summary.add(t);
                let started = self
                    .summary
                    .total_tracks(&t.meta.camera)
                    .saturating_sub(before);
                self.metrics
                    .tracks(&t.meta.camera, t.tracks.len(), started as u64);
            }
            Output::Event(e) => self.metrics.event(&e.camera, e.kind.name()),
            Output::Stats(_) => {}
        }
        for s in &mut self.sinks {
            s.emit(o).await?;
        }
        Ok(())
    }
}

impl Agent {
    /// Starts everything `cfg` asks for, on the current tokio runtime: the outputs first, the
    /// cameras last.
    pub async fn start(
        cfg: &LoadedConfig,
        rt: &'static OrtRuntime,
        settings: Settings,
    ) -> Result<Agent, AgentError> {
        let board = Arc::new(Board::default());
        let metrics = Arc::new(Metrics::new(Arc::clone(&board)));
        let (sink, volatile) = assemble::outputs(cfg, &metrics, &board, settings.print_stored)?;
        let snapshots = assemble::snapshots(cfg, &metrics, &board, volatile)?;
        let http = assemble::endpoints(cfg, &metrics, &board, snapshots.is_some())?;
        let hooks = Hooks {
            metrics: Some(Arc::clone(&metrics)),
            snapshots: snapshots.clone(),
            board: Arc::clone(&board),
        };
        let (pipelines, outputs) = Pipelines::start_with(cfg, rt, hooks)?;
        let reloader = Reloader::new(cfg);
        tracing::info!(
            cameras = pipelines.statuses().len(),
            site = %cfg.config.site.id,
            config = %cfg.revision,
            "running"
        );
        let mut outlet = Outlet {
            sinks: vec![sink],
            summary: Summary::default(),
            metrics: Arc::clone(&metrics),
        };
        for s in &mut outlet.sinks {
            s.config(reloader.health());
        }
        Ok(Agent {
            settings,
            board,
            metrics,
            pipelines,
            outputs,
            outlet,
            http,
            snapshots,
            reloader,
            watching: cfg.config.ops.watch_config,
        })
    }

    /// The telemetry every part reports to.
    pub fn board(&self) -> Arc<Board> {
        Arc::clone(&self.board)
    }

    /// The metrics.
    pub fn metrics(&self) -> Arc<Metrics> {
        Arc::clone(&self.metrics)
    }

    /// Where the ops endpoints listen, if they do.
    pub fn ops_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().map(HttpServer::addr)
    }

    /// Adds an output (it gets everything from the next output on).
    pub fn add_sink(&mut self, mut sink: Box<dyn Sink>) {
        sink.config(self.reloader.health());
        self.outlet.sinks.push(sink);
    }

    /// Runs until a [`Command::Stop`] or every camera's file has ended, then stops in order.
    pub async fn run(self, mut commands: mpsc::Receiver<Command>) -> Result<Report, AgentError> {
        let Agent {
            settings,
            board,
            metrics,
            mut pipelines,
            mut outputs,
            mut outlet,
            http,
            snapshots,
            mut reloader,
            watching,
        } = self;
        let every = settings.summary_every;
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let mut watch = tokio::time::interval(WATCH_EVERY);
        watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        board.sample_rates();
        let health = |outlet: &mut Outlet| {
            let health = board.reading().health();
            for s in &mut outlet.sinks {
                s.health(&health);
            }
        };
        health(&mut outlet);
        let mut broken = None;
        let reason = loop {
            let why = tokio::select! {
                Some(o) = outputs.recv() => {
                    match outlet.emit(&o).await {
                        Ok(()) => continue,
                        Err(e) => {
                            tracing::error!("{e}: stopping");
                            broken = Some(e);
                            break "an output failed".to_string();
                        }
                    }
                }
                _ = tick.tick() => {
                    board.sample_rates();
                    let statuses = pipelines.statuses();
                    for line in outlet.summary.lines(&statuses, every) {
                        tracing::info!("{line}");
                    }
                    health(&mut outlet);
                    if let Some(what) = outlet.sinks.iter().find_map(|s| s.stopped()) {
                        tracing::error!("{what} stopped while running: stopping so that the service restarts");
                        broken = Some(SinkError::Stopped(what));
                        break format!("{what} stopped");
                    }
                    if !statuses.is_empty() && statuses.iter().all(|(_, s)| s.state == CameraState::Ended) {
                        break "every source ended".to_string();
                    }
                    continue;
                }
                _ = watch.tick(), if watching => {
                    if !reloader.changed() {
                        continue;
                    }
                    "the config file changed".to_string()
                }
                Some(c) = commands.recv() => match c {
                    Command::Reload(why) => why,
                    Command::Stop(why) => break why,
                    Command::FailAnalysis { camera, why } => {
                        if !pipelines.fail_analysis(&camera, &why) {
                            tracing::warn!(camera = %camera, "no such camera, or its analysis is busy");
                        }
                        continue;
                    }
                    Command::FailOutputs(why) => {
                        for s in &outlet.sinks {
                            s.fail(&why);
                        }
                        continue;
                    }
                    Command::FailSnapshots(why) => {
                        match &snapshots {
                            Some(s) => s.writer.fail(&why),
                            None => tracing::warn!("no snapshots are kept"),
                        }
                        continue;
                    }
                    Command::FailEndpoints(why) => {
                        match &http {
                            Some(h) => h.fail(&why),
                            None => tracing::warn!("no ops endpoints run"),
                        }
                        continue;
                    }
                    Command::FailInference { model, why } => {
                        if !pipelines.fail_inference(&model, &why) {
                            tracing::warn!(model = %model, "no such model running");
                        }
                        continue;
                    }
                },
            };
            // Outputs keep flowing while the reload loads what it needs.
            {
                let reload = reloader.reload(&mut pipelines, &metrics, &why);
                tokio::pin!(reload);
                loop {
                    tokio::select! {
                        () = &mut reload => break,
                        Some(o) = outputs.recv() => outlet.emit(&o).await?,
                    }
                }
            }
            for s in &mut outlet.sinks {
                s.config(reloader.health());
            }
        };
        tracing::info!("stopping ({reason})");
        let statuses = pipelines.statuses();
        // Every event decided before the stop is stored (and sent if the broker takes it in time).
        let mut last = Vec::new();
        pipelines
            .shutdown_draining(&mut outputs, |o| last.push(o))
            .await;
        let mut failed = broken;
        for o in &last {
            if let Err(e) = outlet.emit(o).await {
                tracing::error!(
                    "{e}: {} output(s) decided at the stop were not stored",
                    last.len()
                );
                failed.get_or_insert(e);
                break;
            }
        }
        for s in outlet.sinks.drain(..) {
            if let Err(e) = s.close(settings.flush).await {
                failed.get_or_insert(e);
            }
        }
        if let Some(h) = http {
            h.shutdown().await;
        }
        for (id, st) in &statuses {
            tracing::info!(
                "{id}: {} track(s) in all, {} frame(s) analysed, {} dropped, {} reconnect(s)",
                outlet.summary.total_tracks(id),
                st.frames_analysed,
                st.frames_dropped,
                st.reconnects
            );
        }
        match failed {
            Some(e) => Err(e.into()),
            None => Ok(Report { reason }),
        }
    }
}
