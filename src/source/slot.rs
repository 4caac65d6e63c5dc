//! The hand-over between a camera's GStreamer thread and inference: a slot that keeps only the
//! newest frame, so analysis never lags behind live video. A frame replaced before it was taken is
//! counted as dropped.

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
}

impl LatestFrame {
    /// Puts `frame` in the slot; returns true if it replaced one nobody took (a dropped frame).
    pub fn put(&self, frame: Frame) -> bool {
        lock(&self.frame).replace(frame).is_some()
    }

    /// Takes the waiting frame, if any.
    pub fn take(&self) -> Option<Frame> {
        lock(&self.frame).take()
    }

    /// Empties the slot; returns whether a frame was waiting.
    pub fn clear(&self) -> bool {
        self.take().is_some()
    }
}
