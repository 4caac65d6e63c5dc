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
}
