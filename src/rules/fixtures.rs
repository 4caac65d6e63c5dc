//! Synthetic frames and tracks for the rule tests.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::types::{BBox, FrameMeta, Track};

/// A frame of `w × h` pixels at stream time `secs`, generation 1.
pub fn frame(secs: f32, w: u32, h: u32) -> FrameMeta {
    FrameMeta {
        camera: "c".into(),
        seq: 0,
        pts: Duration::from_secs_f32(secs),
        generation: 1,
        captured_at: SystemTime::UNIX_EPOCH,
        arrived: std::time::Instant::now(),
        width: w,
        height: h,
    }
}

/// A confirmed track whose box (`size` pixels) stands with its bottom centre at normalised `(x, y)`
/// of a `frame` of that many pixels.
pub fn object(
    id: u64,
    label: &str,
    (x, y): (f32, f32),
    size: (f32, f32),
    frame: (u32, u32),
) -> Track {
    let (px, py) = (x * frame.0 as f32, y * frame.1 as f32);
    Track {
        id,
        class_id: 0,
        label: Arc::from(label),
        bbox: BBox::new(px - size.0 / 2.0, py - size.1, px + size.0 / 2.0, py),
        score: 0.9,
        velocity: (0.0, 0.0),
        first_seen: Duration::ZERO,
        hits: 10,
    }
}
