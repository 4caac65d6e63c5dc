//! Rules: tracks in, typed events and interval statistics out. Pure: time comes from the frames.
//!
//! [`CameraRules`] runs every rule of one camera; the rule cores (lines, zones, traffic, queues)
//! can be used alone.

pub mod engine;
pub mod event;
pub mod geometry;
pub mod homography;
pub mod line;
pub mod queue;
pub mod schedule;
pub mod stats;
pub mod traffic;
pub mod validate;
pub mod zone;

pub use engine::{CameraRules, RulesConfig, RulesError};
pub use event::{Event, EventKind, ObjectInfo};
pub use stats::IntervalStats;

#[cfg(test)]
mod fixtures;

/// Whether a rule with the class filter `classes` (empty: every class) considers `t`.
pub(crate) fn wanted(classes: &[String], t: &crate::types::Track) -> bool {
    classes.is_empty() || classes.iter().any(|c| **c == *t.label)
}
