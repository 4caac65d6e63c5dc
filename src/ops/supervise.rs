//! The supervision contract of the agent's stages: a stage that fails (exits early or panics) is
//! logged, counted and shown on the board (so `/metrics`, `/healthz` and the heartbeat tell),
//! then restarted after a capped, doubling delay; it is marked up again once it has handled an
//! input after its restart.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backoff::Backoff;
use crate::ops::Board;
use crate::types::CameraId;

/// The first delay before a restart.
const FIRST_DELAY: Duration = Duration::from_secs(2);
/// The longest delay before a restart.
const MAX_DELAY: Duration = Duration::from_secs(60);
/// A stage that ran this long since its restart starts its delays over.
const HEALTHY_FOR: Duration = Duration::from_secs(120);

/// One supervised stage: a camera's analysis, a model's inference lane, the snapshot writer or
/// the ops endpoints.
pub struct Supervisor {
    stage: &'static str,
    camera: CameraId,
    board: Arc<Board>,
    backoff: Backoff,
    /// Down since a failure, until an input is handled.
    down: bool,
    restarted: Option<Instant>,
}

impl Supervisor {
    /// The supervisor of `stage` of `camera` (a camera, a lane `{model}/lane-{i}`, or the part
    /// of the box the stage is: `writer`, the endpoints' address).
    pub fn new(stage: &'static str, camera: CameraId, board: Arc<Board>) -> Supervisor {
        Supervisor {
            stage,
            camera,
            board,
            backoff: Backoff::new(FIRST_DELAY, MAX_DELAY),
            down: false,
            restarted: None,
        }
    }

    /// Records a failure; returns how long to wait before the restart.
    pub fn failed(&mut self, why: &str) -> Duration {
        if self.restarted.is_some_and(|t| t.elapsed() >= HEALTHY_FOR) {
            self.backoff.reset();
        }
        let delay = self.backoff.next_delay();
        tracing::error!(
            of = %self.camera,
            "{} {why}; restarting it in {} s",
            self.stage,
            delay.as_secs()
        );
        self.board.stage_failed(
            self.stage,
            &self.camera,
            format!(
                "{why} (restart {} in {} s)",
                self.backoff.attempts(),
                delay.as_secs()
            ),
        );
        self.down = true;
        delay
    }

    /// Records the restart.
    pub fn restarted(&mut self) {
        tracing::info!(of = %self.camera, "{} restarted", self.stage);
        self.restarted = Some(Instant::now());
    }

    /// Records that an input was handled: a stage down since its failure is up again.
    pub fn handled(&mut self) {
        if self.down {
            self.down = false;
            self.board.stage_up(self.stage, &self.camera);
            tracing::info!(of = %self.camera, "{} works again", self.stage);
        }
    }
}

/// Runs `f`, turning a panic into its message.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| panic_message(&*p))
}

pub use crate::types::panic_message;
