//! Rules: tracks in, events out. Pure: time comes from the frames.

pub mod geometry;
pub mod homography;
pub mod line;
pub mod traffic;
pub mod zone;

#[cfg(test)]
mod fixtures;
