//! Inference shared per model, on several lanes: each lane is a thread with its own session that
//! takes the next ready frame of any of the model's cameras. The cameras are served round robin
//! from one cursor shared by the lanes, so no camera starves however many lanes there are; two
//! lanes may analyse two frames of the same camera side by side, and their results reach the
//! camera's tracker in the order the frames were taken ([`Reorder`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use prometheus_client::metrics::histogram::Histogram;
use tokio::sync::mpsc;

use super::Analysed;
use super::order::Reorder;
use crate::infer::{ModelRunner, Postprocessor, Timings};
use crate::ops::supervise::{Supervisor, panic_message};
use crate::ops::{Board, Metrics};
use crate::source::{LatestFrame, Signal, StatusCell};
use crate::types::{CameraId, Detections, Frame};

/// One camera as the lanes see it.
pub struct LaneCamera {
    /// The camera's id.
    pub id: CameraId,
    /// The camera's latest-frame slot.
    pub slot: Arc<LatestFrame>,
    /// Its status, to count analysed frames.
    pub status: Arc<StatusCell>,
    /// Its class policy and NMS.
    pub post: Postprocessor,
    /// Where its detections go (its tracker).
    pub tx: mpsc::Sender<Analysed>,
    /// Pass the frame's pixels on with its detections (for snapshots).
    pub keep_pixels: bool,
}

/// Per-stage timers of one camera (`roadeye_stage_seconds`).
#[derive(Default)]
struct Timers {
    wait: Option<Histogram>,
    preprocess: Option<Histogram>,
    inference: Option<Histogram>,
    postprocess: Option<Histogram>,
}

impl Timers {
    fn of(metrics: Option<&Metrics>, model: &str, camera: &str) -> Timers {
        let Some(m) = metrics else {
            return Timers::default();
        };
        Timers {
            wait: Some(m.stage("wait", model, camera)),
            preprocess: Some(m.stage("preprocess", model, camera)),
            inference: Some(m.stage("inference", model, camera)),
            postprocess: Some(m.stage("postprocess", model, camera)),
        }
    }

    fn observe(&self, waited: Duration, t: &Timings) {
        for (h, d) in [
            (&self.wait, waited),
            (&self.preprocess, t.preprocess),
            (&self.inference, t.run),
            (&self.postprocess, t.postprocess),
        ] {
            if let Some(h) = h {
                h.observe(d.as_secs_f64());
            }
        }
    }
}

/// A served camera and what its lanes share about it.
struct Served {
    id: CameraId,
    slot: Arc<LatestFrame>,
    status: Arc<StatusCell>,
    post: Mutex<Postprocessor>,
    tx: mpsc::Sender<Analysed>,
    keep_pixels: bool,
    /// Tickets of the frames in lanes, and results waiting for an earlier frame.
    order: Mutex<Reorder<Analysed>>,
    /// Held while results are handed on, so they leave in ticket order.
    sending: Mutex<()>,
    /// Whether its last frame failed (one warning per episode).
    failing: AtomicBool,
    timers: Timers,
}

/// The cameras and the round-robin cursor.
#[derive(Default)]
struct Cameras {
    list: Vec<Arc<Served>>,
    next: usize,
}

