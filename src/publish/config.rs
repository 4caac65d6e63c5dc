//! `[mqtt]`: the link to the IOC's broker, and the outbox that keeps messages until it has them.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// The MQTT link. Without an `[mqtt]` section, `roadeye run` only prints events and statistics.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    /// Start a broker inside roadeye on 127.0.0.1:`port` (default 1883) and publish to it: the
    /// demo, or a box whose subscribers run on the box itself. Leave `host` unset.
    #[serde(default)]
    pub embedded: bool,
    /// The broker's host name or address (required unless `embedded`).
    #[serde(default)]
    pub host: Option<String>,
    /// The broker's port: default 1883, or 8883 with `[mqtt.tls]`.
    #[serde(default)]
    pub port: Option<u16>,
    /// Topic prefix: messages go to `{prefix}/{site}/{camera}/events/{kind}`,
    /// `{prefix}/{site}/{camera}/stats` and `{prefix}/{site}/{device}/status`.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// MQTT client id; default `roadeye-{site}-{device}`. Must be unique on the broker.
    #[serde(default)]
    pub client_id: Option<String>,
    /// User name, when the broker asks for one.
    #[serde(default)]
    pub username: Option<String>,
    /// The password written here (prefer `password_file` or `password_env`).
    #[serde(default)]
    pub password: Option<Secret>,
    /// A file holding the password (trailing newline ignored), e.g. readable only by roadeye.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The environment variable holding the password (e.g. set by a systemd credential).
    #[serde(default)]
    pub password_env: Option<String>,
    /// Seconds between MQTT keep-alive pings; the broker publishes the Last Will after 1.5× this
    /// without hearing from the box.
    #[serde(default = "default_keep_alive")]
    pub keep_alive_s: u16,
    /// Seconds between status heartbeats.
    #[serde(default = "default_heartbeat")]
    pub heartbeat_s: f32,
    /// First reconnect delay in seconds; it doubles with each failed attempt.
    #[serde(default = "default_reconnect_min")]
    pub reconnect_min_s: f32,
    /// Longest reconnect delay in seconds.
    #[serde(default = "default_reconnect_max")]
    pub reconnect_max_s: f32,
    /// TLS to the broker; unset: plain TCP.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// The durable outbox.
    #[serde(default)]
    pub outbox: OutboxConfig,
}

/// `[mqtt.tls]`: TLS to the broker. An empty section means TLS with the system's root
/// certificates.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of the CA(s) that signed the broker's certificate; unset: the system's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// PEM file of this box's client certificate (chain), for brokers that require one (mTLS).
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// PEM file of the client certificate's private key.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
}

/// `[mqtt.outbox]`: where messages wait for the broker, and how much may wait.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxConfig {
    /// The outbox file (created, with its folder, if missing); relative paths start at the
    /// config's folder.
    #[serde(default = "default_outbox_path")]
    pub path: PathBuf,
    /// Megabytes kept at most; when full, the oldest statistics are dropped first, then the
    /// oldest events, and an alarm counts them.
    #[serde(default = "default_max_mb")]
    pub max_mb: f64,
    /// Hours a message is kept at most while the broker is unreachable.
    #[serde(default = "default_max_age_h")]
    pub max_age_h: f64,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            path: default_outbox_path(),
            max_mb: default_max_mb(),
            max_age_h: default_max_age_h(),
        }
    }
}

/// The outbox file of a system install.
pub const DEFAULT_OUTBOX: &str = "/var/lib/roadeye/outbox/outbox.redb";

fn default_prefix() -> String {
    super::message::DEFAULT_PREFIX.to_string()
}
fn default_keep_alive() -> u16 {
    30
}
fn default_heartbeat() -> f32 {
    30.0
}
fn default_reconnect_min() -> f32 {
    1.0
}
fn default_reconnect_max() -> f32 {
    60.0
}
fn default_outbox_path() -> PathBuf {
    PathBuf::from(DEFAULT_OUTBOX)
}
fn default_max_mb() -> f64 {
    256.0
}
fn default_max_age_h() -> f64 {
    72.0
}

impl MqttConfig {
    /// The broker's port.
    pub fn port(&self) -> u16 {
        self.port
            .unwrap_or(if self.tls.is_some() { 8883 } else { 1883 })
    }

