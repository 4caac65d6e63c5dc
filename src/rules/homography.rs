//! Ground-plane calibration: a homography from four image points (normalised) to four ground points
//! (metres), and speeds measured on the ground from it.

use std::collections::VecDeque;
use std::time::Duration;

use nalgebra::{Matrix3, SMatrix, SVector, Vector3};
use serde::{Deserialize, Serialize};

use super::geometry::Point;

/// A calibration as configured: `image[i]` (normalised frame point) is `ground[i]` (metres).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationConfig {
    /// Four points in the image, normalised, no three on a line.
    pub image: [Point; 4],
    /// The same four points on the ground, in metres (any origin, any orientation).
    pub ground: [[f64; 2]; 4],
}

/// Points whose projective scale is below this fraction of the calibration's are taken to be on
/// the horizon.
const HORIZON: f64 = 1e-4;

/// An image → ground projective mapping.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Homography {
    h: Matrix3<f64>,
    /// The projective scale at the first calibration point. A point whose scale has the other
    /// sign lies beyond the horizon (its mapping would be a mirror image behind the camera); one
    /// whose scale is almost zero lies on it (thousands of times the calibrated distances away).
    scale: f64,
}

impl Homography {
    /// The homography taking each `image[i]` to `ground[i]`; `None` if the points are degenerate
    /// (three on a line, repeated points).
    pub fn from_points(image: &[Point; 4], ground: &[[f64; 2]; 4]) -> Option<Homography> {
        let image_f64 = image.map(|p| [f64::from(p.x), f64::from(p.y)]);
        if three_collinear(&image_f64) || three_collinear(ground) {
            return None;
        }
        // Eight equations in the eight unknowns h11..h32 (h33 = 1).
        let mut a = SMatrix::<f64, 8, 8>::zeros();
        let mut b = SVector::<f64, 8>::zeros();
        for i in 0..4 {
            let (x, y) = (f64::from(image[i].x), f64::from(image[i].y));
            let [gx, gy] = ground[i];
            let r = 2 * i;
            a.row_mut(r)
                .copy_from_slice(&[x, y, 1.0, 0.0, 0.0, 0.0, -x * gx, -y * gx]);
            a.row_mut(r + 1)
                .copy_from_slice(&[0.0, 0.0, 0.0, x, y, 1.0, -x * gy, -y * gy]);
            b[r] = gx;
            b[r + 1] = gy;
        }
        let h = a.lu().solve(&b)?;
        if !h.iter().all(|v| v.is_finite()) {
            return None;
        }
        let m = Matrix3::new(h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], 1.0);
        // A singular mapping (collinear points) cannot be a calibration.
        if m.determinant().abs() <= 1e-12 {
            return None;
        }
        let z = (m * Vector3::new(f64::from(image[0].x), f64::from(image[0].y), 1.0)).z;
        (z.abs() > 1e-12).then_some(Homography { h: m, scale: z })
    }

    /// The ground position (metres) of an image point; `None` at or beyond the horizon.
    pub fn to_ground(&self, p: Point) -> Option<[f64; 2]> {
        let v = self.h * Vector3::new(f64::from(p.x), f64::from(p.y), 1.0);
        (v.z / self.scale > HORIZON).then(|| [v.x / v.z, v.y / v.z])
    }

    /// The image point of a ground position (the inverse mapping).
    pub fn to_image(&self, g: [f64; 2]) -> Option<Point> {
        let inv = self.h.try_inverse()?;
        let v = inv * Vector3::new(g[0], g[1], 1.0);
        (v.z.abs() > 1e-12).then(|| Point::new((v.x / v.z) as f32, (v.y / v.z) as f32))
    }
}

/// Whether any three of the four points lie on one line (or two coincide), relative to the
/// points' spread.
fn three_collinear(p: &[[f64; 2]; 4]) -> bool {
    let spread = p
        .iter()
        .flat_map(|a| p.iter().map(move |b| (a[0] - b[0]).hypot(a[1] - b[1])))
        .fold(0.0, f64::max);
    if spread.is_nan() || spread <= 0.0 {
        return true;
    }
    let triples = [(0, 1, 2), (0, 1, 3), (0, 2, 3), (1, 2, 3)];
    triples.iter().any(|&(i, j, k)| {
        let area2 =
            (p[j][0] - p[i][0]) * (p[k][1] - p[i][1]) - (p[j][1] - p[i][1]) * (p[k][0] - p[i][0]);
        area2.abs() < 1e-6 * spread * spread
    })
}

/// Speed of one object on the ground, from its recent positions.
#[derive(Debug, Clone, Default)]
pub struct SpeedEstimator {
    history: VecDeque<(Duration, [f64; 2])>,
}

