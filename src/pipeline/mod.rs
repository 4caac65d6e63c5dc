//! The agent's pipelines, one per camera: source → infer → track → rules, joined by bounded
//! channels of typed messages. Inference is shared per model: several lanes (threads, each with its
//! own session) take the next ready frame of the model's cameras round robin, off the async
//! runtime, planned to fill the box's cores ([`plan`]); tracking and the rules run as one async task
//! per camera. A reload changes only the cameras whose settings changed.

mod analyse;
mod lanes;
mod order;
pub mod plan;
mod prepare;
pub mod reload;
mod summary;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use lanes::{LaneCamera, LanePool};
pub use order::Reorder;
pub use plan::{ModelPlan, PlanError, Requested};
pub use prepare::{cores, inference_plan};
pub use reload::{Plan, Step};
pub use summary::{NewIds, Summary};

use crate::config::{CameraConfig, LoadedConfig};
use crate::infer::{InferError, OrtRuntime};
use crate::ops::supervise::Supervisor;
use crate::ops::{Board, Metrics, Overlay, SnapshotWriter};
use crate::rules::{Event, IntervalStats, RulesError};
use crate::source::{Camera, CameraStatus, LatestFrame, Signal, SourceError};
use crate::types::{CameraId, Detections, FramePixels, Tracks};
use prepare::{Lanes, Prepared, camera_rules, prepare};

/// Detections waiting for a camera's tracker.
const DETECTIONS_QUEUE: usize = 8;
/// Outputs waiting for the consumer. Never dropped: a slow consumer slows the cameras' analysis
/// (their newest-frame slots then skip frames, counted), it does not lose events.
const OUTPUT_QUEUE: usize = 256;

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

/// A frame's detections on their way to the tracker, with the frame's pixels when the camera
/// takes snapshots.
pub struct Analysed {
    /// The detections.
    pub detections: Detections,
    /// The frame, for a snapshot.
    pub pixels: Option<Box<dyn FramePixels>>,
}

/// Which events get a snapshot, and the writer.
pub struct Snapshots {
    /// The writer.
    pub writer: SnapshotWriter,
    /// Event kinds that get one.
    pub kinds: Vec<String>,
}

/// What the operations side hands the pipelines.
#[derive(Default)]
pub struct Hooks {
    /// Counters to update (inference times).
    pub metrics: Option<Arc<Metrics>>,
    /// Event snapshots.
    pub snapshots: Option<Arc<Snapshots>>,
    /// Where the running cameras are listed for metrics and health.
    pub board: Arc<Board>,
}

/// Why the pipelines could not start (or a reload could not be applied).
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
    /// The requested inference lanes and threads do not fit the box.
    #[error("{0}")]
    Plan(#[from] PlanError),
}

/// A model's inference lanes and what its cameras share.
struct Model {
    pool: LanePool,
    signal: Arc<Signal>,
    name: String,
}

/// A running camera.
struct Running {
    config: CameraConfig,
    model: PathBuf,
    camera: Camera,
    control: mpsc::Sender<analyse::Control>,
    /// The camera's supervised analysis task.
    analysis: JoinHandle<()>,
}

/// The running pipelines: every enabled camera of a config.
pub struct Pipelines {
    rt: &'static OrtRuntime,
    config: LoadedConfig,
    tz: jiff::tz::TimeZone,
    out_tx: mpsc::Sender<Output>,
    hooks: Hooks,
    models: HashMap<PathBuf, Model>,
    cameras: Vec<Running>,
    /// Each camera's next track id, for the life of the process (across restarts and reloads).
    next_ids: HashMap<String, Arc<AtomicU64>>,
}

impl Pipelines {
    /// Starts every enabled camera of `cfg`, its model's inference, its tracker and its rules (on
    /// the current tokio runtime). Every camera's tracks, events and statistics arrive on the
    /// returned receiver.
    pub fn start(
        cfg: &LoadedConfig,
        rt: &'static OrtRuntime,
    ) -> Result<(Pipelines, mpsc::Receiver<Output>), PipelineError> {
        Self::start_with(cfg, rt, Hooks::default())
    }

    /// [`start`](Self::start) with metrics, snapshots and a board to list the cameras on.
    pub fn start_with(
        cfg: &LoadedConfig,
        rt: &'static OrtRuntime,
        hooks: Hooks,
    ) -> Result<(Pipelines, mpsc::Receiver<Output>), PipelineError> {
        crate::source::init().map_err(PipelineError::Init)?;
        let tz = cfg
            .config
            .site
            .time_zone()
            .map_err(PipelineError::TimeZone)?;
        let (out_tx, out_rx) = mpsc::channel(OUTPUT_QUEUE);
        let enabled: Vec<_> = cfg.config.cameras.iter().filter(|c| c.enabled).collect();
        if enabled.is_empty() {
            return Err(PipelineError::NoCameras);
        }
        let plan = inference_plan(cfg)?;
        if plan.oversubscribed() {
            tracing::warn!(
                "inference: {plan}; more inference threads than cores: the models take turns"
            );
        } else {
            tracing::info!("inference: {plan}");
        }
        let mut agent = Pipelines {
            rt,
            config: cfg.clone(),
            tz,
            out_tx,
            hooks,
            models: HashMap::new(),
            cameras: Vec::new(),
            next_ids: HashMap::new(),
        };
        let enabled: Vec<CameraConfig> = enabled.into_iter().cloned().collect();
        let (prepared, runners) = prepare(rt, &agent.tz, &HashSet::new(), cfg, &enabled)?;
        agent.launch(prepared, runners)?;
        Ok((agent, out_rx))
    }

