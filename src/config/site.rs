//! `[site]`: who this box is.

use serde::{Deserialize, Serialize};

/// The box's identity; the ids become MQTT topic segments.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// Site id, e.g. `hn-caugiay-xuanthuy` (letters, digits, `-`, `_`).
    pub id: String,
    /// This box's id within the site, e.g. `box-01` (letters, digits, `-`, `_`).
    pub device: String,
    /// Human-readable name of the site, free text.
    #[serde(default)]
    pub name: String,
    /// IANA time zone of the site, e.g. `Asia/Ho_Chi_Minh`: rule time windows are local times in
    /// it. Unset: the box's system time zone.
    #[serde(default)]
    pub timezone: Option<String>,
}

impl SiteConfig {
    /// The site's time zone (the tz database is built in, so a name works on any box).
    pub fn time_zone(&self) -> Result<jiff::tz::TimeZone, String> {
        match &self.timezone {
            None => Ok(jiff::tz::TimeZone::system()),
            Some(name) => jiff::tz::TimeZone::get(name).map_err(|_| {
                format!("'{name}' is not a known time zone: use an IANA name such as \"Asia/Ho_Chi_Minh\" or \"UTC\"")
            }),
        }
    }
}
