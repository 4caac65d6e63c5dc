//! What the agent is running right now, as the metrics and health endpoints read it: its cameras
//! (updated when a reload adds, restarts or removes one) and its MQTT link.

use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use crate::publish::LinkFigures;
use crate::source::{CameraStatus, StatusCell};
use crate::types::CameraId;

/// The running cameras and the link, shared read-mostly.
#[derive(Debug, Default)]
pub struct Board {
    cameras: RwLock<Vec<(CameraId, Arc<StatusCell>)>>,
    link: OnceLock<Arc<LinkFigures>>,
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

    /// Attaches the MQTT link's figures (once; later calls are ignored).
    pub fn set_link(&self, figures: Arc<LinkFigures>) {
        let _ = self.link.set(figures);
    }

    /// The MQTT link's figures, when there is a link.
    pub fn link(&self) -> Option<&LinkFigures> {
        self.link.get().map(Arc::as_ref)
    }
}
