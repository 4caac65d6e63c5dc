//! The hand-over between a camera's GStreamer thread and inference: a slot that keeps only the
//! newest frame, so analysis never lags behind live video. A frame replaced before it was taken is
//! counted as dropped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::types::Frame;

/// Wakes one consumer (an inference worker) when any of its cameras has a new frame.
#[derive(Debug, Default)]
pub struct Signal {
    pending: Mutex<bool>,
    cv: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not take the camera down with it: the data is still consistent
    // (plain values replaced whole).
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Signal {
    /// Marks work pending and wakes the waiter.
    pub fn notify(&self) {
        *lock(&self.pending) = true;
        self.cv.notify_one();
    }

    /// Marks work pending and wakes every waiter (a stop).
    pub fn notify_all(&self) {
        *lock(&self.pending) = true;
        self.cv.notify_all();
    }

    /// Waits until notified or `timeout` passes; returns whether it was notified.
    pub fn wait(&self, timeout: Duration) -> bool {
        let guard = lock(&self.pending);
        let (mut pending, _) = self
            .cv
            .wait_timeout_while(guard, timeout, |p| !*p)
            .unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *pending, false)
    }
}

/// The newest frame of one camera, waiting for analysis.
#[derive(Debug, Default)]
pub struct LatestFrame {
    frame: Mutex<Option<Frame>>,
    taken: Condvar,
}

impl LatestFrame {
    /// Puts `frame` in the slot; returns true if it replaced one nobody took (a dropped frame).
    pub fn put(&self, frame: Frame) -> bool {
        lock(&self.frame).replace(frame).is_some()
    }

    /// Puts `frame` in the slot once the previous one has been taken (no frame is dropped; the
    /// caller waits for analysis). Gives up, returning false, when `stop` is set.
    pub fn put_when_free(&self, frame: Frame, stop: &AtomicBool) -> bool {
        let mut slot = lock(&self.frame);
        while slot.is_some() {
            if stop.load(Ordering::SeqCst) {
                return false;
            }
            slot = self
                .taken
                .wait_timeout(slot, Duration::from_millis(50))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *slot = Some(frame);
        true
    }

    /// Waits until the slot is empty, at most `limit` and not past `stop`; returns whether it is.
    pub fn wait_empty(&self, limit: Duration, stop: &AtomicBool) -> bool {
        let deadline = std::time::Instant::now() + limit;
        let mut slot = lock(&self.frame);
        while slot.is_some() {
            let now = std::time::Instant::now();
            if stop.load(Ordering::SeqCst) || now >= deadline {
                return false;
            }
            let step = (deadline - now).min(Duration::from_millis(50));
            slot = self
                .taken
                .wait_timeout(slot, step)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// Whether a frame waits.
    pub fn has_frame(&self) -> bool {
        lock(&self.frame).is_some()
    }

    /// Takes the waiting frame, if any.
    pub fn take(&self) -> Option<Frame> {
        let frame = lock(&self.frame).take();
        if frame.is_some() {
            self.taken.notify_all();
        }
        frame
    }
}