/// Positions older than this are dropped; the speed is measured over this window.
const WINDOW: Duration = Duration::from_millis(1500);
/// A speed needs at least this much history.
const MIN_SPAN: Duration = Duration::from_millis(500);

impl SpeedEstimator {
    /// Adds the ground position at stream time `t`.
    pub fn push(&mut self, t: Duration, ground: [f64; 2]) {
        if self.history.back().is_some_and(|(last, _)| t <= *last) {
            self.history.clear();
        }
        self.history.push_back((t, ground));
        while self
            .history
            .front()
            .is_some_and(|(first, _)| t.saturating_sub(*first) > WINDOW)
        {
            self.history.pop_front();
        }
    }

    /// Speed in km/h over the window (straight-line distance between its ends), once there is at
    /// least half a second of history.
    pub fn kmh(&self) -> Option<f64> {
        let (t0, a) = self.history.front()?;
        let (t1, b) = self.history.back()?;
        let span = t1.saturating_sub(*t0);
        if span < MIN_SPAN {
            return None;
        }
        let metres = ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt();
        Some(metres / span.as_secs_f64() * 3.6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A road 10 m wide seen in perspective: its near edge wide at the bottom of the image, 40 m
    /// further the far edge narrow near the top.
    fn road() -> Homography {
        let image = [
            Point::new(0.1, 0.9),
            Point::new(0.9, 0.9),
            Point::new(0.6, 0.3),
            Point::new(0.4, 0.3),
        ];
        let ground = [[0.0, 0.0], [10.0, 0.0], [10.0, 40.0], [0.0, 40.0]];
        Homography::from_points(&image, &ground).expect("calibration")
    }

    #[test]
    fn a_point_at_or_beyond_the_horizon_has_no_ground_position() {
        // The road's edges meet at (0.5, 0.1): the horizon.
        let h = road();
        let far = h
            .to_ground(Point::new(0.5, 0.12))
            .expect("below the horizon");
        assert!(far[1] > 40.0, "{far:?}");
        assert_eq!(h.to_ground(Point::new(0.5, 0.1)), None, "on the horizon");
        assert_eq!(h.to_ground(Point::new(0.5, 0.05)), None, "beyond it");
    }

    #[test]
    fn the_four_points_map_exactly_and_back() {
        let h = road();
        let g = h.to_ground(Point::new(0.6, 0.3)).expect("ground");
        assert!(
            (g[0] - 10.0).abs() < 1e-6 && (g[1] - 40.0).abs() < 1e-6,
            "{g:?}"
        );
        let p = h.to_image([5.0, 20.0]).expect("image");
        let back = h.to_ground(p).expect("ground");
        assert!(
            (back[0] - 5.0).abs() < 1e-4 && (back[1] - 20.0).abs() < 1e-4,
            "{back:?}"
        );
    }

    #[test]
    fn collinear_points_are_rejected() {
        let image = [
            Point::new(0.1, 0.1),
            Point::new(0.2, 0.2),
            Point::new(0.3, 0.3),
            Point::new(0.5, 0.9),
        ];
        let ground = [[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [0.0, 5.0]];
        assert!(Homography::from_points(&image, &ground).is_none());
    }

    #[test]
    fn speed_from_a_known_calibration_is_within_3_percent() {
        let h = road();
        // A car at 50 km/h driving away up the lane, seen at 10 fps, its image position rounded to
        // the pixel of a 1920×1080 frame.
        let v = 50.0 / 3.6;
        let mut est = SpeedEstimator::default();
        let mut last = None;
        for i in 0..25 {
            let t = Duration::from_millis(100 * i);
            let truth = [3.0, 2.0 + v * t.as_secs_f64()];
            let p = h.to_image(truth).expect("image");
            let p = Point::new(
                (p.x * 1920.0).round() / 1920.0,
                (p.y * 1080.0).round() / 1080.0,
            );
            est.push(t, h.to_ground(p).expect("ground"));
            last = est.kmh();
        }
        let kmh = last.expect("speed");
        assert!((kmh - 50.0).abs() / 50.0 < 0.03, "{kmh} km/h");
    }

    #[test]
    fn no_speed_without_enough_history_or_after_time_goes_back() {
        let mut est = SpeedEstimator::default();
        est.push(Duration::from_millis(0), [0.0, 0.0]);
        est.push(Duration::from_millis(300), [3.0, 0.0]);
        assert_eq!(est.kmh(), None);
        est.push(Duration::from_millis(600), [6.0, 0.0]);
        assert!((est.kmh().expect("speed") - 36.0).abs() < 1e-9);
        est.push(Duration::from_millis(100), [0.0, 0.0]);
        assert_eq!(est.kmh(), None);
    }
}
