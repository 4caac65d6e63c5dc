//! Inference shared per model: one thread per model session takes the newest frame of each of its
//! cameras in turn (round robin, so a busy camera cannot starve the others), detects with that
//! camera's class policy, and sends the detections on to the camera's tracker.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::mpsc;

use super::Analysed;
use crate::infer::{ModelRunner, Postprocessor};
use crate::ops::Metrics;
use crate::source::{LatestFrame, Signal, StatusCell};
use crate::types::{CameraId, Detections, Frame};
use prometheus_client::metrics::histogram::Histogram;

/// One camera as the inference worker sees it.
pub struct WorkerCamera {
    /// The camera's id, for logs.
    pub id: crate::types::CameraId,
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
    /// Whether its last frame failed (one warning per episode).
    pub failing: bool,
}

/// A change to the cameras a worker serves (a config reload).
pub enum WorkerChange {
    /// Serve this camera too.
    Add(Box<WorkerCamera>),
    /// Stop serving this camera (its tracker then ends).
    Remove(CameraId),
}

/// A running inference thread.
pub struct InferWorker {
    stop: Arc<AtomicBool>,
    signal: Arc<Signal>,
    changes: std_mpsc::Sender<WorkerChange>,
    thread: Option<JoinHandle<()>>,
}

impl InferWorker {
    /// Starts the thread for `runner`, serving `cameras`; `signal` is what their sources notify.
    pub fn start(
        runner: ModelRunner,
        cameras: Vec<WorkerCamera>,
        signal: Arc<Signal>,
        metrics: Option<Arc<Metrics>>,
    ) -> std::io::Result<InferWorker> {
        let stop = Arc::new(AtomicBool::new(false));
        let (s, sig) = (Arc::clone(&stop), Arc::clone(&signal));
        let (changes, changes_rx) = std_mpsc::channel();
        let name = format!("infer-{}", runner.spec().spec.name);
        let thread = std::thread::Builder::new().name(name).spawn(move || {
            let ctx = Context {
                signal: &sig,
                stop: &s,
                changes: changes_rx,
                metrics,
            };
            serve(runner, cameras, ctx)
        })?;
        Ok(InferWorker {
            stop,
            signal,
            changes,
            thread: Some(thread),
        })
    }

    /// Adds or removes a camera; applied before the next frame.
    pub fn change(&self, change: WorkerChange) {
        // The thread only ends at stop, so the receiver lives as long as the worker.
        let _ = self.changes.send(change);
        self.signal.notify();
    }

    /// Stops the thread after the frame in hand.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.signal.notify();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for InferWorker {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// What the thread shares with its owner.
struct Context<'a> {
    signal: &'a Signal,
    stop: &'a AtomicBool,
    changes: std_mpsc::Receiver<WorkerChange>,
    metrics: Option<Arc<Metrics>>,
}

fn serve(mut runner: ModelRunner, mut cameras: Vec<WorkerCamera>, ctx: Context<'_>) {
    let Context {
        signal,
        stop,
        changes,
        metrics,
    } = ctx;
    let model = runner.spec().spec.name.clone();
    let timer = metrics.map(|m| m.inference(&model));
    let mut next = 0usize;
    while !stop.load(Ordering::SeqCst) {
        while let Ok(change) = changes.try_recv() {
            match change {
                WorkerChange::Add(cam) => cameras.push(*cam),
                WorkerChange::Remove(id) => cameras.retain(|c| c.id != id),
            }
        }
        let n = cameras.len();
        let mut worked = false;
        for k in 0..n {
            let i = (next + k) % n;
            let Some(frame) = cameras[i].slot.take() else {
                continue;
            };
            worked = true;
            let cam = &mut cameras[i];
            // A panic on one frame (a decoder bug, a malformed output) must not end inference for
            // every camera of the model.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                analyse(&mut runner, cam, frame, stop, timer.as_ref())
            }))
            .unwrap_or_else(|_| Err("inference panicked on this frame".to_string()));
            match result {
                Ok(()) if cam.failing => {
                    tracing::info!(camera = %cam.id, model = %model, "inference works again");
                    cam.failing = false;
                }
                Ok(()) => {}
                Err(e) if !cam.failing => {
                    tracing::warn!(camera = %cam.id, model = %model, "inference failed: {e}");
                    cam.failing = true;
                }
                Err(e) => {
                    tracing::debug!(camera = %cam.id, model = %model, "inference failed again: {e}")
                }
            }
        }
        next = (next + 1) % n.max(1);
        if !worked {
            signal.wait(Duration::from_millis(200));
        }
    }
}

fn analyse(
    runner: &mut ModelRunner,
    cam: &mut WorkerCamera,
    frame: Frame,
    stop: &AtomicBool,
    timer: Option<&Histogram>,
) -> Result<(), String> {
    let view = frame.pixels.view().ok_or("a frame could not be read")?;
    let (detections, t) = runner
        .detect(view, &mut cam.post)
        .map_err(|e| e.to_string())?;
    if let Some(h) = timer {
        h.observe((t.preprocess + t.run + t.postprocess).as_secs_f64());
    }
    // Without snapshots the buffer goes back to the decoder at once.
    let pixels = cam.keep_pixels.then_some(frame.pixels);
    cam.status.update(|s| s.frames_analysed += 1);
    let mut msg = Analysed {
        detections: Detections {
            meta: frame.meta,
            detections,
        },
        pixels,
    };
    // The tracker is far faster than inference, so the queue is rarely full; when it is (a slow
    // consumer downstream), wait, but give up at shutdown instead of blocking forever.
    loop {
        match cam.tx.try_send(msg) {
            Ok(()) => return Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => return Ok(()),
            Err(mpsc::error::TrySendError::Full(m)) => {
                if stop.load(Ordering::SeqCst) {
                    return Ok(());
                }
                msg = m;
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}
