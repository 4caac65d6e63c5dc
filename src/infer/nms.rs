//! Greedy non-maximum suppression, class-aware or cross-class.

use super::spec::NmsMode;
use crate::types::Detection;

/// Candidates beyond this many (highest scores first) are not considered at all, bounding NMS time
/// when a low threshold lets thousands of anchors through.
pub const MAX_CANDIDATES: usize = 30_000;

/// Keeps the highest-scored detections, suppressing any whose IoU with a kept one exceeds `iou`
/// (only within a class for [`NmsMode::ClassAware`]), and at most `max` of them.
///
/// Degenerate boxes (zero or negative area) and non-finite scores are dropped first: they are not
/// objects, and a zero-area box must not suppress anything.
pub fn suppress(dets: &mut Vec<Detection>, mode: NmsMode, iou: f32, max: usize) {
    dets.retain(|d| d.bbox.area() > 0.0 && d.score.is_finite());
    // Stable sort: among equal scores the decoder's order wins, as in the reference implementations.
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    dets.truncate(MAX_CANDIDATES);
    if mode == NmsMode::None {
        dets.truncate(max);
        return;
    }
    let mut kept: Vec<Detection> = Vec::with_capacity(max.min(dets.len()));
    for d in dets.drain(..) {
        if kept.len() == max {
            break;
        }
        let suppressed = kept.iter().any(|k| {
            (mode == NmsMode::CrossClass || k.class_id == d.class_id) && k.bbox.iou(&d.bbox) > iou
        });
        if !suppressed {
            kept.push(d);
        }
    }
    *dets = kept;
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::types::BBox;

    fn det(x1: f32, y1: f32, x2: f32, y2: f32, score: f32, class_id: u16) -> Detection {
        Detection {
            bbox: BBox::new(x1, y1, x2, y2),
            score,
            class_id,
            label: Arc::from(format!("c{class_id}")),
        }
    }

    #[test]
    fn identical_boxes_keep_the_best_one() {
        let mut d = vec![
            det(0., 0., 10., 10., 0.5, 0),
            det(0., 0., 10., 10., 0.9, 0),
            det(0., 0., 10., 10., 0.7, 0),
        ];
        suppress(&mut d, NmsMode::ClassAware, 0.5, 100);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].score, 0.9);
    }

    #[test]
    fn class_aware_keeps_other_classes_cross_class_does_not() {
        let boxes = vec![
            det(0., 0., 10., 10., 0.56, 2),
            det(0.5, 0., 10., 10.5, 0.32, 7),
        ];
        let mut aware = boxes.clone();
        suppress(&mut aware, NmsMode::ClassAware, 0.5, 100);
        assert_eq!(aware.len(), 2);
        let mut cross = boxes;
        suppress(&mut cross, NmsMode::CrossClass, 0.5, 100);
        assert_eq!(cross.len(), 1);
        assert_eq!(cross[0].class_id, 2);
    }

    #[test]
    fn zero_area_boxes_are_dropped_and_suppress_nothing() {
        let mut d = vec![
            det(5., 5., 5., 5., 0.99, 0),
            det(5., 5., 5., 9., 0.98, 0),
            det(9., 9., 3., 3., 0.97, 0),
            det(0., 0., 10., 10., 0.5, 0),
        ];
        suppress(&mut d, NmsMode::CrossClass, 0.0, 100);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].score, 0.5);
    }

    #[test]
    fn nan_scores_and_coordinates_are_dropped() {
        let mut d = vec![
            det(0., 0., 10., 10., f32::NAN, 0),
            det(f32::NAN, 0., 10., 10., 0.9, 0),
            det(0., 0., 10., 10., 0.4, 0),
        ];
        suppress(&mut d, NmsMode::ClassAware, 0.5, 100);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].score, 0.4);
    }

    #[test]
    fn overlap_at_the_threshold_is_kept() {
        // IoU of these two is exactly 0.5: suppression needs strictly more.
        let mut d = vec![
            det(0., 0., 30., 10., 0.9, 0),
            det(10., 0., 40., 10., 0.8, 0),
        ];
        assert_eq!(d[0].bbox.iou(&d[1].bbox), 0.5);
        suppress(&mut d, NmsMode::ClassAware, 0.5, 100);
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn max_caps_the_result_by_score() {
        let mut d: Vec<_> = (0..10)
            .map(|i| {
                det(
                    i as f32 * 20.,
                    0.,
                    i as f32 * 20. + 10.,
                    10.,
                    i as f32 / 10.,
                    0,
                )
            })
            .collect();
        suppress(&mut d, NmsMode::ClassAware, 0.5, 3);
        let scores: Vec<f32> = d.iter().map(|d| d.score).collect();
        assert_eq!(scores, vec![0.9, 0.8, 0.7]);
    }

    #[test]
    fn none_mode_only_sorts_and_caps() {
        let mut d = vec![det(0., 0., 10., 10., 0.5, 0), det(0., 0., 10., 10., 0.9, 0)];
        suppress(&mut d, NmsMode::None, 0.5, 100);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].score, 0.9);
    }
}
