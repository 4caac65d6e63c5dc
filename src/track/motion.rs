//! The cost of pairing a track's predicted box with a detection, robust to large moves between
//! analysed frames. Pure.
//!
//! Boxes that overlap enough are paired on IoU, as in ByteTrack. When they do not — at 2 analysed
//! frames per second a walker moves further than the width of their box, and a car at normal rates
//! does too — the pair may still match on the distance between the centres, gated by a radius
//! that grows with the box's size and with the time since the track was last seen (the idea of
//! OC-SORT's and C-BIoU's enlarged matching space, in the units of the object's own size): the
//! Kalman prediction over the real time gap places the box, the radius covers what the prediction
//! cannot know (a new track's speed, a turn, a stop). The tracker matches on overlap first and on
//! distance only what is left, so a distance-based pair never displaces an overlap-based one.

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

/// The largest cost [`overlap_cost`] and [`distance_cost`] return for a pair they allow.
pub const MAX_COST: f32 = 1.0;

/// The cost of matching a track predicted at `pred` with a detection at `det` on overlap:
/// `1 − IoU` when the IoU reaches `min_iou`, else infinite (never matched).
pub fn overlap_cost(pred: &BBox, det: &BBox, min_iou: f32) -> f32 {
    let iou = pred.iou(det);
    if iou >= min_iou && iou > 0.0 {
        1.0 - iou
    } else {
        f32::INFINITY
    }
}

/// The cost of matching them on distance, for a track last matched `gap_s` seconds ago whose class
/// has `reach` (box sizes per second): `d / r` when the centres are `d ≤ r` apart, `r` the gate's
/// radius, and the sizes alike; else infinite. A `reach` of 0 never matches.
pub fn distance_cost(pred: &BBox, det: &BBox, reach: f32, gap_s: f32) -> f32 {
    if reach <= 0.0 {
        return f32::INFINITY;
    }
    let (ph, dh) = (pred.height().max(1e-3), det.height().max(1e-3));
    if ph / dh > MAX_SCALE_CHANGE || dh / ph > MAX_SCALE_CHANGE {
        return f32::INFINITY;
    }
    let size = (pred.width().max(1e-3) * ph).sqrt();
    let radius = size * (NEAR + reach * gap_s.clamp(0.0, MAX_GAP_S));
    let (pc, dc) = (centre(pred), centre(det));
    let d = (pc.0 - dc.0).hypot(pc.1 - dc.1);
    if d <= radius {
        d / radius
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

    const REACH: f32 = 2.0;

    #[test]
    fn overlap_costs_follow_the_iou_down_to_its_minimum() {
        let pred = BBox::new(0., 0., 40., 100.);
        let c = overlap_cost(&pred, &BBox::new(10., 0., 50., 100.), 0.2);
        assert!((c - 0.4).abs() < 1e-4, "{c}");
        assert!(overlap_cost(&pred, &BBox::new(35., 0., 75., 100.), 0.2).is_infinite());
        assert!(overlap_cost(&pred, &BBox::new(42., 0., 82., 100.), 0.0).is_infinite());
        let near = distance_cost(&pred, &BBox::new(42., 0., 82., 100.), REACH, 0.5);
        assert!((0.0..=MAX_COST).contains(&near), "{near}");
    }

    #[test]
    fn the_gate_grows_with_the_time_gap() {
        let pred = BBox::new(0., 0., 40., 100.);
        // Size √(40·100) ≈ 63 px: the radius is 0.3 sizes (19 px) after 0.1 s, 0.8 sizes
        // (51 px) after 0.35 s, and grows no further.
        let far = BBox::new(45., 0., 85., 100.);
        assert!(distance_cost(&pred, &far, REACH, 0.1).is_infinite());
        assert!(distance_cost(&pred, &far, REACH, 0.5).is_finite());
        let further = BBox::new(60., 0., 100., 100.);
        assert!(distance_cost(&pred, &further, REACH, 5.0).is_infinite());
    }

    #[test]
    fn a_different_size_never_matches_on_distance() {
        let pred = BBox::new(0., 0., 40., 100.);
        let small = BBox::new(50., 0., 70., 40.);
        assert!(distance_cost(&pred, &small, REACH, 1.0).is_infinite());
        assert!(distance_cost(&pred, &BBox::new(50., 0., 90., 100.), 0.0, 1.0).is_infinite());
    }
}
