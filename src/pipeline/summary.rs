//! Track summaries per camera, logged at a steady rate until the rules and the event link take over.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::source::CameraStatus;
use crate::types::{CameraId, Tracks};

/// What one camera's tracks looked like over a reporting interval.
#[derive(Debug, Default, Clone)]
struct CameraWindow {
    frames: u64,
    /// Track ids seen in the interval, with their label.
    ids: BTreeMap<u64, String>,
    /// Tracks on the latest frame, by label.
    now: BTreeMap<String, usize>,
}

/// Accumulates tracks of every camera and renders one summary line per camera.
#[derive(Debug, Default)]
pub struct Summary {
    windows: BTreeMap<CameraId, CameraWindow>,
    /// Every track id ever confirmed, per camera.
    totals: BTreeMap<CameraId, BTreeSet<u64>>,
}

impl Summary {
    /// Adds one frame's tracks.
    pub fn add(&mut self, t: &Tracks) {
        let w = self.windows.entry(t.meta.camera.clone()).or_default();
        w.frames += 1;
        w.now.clear();
        for tr in &t.tracks {
            w.ids.insert(tr.id, tr.label.to_string());
            *w.now.entry(tr.label.to_string()).or_default() += 1;
        }
        self.totals
            .entry(t.meta.camera.clone())
            .or_default()
            .extend(t.tracks.iter().map(|tr| tr.id));
    }

    /// Distinct confirmed track ids seen on `camera` since the start.
    pub fn total_tracks(&self, camera: &str) -> usize {
        self.totals.get(camera).map_or(0, BTreeSet::len)
    }

    /// One line per camera for the interval of length `interval`, then starts a new interval.
    pub fn lines(
        &mut self,
        statuses: &[(CameraId, CameraStatus)],
        interval: Duration,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for (id, st) in statuses {
            let w = self.windows.remove(id).unwrap_or_default();
            let fps = w.frames as f64 / interval.as_secs_f64().max(1e-3);
            let now: Vec<String> = w.now.iter().map(|(l, n)| format!("{n} {l}")).collect();
            let ids: Vec<String> = w.ids.keys().map(u64::to_string).collect();
            out.push(format!(
                "{id}: {} · {:.1} fps analysed · now {} · {} track(s) in the last {:.0} s [{}] · {} since start · dropped {} · reconnects {}{}",
                st.state.name(),
                fps,
                if now.is_empty() { "nothing".to_string() } else { now.join(", ") },
                w.ids.len(),
                interval.as_secs_f64(),
                ids.join(" "),
                self.total_tracks(id),
                st.frames_dropped,
                st.reconnects,
                st.last_error
                    .as_ref()
                    .filter(|_| st.state.name() != "streaming")
                    .map(|e| format!(" · last error: {e}"))
                    .unwrap_or_default(),
            ));
        }
        out
    }
}
