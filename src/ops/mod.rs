//! What integrators look at: annotated images.

pub mod annotate;
