//! What a camera is doing, observable from outside its thread.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// A camera's connection state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraState {
    /// Opening the stream; no frame yet.
    Connecting,
    /// Frames are arriving.
    Streaming,
    /// The stream failed; the next attempt is in `retry_in`.
    Reconnecting {
        /// Attempts since the stream was last healthy.
        attempt: u32,
        /// Wait before the next attempt.
        retry_in: Duration,
    },
    /// A non-looping file reached its end.
    Ended,
    /// Stopped on request.
    Stopped,
}

impl CameraState {
    /// A short lower-case name (`connecting`, `streaming`, …) for logs and status messages.
    pub fn name(&self) -> &'static str {
        match self {
            CameraState::Connecting => "connecting",
            CameraState::Streaming => "streaming",
            CameraState::Reconnecting { .. } => "reconnecting",
            CameraState::Ended => "ended",
            CameraState::Stopped => "stopped",
        }
    }
}

/// A snapshot of a camera's state and counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraStatus {
    /// Connection state.
    pub state: CameraState,
    /// The last error, credentials removed; kept after recovery for diagnosis.
    pub last_error: Option<String>,
    /// Times the stream was opened again after a failure.
    pub reconnects: u64,
    /// Frames decoded.
    pub frames_in: u64,
    /// Frames passed over by the analysis-rate policy.
    pub frames_skipped: u64,
    /// Frames replaced by a newer one before inference took them (analysis slower than video).
    pub frames_dropped: u64,
    /// Frames analysed.
    pub frames_analysed: u64,
    /// Stream time of the last frame received.
    pub position: Duration,
    /// The stream's length, for files.
    pub duration: Option<Duration>,
}

impl Default for CameraStatus {
    fn default() -> Self {
        Self {
            state: CameraState::Connecting,
            last_error: None,
            reconnects: 0,
            frames_in: 0,
            frames_skipped: 0,
            frames_dropped: 0,
            frames_analysed: 0,
            position: Duration::ZERO,
            duration: None,
        }
    }
}

/// A camera's status, shared between its threads and observers.
#[derive(Debug, Default)]
pub struct StatusCell(Mutex<CameraStatus>);

impl StatusCell {
    /// A copy of the current status.
    pub fn get(&self) -> CameraStatus {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Changes the status under the lock.
    pub fn update(&self, f: impl FnOnce(&mut CameraStatus)) {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner));
    }
}