/// What the lanes of one model share.
struct Shared {
    model: String,
    cameras: Mutex<Cameras>,
    signal: Arc<Signal>,
    stop: AtomicBool,
    metrics: Option<Arc<Metrics>>,
    /// A failure asked for (how the supervision is tested): the next lane to look panics.
    fail: Mutex<Option<String>>,
    /// Whether `fail` holds one: the lanes' loop reads this flag, not the lock.
    failing: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in one lane must not stop the others: what the locks guard is replaced whole.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One frame taken by a lane.
struct Job {
    camera: Arc<Served>,
    frame: Frame,
    ticket: u64,
    waited: Duration,
}

impl Shared {
    /// Takes the next ready frame, starting at the cursor, and moves the cursor past its camera.
    fn next_job(&self) -> Option<Job> {
        let mut cams = lock(&self.cameras);
        let n = cams.list.len();
        for k in 0..n {
            let i = (cams.next + k) % n;
            let cam = Arc::clone(&cams.list[i]);
            let taken = {
                let mut order = lock(&cam.order);
                cam.slot.take().map(|f| (f, order.ticket()))
            };
            if let Some((frame, ticket)) = taken {
                cams.next = (i + 1) % n;
                // Another lane may be idle while more frames wait: wake one to look.
                if cams.list.iter().any(|c| c.slot.has_frame()) {
                    self.signal.notify();
                }
                let waited = frame.meta.arrived.elapsed();
                return Some(Job {
                    camera: cam,
                    frame,
                    ticket,
                    waited,
                });
            }
        }
        None
    }
}

/// A model's running lanes.
pub struct LanePool {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl LanePool {
    /// Starts one lane per runner (each its own session of the same model); `signal` is what the
    /// cameras' sources notify. Each lane is supervised: a panic outside a frame's detection is
    /// reported on `board` as stage `inference` of `{model}/lane-{i}`, and the lane restarts.
    pub fn start(
        runners: Vec<ModelRunner>,
        signal: Arc<Signal>,
        metrics: Option<Arc<Metrics>>,
        board: &Arc<Board>,
    ) -> std::io::Result<LanePool> {
        let model = runners
            .first()
            .map(|r| r.spec().spec.name.clone())
            .unwrap_or_default();
        let shared = Arc::new(Shared {
            model: model.clone(),
            cameras: Mutex::new(Cameras::default()),
            signal,
            stop: AtomicBool::new(false),
            metrics,
            fail: Mutex::new(None),
            failing: AtomicBool::new(false),
        });
        let mut pool = LanePool {
            shared,
            threads: Vec::new(),
        };
        for (i, runner) in runners.into_iter().enumerate() {
            let shared = Arc::clone(&pool.shared);
            let who = CameraId::from(format!("{model}/lane-{i}"));
            let supervisor = Supervisor::new("inference", who, Arc::clone(board));
            let t = std::thread::Builder::new()
                .name(format!("infer-{model}-{i}"))
                .spawn(move || lane(runner, &shared, supervisor))?;
            pool.threads.push(t);
        }
        Ok(pool)
    }

    /// The lanes running.
    pub fn lanes(&self) -> usize {
        self.threads.len()
    }

    /// Serves `cam` from its next frame on.
    pub fn add(&self, cam: LaneCamera) {
        let timers = Timers::of(self.shared.metrics.as_deref(), &self.shared.model, &cam.id);
        let served = Arc::new(Served {
            id: cam.id,
            slot: cam.slot,
            status: cam.status,
            post: Mutex::new(cam.post),
            tx: cam.tx,
            keep_pixels: cam.keep_pixels,
            order: Mutex::new(Reorder::default()),
            sending: Mutex::new(()),
            failing: AtomicBool::new(false),
            timers,
        });
        lock(&self.shared.cameras).list.push(served);
        self.shared.signal.notify();
    }

    /// Makes the next lane that looks for a frame panic with `why`, as a bug would: how the
    /// supervision is tested.
    #[doc(hidden)]
    pub fn fail(&self, why: &str) {
        *lock(&self.shared.fail) = Some(why.to_string());
        self.shared.failing.store(true, Ordering::SeqCst);
        self.shared.signal.notify_all();
    }

    /// Stops serving the camera `id` (frames already in a lane still reach its tracker).
    pub fn remove(&self, id: &CameraId) {
        let mut cams = lock(&self.shared.cameras);
        cams.list.retain(|c| &c.id != id);
        cams.next = 0;
    }

