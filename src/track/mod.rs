//! Multi-object tracking: detections per frame in, tracks with stable ids out. Pure: time comes from
//! the frames' timestamps.

mod assign;
mod kalman;
mod motion;
mod params;
mod tracker;

pub use assign::{Assignment, assign};
pub use kalman::Kalman;
pub use params::TrackerParams;
pub use tracker::Tracker;

#[cfg(test)]
mod tests;
