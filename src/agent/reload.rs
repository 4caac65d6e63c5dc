//! Config reloads: when asked (SIGHUP) or when the file changes, the file is read and
//! validated again; a valid one is applied camera by camera, an invalid one is refused (the
//! running config stays) and the reason is logged, counted and published on the status.

use std::path::PathBuf;
use std::time::SystemTime;

use crate::config::{Config, LoadedConfig, revision, validate};
use crate::ops::Metrics;
use crate::pipeline::{Pipelines, Step, reload};
use crate::publish::{ConfigHealth, RejectedConfig};
use crate::types::ms_since_epoch;

/// The file, what runs, and what was refused.
pub struct Reloader {
    path: PathBuf,
    /// The config the process started with (sections outside the cameras apply only at a start).
    started: Config,
    state: ConfigHealth,
    /// The revision seen at the last poll (a change is applied once it is stable for a poll).
    seen: Option<String>,
}

impl Reloader {
    /// For the config `cfg`, as it was read from its file.
    pub fn new(cfg: &LoadedConfig) -> Reloader {
        Reloader {
            path: cfg.path.clone(),
            started: cfg.config.clone(),
            seen: Some(cfg.revision.clone()),
            state: ConfigHealth {
                revision: cfg.revision.clone(),
                applied_ms: ms_since_epoch(SystemTime::now()),
                rejected: None,
                pending_restart: Vec::new(),
            },
        }
    }

    /// The running config and the last refusal, for the status.
    pub fn health(&self) -> &ConfigHealth {
        &self.state
    }

    /// Whether the file changed since what runs (or was refused) and has stayed the same since
    /// the last poll (so a file being written is not read half-way).
    pub fn changed(&mut self) -> bool {
        let Ok(bytes) = std::fs::read(&self.path) else {
            return false;
        };
        let rev = revision(&bytes);
        let known = rev == self.state.revision
            || self
                .state
                .rejected
                .as_ref()
                .is_some_and(|r| r.revision == rev);
        let stable = self.seen.as_deref() == Some(rev.as_str());
        self.seen = Some(rev);
        !known && stable
    }

    /// Reads, validates and applies the file (once, so what is validated is what runs).
    pub async fn reload(&mut self, pipelines: &mut Pipelines, metrics: &Metrics, why: &str) {
        tracing::info!("{why}: reading '{}' again", self.path.display());
        let cfg = match LoadedConfig::load(&self.path) {
            Ok(cfg) => cfg,
            Err(e) => {
                // Unreadable or unparsable: still the revision of what is there, if anything.
                let rev =
                    std::fs::read(&self.path).map_or_else(|_| String::new(), |b| revision(&b));
                return self.refused(rev, vec![e.to_string()], metrics);
            }
        };
        let problems = validate::validate(&cfg);
        if !problems.is_empty() {
            let errors = problems.iter().map(ToString::to_string).collect();
            return self.refused(cfg.revision.clone(), errors, metrics);
        }
        match pipelines.reload(&cfg).await {
            Ok(plan) => {
                self.applied(cfg.revision.clone(), &cfg, &plan);
                metrics.reload("applied");
            }
            Err(e) => self.refused(cfg.revision.clone(), vec![e.to_string()], metrics),
        }
    }

    fn applied(&mut self, rev: String, cfg: &LoadedConfig, plan: &reload::Plan) {
        let list = |step| plan.with(step).collect::<Vec<_>>().join(", ");
        let mut parts = Vec::new();
        for (step, word) in [
            (Step::Retune, "new rules"),
            (Step::Restart, "restarted"),
            (Step::Add, "started"),
            (Step::Remove, "stopped"),
            (Step::Keep, "unchanged"),
        ] {
            let ids = list(step);
            if !ids.is_empty() {
                parts.push(format!("{word}: {ids}"));
            }
        }
        tracing::info!(
            "config {rev} applied ({})",
            if parts.is_empty() {
                "no camera".to_string()
            } else {
                parts.join("; ")
            }
        );
        let pending: Vec<String> = reload::plan(&self.started, &cfg.config)
            .pending_restart
            .iter()
            .map(|s| s.to_string())
            .collect();
        if !pending.is_empty() {
            tracing::warn!(
                "config {rev}: [{}] changed; these apply at the next start of roadeye",
                pending.join("], [")
            );
        }
        self.seen = Some(rev.clone());
        self.state = ConfigHealth {
            revision: rev,
            applied_ms: ms_since_epoch(SystemTime::now()),
            rejected: None,
            pending_restart: pending,
        };
    }

    fn refused(&mut self, rev: String, errors: Vec<String>, metrics: &Metrics) {
        tracing::error!(
            "config {rev} refused; config {} keeps running. {} problem(s):\n  - {}",
            self.state.revision,
            errors.len(),
            errors.join("\n  - ")
        );
        metrics.reload("rejected");
        self.seen = Some(rev.clone());
        self.state.rejected = Some(RejectedConfig {
            revision: rev,
            time_ms: ms_since_epoch(SystemTime::now()),
            errors,
        });
    }
}
