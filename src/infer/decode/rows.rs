//! `[1, N, 6]` detection rows: `x1, y1, x2, y2, score, class` (CenterNet, end-to-end exports).

use super::{Candidate, DecodeError, OutputTensor, require};
use crate::infer::classes::ClassTable;
use crate::types::BBox;

pub(super) fn decode(
    t: &OutputTensor<'_>,
    table: &ClassTable,
    (sx, sy): (f32, f32),
    out: &mut Vec<Candidate>,
) -> Result<(), DecodeError> {
    require(t, &[Some(1), None, Some(6)])?;
    let min = table.min_score();
    for r in t.data.chunks_exact(6) {
        let score = r[4];
        // NaN scores fail this comparison too.
        if score.partial_cmp(&min).is_none_or(|o| o.is_lt()) {
            continue;
        }
        let class = r[5];
        if !(class >= 0.0 && class.fract() == 0.0 && (class as usize) < table.raw_len()) {
            return Err(DecodeError::ClassOutOfRange {
                output: t.name.to_string(),
                class,
                classes: table.raw_len(),
            });
        }
        if let Some(class_id) = table.accept(class as usize, score) {
            out.push(Candidate {
                bbox: BBox::new(r[0] * sx, r[1] * sy, r[2] * sx, r[3] * sy),
                score,
                class_id,
            });
        }
    }
    Ok(())
}
