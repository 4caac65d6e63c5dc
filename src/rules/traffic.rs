//! Traffic rules: wrong-way driving in a lane, and stopped vehicles (illegal parking, breakdowns,
//! queues) in a zone.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::geometry::{Point, point_in_polygon};
use super::line::Anchor;
use super::wanted;
use crate::types::{FrameMeta, Track};

/// A lane with its allowed direction of travel.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WrongWayConfig {
    /// Rule id, unique per camera.
    pub id: String,
    /// The lane's polygon, normalised.
    pub zone: Vec<Point>,
    /// Two points giving the allowed direction of travel (from the first towards the second).
    pub direction: [Point; 2],
    /// How far (fraction of the frame) a track must travel against the direction to fire.
    #[serde(default = "default_min_distance")]
    pub min_distance: f32,
    /// Only these classes (empty: all).
    #[serde(default)]
    pub classes: Vec<String>,
}

fn default_min_distance() -> f32 {
    0.1
}

/// A zone where vehicles must not stop.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StoppedConfig {
    /// Rule id, unique per camera.
    pub id: String,
    /// The zone's polygon, normalised.
    pub zone: Vec<Point>,
    /// A vehicle whose anchor stays within this distance (fraction of the frame) is not moving.
    #[serde(default = "default_radius")]
    pub radius: f32,
    /// Seconds not moving before it is reported.
    pub after_s: f32,
    /// Only these classes (empty: all).
    #[serde(default)]
    pub classes: Vec<String>,
}

fn default_radius() -> f32 {
    0.01
}

/// A traffic event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TrafficEvent {
    /// A track travelled against its lane's direction.
    WrongWay {
        /// The rule.
        rule: String,
        /// The track.
        track_id: u64,
        /// Its class.
        class: String,
        /// Distance travelled against the direction, as a fraction of the frame.
        distance: f32,
        /// Stream time.
        pts: Duration,
    },
    /// A track has not moved for the rule's `after_s`.
    Stopped {
        /// The rule.
        rule: String,
        /// The track.
        track_id: u64,
        /// Its class.
        class: String,
        /// How long it has not moved.
        duration: Duration,
        /// Stream time.
        pts: Duration,
    },
}

/// Wrong-way detection for one lane. Pure.
#[derive(Debug, Clone)]
pub struct WrongWay {
    cfg: WrongWayConfig,
    /// Per track: where it was first seen in the lane, and whether it fired.
    start: HashMap<u64, (Point, bool, Duration)>,
    generation: Option<u64>,
}

impl WrongWay {
    /// A detector for `cfg`.
    pub fn new(cfg: WrongWayConfig) -> WrongWay {
        WrongWay {
            cfg,
            start: HashMap::new(),
            generation: None,
        }
    }

    /// Feeds one frame's tracks; returns the wrong-way events decided on it.
    pub fn update(&mut self, meta: &FrameMeta, tracks: &[Track]) -> Vec<TrafficEvent> {
        if self.generation.replace(meta.generation) != Some(meta.generation) {
            self.start.clear();
        }
        let [a, b] = self.cfg.direction;
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        let len = (dx * dx + dy * dy).sqrt().max(1e-6);
        let (ux, uy) = (dx / len, dy / len);
        let mut out = Vec::new();
        for t in tracks.iter().filter(|t| wanted(&self.cfg.classes, t)) {
            let p = Anchor::BottomCenter.of(t, meta.width, meta.height);
            if !point_in_polygon(p, &self.cfg.zone) {
                continue;
            }
            let entry = self.start.entry(t.id).or_insert((p, false, meta.pts));
            entry.2 = meta.pts;
            let along = (p.x - entry.0.x) * ux + (p.y - entry.0.y) * uy;
            if !entry.1 && -along >= self.cfg.min_distance {
                entry.1 = true;
                out.push(TrafficEvent::WrongWay {
                    rule: self.cfg.id.clone(),
                    track_id: t.id,
                    class: t.label.to_string(),
                    distance: -along,
                    pts: meta.pts,
                });
            }
        }
        let now = meta.pts;
        self.start
            .retain(|_, s| now.saturating_sub(s.2) <= Duration::from_secs(30));
        out
    }
}

/// Stopped-vehicle detection for one zone. Pure.
#[derive(Debug, Clone)]
pub struct StoppedVehicles {
    cfg: StoppedConfig,
    /// Per track: where it came to rest, since when, whether reported, last seen.
    rest: HashMap<u64, (Point, Duration, bool, Duration)>,
    generation: Option<u64>,
}

impl StoppedVehicles {
    /// A detector for `cfg`.
    pub fn new(cfg: StoppedConfig) -> StoppedVehicles {
        StoppedVehicles {
            cfg,
            rest: HashMap::new(),
            generation: None,
        }
    }

