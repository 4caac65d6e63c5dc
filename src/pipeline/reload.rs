//! What a new config changes, camera by camera (pure): which cameras keep running untouched,
//! which only get new rules (their tracker carries on), which restart, start or stop, and which
//! settings only a restart of the agent applies.

use crate::config::{CameraConfig, Config};
use crate::rules::RulesConfig;

/// What happens to one camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing changed.
    Keep,
    /// Only its lines, zones, traffic rules, calibration, statistics or name changed: new rules,
    /// same stream and tracker.
    Retune,
    /// Its stream, model, detection or tracker settings changed: it starts again.
    Restart,
    /// New (or newly enabled).
    Add,
    /// Gone (or disabled).
    Remove,
}

/// The plan for a reload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Each affected camera id with its step, cameras of the new config first (in its order),
    /// then the removed ones.
    pub steps: Vec<(String, Step)>,
    /// Sections that changed but take effect only at the next start (`site`, `mqtt`, …).
    pub pending_restart: Vec<&'static str>,
}

impl Plan {
    /// Cameras with a given step.
    pub fn with(&self, step: Step) -> impl Iterator<Item = &str> {
        self.steps
            .iter()
            .filter(move |(_, s)| *s == step)
            .map(|(id, _)| id.as_str())
    }

    /// Whether the reload changes nothing that runs.
    pub fn is_empty(&self) -> bool {
        self.steps.iter().all(|(_, s)| *s == Step::Keep)
    }
}

/// Fields of a camera that a new rules engine applies without touching the stream or tracker:
/// its name and every field of [`RulesConfig`], as they serialise.
fn rule_fields() -> Vec<String> {
    let mut fields: Vec<String> = to_json(&RulesConfig::default())
        .ok()
        .and_then(|v| v.as_object().map(|m| m.keys().cloned().collect()))
        .unwrap_or_default();
    fields.push("name".to_string());
    fields
}

/// The plan from `old` to `new` (enabled cameras only).
pub fn plan(old: &Config, new: &Config) -> Plan {
    let enabled = |c: &Config| -> Vec<CameraConfig> {
        c.cameras.iter().filter(|c| c.enabled).cloned().collect()
    };
    let (before, after) = (enabled(old), enabled(new));
    let mut steps = Vec::new();
    for cam in &after {
        let step = match before.iter().find(|c| c.id == cam.id) {
            None => Step::Add,
            Some(prev) => compare(prev, cam),
        };
        steps.push((cam.id.clone(), step));
    }
    for cam in &before {
        if !after.iter().any(|c| c.id == cam.id) {
            steps.push((cam.id.clone(), Step::Remove));
        }
    }
    let pending_restart = [
        ("site", changed(&old.site, &new.site)),
        ("runtime", changed(&old.runtime, &new.runtime)),
        ("mqtt", changed(&old.mqtt, &new.mqtt)),
        ("ops", changed(&old.ops, &new.ops)),
        ("snapshots", changed(&old.snapshots, &new.snapshots)),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect();
    Plan {
        steps,
        pending_restart,
    }
}

/// Whether two settings differ (compared as they serialise).
fn changed<T: serde::Serialize>(a: &T, b: &T) -> bool {
    to_json(a).ok() != to_json(b).ok()
}

fn to_json<T: serde::Serialize>(v: &T) -> serde_json::Result<serde_json::Value> {
    serde_json::to_value(v)
}

fn compare(old: &CameraConfig, new: &CameraConfig) -> Step {
    let (Ok(mut a), Ok(mut b)) = (to_json(old), to_json(new)) else {
        return Step::Restart;
    };
    if a == b {
        return Step::Keep;
    }
    let fields = rule_fields();
    for v in [&mut a, &mut b] {
        if let Some(map) = v.as_object_mut() {
            for f in &fields {
                map.remove(f);
            }
        }
    }
    if a == b { Step::Retune } else { Step::Restart }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[site]
id = "hn"
device = "box-1"

[[cameras]]
id = "north"
url = "rtsp://10.0.0.1/s"

[[cameras.lines]]
id = "stop"
points = [[0.1, 0.5], [0.9, 0.5]]
forward = "in"
backward = "out"

[[cameras]]
id = "south"
url = "rtsp://10.0.0.2/s"
"#;

    fn cfg(text: &str) -> Config {
        Config::parse(text).expect("config")
    }

    #[test]
    fn the_same_config_changes_nothing() {
        let p = plan(&cfg(BASE), &cfg(BASE));
        assert!(p.is_empty());
        assert!(p.pending_restart.is_empty());
    }

    #[test]
    fn a_moved_line_retunes_and_a_new_url_restarts_only_that_camera() {
        let moved = BASE.replace("[0.9, 0.5]", "[0.9, 0.6]");
        let p = plan(&cfg(BASE), &cfg(&moved));
        assert_eq!(p.with(Step::Retune).collect::<Vec<_>>(), ["north"]);
        assert_eq!(p.with(Step::Keep).collect::<Vec<_>>(), ["south"]);
        let url = BASE.replace("10.0.0.2", "10.0.0.3");
        let p = plan(&cfg(BASE), &cfg(&url));
        assert_eq!(p.with(Step::Restart).collect::<Vec<_>>(), ["south"]);
        assert_eq!(p.with(Step::Keep).collect::<Vec<_>>(), ["north"]);
    }

    #[test]
    fn added_removed_and_disabled_cameras() {
        let text = BASE.replace("id = \"south\"", "id = \"east\"");
        let p = plan(&cfg(BASE), &cfg(&text));
        assert_eq!(
            p.steps,
            [
                ("north".to_string(), Step::Keep),
                ("east".to_string(), Step::Add),
                ("south".to_string(), Step::Remove)
            ]
        );
        let off = BASE.replace(
            "url = \"rtsp://10.0.0.2/s\"",
            "url = \"rtsp://10.0.0.2/s\"\nenabled = false",
        );
        let p = plan(&cfg(BASE), &cfg(&off));
        assert_eq!(p.with(Step::Remove).collect::<Vec<_>>(), ["south"]);
    }

    #[test]
    fn box_wide_sections_wait_for_a_restart() {
        let text = BASE.replace("device = \"box-1\"", "device = \"box-2\"")
            + "\n[mqtt]\nhost = \"ioc.example.vn\"\n";
        let p = plan(&cfg(BASE), &cfg(&text));
        assert_eq!(p.pending_restart, ["site", "mqtt"]);
        assert!(p.is_empty());
    }

    #[test]
    fn a_tracker_setting_restarts_the_camera() {
        let text = BASE.replace(
            "url = \"rtsp://10.0.0.2/s\"",
            "url = \"rtsp://10.0.0.2/s\"\nanalysis_fps = 5.0",
        );
        let p = plan(&cfg(BASE), &cfg(&text));
        assert_eq!(p.with(Step::Restart).collect::<Vec<_>>(), ["south"]);
    }

    #[test]
    fn the_rule_fields_are_the_rules_config_s_and_a_camera_has_each() {
        let fields = rule_fields();
        for f in [
            "lines",
            "zones",
            "wrong_way",
            "stopped",
            "queues",
            "calibration",
            "stats",
            "name",
        ] {
            assert!(
                fields.iter().any(|x| x == f),
                "{f} is not a rule field: {fields:?}"
            );
        }
        let cfg: Config = toml::from_str(BASE).expect("config");
        let camera = to_json(&cfg.cameras[0]).expect("json");
        for f in &fields {
            assert!(camera.get(f.as_str()).is_some(), "a camera has no '{f}'");
        }
    }
}
