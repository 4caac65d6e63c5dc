//! Tracker parameters, set per camera (`[cameras.tracker]`).

use std::collections::BTreeMap;

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
    /// never is. Unset: 3 while frames are analysed at 5 per second or more, 2 when they are
    /// further apart (judged from the time between analysed frames).
    pub min_hits: Option<u32>,
    /// How long a lost track keeps its id waiting to be seen again (short occlusions), in seconds.
    pub lost_timeout_s: f32,
    /// Per class (by label), how far an object may move from its predicted position between two
    /// analysed frames and still keep its track when the boxes no longer overlap, in box sizes
    /// per second; 0 matches that class on overlap only. Classes not named keep their built-in
    /// value (2 for people and anything else, 4 for bicycles, 8 for motor vehicles).
    pub reach: BTreeMap<String, f32>,
}

impl Default for TrackerParams {
    fn default() -> Self {
        Self {
            high_threshold: 0.4,
            low_threshold: 0.15,
            new_track_threshold: 0.45,
            match_iou: 0.2,
            low_match_iou: 0.5,
            min_hits: None,
            lost_timeout_s: 2.0,
            reach: BTreeMap::new(),
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
        if self.min_hits == Some(0) {
            out.push(("min_hits".into(), "must be at least 1".into()));
        }
        if !(0.0..=3600.0).contains(&self.lost_timeout_s) {
            out.push((
                "lost_timeout_s".into(),
                format!("{} is outside 0..3600 seconds", self.lost_timeout_s),
            ));
        }
        for (label, v) in &self.reach {
            if !(0.0..=100.0).contains(v) {
                out.push((
                    format!("reach.{label}"),
                    format!("{v} is outside 0..100 box sizes per second"),
                ));
            }
        }
        out
    }

    /// The reach of `label` in box sizes per second.
    pub fn reach_of(&self, label: &str) -> f32 {
        self.reach
            .get(label)
            .copied()
            .unwrap_or_else(|| super::motion::default_reach(label))
    }

    /// Matches needed to confirm a track when analysed frames are `frame_gap_s` apart.
    pub fn min_hits_at(&self, frame_gap_s: f32) -> u32 {
        self.min_hits
            .unwrap_or(if frame_gap_s > LOW_RATE_GAP_S { 2 } else { 3 })
    }
}

/// Frames further apart than this (under 5 analysed per second) confirm a track on fewer matches.
const LOW_RATE_GAP_S: f32 = 0.21;
