//! The agent's pipelines, one per camera: source → infer → track → rules, joined by bounded
//! channels of typed messages. Inference is shared per model (one session, round robin between its
//! cameras) and runs on its own thread, off the async runtime; tracking and the rules run as one
//! async task per camera.

mod summary;
mod worker;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use summary::Summary;
pub use worker::{InferWorker, WorkerCamera};

use crate::config::LoadedConfig;
use crate::infer::{InferError, LoadedSpec, ModelRunner, OrtRuntime, Postprocessor};
use crate::rules::{CameraRules, Event, IntervalStats, RulesError};
use crate::source::{Camera, CameraStatus, LatestFrame, Signal, SourceError, SourceSettings};
use crate::track::Tracker;
use crate::types::{CameraId, Detections, Tracks};

/// Detections waiting for a camera's tracker.
const DETECTIONS_QUEUE: usize = 8;
/// Outputs waiting for the consumer. Never dropped: a slow consumer slows the cameras' analysis
/// (their newest-frame slots then skip frames, counted), it does not lose events.
const OUTPUT_QUEUE: usize = 256;
/// How often statistics intervals are checked for closing while a camera sends nothing.
const STATS_TICK: std::time::Duration = std::time::Duration::from_secs(1);

/// What the agent produces, in order per camera.
#[derive(Debug, Clone)]
pub enum Output {
    /// A frame's confirmed tracks.
    Tracks(Tracks),
    /// An event decided on that frame (sent after the frame's tracks).
    Event(Event),
    /// A closed statistics interval.
    Stats(IntervalStats),
}

/// Why the pipelines could not start.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A model could not be loaded or does not match its spec.
    #[error("camera '{camera}': {source}")]
    Model {
        /// The first camera using the model.
        camera: String,
        /// The model's error.
        #[source]
        source: InferError,
    },
    /// A camera's source settings are unusable.
    #[error("camera '{camera}': {source}")]
    Source {
        /// The camera.
        camera: String,
        /// What is wrong.
        #[source]
        source: SourceError,
    },
    /// A thread could not be started.
    #[error("cannot start a thread: {0}")]
    Thread(#[from] std::io::Error),
    /// GStreamer could not be initialised.
    #[error("{0}")]
    Init(SourceError),
    /// No camera is enabled.
    #[error("no enabled camera in the config")]
    NoCameras,
    /// A camera's rules cannot run.
    #[error("camera '{camera}': {source}")]
    Rules {
        /// The camera.
        camera: String,
        /// What is wrong.
        #[source]
        source: RulesError,
    },
    /// `[site] timezone` is not usable.
    #[error("site.timezone: {0}")]
    TimeZone(String),
}

/// The running agent: every enabled camera of a config.
pub struct Agent {
    cameras: Vec<Camera>,
    workers: Vec<InferWorker>,
    trackers: Vec<JoinHandle<()>>,
}

