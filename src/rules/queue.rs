//! Queue length per lane: the vehicles standing in a lane's queue area, and how far back from the
//! stop line the queue reaches (metres, with a ground calibration).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::geometry::Point;
use super::homography::Homography;
use super::line::Anchor;
use super::traffic::{StoppedConfig, StoppedVehicles};
use crate::types::{FrameMeta, Track};

/// A lane's queue area as configured.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// Rule id, unique per camera.
    pub id: String,
    /// Lane name for statistics.
    #[serde(default)]
    pub lane: Option<String>,
    /// The area upstream of the stop line where the lane queues, normalised polygon.
    pub zone: Vec<Point>,
    /// The stop line: two normalised points.
    pub stop_line: [Point; 2],
    /// Only these classes (empty: all).
    #[serde(default)]
    pub classes: Vec<String>,
    /// A vehicle whose anchor stays within this distance (fraction of the frame) is standing.
    #[serde(default = "default_radius")]
    pub radius: f32,
    /// Seconds standing before a vehicle is part of the queue.
    #[serde(default = "default_after")]
    pub after_s: f32,
}

fn default_radius() -> f32 {
    0.01
}
fn default_after() -> f32 {
    2.0
}

/// A queue at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct QueueState {
    /// Vehicles standing in the queue area.
    pub vehicles: usize,
    /// Ground distance from the stop line to the farthest standing vehicle's anchor, in metres
    /// (`None` without a calibration, or with an empty queue).
    pub length_m: Option<f64>,
}

/// One lane's queue. Pure.
#[derive(Debug, Clone)]
pub struct QueueMonitor {
    stop_line: [Point; 2],
    standing: StoppedVehicles,
    after: Duration,
}

impl QueueMonitor {
    /// A monitor for `cfg`.
    pub fn new(cfg: QueueConfig) -> QueueMonitor {
        let after = Duration::try_from_secs_f32(cfg.after_s.max(0.0)).unwrap_or(Duration::MAX);
        QueueMonitor {
            stop_line: cfg.stop_line,
            standing: StoppedVehicles::new(StoppedConfig {
                id: cfg.id,
                zone: cfg.zone,
                radius: cfg.radius,
                after_s: cfg.after_s,
                classes: cfg.classes,
            }),
            after,
        }
    }

    /// Feeds one frame's tracks; returns the queue on that frame.
    pub fn update(
        &mut self,
        meta: &FrameMeta,
        tracks: &[Track],
        ground: Option<&Homography>,
    ) -> QueueState {
        self.standing.update(meta, tracks);
        let ids = self.standing.stopped(meta.pts, self.after);
        // The length needs ground positions: only with a calibration and a queue.
        let length_m = ground.filter(|_| !ids.is_empty()).and_then(|h| {
            let [a, b] = self.stop_line.map(|p| h.to_ground(p));
            let (a, b) = (a?, b?);
            tracks
                .iter()
                .filter(|t| ids.binary_search(&t.id).is_ok())
                .filter_map(|t| h.to_ground(Anchor::BottomCenter.of(t, meta.width, meta.height)))
                .map(|g| ground_distance_to_segment(g, a, b))
                .reduce(f64::max)
        });
        QueueState {
            vehicles: ids.len(),
            length_m,
        }
    }
}

/// Distance on the ground (metres) from `p` to the segment `ab`.
fn ground_distance_to_segment(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let (abx, aby) = (b[0] - a[0], b[1] - a[1]);
    let (apx, apy) = (p[0] - a[0], p[1] - a[1]);
    let len2 = abx * abx + aby * aby;
    let t = if len2 > 0.0 {
        ((apx * abx + apy * aby) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (dx, dy) = (a[0] + t * abx - p[0], a[1] + t * aby - p[1]);
    (dx * dx + dy * dy).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fixtures;

    /// A lane queuing upwards from a stop line at y = 0.9; the ground is 20 m wide and 40 m long,
    /// mapped linearly (0.1 of the height = 4 m).
    fn setup() -> (QueueMonitor, Homography) {
        let cfg = QueueConfig {
            id: "q-north".into(),
            lane: Some("north-1".into()),
            zone: vec![
                Point::new(0.0, 0.0),
                Point::new(1.0, 0.0),
                Point::new(1.0, 0.9),
                Point::new(0.0, 0.9),
            ],
            stop_line: [Point::new(0.0, 0.9), Point::new(1.0, 0.9)],
            classes: vec!["car".into()],
            radius: 0.01,
            after_s: 2.0,
        };
        let image = [
            Point::new(0.0, 0.0),
            Point::new(1.0, 0.0),
            Point::new(1.0, 1.0),
            Point::new(0.0, 1.0),
        ];
        let ground = [[0.0, 40.0], [20.0, 40.0], [20.0, 0.0], [0.0, 0.0]];
        let h = Homography::from_points(&image, &ground).expect("calibration");
        (QueueMonitor::new(cfg), h)
    }

    fn car(id: u64, y: f32) -> Track {
        fixtures::object(id, "car", (0.5, y), (8.0, 4.0), (100, 100))
    }

    #[test]
    fn standing_vehicles_make_the_queue_and_moving_ones_do_not() {
        let (mut q, h) = setup();
        let mut last = QueueState::default();
        for i in 0..=40 {
            let t = i as f32 * 0.1;
            // Three cars stand at 4, 8 and 16 m from the stop line; a fourth drives through.
            let tracks = [
                car(1, 0.8),
                car(2, 0.7),
                car(3, 0.5),
                car(4, 0.1 + 0.02 * i as f32),
            ];
            last = q.update(&fixtures::frame(t, 100, 100), &tracks, Some(&h));
            if t < 1.95 {
                assert_eq!(last.vehicles, 0, "not standing long enough at {t}");
            }
        }
        assert_eq!(last.vehicles, 3);
        let m = last.length_m.expect("calibrated");
        assert!((m - 16.0).abs() < 0.01, "{m}");
        // Without a calibration the count stands, the length is unknown.
        let (mut q, _) = setup();
        let mut s = QueueState::default();
        for i in 0..=30 {
            s = q.update(
                &fixtures::frame(i as f32 * 0.1, 100, 100),
                &[car(1, 0.8)],
                None,
            );
        }
        assert_eq!((s.vehicles, s.length_m), (1, None));
        // A truck is not in the queue's classes.
        let truck = fixtures::object(9, "truck", (0.5, 0.6), (8.0, 4.0), (100, 100));
        for i in 31..=60 {
            s = q.update(
                &fixtures::frame(i as f32 * 0.1, 100, 100),
                std::slice::from_ref(&truck),
                None,
            );
        }
        assert_eq!(s.vehicles, 0);
    }
}
