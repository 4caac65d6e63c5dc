//! YOLO anchor grids: per anchor `cx, cy, w, h`, optionally an objectness, then one score per class.
//! YOLOv8/v11 store it attributes-first `[1, 4 + C, N]`; YOLOv5/v7 anchors-first `[1, N, 5 + C]`.

use super::{Candidate, DecodeError, OutputTensor, require};
use crate::infer::classes::ClassTable;
use crate::types::BBox;

pub(super) fn decode(
    t: &OutputTensor<'_>,
    table: &ClassTable,
    (sx, sy): (f32, f32),
    attrs_first: bool,
    objectness: bool,
    out: &mut Vec<Candidate>,
) -> Result<(), DecodeError> {
    let first_class = 4 + usize::from(objectness);
    let attrs = first_class + table.raw_len();
    if attrs_first {
        require(t, &[Some(1), Some(attrs), None])?;
    } else {
        require(t, &[Some(1), None, Some(attrs)])?;
    }
    let n = if attrs_first { t.shape[2] } else { t.shape[1] };
    // Element `a` of anchor `i`.
    let at = |i: usize, a: usize| {
        if attrs_first {
            t.data[a * n + i]
        } else {
            t.data[i * attrs + a]
        }
    };
    let min = table.min_score();
    for i in 0..n {
        let obj = if objectness { at(i, 4) } else { 1.0 };
        // NaN objectness fails this comparison too.
        if obj.partial_cmp(&min).is_none_or(|o| o.is_lt()) {
            continue;
        }
        // One label per anchor: its top class, which the class policy then keeps or drops (a
        // filtered-out top class must not hand the box to a weaker class).
        let mut top = (0usize, f32::NEG_INFINITY);
        for c in 0..table.raw_len() {
            let score = at(i, first_class + c);
            if score > top.1 {
                top = (c, score);
            }
        }
        let score = obj * top.1;
        if let Some(class_id) = table.accept(top.0, score) {
            out.push(Candidate {
                bbox: BBox::from_cxcywh(at(i, 0) * sx, at(i, 1) * sy, at(i, 2) * sx, at(i, 3) * sy),
                score,
                class_id,
            });
        }
    }
    Ok(())
}
