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
    /// The camera's latest-frame slot.
    pub slot: Arc<LatestFrame>,
    /// Its status, to count analysed frames.
    pub status: Arc<StatusCell>,
    /// Its class policy and NMS.
    pub post: Postprocessor,
    /// Where its detections go (its tracker).
    pub tx: mpsc::Sender<Detections>,
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
    let mut failing = false;
    while !stop.load(Ordering::SeqCst) {
        let n = cameras.len();
        let mut worked = false;
        for k in 0..n {
            let i = (next + k) % n;
            let Some(frame) = cameras[i].slot.take() else {
                continue;
            };
            worked = true;
            match analyse(&mut runner, &mut cameras[i], frame) {
                Ok(()) => failing = false,
                Err(e) if !failing => {
                    tracing::warn!(model = %model, "inference failed: {e}");
                    failing = true;
                }
                Err(e) => tracing::debug!(model = %model, "inference failed again: {e}"),
            }
        }
        next = (next + 1) % n.max(1);
        if !worked {
            signal.wait(Duration::from_millis(200));
        }
    }
}

fn analyse(runner: &mut ModelRunner, cam: &mut WorkerCamera, frame: Frame) -> Result<(), String> {
    let view = frame.pixels.view().ok_or("a frame could not be read")?;
    let (detections, _) = runner
        .detect(view, &mut cam.post)
        .map_err(|e| e.to_string())?;
    drop(frame.pixels);
    cam.status.update(|s| s.frames_analysed += 1);
    // Back-pressure from a slow tracker would stall every camera of this model; the tracker is far
    // faster than inference, so this only blocks briefly if ever. A closed channel means shutdown.
    let _ = cam.tx.blocking_send(Detections {
        meta: frame.meta,
        detections,
    });
    Ok(())
}
