//! Counting lines: a directed polyline; a track is counted when its anchor point really crosses it,
//! once per track, line and direction.
//!
//! Looking along the line from its first point to its last, `forward` is crossing from its left to
//! its right. A side is only taken when the anchor is more than `hysteresis` away from the line, and
//! a change of side counts only if the path between the two positions cuts the line: a box
//! jittering on the line never counts twice, and walking around the line's end never counts.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::geometry::{Point, cross, distance_to_segment, segments_intersect};
use crate::types::{FrameMeta, Track};

/// Which point of a box stands for the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    /// Where a person or vehicle touches the ground (the default).
    #[default]
    BottomCenter,
    /// The middle of the box.
    Center,
    /// The top edge's middle (heads, in crowded overhead views).
    TopCenter,
}

impl Anchor {
    /// The anchor of `t` in normalised coordinates of a `w × h` frame.
    pub fn of(&self, t: &Track, w: u32, h: u32) -> Point {
        let b = &t.bbox;
        let x = (b.x1 + b.x2) / 2.0 / w.max(1) as f32;
        let y = match self {
            Anchor::BottomCenter => b.y2,
            Anchor::Center => (b.y1 + b.y2) / 2.0,
            Anchor::TopCenter => b.y1,
        } / h.max(1) as f32;
        Point::new(x, y)
    }
}

/// The two directions of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the line's left to its right.
    Forward,
    /// From its right to its left.
    Backward,
}

/// A counting line as configured.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LineConfig {
    /// Rule id, unique per camera.
    pub id: String,
    /// The polyline, at least two points, in normalised frame coordinates.
    pub points: Vec<Point>,
    /// Name of the forward direction (e.g. `northbound`, `in`).
    #[serde(default = "forward")]
    pub forward: String,
    /// Name of the backward direction (e.g. `southbound`, `out`).
    #[serde(default = "backward")]
    pub backward: String,
    /// Count only these classes (empty: all).
    #[serde(default)]
    pub classes: Vec<String>,
    /// Lane name for statistics.
    #[serde(default)]
    pub lane: Option<String>,
    /// Which point of the box crosses.
    #[serde(default)]
    pub anchor: Anchor,
    /// Distance (fraction of the frame) the anchor must be from the line to be on a side.
    #[serde(default = "default_hysteresis")]
    pub hysteresis: f32,
}

fn forward() -> String {
    "forward".into()
}
fn backward() -> String {
    "backward".into()
}
fn default_hysteresis() -> f32 {
    0.01
}

/// A counted crossing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Crossing {
    /// The line's id.
    pub line: String,
    /// The track.
    pub track_id: u64,
    /// Its class.
    pub class: String,
    /// Which way it crossed.
    pub direction: Direction,
    /// That direction's configured name.
    pub direction_name: String,
    /// Stream time of the frame on which the crossing was confirmed.
    pub pts: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Left,
    Right,
}

#[derive(Debug, Clone)]
struct TrackState {
    /// The last position clearly on one side.
    confirmed: Option<(Side, Point)>,
    counted_forward: bool,
    counted_backward: bool,
    last_seen: Duration,
}

/// Forget a track this long after it was last seen.
const FORGET_AFTER: Duration = Duration::from_secs(30);

/// The state of one counting line on one camera. Pure.
#[derive(Debug, Clone)]
pub struct LineCounter {
    cfg: LineConfig,
    tracks: HashMap<u64, TrackState>,
    generation: Option<u64>,
}

impl LineCounter {
    /// A counter for `cfg`.
    pub fn new(cfg: LineConfig) -> LineCounter {
        LineCounter {
            cfg,
            tracks: HashMap::new(),
            generation: None,
        }
    }

    /// The line's configuration.
    pub fn config(&self) -> &LineConfig {
        &self.cfg
    }

    /// Feeds one frame's tracks; returns the crossings confirmed on it.
    pub fn update(&mut self, meta: &FrameMeta, tracks: &[Track]) -> Vec<Crossing> {
        if self.generation.replace(meta.generation) != Some(meta.generation) {
            self.tracks.clear();
        }
        let mut out = Vec::new();
        for t in tracks {
            if !super::wanted(&self.cfg.classes, t) {
                continue;
            }
            let p = self.cfg.anchor.of(t, meta.width, meta.height);
            let side = self.side(p);
            let st = self.tracks.entry(t.id).or_insert(TrackState {
                confirmed: None,
                counted_forward: false,
                counted_backward: false,
                last_seen: meta.pts,
            });
            st.last_seen = meta.pts;
            let Some(side) = side else { continue };
            let previous = st.confirmed.replace((side, p));
            let Some((before, from)) = previous else {
                continue;
            };
            if before == side || !crosses(&self.cfg.points, from, p) {
                continue;
            }
            let (direction, counted) = match side {
                Side::Right => (Direction::Forward, &mut st.counted_forward),
                Side::Left => (Direction::Backward, &mut st.counted_backward),
            };
            if *counted {
                continue;
            }
            *counted = true;
            out.push(Crossing {
                line: self.cfg.id.clone(),
                track_id: t.id,
                class: t.label.to_string(),
                direction,
                direction_name: match direction {
                    Direction::Forward => self.cfg.forward.clone(),
                    Direction::Backward => self.cfg.backward.clone(),
                },
                pts: meta.pts,
            });
        }
        let now = meta.pts;
        self.tracks
            .retain(|_, s| now.saturating_sub(s.last_seen) <= FORGET_AFTER);
        out
    }

    /// The side of the line `p` is clearly on, `None` within the hysteresis band.
    fn side(&self, p: Point) -> Option<Side> {
        let pts = &self.cfg.points;
        let (d, seg) = pts
            .windows(2)
            .map(|w| (distance_to_segment(p, w[0], w[1]), (w[0], w[1])))
            .min_by(|a, b| a.0.total_cmp(&b.0))?;
        if d <= self.cfg.hysteresis {
            return None;
        }
        Some(if cross(seg.0, seg.1, p) > 0.0 {
            Side::Right
        } else {
            Side::Left
        })
    }
}

/// Whether the path `from → to` cuts the polyline.
fn crosses(line: &[Point], from: Point, to: Point) -> bool {
    line.windows(2)
        .any(|w| segments_intersect(from, to, w[0], w[1]))
}

#[cfg(test)]
mod tests;
