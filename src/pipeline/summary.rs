//! Track summaries per camera, logged at a steady rate until the rules and the event link take over.

use std::collections::{BTreeMap, HashMap};
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
    /// Confirmed track ids counted, per camera.
    totals: BTreeMap<CameraId, NewIds>,
}

/// A camera's tracks are forgotten by the tracker soon after they are lost, and ids are never
/// reused: an id unseen for this many frames will not come back, and is forgotten here too.
const FORGET_AFTER_FRAMES: u64 = 3000;

/// Counts distinct track ids in bounded memory.
#[derive(Debug, Default, Clone)]
pub struct NewIds {
    count: usize,
    frames: u64,
    /// Ids seen lately, with the frame they were last seen on.
    recent: HashMap<u64, u64>,
}

impl NewIds {
    /// Adds one frame's ids; returns how many were new.
    pub fn add(&mut self, ids: impl IntoIterator<Item = u64>) -> usize {
        self.frames += 1;
        let before = self.count;
        for id in ids {
            if self.recent.insert(id, self.frames).is_none() {
                self.count += 1;
            }
        }
        if self.frames.is_multiple_of(FORGET_AFTER_FRAMES) {
            let frames = self.frames;
            self.recent
                .retain(|_, last| frames - *last < FORGET_AFTER_FRAMES);
        }
        self.count - before
    }

    /// Distinct ids since the start.
    pub fn count(&self) -> usize {
        self.count
    }
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
            .add(t.tracks.iter().map(|tr| tr.id));
    }

    /// Distinct confirmed track ids seen on `camera` since the start.
    pub fn total_tracks(&self, camera: &str) -> usize {
        self.totals.get(camera).map_or(0, NewIds::count)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_counted_once_and_forgotten_only_when_long_gone() {
        let mut n = NewIds::default();
        assert_eq!(n.add([1, 2]), 2);
        assert_eq!(n.add([2, 3]), 1);
        for _ in 0..2 * FORGET_AFTER_FRAMES {
            assert_eq!(n.add([3]), 0);
        }
        assert_eq!(n.count(), 3);
        assert_eq!(n.recent.len(), 1, "ids 1 and 2 are forgotten, 3 is kept");
    }
}
