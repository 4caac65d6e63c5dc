//! The agent's telemetry: what it runs right now and how each part fares — its cameras (updated
//! when a reload adds, restarts or removes one), its supervised stages and its MQTT link. The one
//! model that `/metrics`, `/healthz` and the heartbeat all read ([`Board::reading`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::Instant;

use crate::publish::{BoxHealth, CameraHealth, LinkFigures, LinkReading, StageHealth};
use crate::source::{CameraState, CameraStatus, StatusCell};
use crate::types::CameraId;

/// A supervised stage of one camera (`analysis`), or of a model (`camera` is then the model).
pub type StageKey = (&'static str, CameraId);

/// A supervised stage's record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageRecord {
    /// Times it failed (exited or panicked) since the start.
    pub failures: u64,
    /// Why it is down now (it failed and has not handled an input since its restart).
    pub down: Option<String>,
}

/// The running cameras, the stages and the link, shared read-mostly.
#[derive(Debug, Default)]
pub struct Board {
    cameras: RwLock<Vec<(CameraId, Arc<StatusCell>)>>,
    stages: Mutex<BTreeMap<StageKey, StageRecord>>,
    /// Analysed frames per second per camera, between the last two [`Board::sample_rates`].
    rates: Mutex<HashMap<CameraId, Rate>>,
    link: OnceLock<Arc<LinkFigures>>,
}

#[derive(Debug, Clone, Copy)]
struct Rate {
    frames: u64,
    at: Instant,
    fps: f32,
}

/// One camera as the telemetry reads it.
#[derive(Debug, Clone)]
pub struct CameraReading {
    /// Its id.
    pub id: CameraId,
    /// Its stream's status.
    pub status: CameraStatus,
    /// Why its analysis is down, if it is.
    pub down: Option<String>,
    /// Analysed frames per second over the last sampling period.
    pub fps: f32,
}

impl CameraReading {
    /// Its state's name: the stream's (`streaming`, `reconnecting`, …), or `failed` while its
    /// analysis is down (frames may come in, but nothing is decided on them).
    pub fn state(&self) -> &'static str {
        if self.down.is_some() {
            "failed"
        } else {
            self.status.state.name()
        }
    }

    /// Whether it does its job: it streams (or its file has played to its end) and its analysis
    /// runs.
    pub fn is_up(&self) -> bool {
        self.down.is_none()
            && matches!(
                self.status.state,
                CameraState::Streaming | CameraState::Ended
            )
    }

    /// Its entry in the heartbeat and `/healthz`.
    pub fn health(&self) -> CameraHealth {
        let st = &self.status;
        CameraHealth {
            camera: self.id.to_string(),
            state: self.state(),
            fps: (self.fps * 10.0).round() / 10.0,
            frames_analysed: st.frames_analysed,
            frames_dropped: st.frames_dropped,
            reconnects: st.reconnects,
            last_error: self.down.clone().or_else(|| st.last_error.clone()),
        }
    }
}

/// Everything the telemetry holds, read at one moment.
#[derive(Debug, Clone)]
pub struct Reading {
    /// The running cameras, in config order.
    pub cameras: Vec<CameraReading>,
    /// Every supervised stage that has failed at least once.
    pub stages: Vec<(StageKey, StageRecord)>,
    /// The MQTT link, when there is one.
    pub link: Option<LinkReading>,
}

