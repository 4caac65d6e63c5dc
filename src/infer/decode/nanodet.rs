//! NanoDet generalised-focal-loss heads: per cell, class scores (sigmoid applied) and, per box side,
//! a distribution over `bins` distances in units of the stride.

use super::{Candidate, DecodeError, OutputTensor, require};
use crate::infer::classes::ClassTable;
use crate::types::BBox;

pub(super) fn decode(
    scores: OutputTensor<'_>,
    boxes: OutputTensor<'_>,
    bins: usize,
    stride: u32,
    (grid_w, grid_h): (usize, usize),
    table: &ClassTable,
    out: &mut Vec<Candidate>,
) -> Result<(), DecodeError> {
    let classes = table.raw_len();
    let cells = grid_w * grid_h;
    require(&scores, &[Some(1), Some(cells), Some(classes)])?;
    require(&boxes, &[Some(1), Some(cells), Some(4 * bins)])?;
    let min = table.min_score();
    let stride_f = stride as f32;
    for (cell, row) in scores.data.chunks_exact(classes).enumerate() {
        // The cell's top class, which the class policy then keeps or drops.
        let mut top = (0usize, f32::NEG_INFINITY);
        for (c, &score) in row.iter().enumerate() {
            if score > top.1 {
                top = (c, score);
            }
        }
        let (raw, score) = top;
        if score < min {
            continue;
        }
        let Some(class_id) = table.accept(raw, score) else {
            continue;
        };
        let reg = &boxes.data[cell * 4 * bins..(cell + 1) * 4 * bins];
        let mut side = [0f32; 4];
        for (d, dist) in side.iter_mut().zip(reg.chunks_exact(bins)) {
            *d = expected_bin(dist) * stride_f;
        }
        let cx = ((cell % grid_w) as f32 + 0.5) * stride_f;
        let cy = ((cell / grid_w) as f32 + 0.5) * stride_f;
        out.push(Candidate {
            bbox: BBox::new(cx - side[0], cy - side[1], cx + side[2], cy + side[3]),
            score,
            class_id,
        });
    }
    Ok(())
}

/// `Σ softmax(logits)_i · i`: the expected bin of a distribution given as logits.
fn expected_bin(logits: &[f32]) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let (mut sum, mut weighted) = (0f32, 0f32);
    for (i, &l) in logits.iter().enumerate() {
        let e = (l - max).exp();
        sum += e;
        weighted += e * i as f32;
    }
    weighted / sum
}
