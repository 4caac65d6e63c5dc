//! Inference shared per model: one thread per model session takes the newest frame of each of its
//! cameras in turn (round robin, so a busy camera cannot starve the others), detects with that
//! camera's class policy, and sends the detections on to the camera's tracker.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::infer::{ModelRunner, Postprocessor};
use crate::source::{LatestFrame, Signal, StatusCell};
use crate::types::{Detections, Frame};

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
    pub tx: mpsc::Sender<Detections>,
    /// Whether its last frame failed (one warning per episode).
    pub failing: bool,
}

/// A running inference thread.
pub struct InferWorker {
    stop: Arc<AtomicBool>,
    signal: Arc<Signal>,
    thread: Option<JoinHandle<()>>,
}

impl InferWorker {
    /// Starts the thread for `runner`, serving `cameras`; `signal` is what their sources notify.
    pub fn start(
        runner: ModelRunner,
        cameras: Vec<WorkerCamera>,
        signal: Arc<Signal>,
    ) -> std::io::Result<InferWorker> {
        let stop = Arc::new(AtomicBool::new(false));
        let (s, sig) = (Arc::clone(&stop), Arc::clone(&signal));
        let name = format!("infer-{}", runner.spec().spec.name);
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || serve(runner, cameras, &sig, &s))?;
        Ok(InferWorker {
            stop,
            signal,
            thread: Some(thread),
        })
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

fn serve(
    mut runner: ModelRunner,
    mut cameras: Vec<WorkerCamera>,
    signal: &Signal,
    stop: &AtomicBool,
) {
    let model = runner.spec().spec.name.clone();
    let mut next = 0usize;
    while !stop.load(Ordering::SeqCst) {
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
                analyse(&mut runner, cam, frame, stop)
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
) -> Result<(), String> {
    let view = frame.pixels.view().ok_or("a frame could not be read")?;
    let (detections, _) = runner
        .detect(view, &mut cam.post)
        .map_err(|e| e.to_string())?;
    drop(frame.pixels);
    cam.status.update(|s| s.frames_analysed += 1);
    let mut msg = Detections {
        meta: frame.meta,
        detections,
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
