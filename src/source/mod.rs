//! Video sources: a GStreamer pipeline per camera, the latest-frame hand-over to inference, and a
//! supervisor that reconnects a failing camera with capped exponential backoff.

mod camera;
mod gate;
mod pipeline;
mod settings;
pub mod sim;
mod slot;
mod status;

pub use camera::Camera;
pub use gate::RateGate;
pub use pipeline::{GstPixels, Pipeline, init};
pub use settings::{SourceSettings, Transport, resolve_uri};
pub use slot::{LatestFrame, Signal};
pub use status::{CameraState, CameraStatus, StatusCell};

/// What can go wrong with a source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// GStreamer could not be initialised.
    #[error("GStreamer could not start: {0}")]
    Init(String),
    /// A GStreamer element is not installed.
    #[error(
        "the GStreamer element '{0}' is missing: install the GStreamer plugins (scripts/setup.sh, or apt install gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-libav)"
    )]
    MissingElement(String),
    /// The pipeline could not be built or changed state.
    #[error("pipeline: {0}")]
    Pipeline(String),
    /// A camera URL could not be turned into a URI.
    #[error("camera URL '{url}': {message}")]
    Uri {
        /// The URL as configured (credentials hidden).
        url: String,
        /// What is wrong.
        message: String,
    },
    /// The camera simulator could not start.
    #[error("camera simulator: {0}")]
    Sim(String),
}