impl Agent {
    /// Starts every enabled camera of `cfg`, its model's inference, its tracker and its rules (on
    /// the current tokio runtime). Every camera's tracks, events and statistics arrive on the
    /// returned receiver.
    pub fn start(
        cfg: &LoadedConfig,
        rt: &OrtRuntime,
    ) -> Result<(Agent, mpsc::Receiver<Output>), PipelineError> {
        crate::source::init().map_err(PipelineError::Init)?;
        let tz = cfg
            .config
            .site
            .time_zone()
            .map_err(PipelineError::TimeZone)?;
        let (out_tx, out_rx) = mpsc::channel(OUTPUT_QUEUE);
        let mut by_model: HashMap<PathBuf, (LoadedSpec, Vec<usize>)> = HashMap::new();
        let enabled: Vec<_> = cfg.config.cameras.iter().filter(|c| c.enabled).collect();
        if enabled.is_empty() {
            return Err(PipelineError::NoCameras);
        }
        for (i, cam) in enabled.iter().enumerate() {
            // The same model named two ways is still one session.
            let path = cfg.model_spec_path(cam);
            let path = path.canonicalize().unwrap_or(path);
            if let Some(entry) = by_model.get_mut(&path) {
                entry.1.push(i);
                continue;
            }
            let spec = LoadedSpec::load(&path).map_err(|source| PipelineError::Model {
                camera: cam.id.clone(),
                source,
            })?;
            by_model.insert(path, (spec, vec![i]));
        }
        let mut agent = Agent {
            cameras: Vec::new(),
            workers: Vec::new(),
            trackers: Vec::new(),
        };
        for (spec, members) in by_model.into_values() {
            let first = enabled[members[0]].id.clone();
            let runner = ModelRunner::new(rt, spec.clone(), &cfg.config.runtime.inference)
                .map_err(|source| PipelineError::Model {
                    camera: first,
                    source,
                })?;
            let signal = Arc::new(Signal::default());
            let mut worker_cams = Vec::new();
            for &i in &members {
                let cam = enabled[i];
                let fail = |source| PipelineError::Model {
                    camera: cam.id.clone(),
                    source,
                };
                let post = Postprocessor::with_override(&spec, &cam.detect).map_err(fail)?;
                let settings =
                    SourceSettings::from_config(cam, &cfg.base_dir).map_err(|source| {
                        PipelineError::Source {
                            camera: cam.id.clone(),
                            source,
                        }
                    })?;
                let rules =
                    CameraRules::new(&cam.id, &cam.rules(), tz.clone()).map_err(|source| {
                        PipelineError::Rules {
                            camera: cam.id.clone(),
                            source,
                        }
                    })?;
                // A replayed file dates its frames by stream time, not by the wall clock: its
                // statistics intervals close on its frames only.
                let wall_clock = !settings.is_replay();
                let (det_tx, det_rx) = mpsc::channel(DETECTIONS_QUEUE);
                let slot = Arc::new(LatestFrame::default());
                let camera = Camera::start(settings, Arc::clone(&slot), Arc::clone(&signal));
                worker_cams.push(WorkerCamera {
                    id: CameraId::from(cam.id.as_str()),
                    failing: false,
                    slot,
                    status: camera.status_cell(),
                    post,
                    tx: det_tx,
                });
                agent.trackers.push(tokio::spawn(analyse(
                    Tracker::new(cam.tracker.clone()),
                    rules,
                    det_rx,
                    out_tx.clone(),
                    wall_clock,
                )));
                agent.cameras.push(camera);
            }
            agent
                .workers
                .push(InferWorker::start(runner, worker_cams, signal)?);
        }
        Ok((agent, out_rx))
    }

    /// Every camera's id and status.
    pub fn statuses(&self) -> Vec<(CameraId, CameraStatus)> {
        self.cameras
            .iter()
            .map(|c| (Arc::clone(&c.settings().camera), c.status()))
            .collect()
    }

    /// Stops every camera and inference thread, then lets the trackers drain.
    pub async fn shutdown(self) {
        let (cameras, workers) = (self.cameras, self.workers);
        // Joining threads blocks: keep it off the async workers.
        let _ = tokio::task::spawn_blocking(move || {
            for w in workers {
                w.stop();
            }
            for c in cameras {
                c.stop();
            }
        })
        .await;
        for t in self.trackers {
            let _ = t.await;
        }
    }

    /// [`shutdown`](Self::shutdown) while handing every output still coming on `rx` to `f`, so no
    /// stage waits on a full queue and nothing decided before the stop is lost.
    pub async fn shutdown_draining(
        self,
        rx: &mut mpsc::Receiver<Output>,
        mut f: impl FnMut(Output),
    ) {
        let shutdown = self.shutdown();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                Some(o) = rx.recv() => f(o),
            }
        }
        while let Ok(o) = rx.try_recv() {
            f(o);
        }
    }
}

/// A camera's tracking and rules: detections in; tracks, events and statistics out.
async fn analyse(
    mut tracker: Tracker,
    mut rules: CameraRules,
    mut rx: mpsc::Receiver<Detections>,
    tx: mpsc::Sender<Output>,
    wall_clock: bool,
) {
    let mut generation = None;
    let mut tick = tokio::time::interval(STATS_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ticks = async |tick: &mut tokio::time::Interval| {
        if wall_clock {
            tick.tick().await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    loop {
        let (outputs, more) = tokio::select! {
            d = rx.recv() => match d {
                Some(d) => {
                    // A new connection or a loop of a file: earlier tracks belong to another stream.
                    if generation.replace(d.meta.generation) != Some(d.meta.generation) {
                        tracker.reset();
                    }
                    let frame = Tracks {
                        tracks: tracker.update(d.meta.pts, &d.detections),
                        meta: d.meta,
                    };
                    let (events, stats) = rules.update(&frame);
                    let mut out = Vec::with_capacity(events.len() + 2);
                    out.extend(stats.map(Output::Stats));
                    out.push(Output::Tracks(frame));
                    out.extend(events.into_iter().map(Output::Event));
                    (out, true)
                }
                // The camera stopped: report the interval in progress.
                None => (rules.flush().map(Output::Stats).into_iter().collect(), false),
            },
            () = ticks(&mut tick) => (rules.tick(std::time::SystemTime::now()).map(Output::Stats).into_iter().collect(), true),
        };
        for o in outputs {
            if tx.send(o).await.is_err() {
                return;
            }
        }
        if !more {
            return;
        }
    }
}