    /// Stops every lane after the frame in hand.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.signal.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for LanePool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A supervised lane: serves until the pool stops; a panic restarts it after its delay (its
/// session is kept).
fn lane(mut runner: ModelRunner, shared: &Shared, mut supervisor: Supervisor) {
    loop {
        let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            serve(&mut runner, shared, &mut supervisor);
        }));
        let Err(payload) = served else {
            return;
        };
        let delay = supervisor.failed(&panic_message(payload.as_ref()));
        let until = std::time::Instant::now() + delay;
        while std::time::Instant::now() < until {
            if shared.stop.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        supervisor.restarted();
    }
}

fn serve(runner: &mut ModelRunner, shared: &Shared, supervisor: &mut Supervisor) {
    let timer = shared.metrics.as_ref().map(|m| m.inference(&shared.model));
    while !shared.stop.load(Ordering::SeqCst) {
        if shared.failing.swap(false, Ordering::SeqCst)
            && let Some(why) = lock(&shared.fail).take()
        {
            panic!("{why}");
        }
        let Some(job) = shared.next_job() else {
            shared.signal.wait(Duration::from_millis(200));
            continue;
        };
        let cam = Arc::clone(&job.camera);
        let ticket = job.ticket;
        // A panic on one frame (a decoder bug, a malformed output) must not end inference for
        // every camera of the model.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            detect(runner, job, timer.as_ref())
        }))
        .unwrap_or_else(|_| Err("inference panicked on this frame".to_string()));
        let model = &shared.model;
        let analysed = match result {
            Ok(a) => {
                if cam.failing.swap(false, Ordering::SeqCst) {
                    tracing::info!(camera = %cam.id, model = %model, "inference works again");
                }
                Some(a)
            }
            Err(e) => {
                if cam.failing.swap(true, Ordering::SeqCst) {
                    tracing::debug!(camera = %cam.id, model = %model, "inference failed again: {e}");
                } else {
                    tracing::warn!(camera = %cam.id, model = %model, "inference failed: {e}");
                }
                None
            }
        };
        hand_on(&cam, ticket, analysed, &shared.stop);
        supervisor.handled();
    }
}

fn detect(
    runner: &mut ModelRunner,
    job: Job,
    timer: Option<&Histogram>,
) -> Result<Analysed, String> {
    let Job {
        camera: cam,
        frame,
        waited,
        ..
    } = job;
    let view = frame.pixels.view().ok_or("a frame could not be read")?;
    // The camera's post-processing is locked only while it decodes: two lanes on frames of the
    // same camera must not wait for each other's inference.
    let (detections, t) = runner
        .detect_with(view, |views, transform| {
            lock(&cam.post).run(views, transform)
        })
        .map_err(|e| e.to_string())?;
    if let Some(h) = timer {
        h.observe((t.preprocess + t.run + t.postprocess).as_secs_f64());
    }
    cam.timers.observe(waited, &t);
    cam.status.update(|s| s.frames_analysed += 1);
    // Without snapshots the buffer goes back to the decoder at once.
    let pixels = cam.keep_pixels.then_some(frame.pixels);
    Ok(Analysed {
        detections: Detections {
            meta: frame.meta,
            detections,
        },
        pixels,
    })
}

/// Records a frame's result and hands every result that is next in order to the tracker.
fn hand_on(cam: &Served, ticket: u64, result: Option<Analysed>, stop: &AtomicBool) {
    lock(&cam.order).done(ticket, result);
    let _sending = lock(&cam.sending);
    loop {
        let Some(msg) = lock(&cam.order).pop() else {
            return;
        };
        send(&cam.tx, msg, stop);
    }
}

/// The tracker is far faster than inference, so its queue is rarely full; when it is (a slow
/// consumer downstream), wait, but give up at shutdown instead of blocking forever.
fn send(tx: &mpsc::Sender<Analysed>, mut msg: Analysed, stop: &AtomicBool) {
    loop {
        match tx.try_send(msg) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => return,
            Err(mpsc::error::TrySendError::Full(m)) => {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                msg = m;
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}