    /// Every problem of this section, as (field, message) pairs; files are resolved against
    /// `base`.
    pub fn problems(&self, base: &Path) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut push = |f: &str, m: String| out.push((f.to_string(), m));
        match (&self.host, self.embedded) {
            (Some(_), true) => push(
                "host",
                "set either `host` (an external broker) or `embedded = true`, not both".into(),
            ),
            (None, false) => push(
                "host",
                "missing: the broker's host name, or `embedded = true` for a broker inside roadeye"
                    .into(),
            ),
            (Some(h), false) if h.trim().is_empty() || h.contains(['/', ' ', ':']) => push(
                "host",
                format!(
                    "'{h}' is not a host name or IPv4 address (no scheme, no path; the port goes in `port`)"
                ),
            ),
            _ => {}
        }
        if self.port == Some(0) {
            push("port", "0 is not a port".into());
        }
        if self.embedded && self.tls.is_some() {
            push(
                "tls",
                "the embedded broker listens on 127.0.0.1 without TLS: remove [mqtt.tls]".into(),
            );
        }
        let prefix = self.prefix.trim_end_matches('/');
        if prefix.is_empty()
            || prefix.starts_with('/')
            || prefix.contains(['+', '#'])
            || prefix.contains("//")
        {
            push(
                "prefix",
                format!(
                    "'{}' is not a topic prefix: use levels separated by '/', without '+', '#', a leading '/' or empty levels, e.g. \"roadeye/v1\"",
                    self.prefix
                ),
            );
        }
        if let Some(id) = &self.client_id
            && (id.is_empty() || id.len() > 128)
        {
            push("client_id", "must have 1 to 128 characters".into());
        }
        let sources = [
            self.password.is_some(),
            self.password_file.is_some(),
            self.password_env.is_some(),
        ];
        if sources.iter().filter(|s| **s).count() > 1 {
            push(
                "password",
                "give the password one way: `password`, `password_file` or `password_env`".into(),
            );
        }
        if sources.iter().any(|s| *s) && self.username.is_none() {
            push("username", "missing: a password needs a user name".into());
        }
        if let Some(f) = &self.password_file
            && !base.join(f).is_file()
        {
            push("password_file", missing_file(&base.join(f)));
        }
        if let Some(var) = &self.password_env
            && std::env::var_os(var).is_none()
        {
            push(
                "password_env",
                format!("the environment variable '{var}' is not set"),
            );
        }
        if self.keep_alive_s < 5 {
            push("keep_alive_s", "must be at least 5 seconds".into());
        }
        if !(self.heartbeat_s >= 1.0 && self.heartbeat_s <= 3600.0) {
            push("heartbeat_s", "must be between 1 and 3600 seconds".into());
        }
        if !(self.reconnect_max_s.is_finite() && self.reconnect_max_s <= 3600.0) {
            push("reconnect_max_s", "must be at most 3600 seconds".into());
        }
        if !(self.reconnect_min_s > 0.0 && self.reconnect_min_s <= self.reconnect_max_s) {
            push(
                "reconnect_min_s",
                "must be above 0 and at most reconnect_max_s".into(),
            );
        }
        if let Some(tls) = &self.tls {
            for (field, file) in [
                ("tls.ca_file", &tls.ca_file),
                ("tls.cert_file", &tls.cert_file),
                ("tls.key_file", &tls.key_file),
            ] {
                if let Some(f) = file
                    && !base.join(f).is_file()
                {
                    push(field, missing_file(&base.join(f)));
                }
            }
            if tls.cert_file.is_some() != tls.key_file.is_some() {
                push(
                    "tls.key_file",
                    "a client certificate needs both `cert_file` and `key_file`".into(),
                );
            }
        }
        if !self.outbox.max_mb.is_finite() || self.outbox.max_mb < 1.0 {
            push("outbox.max_mb", "must be at least 1 (megabyte)".into());
        }
        if !self.outbox.max_age_h.is_finite()
            || self.outbox.max_age_h <= 0.0
            || self.outbox.max_age_h > 8760.0
        {
            push(
                "outbox.max_age_h",
                "must be above 0 and at most 8760 (hours, a year)".into(),
            );
        }
        out
    }
}

fn missing_file(p: &Path) -> String {
    format!(
        "'{}' does not exist (relative paths start at the config's folder)",
        p.display()
    )
}
