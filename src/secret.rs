//! Secrets from the config (passwords, credentials in camera URLs): never printed, not even in
//! debug output or logs.

use serde::{Deserialize, Serialize};

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

/// The URL with any `user:password@` replaced by `***@`. A password holding a raw `/` or `@` still
/// ends up hidden: when in doubt, more is hidden, never less.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let at = rest[..authority_end]
        .rfind('@')
        .or_else(|| rest.rfind('@').filter(|&at| rest[..at].contains(':')));
    match at {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_hides_credentials_only() {
        assert_eq!(redact("rtsp://u:p@h:554/a@b"), "rtsp://***@h:554/a@b");
        assert_eq!(redact("rtsp://h/a"), "rtsp://h/a");
        assert_eq!(redact("rtsp://admin:pa/ss@cam/x"), "rtsp://***@cam/x");
        assert_eq!(redact("rtsp://admin:p@ss@cam/x"), "rtsp://***@cam/x");
    }
}
