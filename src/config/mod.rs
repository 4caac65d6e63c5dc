//! The box's configuration: one TOML file with the site, runtime settings and cameras.
//!
//! Every struct denies unknown fields, and every field's doc comment is its user documentation.
//! [`LoadedConfig::load`] reads and parses; [`validate`] reports every semantic problem at once
//! with its path.

mod camera;
mod ops;
mod runtime;
mod site;
pub mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::publish::config::{DEFAULT_OUTBOX, MqttConfig, OutboxConfig, TlsConfig};
pub use crate::secret::Secret;
pub use camera::{CameraConfig, SCHEMES};
pub use ops::{DEFAULT_LISTEN, DEFAULT_SNAPSHOT_DIR, OpsConfig, SnapshotConfig, exposure_warning};
pub use runtime::RuntimeConfig;
pub use site::SiteConfig;

use crate::paths;

/// The whole config file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Who this box is.
    pub site: SiteConfig,
    /// How models run on this box.
    #[serde(default)]
    pub runtime: RuntimeConfig,
    /// The link to the IOC's MQTT broker; unset: events are only printed.
    #[serde(default)]
    pub mqtt: Option<MqttConfig>,
    /// Metrics, health and config reload (`[ops]`).
    #[serde(default)]
    pub ops: OpsConfig,
    /// Annotated snapshots of events (`[snapshots]`).
    #[serde(default)]
    pub snapshots: SnapshotConfig,
    /// The cameras this box analyses.
    #[serde(default)]
    pub cameras: Vec<CameraConfig>,
}

/// One problem in a config, located by its path (`cameras[1].detect.classes[0]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where in the config, as a TOML path, e.g. `cameras[1].detect.classes[0]` or `site.id`.
    pub path: String,
    /// What is wrong there.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config '{}': {source}", .path.display())]
    Read {
        /// The config file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The config is not valid TOML, or has unknown, missing or mistyped fields.
    #[error("config '{}' cannot be parsed: {message}", .path.display())]
    Parse {
        /// The config file.
        path: PathBuf,
        /// The parser's error, naming the line and the field.
        message: String,
    },
}

/// A parsed config with the folder its relative paths are resolved against.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The parsed config, with its relative paths as written.
    pub config: Config,
    /// The file it was read from.
    pub path: PathBuf,
    /// The folder of that file (`.` for a bare file name): relative paths in the config resolve
    /// against it.
    pub base_dir: PathBuf,
    /// The revision of the text parsed: the first 12 hex digits of its SHA-256.
    pub revision: String,
}

/// The first 12 hex digits of the SHA-256 of `bytes`: a config file's revision.
pub fn revision(bytes: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    d.as_ref()[..6].iter().map(|b| format!("{b:02x}")).collect()
}

impl LoadedConfig {
    /// Reads and parses a config file (no semantic validation: see [`validate`]).
    pub fn load(path: &Path) -> Result<LoadedConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let config = Config::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        })?;
        let base_dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        Ok(LoadedConfig {
            config,
            path: path.to_path_buf(),
            base_dir,
            revision: revision(text.as_bytes()),
        })
    }

    /// The spec file of camera `cam`: a path as written, a name in `runtime.models_dir`, or (no
    /// `models_dir`) a name in the first default models folder that has it.
    pub fn model_spec_path(&self, cam: &CameraConfig) -> PathBuf {
        match &self.config.runtime.models_dir {
            Some(d) => paths::resolve_model_ref(&cam.model, &self.base_dir.join(d), &self.base_dir),
            None if paths::is_model_path(&cam.model) => self.base_dir.join(&cam.model),
            None => paths::find_model_spec(&cam.model).unwrap_or_else(|_| {
                Path::new(paths::SYSTEM_MODELS_DIR).join(format!("{}.toml", cam.model))
            }),
        }
    }

    /// The configured ONNX Runtime library, resolved against the config's folder.
    pub fn onnxruntime(&self) -> Option<PathBuf> {
        self.config
            .runtime
            .onnxruntime
            .as_ref()
            .map(|p| self.base_dir.join(p))
    }
}

impl Config {
    /// Parses TOML text; the message names the line and the field.
    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_revision_is_a_stable_prefix_of_the_sha256() {
        // SHA-256("abc") = ba7816bf8f01cfea…
        assert_eq!(revision(b"abc"), "ba7816bf8f01");
    }
}
