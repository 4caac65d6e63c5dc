//! The cost of pairing a track's predicted box with a detection, robust to large moves between
//! analysed frames. Pure.
//!
//! Boxes that overlap enough are paired on IoU, as in ByteTrack. When they do not — at 2 analysed
//! frames per second a walker moves further than the width of their box, and a car at normal rates
//! does too — the pair may still match on the distance between the centres, gated by a radius
//! that grows with the box's size and with the time since the track was last seen (the idea of
//! OC-SORT's and C-BIoU's enlarged matching space, in the units of the object's own size): the
//! Kalman prediction over the real time gap places the box, the radius covers what the prediction
//! cannot know (a new track's speed, a turn, a stop). Every overlap-based pair is preferred to
//! every distance-based one.

use crate::types::BBox;

/// How far from its predicted position an object may be and still match, as the radius of the
/// gate in units of the box's size `√(w·h)`: `NEAR + reach × min(gap, MAX_GAP_S)`, `reach` being
/// in sizes per second. Tuned on vtest.avi at 10, 5, 3 and 2 analysed frames per second with the
/// four shipped models: a wider gate at 10 fps lets neighbours in a crowd trade ids, a longer
/// growth hands lost tracks to passers-by.
const NEAR: f32 = 0.1;

/// The gate stops growing after this many seconds unseen: beyond it the Kalman prediction carries
/// a lost track, and a gate still growing would hand it whoever walks by.
const MAX_GAP_S: f32 = 0.35;

/// A detection whose height differs from the prediction by more than this factor (either way) is
/// not matched on distance: at a distance only similar sizes are the same object.
const MAX_SCALE_CHANGE: f32 = 1.6;

/// The motion gate of one track on one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gate {
    /// Minimum IoU for an overlap-based match.
    pub min_iou: f32,
    /// Reach of a distance-based match in box sizes per second; 0 disables them.
    pub reach: f32,
    /// Seconds since the track was last matched.
    pub gap_s: f32,
}

/// The largest cost [`cost`] returns for a match it allows.
pub const MAX_COST: f32 = 2.0;

/// The cost of matching a track predicted at `pred` with a detection at `det`: `1 − IoU` (below 1)
/// when the IoU reaches `gate.min_iou`; else `1 + d / r` (1 to 2) when the centres are `d ≤ r`
/// apart, `r` the gate's radius, and the sizes alike; else infinite (never matched).
pub fn cost(pred: &BBox, det: &BBox, gate: &Gate) -> f32 {
    let iou = pred.iou(det);
    if iou >= gate.min_iou && iou > 0.0 {
        return 1.0 - iou;
    }
    if gate.reach <= 0.0 {
        return f32::INFINITY;
    }
    let (ph, dh) = (pred.height().max(1e-3), det.height().max(1e-3));
    if ph / dh > MAX_SCALE_CHANGE || dh / ph > MAX_SCALE_CHANGE {
        return f32::INFINITY;
    }
    let size = (pred.width().max(1e-3) * ph).sqrt();
    let radius = size * (NEAR + gate.reach * gate.gap_s.clamp(0.0, MAX_GAP_S));
    let (pc, dc) = (centre(pred), centre(det));
    let d = (pc.0 - dc.0).hypot(pc.1 - dc.1);
    if d <= radius {
        1.0 + d / radius
    } else {
        f32::INFINITY
    }
}

fn centre(b: &BBox) -> (f32, f32) {
    ((b.x1 + b.x2) / 2.0, (b.y1 + b.y2) / 2.0)
}

/// Built-in reach (box sizes per second) by COCO label: how far an object of the class can get
/// from a constant-velocity prediction. People (tuned on vtest.avi): 2, a walker covering about one
/// of their sizes a second and able to run twice that. Vehicles (not tuned here, no traffic footage at hand): a car seen
/// from the front, its box about as wide as it is high, covers eight of its sizes a second at
/// 50 km/h; a bicycle about four.
pub fn default_reach(label: &str) -> f32 {
    match label {
        "car" | "motorcycle" | "bus" | "truck" | "train" => 8.0,
        "bicycle" => 4.0,
        _ => 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(gap_s: f32) -> Gate {
        Gate {
            min_iou: 0.2,
            reach: 2.0,
            gap_s,
        }
    }

    #[test]
    fn overlap_is_cheaper_than_any_distance_match() {
        let pred = BBox::new(0., 0., 40., 100.);
        let overlapping = BBox::new(10., 0., 50., 100.);
        let near = BBox::new(42., 0., 82., 100.);
        let c1 = cost(&pred, &overlapping, &gate(0.1));
        let c2 = cost(&pred, &near, &gate(0.5));
        assert!(c1 < 1.0 && (1.0..=MAX_COST).contains(&c2), "{c1} {c2}");
    }

    #[test]
    fn the_gate_grows_with_the_time_gap() {
        let pred = BBox::new(0., 0., 40., 100.);
        // Size √(40·100) ≈ 63 px: the radius is 0.3 sizes (19 px) after 0.1 s, 0.8 sizes
        // (51 px) after 0.35 s, and grows no further.
        let far = BBox::new(45., 0., 85., 100.);
        assert!(cost(&pred, &far, &gate(0.1)).is_infinite());
        assert!(cost(&pred, &far, &gate(0.5)).is_finite());
        let further = BBox::new(60., 0., 100., 100.);
        assert!(cost(&pred, &further, &gate(5.0)).is_infinite());
    }

    #[test]
    fn a_different_size_never_matches_on_distance() {
        let pred = BBox::new(0., 0., 40., 100.);
        let small = BBox::new(50., 0., 70., 40.);
        assert!(cost(&pred, &small, &gate(1.0)).is_infinite());
        let off = Gate {
            reach: 0.0,
            ..gate(1.0)
        };
        assert!(cost(&pred, &BBox::new(50., 0., 90., 100.), &off).is_infinite());
    }
}
