//! `[[cameras]]`: one entry per camera.

use serde::{Deserialize, Serialize};

use crate::infer::PostprocessOverride;
use crate::rules::RulesConfig;
use crate::rules::homography::CalibrationConfig;
use crate::rules::line::LineConfig;
use crate::rules::queue::QueueConfig;
use crate::rules::stats::StatsConfig;
use crate::rules::traffic::{StoppedConfig, WrongWayConfig};
use crate::rules::zone::ZoneConfig;
use crate::source::Transport;
use crate::track::TrackerParams;

/// A secret from the config (a password): never printed, not even in debug output.
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

/// One camera and how it is analysed. Its `Debug` output hides the URL's credentials.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CameraConfig {
    /// Camera id, unique on this box (letters, digits, `-`, `_`); an MQTT topic segment.
    pub id: String,
    /// Human-readable name, free text.
    #[serde(default)]
    pub name: String,
    /// Video source: `rtsp://`, `rtsps://`, `file:///abs/path` or `file:path/relative/to/this/config`,
    /// `http(s)://` or `v4l2:///dev/videoN`. Credentials may be in the URL (`rtsp://user:pass@host/…`)
    /// or in `username` / `password`; they never appear in logs.
    pub url: String,
    /// Set to false to keep the camera in the file but not analyse it.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Model: a name in `runtime.models_dir` (`centernet`) or a path to a spec `.toml`.
    #[serde(default = "default_model")]
    pub model: String,
    /// Overrides of the model's thresholds, classes and NMS for this camera.
    #[serde(default)]
    pub detect: PostprocessOverride,
    /// RTSP transport: `tcp` (default; passes NAT and firewalls) or `udp` (lowest latency on a LAN).
    #[serde(default)]
    pub transport: Transport,
    /// RTSP jitter-buffer latency in milliseconds.
    #[serde(default = "default_latency")]
    pub latency_ms: u32,
    /// RTSP (or HTTP) user name, when it is not in the URL.
    #[serde(default)]
    pub username: Option<String>,
    /// RTSP (or HTTP) password, when it is not in the URL.
    #[serde(default)]
    pub password: Option<Secret>,
    /// For `file:` sources: start again at the end (a demo or test feed). Otherwise the camera
    /// ends with the file.
    #[serde(default, rename = "loop")]
    pub looping: bool,
    /// File sources: `true` (default) plays at the file's own frame rate like a live camera;
    /// `false` replays it with every frame analysed, as fast as the model allows (no frame
    /// dropped; frames are dated from the start of the replay by their stream time) — for
    /// checking lines and zones on a recording. A replay plays the file once (no `loop`).
    #[serde(default = "yes")]
    pub realtime: bool,
    /// Frames per second to analyse (e.g. 5 of a 25 fps stream); unset: as many as inference keeps
    /// up with. Analysis always takes the newest frame.
    #[serde(default)]
    pub analysis_fps: Option<f32>,
    /// Scale frames to this width inside GStreamer (aspect ratio kept) before analysis; unset:
    /// full resolution.
    #[serde(default)]
    pub analysis_width: Option<u32>,
    /// Seconds without a frame after which the camera is reconnected.
    #[serde(default = "default_stall")]
    pub stall_timeout_s: f32,
    /// First reconnect delay in seconds; it doubles with each failed attempt.
    #[serde(default = "default_reconnect_min")]
    pub reconnect_min_s: f32,
    /// Longest reconnect delay in seconds.
    #[serde(default = "default_reconnect_max")]
    pub reconnect_max_s: f32,
    /// Tracker parameters.
    #[serde(default)]
    pub tracker: TrackerParams,
    /// Counting lines (`[[cameras.lines]]`).
    #[serde(default)]
    pub lines: Vec<LineConfig>,
    /// Zones (`[[cameras.zones]]`).
    #[serde(default)]
    pub zones: Vec<ZoneConfig>,
    /// Lanes with an allowed direction of travel (`[[cameras.wrong_way]]`).
    #[serde(default)]
    pub wrong_way: Vec<WrongWayConfig>,
    /// No-stopping zones (`[[cameras.stopped]]`).
    #[serde(default)]
    pub stopped: Vec<StoppedConfig>,
    /// Queue areas per lane (`[[cameras.queues]]`).
    #[serde(default)]
    pub queues: Vec<QueueConfig>,
    /// Ground calibration for speeds and queue lengths (`[cameras.calibration]`).
    #[serde(default)]
    pub calibration: Option<CalibrationConfig>,
    /// Interval statistics (`[cameras.stats]`).
    #[serde(default)]
    pub stats: StatsConfig,
}

impl CameraConfig {
    /// The camera's rules.
    pub fn rules(&self) -> RulesConfig {
        RulesConfig {
            lines: self.lines.clone(),
            zones: self.zones.clone(),
            wrong_way: self.wrong_way.clone(),
            stopped: self.stopped.clone(),
            queues: self.queues.clone(),
            calibration: self.calibration.clone(),
            stats: self.stats.clone(),
        }
    }
}

fn yes() -> bool {
    true
}

fn default_model() -> String {
    crate::paths::DEFAULT_MODEL.to_string()
}

fn default_latency() -> u32 {
    200
}

fn default_stall() -> f32 {
    10.0
}

fn default_reconnect_min() -> f32 {
    1.0
}

fn default_reconnect_max() -> f32 {
    8.0
}

/// URL schemes a camera source may use.
pub const SCHEMES: [&str; 6] = ["rtsp", "rtsps", "file", "http", "https", "v4l2"];

impl std::fmt::Debug for CameraConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CameraConfig")
            .field("id", &self.id)
            .field("url", &crate::config::validate::redact(&self.url))
            .field("enabled", &self.enabled)
            .field("model", &self.model)
            .field("username", &self.username)
            .field("password", &self.password)
            .finish_non_exhaustive()
    }
}
