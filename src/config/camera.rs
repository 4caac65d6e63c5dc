//! `[[cameras]]`: one entry per camera.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::infer::PostprocessOverride;
use crate::rules::RulesConfig;
use crate::rules::homography::CalibrationConfig;
use crate::rules::line::LineConfig;
use crate::rules::queue::QueueConfig;
use crate::rules::stats::StatsConfig;
use crate::rules::traffic::{StoppedConfig, WrongWayConfig};
use crate::rules::zone::ZoneConfig;
use crate::secret::{Secret, redact};
use crate::source::{SourceError, SourceSettings, Transport, resolve_uri};
use crate::track::TrackerParams;
use crate::types::CameraId;

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
    /// The camera's stream settings; relative file paths are resolved against `base_dir` (the config's folder).
    pub fn source_settings(&self, base_dir: &Path) -> Result<SourceSettings, SourceError> {
        let cam = self;
        let uri = resolve_uri(&cam.url, base_dir)?;
        // Validation bounds these; out-of-range values still never panic.
        let secs =
            |v: f32| Duration::try_from_secs_f32(v.max(0.0)).unwrap_or(Duration::from_secs(3600));
        Ok(SourceSettings {
            camera: CameraId::from(cam.id.as_str()),
            display: redact(&uri),
            uri,
            transport: cam.transport,
            latency: Duration::from_millis(u64::from(cam.latency_ms)),
            username: cam.username.clone(),
            password: cam.password.as_ref().map(|p| p.expose().to_string()),
            looping: cam.looping,
            realtime: cam.realtime,
            analysis_fps: cam.analysis_fps,
            analysis_width: cam.analysis_width,
            stall_timeout: secs(cam.stall_timeout_s),
            reconnect_min: secs(cam.reconnect_min_s),
            reconnect_max: secs(cam.reconnect_max_s),
        })
    }

    /// The camera's rules.
    ///
    /// The rule fields are written in the camera's table, so they are fields here and in
    /// [`RulesConfig`]. `#[serde(flatten)]` would write them once but buffers the flattened
    /// values before deserialising them: every error inside `[[cameras.lines]]`, `zones`, … (a
    /// mistyped key, a wrong type) would then point at the `[[cameras]]` header instead of its own
    /// line, and an unknown key would lose its list of expected ones. The reload diff reads the
    /// field names from `RulesConfig`, and a test checks that both have the same fields.
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
            .field("url", &crate::secret::redact(&self.url))
            .field("enabled", &self.enabled)
            .field("model", &self.model)
            .field("username", &self.username)
            .field("password", &self.password)
            .finish_non_exhaustive()
    }
}
