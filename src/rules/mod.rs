//! Rules: tracks in, events out. Pure: time comes from the frames.

pub mod geometry;
pub mod line;
pub mod zone;