    /// Starts the new models' threads and the prepared cameras.
    fn launch(&mut self, prepared: Vec<Prepared>, runners: Lanes) -> Result<(), PipelineError> {
        for (path, lanes) in runners {
            let name = lanes
                .first()
                .map(|r| r.spec().spec.name.clone())
                .unwrap_or_default();
            let signal = Arc::new(Signal::default());
            let pool = LanePool::start(
                lanes,
                Arc::clone(&signal),
                self.hooks.metrics.clone(),
                &self.hooks.board,
            )?;
            tracing::info!(model = %name, lanes = pool.lanes(), "inference lanes started");
            self.models.insert(path, Model { pool, signal, name });
        }
        for p in prepared {
            self.launch_camera(p);
        }
        self.publish_cameras();
        Ok(())
    }

    fn launch_camera(&mut self, p: Prepared) {
        let Some(model) = self.models.get(&p.model) else {
            // prepare() loads every model a prepared camera names.
            tracing::error!(camera = %p.config.id, "its model is not loaded; not started");
            return;
        };
        // A replayed file dates its frames by stream time, not by the wall clock: its
        // statistics intervals close on its frames only.
        let wall_clock = !p.settings.is_replay();
        let (det_tx, det_rx) = mpsc::channel(DETECTIONS_QUEUE);
        let (control, control_rx) = mpsc::channel(2);
        let slot = Arc::new(LatestFrame::default());
        let camera = Camera::start(p.settings, Arc::clone(&slot), Arc::clone(&model.signal));
        let tap = self
            .hooks
            .snapshots
            .as_ref()
            .filter(|s| !s.kinds.is_empty())
            .map(|policy| analyse::Tap {
                policy: Arc::clone(policy),
                overlay: Arc::new(Overlay::of(&p.config)),
            });
        model.pool.add(LaneCamera {
            id: CameraId::from(p.config.id.as_str()),
            slot,
            status: camera.status_cell(),
            post: p.post,
            tx: det_tx,
            keep_pixels: tap.is_some(),
        });
        let timer = self
            .hooks
            .metrics
            .as_ref()
            .map(|m| m.stage("analysis", &model.name, &p.config.id));
        let id = CameraId::from(p.config.id.as_str());
        let recipe = analyse::Recipe {
            camera: p.config.id.clone(),
            tracker: p.config.tracker.clone(),
            rules: p.config.rules(),
            tz: self.tz.clone(),
            next_id: Arc::clone(
                self.next_ids
                    .entry(p.config.id.clone())
                    .or_insert_with(|| Arc::new(AtomicU64::new(1))),
            ),
        };
        let analysis = tokio::spawn(analyse::supervise(analyse::Analysis {
            tracker: recipe.tracker(),
            recipe,
            rules: p.rules,
            rx: det_rx,
            control: control_rx,
            tx: self.out_tx.clone(),
            wall_clock,
            tap,
            timer,
            supervisor: Supervisor::new("analysis", id, Arc::clone(&self.hooks.board)),
        }));
        self.cameras.push(Running {
            config: p.config,
            model: p.model,
            camera,
            control,
            analysis,
        });
    }

    fn publish_cameras(&self) {
        self.hooks.board.set_cameras(
            self.cameras
                .iter()
                .map(|r| {
                    (
                        Arc::clone(&r.camera.settings().camera),
                        r.camera.status_cell(),
                    )
                })
                .collect(),
        );
    }

    /// Every camera's id and status.
    pub fn statuses(&self) -> Vec<(CameraId, CameraStatus)> {
        self.cameras
            .iter()
            .map(|c| (Arc::clone(&c.camera.settings().camera), c.camera.status()))
            .collect()
    }

    /// The config the agent runs (the last one applied).
    pub fn config(&self) -> &LoadedConfig {
        &self.config
    }

    /// Makes a lane of `model` panic with `why`, as a bug would: how the supervision is tested.
    /// False if no running model has that name.
    #[doc(hidden)]
    pub fn fail_inference(&self, model: &str, why: &str) -> bool {
        self.models
            .values()
            .find(|m| m.name == model)
            .map(|m| m.pool.fail(why))
            .is_some()
    }

