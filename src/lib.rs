#![warn(missing_docs)]
//! roadeye: an edge video-analytics agent. Cameras in, traffic and security events out.
//!
//! Stages, one module each: [`infer`] (ONNX detection), [`config`] (the box's TOML config),
//! [`ops`] (what integrators look at: annotated images). The messages between stages are in
//! [`types`].

pub mod config;
pub mod infer;
pub mod ops;
pub mod paths;
pub mod pipeline;
pub mod publish;
pub mod rules;
pub mod source;
pub mod track;
pub mod types;