    /// Tracks inside the zone that are not moving now (for queue lengths).
    pub fn stopped(&self, now: Duration, min: Duration) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .rest
            .iter()
            .filter(|(_, r)| r.3 == now && now.saturating_sub(r.1) >= min)
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Feeds one frame's tracks; returns the stopped-vehicle events decided on it.
    pub fn update(&mut self, meta: &FrameMeta, tracks: &[Track]) -> Vec<TrafficEvent> {
        if self.generation.replace(meta.generation) != Some(meta.generation) {
            self.rest.clear();
        }
        let now = meta.pts;
        let after = Duration::try_from_secs_f32(self.cfg.after_s.max(0.0)).unwrap_or(Duration::MAX);
        let mut out = Vec::new();
        for t in tracks.iter().filter(|t| wanted(&self.cfg.classes, t)) {
            let p = Anchor::BottomCenter.of(t, meta.width, meta.height);
            if !point_in_polygon(p, &self.cfg.zone) {
                self.rest.remove(&t.id);
                continue;
            }
            let r = self.rest.entry(t.id).or_insert((p, now, false, now));
            r.3 = now;
            if p.distance(&r.0) > self.cfg.radius {
                // Moving: it comes to rest here, if anywhere.
                *r = (p, now, false, now);
                continue;
            }
            if !r.2 && now.saturating_sub(r.1) >= after {
                r.2 = true;
                out.push(TrafficEvent::Stopped {
                    rule: self.cfg.id.clone(),
                    track_id: t.id,
                    class: t.label.to_string(),
                    duration: now.saturating_sub(r.1),
                    pts: now,
                });
            }
        }
        self.rest
            .retain(|_, r| now.saturating_sub(r.3) <= Duration::from_secs(30));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(secs: f32) -> FrameMeta {
        crate::rules::fixtures::frame(secs, 100, 100)
    }

    fn car(id: u64, x: f32, y: f32) -> Track {
        crate::rules::fixtures::object(id, "car", (x, y), (8.0, 3.0), (100, 100))
    }

    /// A lane down the left half of the frame, traffic moving down (towards the camera).
    fn lane() -> WrongWayConfig {
        WrongWayConfig {
            id: "lane-1".into(),
            zone: vec![
                Point::new(0.0, 0.0),
                Point::new(0.5, 0.0),
                Point::new(0.5, 1.0),
                Point::new(0.0, 1.0),
            ],
            direction: [Point::new(0.25, 0.0), Point::new(0.25, 1.0)],
            min_distance: 0.1,
            classes: vec![],
        }
    }

    fn drive(rule: &mut WrongWay, id: u64, from_y: f32, dy: f32, frames: u32) -> Vec<TrafficEvent> {
        (0..frames)
            .flat_map(|i| {
                rule.update(
                    &meta(i as f32 * 0.1),
                    &[car(id, 0.25, from_y + dy * i as f32)],
                )
            })
            .collect()
    }

    #[test]
    fn a_wrong_way_track_fires_once_and_a_right_way_one_never() {
        let mut w = WrongWay::new(lane());
        assert!(
            drive(&mut w, 1, 0.1, 0.02, 40).is_empty(),
            "with the traffic"
        );
        let got = drive(&mut w, 2, 0.9, -0.02, 40);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(
            matches!(&got[0], TrafficEvent::WrongWay { track_id: 2, distance, .. } if *distance >= 0.1)
        );
        // Jitter against the direction below the minimum distance does not fire.
        let mut j = WrongWay::new(lane());
        let wobble: Vec<TrafficEvent> = (0..40)
            .flat_map(|i| {
                j.update(
                    &meta(i as f32 * 0.1),
                    &[car(3, 0.25, 0.5 - 0.03 * (i % 3) as f32)],
                )
            })
            .collect();
        assert!(wobble.is_empty());
    }

    #[test]
    fn a_stopped_vehicle_fires_after_the_time_and_not_before() {
        let zone = vec![
            Point::new(0.0, 0.0),
            Point::new(1.0, 0.0),
            Point::new(1.0, 1.0),
            Point::new(0.0, 1.0),
        ];
        let mut s = StoppedVehicles::new(StoppedConfig {
            id: "no-parking".into(),
            zone,
            radius: 0.01,
            after_s: 30.0,
            classes: vec!["car".into()],
        });
        let mut fired = Vec::new();
        for i in 0..=400 {
            let t = i as f32 * 0.1;
            // Drives for 5 s, then stands (with a little detection jitter).
            let y = if t < 5.0 {
                0.1 + 0.1 * t
            } else {
                0.6 + 0.002 * (i % 2) as f32
            };
            for e in s.update(&meta(t), &[car(1, 0.5, y)]) {
                fired.push((t, e));
            }
        }
        assert_eq!(fired.len(), 1, "{fired:?}");
        let (t, _) = &fired[0];
        assert!((*t - 35.0).abs() < 0.15, "fired at {t}");
        // A vehicle that keeps moving never fires.
        let mut m = StoppedVehicles::new(s.cfg.clone());
        let moving: Vec<TrafficEvent> = (0..400)
            .flat_map(|i| {
                m.update(
                    &meta(i as f32 * 0.1),
                    &[car(2, 0.5, (i as f32 * 0.0025) % 1.0)],
                )
            })
            .collect();
        assert!(moving.is_empty(), "{moving:?}");
    }
}