    /// Makes `camera`'s analysis panic with `why` at once, as a bug would: how the supervision
    /// is tested. False if there is no such camera or its analysis is busy.
    #[doc(hidden)]
    pub fn fail_analysis(&self, camera: &str, why: &str) -> bool {
        self.cameras
            .iter()
            .find(|r| r.config.id == camera)
            .is_some_and(|r| {
                r.control
                    .try_send(analyse::Control::Fail(why.to_string()))
                    .is_ok()
            })
    }

    /// Applies a new, validated config camera by camera: unchanged cameras keep running (their
    /// trackers intact), cameras with only new rules get them in place, the others restart,
    /// start or stop. Everything that can fail is checked first: on an error nothing changed.
    /// Sections outside `[[cameras]]` wait for a restart (see [`Plan::pending_restart`]).
    pub async fn reload(&mut self, cfg: &LoadedConfig) -> Result<Plan, PipelineError> {
        if !cfg.config.cameras.iter().any(|c| c.enabled) {
            return Err(PipelineError::NoCameras);
        }
        let plan = reload::plan(&self.config.config, &cfg.config);
        let wanted = |step: Step| -> Vec<&CameraConfig> {
            plan.with(step)
                .filter_map(|id| cfg.config.cameras.iter().find(|c| c.id == id))
                .collect()
        };
        let mut fresh = wanted(Step::Add);
        fresh.extend(wanted(Step::Restart));
        let fresh: Vec<CameraConfig> = fresh.into_iter().cloned().collect();
        let mut retuned = Vec::new();
        for cam in wanted(Step::Retune) {
            retuned.push((cam.clone(), camera_rules(cam, &self.tz)?));
        }
        // Loading a model takes seconds: off the async workers, so outputs keep flowing.
        let (rt, tz, next) = (self.rt, self.tz.clone(), cfg.clone());
        let loaded: HashSet<PathBuf> = self.models.keys().cloned().collect();
        let (prepared, runners) =
            tokio::task::spawn_blocking(move || prepare(rt, &tz, &loaded, &next, &fresh))
                .await
                .map_err(|e| PipelineError::Thread(std::io::Error::other(e)))??;
        let leaving: Vec<&str> = plan
            .with(Step::Remove)
            .chain(plan.with(Step::Restart))
            .collect();
        let mut stopping = Vec::new();
        let mut analyses = Vec::new();
        for id in leaving {
            if let Some(i) = self.cameras.iter().position(|r| r.config.id == id) {
                let r = self.cameras.remove(i);
                if let Some(m) = self.models.get(&r.model) {
                    m.pool.remove(&r.camera.settings().camera);
                }
                stopping.push(r.camera);
                analyses.push(r.analysis);
            }
        }
        // Stopped before their successors start: a device or an RTSP session limit is free.
        // Joining threads blocks: keep it off the async workers.
        let _ = tokio::task::spawn_blocking(move || {
            for c in stopping {
                c.stop();
            }
        })
        .await;
        // Their analysis ends with their last frame: a successor's track ids start after the
        // last id it gave.
        for a in analyses {
            let _ = a.await;
        }
        let mut applied = cfg.clone();
        for (cam, rules) in retuned {
            if let Some(r) = self.cameras.iter_mut().find(|r| r.config.id == cam.id) {
                let overlay = Arc::new(Overlay::of(&cam));
                let sent = r.control.try_send(analyse::Control::Retune {
                    rules: Box::new(rules),
                    config: Box::new(cam.rules()),
                    overlay,
                });
                if sent.is_err() {
                    // Kept as it runs, so that the next reload tries again.
                    tracing::warn!(camera = %cam.id, "its analysis is busy; the new rules were not applied (reload again)");
                    if let Some(c) = applied.config.cameras.iter_mut().find(|c| c.id == cam.id) {
                        *c = r.config.clone();
                    }
                    continue;
                }
                r.config = cam;
            }
        }
        self.launch(prepared, runners)?;
        // Config order, as the new file lists the cameras.
        let order = |r: &Running| cfg.config.cameras.iter().position(|c| c.id == r.config.id);
        self.cameras.sort_by_key(order);
        self.publish_cameras();
        let idle: Vec<PathBuf> = self
            .models
            .keys()
            .filter(|p| !self.cameras.iter().any(|r| &r.model == *p))
            .cloned()
            .collect();
        let workers: Vec<Model> = idle.iter().filter_map(|p| self.models.remove(p)).collect();
        let _ = tokio::task::spawn_blocking(move || {
            for m in workers {
                m.pool.stop();
            }
        })
        .await;
        self.config = applied;
        Ok(plan)
    }

    /// Stops every camera and inference thread, then lets the trackers drain.
    pub async fn shutdown(self) {
        let (cameras, analyses): (Vec<Camera>, Vec<JoinHandle<()>>) = self
            .cameras
            .into_iter()
            .map(|r| (r.camera, r.analysis))
            .unzip();
        let workers: Vec<LanePool> = self.models.into_values().map(|m| m.pool).collect();
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
        for a in analyses {
            let _ = a.await;
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
