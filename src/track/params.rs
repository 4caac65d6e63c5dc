//! Tracker parameters, set per camera (`[cameras.tracker]`).

use serde::{Deserialize, Serialize};

/// ByteTrack parameters. Scores are detection scores; IoUs are between a detection and a track's
/// predicted box; times are seconds of stream time.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrackerParams {
    /// Detections at or above this score are matched first and may start tracks.
    pub high_threshold: f32,
    /// Detections between this and `high_threshold` only keep existing tracks alive (occlusion,
    /// motion blur). Set the camera's `detect.score_threshold` this low for them to reach the tracker.
    pub low_threshold: f32,
    /// An unmatched detection at or above this score starts a new (tentative) track.
    pub new_track_threshold: f32,
    /// Minimum IoU to match a high-score detection to a track.
    pub match_iou: f32,
    /// Minimum IoU to match a low-score detection to a track.
    pub low_match_iou: f32,
    /// Consecutive matches before a track is confirmed and reported; a one-frame false positive
    /// never is.
    pub min_hits: u32,
    /// How long a lost track keeps its id waiting to be seen again (short occlusions), in seconds.
    pub lost_timeout_s: f32,
}

impl Default for TrackerParams {
    fn default() -> Self {
        Self {
            high_threshold: 0.4,
            low_threshold: 0.15,
            new_track_threshold: 0.45,
            match_iou: 0.2,
            low_match_iou: 0.5,
            min_hits: 3,
            lost_timeout_s: 2.0,
        }
    }
}

impl TrackerParams {
    /// Problems with these parameters, as `field: message`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, v) in [
            ("high_threshold", self.high_threshold),
            ("low_threshold", self.low_threshold),
            ("new_track_threshold", self.new_track_threshold),
            ("match_iou", self.match_iou),
            ("low_match_iou", self.low_match_iou),
        ] {
            if !(0.0..=1.0).contains(&v) {
                out.push((name.to_string(), format!("{v} is outside 0..1")));
            }
        }
        if self.low_threshold > self.high_threshold {
            out.push((
                "low_threshold".into(),
                format!(
                    "{} is above high_threshold {}",
                    self.low_threshold, self.high_threshold
                ),
            ));
        }
        if self.min_hits == 0 {
            out.push(("min_hits".into(), "must be at least 1".into()));
        }
        if !(0.0..=3600.0).contains(&self.lost_timeout_s) {
            out.push((
                "lost_timeout_s".into(),
                format!("{} is outside 0..3600 seconds", self.lost_timeout_s),
            ));
        }
        out
    }
}
