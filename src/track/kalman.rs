//! Constant-velocity Kalman filter on `(cx, cy, aspect, height)`, as in SORT/DeepSORT/ByteTrack, with
//! time in seconds so a camera analysed at 5 fps and one at 25 fps behave alike.

use nalgebra::{SMatrix, SVector};

use crate::types::BBox;

type State = SVector<f32, 8>;
type Cov = SMatrix<f32, 8, 8>;
type Meas = SVector<f32, 4>;

/// Noise weights are relative to the box height; DeepSORT's were tuned per frame at ~30 fps, so
/// process noise is scaled by the elapsed time in units of that frame.
const STD_POSITION: f32 = 1.0 / 20.0;
const STD_VELOCITY: f32 = 1.0 / 160.0;
const REFERENCE_DT: f32 = 1.0 / 30.0;

/// A box's motion state and its uncertainty.
#[derive(Debug, Clone)]
pub struct Kalman {
    mean: State,
    cov: Cov,
}

fn measurement(b: &BBox) -> Meas {
    let h = b.height().max(1e-3);
    Meas::new((b.x1 + b.x2) / 2.0, (b.y1 + b.y2) / 2.0, b.width() / h, h)
}

impl Kalman {
    /// A new track at `b`, with unknown velocity.
    pub fn new(b: &BBox) -> Kalman {
        let z = measurement(b);
        let mut mean = State::zeros();
        mean.fixed_rows_mut::<4>(0).copy_from(&z);
        let h = z[3];
        // Velocities are per second: DeepSORT's per-frame std times frames per second.
        let v = 10.0 * STD_VELOCITY * h / REFERENCE_DT;
        let p = 2.0 * STD_POSITION * h;
        let std = [p, p, 1e-2, p, v, v, 1e-5 / REFERENCE_DT, v];
        let cov = Cov::from_diagonal(&State::from_iterator(std.iter().map(|s| s * s)));
        Kalman { mean, cov }
    }

    /// Moves the state `dt` seconds ahead.
    pub fn predict(&mut self, dt: f32) {
        if dt <= 0.0 {
            return;
        }
        let mut f = Cov::identity();
        for i in 0..4 {
            f[(i, i + 4)] = dt;
        }
        let h = self.mean[3].max(1e-3);
        let steps = dt / REFERENCE_DT;
        let (p, v) = (STD_POSITION * h, STD_VELOCITY * h / REFERENCE_DT);
        let std = [p, p, 1e-2, p, v, v, 1e-5 / REFERENCE_DT, v];
        let q = Cov::from_diagonal(&State::from_iterator(std.iter().map(|s| s * s * steps)));
        self.mean = f * self.mean;
        self.cov = f * self.cov * f.transpose() + q;
    }

    /// Corrects the state with an observed box.
    pub fn update(&mut self, b: &BBox) {
        let z = measurement(b);
        let h = self.mean[3].max(1e-3);
        let r_std = [STD_POSITION * h, STD_POSITION * h, 1e-1, STD_POSITION * h];
        let r =
            SMatrix::<f32, 4, 4>::from_diagonal(&Meas::from_iterator(r_std.iter().map(|s| s * s)));
        let p_hx = self.cov.fixed_columns::<4>(0).into_owned(); // P Hᵀ (8×4)
        let s = self.cov.fixed_view::<4, 4>(0, 0).into_owned() + r;
        let Some(s_inv) = s.try_inverse() else {
            // Degenerate covariance: start over from the observation.
            *self = Kalman::new(b);
            return;
        };
        let k = p_hx * s_inv; // 8×4
        let innovation = z - self.mean.fixed_rows::<4>(0);
        self.mean += k * innovation;
        self.cov -= k * s * k.transpose();
    }

    /// The current box estimate.
    pub fn bbox(&self) -> BBox {
        let (cx, cy, a, h) = (self.mean[0], self.mean[1], self.mean[2], self.mean[3]);
        let w = a * h;
        BBox::from_cxcywh(cx, cy, w, h)
    }

    /// Stops the height from changing on its own (for a track that is not being observed, whose
    /// extrapolated height would otherwise drift until it matches nothing).
    pub fn freeze_height(&mut self) {
        self.mean[7] = 0.0;
    }

    /// Velocity of the box centre in pixels per second.
    pub fn velocity(&self) -> (f32, f32) {
        (self.mean[4], self.mean[5])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_motion_is_learnt_and_extrapolated() {
        let mut k = Kalman::new(&BBox::new(0., 0., 20., 40.));
        // 100 px/s to the right, observed at 10 fps.
        for i in 1..=20 {
            k.predict(0.1);
            let x = i as f32 * 10.0;
            k.update(&BBox::new(x, 0., x + 20., 40.));
        }
        let (vx, vy) = k.velocity();
        assert!((vx - 100.0).abs() < 5.0, "vx {vx}");
        assert!(vy.abs() < 5.0, "vy {vy}");
        k.predict(0.5);
        let b = k.bbox();
        assert!((b.x1 - 250.0).abs() < 5.0, "{b:?}");
        assert!((b.height() - 40.0).abs() < 1.0, "{b:?}");
    }

    #[test]
    fn a_new_filter_reproduces_its_box() {
        let b = BBox::new(10., 20., 50., 100.);
        let k = Kalman::new(&b);
        for (a, e) in k.bbox().to_array().iter().zip(b.to_array()) {
            assert!((a - e).abs() < 1e-3);
        }
    }
}
