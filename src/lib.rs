#![warn(missing_docs)]
//! roadeye: an edge video-analytics agent. Cameras in, traffic and security events out.
//!
//! ```text
//!            ┌──────────────────────────── agent (the one assembly) ───────────────────────────┐
//!  camera ──▶ source ──Frame──▶ pipeline: inference lanes ──Detections──▶ track ──Tracks──▶ rules
//!  (RTSP,     (GStreamer,        (infer: ONNX Runtime,                   (Kalman,           (lines, zones,
//!   file)      reconnects)        shared per model)                       ByteTrack-class)   traffic, stats)
//!                                                                                               │ Output
//!                          ops (metrics, health, snapshots) ◀── Board ──▶ publish (outbox → MQTT) ◀┘
//! ```
//!
//! Modules, one per stage: [`source`] (camera streams), [`infer`] (ONNX detection), [`track`]
//! (the tracker), [`rules`] (traffic and security rules, statistics), [`pipeline`] (a camera's
//! stages joined, inference lanes, supervision), [`publish`] (the durable MQTT link and its
//! messages), [`ops`] (metrics, health, snapshots), [`agent`] (everything assembled, started and
//! stopped in order), [`config`] (the box's TOML config), [`paths`] (where models and ONNX Runtime
//! are found), [`secret`] (passwords never printed), [`backoff`] (capped
//! doubling delays for reconnects and restarts), [`clock`] (whether the box's clock is
//! synchronised). The messages between stages are in [`types`].

pub mod agent;
pub mod backoff;
pub mod clock;
pub mod config;
pub mod infer;
pub mod ops;
pub mod paths;
pub mod pipeline;
pub mod pixels;
pub mod publish;
pub mod rules;
pub mod secret;
pub mod source;
pub mod track;
pub mod types;