impl Reading {
    /// What the heartbeat reports: every camera and every stage that has failed.
    pub fn health(&self) -> BoxHealth {
        BoxHealth {
            cameras: self.cameras.iter().map(CameraReading::health).collect(),
            stages: self
                .stages
                .iter()
                .map(|((stage, who), r)| StageHealth {
                    stage,
                    of: who.to_string(),
                    failures: r.failures,
                    down: r.down.clone(),
                })
                .collect(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Board {
    /// Replaces the list of running cameras (in config order).
    pub fn set_cameras(&self, cameras: Vec<(CameraId, Arc<StatusCell>)>) {
        *self.cameras.write().unwrap_or_else(PoisonError::into_inner) = cameras;
    }

    /// Every running camera's id and status.
    pub fn cameras(&self) -> Vec<(CameraId, CameraStatus)> {
        self.cameras
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(id, cell)| (Arc::clone(id), cell.get()))
            .collect()
    }

    /// Records that `stage` of `camera` failed for `reason` (it is down until [`Board::stage_up`]).
    pub fn stage_failed(&self, stage: &'static str, camera: &CameraId, reason: String) {
        let mut stages = lock(&self.stages);
        let r = stages.entry((stage, Arc::clone(camera))).or_default();
        r.failures += 1;
        r.down = Some(reason);
    }

    /// Records that `stage` of `camera` works (again).
    pub fn stage_up(&self, stage: &'static str, camera: &CameraId) {
        if let Some(r) = lock(&self.stages).get_mut(&(stage, Arc::clone(camera))) {
            r.down = None;
        }
    }

    /// Measures every camera's analysed frames per second since the previous call.
    pub fn sample_rates(&self) {
        let now = Instant::now();
        let cameras = self.cameras();
        let mut rates = lock(&self.rates);
        rates.retain(|id, _| cameras.iter().any(|(c, _)| c == id));
        for (id, st) in cameras {
            let frames = st.frames_analysed;
            let r = rates.entry(id).or_insert(Rate {
                frames,
                at: now,
                fps: 0.0,
            });
            let secs = now.duration_since(r.at).as_secs_f32();
            if secs > 0.0 {
                r.fps = frames.saturating_sub(r.frames) as f32 / secs;
            }
            r.frames = frames;
            r.at = now;
        }
    }

    /// The telemetry now.
    pub fn reading(&self) -> Reading {
        let stages: Vec<(StageKey, StageRecord)> = lock(&self.stages)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let rates = lock(&self.rates).clone();
        let cameras = self
            .cameras()
            .into_iter()
            .map(|(id, status)| {
                let down = stages
                    .iter()
                    .find(|((_, c), r)| *c == id && r.down.is_some())
                    .and_then(|((stage, _), r)| {
                        r.down.as_ref().map(|why| format!("{stage} failed: {why}"))
                    });
                let fps = rates.get(&id).map_or(0.0, |r| r.fps);
                CameraReading {
                    id,
                    status,
                    down,
                    fps,
                }
            })
            .collect();
        Reading {
            cameras,
            stages,
            link: self.link().map(LinkFigures::read),
        }
    }

    /// Attaches the MQTT link's figures (once; later calls are ignored).
    pub fn set_link(&self, figures: Arc<LinkFigures>) {
        let _ = self.link.set(figures);
    }

    /// The MQTT link's figures, when there is a link.
    pub fn link(&self) -> Option<&LinkFigures> {
        self.link.get().map(Arc::as_ref)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_stage_makes_its_camera_failed_until_it_is_up_again() {
        let board = Board::default();
        let cell = Arc::new(StatusCell::default());
        cell.update(|s| s.state = CameraState::Streaming);
        let id: CameraId = Arc::from("north");
        board.set_cameras(vec![(Arc::clone(&id), cell)]);
        assert!(board.reading().cameras[0].is_up());
        board.stage_failed("analysis", &id, "panicked: boom".into());
        let r = board.reading();
        assert_eq!(r.cameras[0].state(), "failed");
        assert!(!r.cameras[0].is_up());
        assert_eq!(
            r.cameras[0].health().last_error.as_deref(),
            Some("analysis failed: panicked: boom")
        );
        board.stage_up("analysis", &id);
        let r = board.reading();
        assert_eq!(r.cameras[0].state(), "streaming");
        assert_eq!(r.stages[0].1.failures, 1, "the failure stays counted");
    }
}
