//! `[ops]` and `[snapshots]`: what technicians and integrators watch and tune remotely.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The default address of the metrics, health and snapshot endpoints.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9710";
/// The default snapshot folder.
pub const DEFAULT_SNAPSHOT_DIR: &str = "/var/lib/roadeye/snapshots";

/// Metrics, health and configuration reload.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OpsConfig {
    /// Address of the HTTP endpoints `/metrics` (Prometheus text), `/healthz` and `/snapshots/`:
    /// `host:port`, loopback by default (open it to the LAN only behind a firewall), or `"off"`.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Re-read the config when its file changes (checked every 2 s), as on SIGHUP.
    #[serde(default = "yes")]
    pub watch_config: bool,
}

impl Default for OpsConfig {
    fn default() -> Self {
        OpsConfig {
            listen: default_listen(),
            watch_config: true,
        }
    }
}

impl OpsConfig {
    /// The address to listen on; `None` when the endpoints are off.
    pub fn listen_addr(&self) -> Result<Option<SocketAddr>, String> {
        if self.listen == "off" {
            return Ok(None);
        }
        self.listen.parse().map(Some).map_err(|_| {
            format!(
                "'{}' is not an address: use host:port with an IP address, e.g. \"{DEFAULT_LISTEN}\", or \"off\"",
                self.listen
            )
        })
    }
}

/// The warning for endpoints reachable beyond this box (`addr` not a loopback address): they have
/// no authentication.
pub fn exposure_warning(addr: &SocketAddr) -> Option<String> {
    (!addr.ip().is_loopback()).then(|| {
        format!(
            "ops.listen {addr} is reachable beyond this box: /metrics, /healthz and the snapshots have no authentication, so anyone who can reach the address can read them; listen on 127.0.0.1 unless a firewall limits who can"
        )
    })
}

/// Annotated JPEGs of event frames, for integrators.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotConfig {
    /// Event kinds that get a snapshot, e.g. `["line_crossing", "intrusion"]`; empty (the
    /// default): none. The event then names its snapshot in `snapshot`.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Folder of the snapshots (one subfolder per camera), relative to this file.
    #[serde(default = "default_dir")]
    pub dir: PathBuf,
    /// Megabytes kept at most: the oldest snapshots are deleted first.
    #[serde(default = "default_max_mb")]
    pub max_mb: u64,
    /// JPEG quality, 1–100.
    #[serde(default = "default_quality")]
    pub quality: u8,
    /// Also publish each snapshot (the JPEG bytes) on `{prefix}/{site}/{camera}/snapshots`, QoS 0
    /// and only while connected: the file stays the record.
    #[serde(default)]
    pub publish: bool,
}

impl Default for SnapshotConfig {
    fn default() -> Self {
        SnapshotConfig {
            kinds: Vec::new(),
            dir: default_dir(),
            max_mb: default_max_mb(),
            quality: default_quality(),
            publish: false,
        }
    }
}

impl SnapshotConfig {
    /// Every problem, as (field, message).
    pub fn problems(&self, kinds: &[&str]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (i, k) in self.kinds.iter().enumerate() {
            if !kinds.contains(&k.as_str()) {
                out.push((
                    format!("kinds[{i}]"),
                    format!(
                        "'{k}' is not an event kind: use one of {}",
                        kinds.join(", ")
                    ),
                ));
            }
        }
        if self.max_mb == 0 {
            out.push(("max_mb".into(), "must be at least 1".into()));
        }
        if !(1..=100).contains(&self.quality) {
            out.push(("quality".into(), "must be from 1 to 100".into()));
        }
        out
    }

    /// The folder, resolved against the config's folder.
    pub fn dir_in(&self, base: &Path) -> PathBuf {
        base.join(&self.dir)
    }
}

fn yes() -> bool {
    true
}

fn default_listen() -> String {
    DEFAULT_LISTEN.to_string()
}

fn default_dir() -> PathBuf {
    PathBuf::from(DEFAULT_SNAPSHOT_DIR)
}

fn default_max_mb() -> u64 {
    512
}

fn default_quality() -> u8 {
    80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_accepts_an_address_or_off() {
        let mut ops = OpsConfig::default();
        assert_eq!(
            ops.listen_addr(),
            Ok(Some("127.0.0.1:9710".parse().unwrap()))
        );
        ops.listen = "off".into();
        assert_eq!(ops.listen_addr(), Ok(None));
        ops.listen = "localhost:80".into();
        assert!(ops.listen_addr().unwrap_err().contains("'localhost:80'"));
    }

    #[test]
    fn snapshot_problems_name_the_field() {
        let s = SnapshotConfig {
            kinds: vec!["line_crossing".into(), "crash".into()],
            max_mb: 0,
            quality: 0,
            ..SnapshotConfig::default()
        };
        let p = s.problems(&["line_crossing", "intrusion"]);
        let fields: Vec<_> = p.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["kinds[1]", "max_mb", "quality"]);
        assert!(p[0].1.contains("line_crossing, intrusion"));
    }
}
