//! A camera's source settings (what its pipeline and supervisor need) and the RTSP transport.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::SourceError;
use crate::types::CameraId;

/// RTSP lower transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// RTP interleaved in the RTSP TCP connection: passes NAT and firewalls, no packet loss.
    #[default]
    Tcp,
    /// RTP over UDP: lowest latency on a clean LAN.
    Udp,
}

/// Everything a camera's pipeline and supervisor need. Its `Debug` output hides credentials.
#[derive(Clone)]
pub struct SourceSettings {
    /// The camera.
    pub camera: CameraId,
    /// The GStreamer URI to open (file paths made absolute).
    pub uri: String,
    /// The URI with credentials hidden, for logs and errors.
    pub display: String,
    /// RTSP transport.
    pub transport: Transport,
    /// RTSP jitter-buffer latency.
    pub latency: Duration,
    /// RTSP user name given apart from the URL.
    pub username: Option<String>,
    /// RTSP password given apart from the URL.
    pub password: Option<String>,
    /// Start a file again when it ends.
    pub looping: bool,
    /// Play files at their own frame rate (like a camera) rather than as fast as they decode.
    pub realtime: bool,
    /// Frames per second to analyse; `None`: all that inference keeps up with.
    pub analysis_fps: Option<f32>,
    /// Scale to this width in GStreamer, keeping the aspect ratio.
    pub analysis_width: Option<u32>,
    /// Reconnect after this long without a frame.
    pub stall_timeout: Duration,
    /// First reconnect delay.
    pub reconnect_min: Duration,
    /// Longest reconnect delay.
    pub reconnect_max: Duration,
}

impl SourceSettings {
    /// Whether the source is a file (ends, may loop) rather than a live stream.
    pub fn is_file(&self) -> bool {
        self.uri.starts_with("file:")
    }

    /// Whether the source is a file replayed with every frame analysed (not in real time): its
    /// frames are dated by stream time from the start of the replay, not by the wall clock.
    pub fn is_replay(&self) -> bool {
        self.is_file() && !self.realtime
    }
}

/// The URI GStreamer opens: `file:relative/path` becomes an absolute `file:///…` URI.
pub fn resolve_uri(url: &str, base_dir: &Path) -> Result<String, SourceError> {
    match url.strip_prefix("file:") {
        Some(rest) if !rest.starts_with("//") => {
            let path = base_dir.join(rest);
            let abs = path
                .canonicalize()
                .or_else(|_| std::path::absolute(&path))
                .map_err(|e| SourceError::Uri {
                    url: url.to_string(),
                    message: e.to_string(),
                })?;
            gstreamer::glib::filename_to_uri(&abs, None)
                .map(|u| u.to_string())
                .map_err(|e| SourceError::Uri {
                    url: url.to_string(),
                    message: e.to_string(),
                })
        }
        _ => Ok(url.to_string()),
    }
}

impl std::fmt::Debug for SourceSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceSettings")
            .field("camera", &self.camera)
            .field("uri", &self.display)
            .field("transport", &self.transport)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("looping", &self.looping)
            .field("analysis_fps", &self.analysis_fps)
            .finish_non_exhaustive()
    }
}
