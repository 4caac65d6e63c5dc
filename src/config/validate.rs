//! Semantic validation: every problem at once, each with its path.

use std::collections::HashMap;

use super::{LoadedConfig, Problem, SCHEMES};
use crate::infer::LoadedSpec;
use crate::infer::classes::{ClassTable, policy_problems};
use crate::rules::{self, validate::LabelCheck};
use crate::secret::redact;

/// Every problem of a parsed config, including its cameras' model specs (read from disk).
///
/// Model files are checked for existence here; opening them against the runtime is the caller's
/// choice (see `roadeye check`).
pub fn validate(cfg: &LoadedConfig) -> Vec<Problem> {
    let c = &cfg.config;
    let mut out = Vec::new();
    let mut push = |path: String, message: String| out.push(Problem { path, message });
    check_id(&c.site.id, "site.id", &mut push);
    check_id(&c.site.device, "site.device", &mut push);
    if let Err(m) = c.site.time_zone() {
        push("site.timezone".into(), m);
    }
    if let Some(p) = cfg.onnxruntime()
        && !p.is_file()
    {
        push(
            "runtime.onnxruntime".into(),
            format!(
                "'{}' does not exist (remove the setting to search the default places)",
                p.display()
            ),
        );
    }
    if c.runtime.inference.execution_providers.is_empty() {
        push(
            "runtime.inference.execution_providers".into(),
            "empty: list at least one provider, e.g. [\"cpu\"]".into(),
        );
    }
    if let Some(m) = &c.mqtt {
        for (field, message) in m.problems(&cfg.base_dir) {
            push(format!("mqtt.{field}"), message);
        }
    }
    if let Err(m) = c.ops.listen_addr() {
        push("ops.listen".into(), m);
    }
    for (field, message) in c.snapshots.problems(&crate::rules::EventKind::NAMES) {
        push(format!("snapshots.{field}"), message);
    }
    if c.cameras.is_empty() {
        push(
            "cameras".into(),
            "no cameras: add at least one [[cameras]] entry".into(),
        );
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut specs: HashMap<std::path::PathBuf, Result<LoadedSpec, String>> = HashMap::new();
    for (i, cam) in c.cameras.iter().enumerate() {
        let at = |field: &str| format!("cameras[{i}].{field}");
        check_id(&cam.id, &at("id"), &mut push);
        if let Some(first) = seen.insert(cam.id.as_str(), i) {
            push(
                at("id"),
                format!("'{}' is already the id of cameras[{first}]", cam.id),
            );
        }
        if let Err(m) = check_url(&cam.url) {
            push(at("url"), m);
        } else if cam.url.starts_with("file:") && !cam.url.starts_with("file:///") {
            let file = cfg.base_dir.join(&cam.url["file:".len()..]);
            if !file.is_file() {
                push(
                    at("url"),
                    format!(
                        "'{}' does not exist (relative paths start at the config's folder)",
                        file.display()
                    ),
                );
            }
        }
        for (field, message) in stream_problems(cam) {
            push(at(&field), message);
        }
        for (field, message) in cam.tracker.problems() {
            push(at(&format!("tracker.{field}")), message);
        }
        let spec_path = cfg.model_spec_path(cam);
        let spec = specs
            .entry(spec_path.clone())
            .or_insert_with(|| LoadedSpec::load(&spec_path).map_err(|e| e.to_string()));
        match spec {
            Err(e) => push(at("model"), format!("model '{}': {e}", cam.model)),
            Ok(spec) => {
                let policy = spec.spec.postprocess.with(&cam.detect);
                let policy_bad = policy_problems(&policy, &spec.class_names);
                let labels_known = policy_bad.is_empty();
                for p in policy_bad {
                    push(at(&format!("detect.{}", p.field)), p.message);
                }
                let table = ClassTable::new(&spec.class_names, &policy);
                let label = |c: &str| label_problem(c, &table, &spec.class_names, &cam.model);
                let check: LabelCheck<'_> = if labels_known { &label } else { &|_| Ok(()) };
                for (field, message) in rules::validate::problems(&cam.rules(), check) {
                    push(at(&field), message);
                }
            }
        }
    }
    out
}

/// Why the class `c` will never be reported by a camera whose model has `names` and whose class
/// policy compiled to `table`.
fn label_problem(c: &str, table: &ClassTable, names: &[String], model: &str) -> Result<(), String> {
    if table.labels().iter().any(|l| &**l == c) {
        return Ok(());
    }
    let labels: Vec<&str> = table.labels().iter().map(|l| &**l).collect();
    let shown = if labels.len() > 12 {
        format!("{}, …", labels[..12].join(", "))
    } else {
        labels.join(", ")
    };
    if names.iter().any(|n| n == c) {
        Err(format!(
            "'{c}' is removed or renamed by this camera's `detect` settings (classes/remap), so it is never reported; reported labels: {shown}"
        ))
    } else {
        Err(format!(
            "'{c}' is not a label of model '{model}' (labels: {shown})"
        ))
    }
}

/// Problems of a camera's stream settings, as (field, message).
fn stream_problems(cam: &super::CameraConfig) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut positive = |field: &str, v: f32| {
        if !(v > 0.0 && v <= 3600.0) {
            out.push((
                field.to_string(),
                format!("{v} must be a number of seconds in (0, 3600]"),
            ));
        }
    };
    positive("stall_timeout_s", cam.stall_timeout_s);
    positive("reconnect_min_s", cam.reconnect_min_s);
    positive("reconnect_max_s", cam.reconnect_max_s);
    if cam.reconnect_max_s < cam.reconnect_min_s {
        out.push((
            "reconnect_max_s".into(),
            format!(
                "{} is below reconnect_min_s {}",
                cam.reconnect_max_s, cam.reconnect_min_s
            ),
        ));
    }
    if let Some(fps) = cam.analysis_fps
        && !(0.01..=1000.0).contains(&fps)
    {
        out.push((
            "analysis_fps".into(),
            format!("{fps} is outside 0.01..1000 (or leave it unset)"),
        ));
    }
    if let Some(w) = cam.analysis_width
        && !(16..=7680).contains(&w)
    {
        out.push(("analysis_width".into(), format!("{w} is outside 16..7680")));
    }
    if cam.password.is_some() && cam.username.is_none() {
        out.push(("password".into(), "set `username` too".into()));
    }
    let is_file = cam.url.starts_with("file:");
    if !cam.realtime && !is_file {
        out.push((
            "realtime".into(),
            "only file: sources can be replayed faster than real time; remove it for a live stream"
                .into(),
        ));
    }
    if cam.looping && !cam.realtime {
        out.push((
            "loop".into(),
            "a replay (realtime = false) plays the file once; remove `loop` or `realtime`".into(),
        ));
    }
    if cam.looping && !is_file {
        out.push((
            "loop".into(),
            "only file: sources loop; remove it for a live stream".into(),
        ));
    }
    out
}

fn check_id(id: &str, path: &str, push: &mut impl FnMut(String, String)) {
    if id.is_empty() {
        push(path.into(), "must not be empty".into());
    } else if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        push(
            path.into(),
            format!(
                "'{id}' contains '{bad}': use letters, digits, '-' and '_' only (it is an MQTT topic segment)"
            ),
        );
    }
}

/// Checks a camera URL's form; never echoes credentials.
pub fn check_url(url: &str) -> Result<(), String> {
    // `file:relative/path`, resolved against the config's folder.
    if let Some(rest) = url.strip_prefix("file:")
        && !rest.starts_with('/')
    {
        return if rest.is_empty() {
            Err("'file:' names no file".into())
        } else {
            Ok(())
        };
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!(
            "'{}' is not a URL: expected scheme://…, one of {}",
            redact(url),
            SCHEMES.join(", ")
        ));
    };
    let scheme_l = scheme.to_ascii_lowercase();
    if !SCHEMES.contains(&scheme_l.as_str()) {
        return Err(format!(
            "unknown scheme '{scheme}' in '{}': use one of {}",
            redact(url),
            SCHEMES.join(", ")
        ));
    }
    let needs_host = !matches!(scheme_l.as_str(), "file" | "v4l2");
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    if needs_host && host.is_empty() {
        return Err(format!("'{}' has no host", redact(url)));
    }
    if !needs_host && !rest.starts_with('/') {
        return Err(format!(
            "'{}' needs an absolute path ({scheme}:///path)",
            redact(url)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(check_url("rtsp://10.0.0.5:554/stream1").is_ok());
        assert!(check_url("rtsp://admin:secret@cam.local/live").is_ok());
        assert!(check_url("file:///srv/video/demo.mp4").is_ok());
        assert!(check_url("v4l2:///dev/video0").is_ok());
        assert!(check_url("file:../media/vtest.avi").is_ok());
        let e = check_url("ftp://x/y").expect_err("scheme");
        assert!(e.starts_with("unknown scheme 'ftp'"), "{e}");
        let e = check_url("rtsp:///nohost").expect_err("host");
        assert!(e.contains("no host"), "{e}");
        let e = check_url("camera-7").expect_err("form");
        assert!(e.contains("not a URL"), "{e}");
        let e = check_url("rtsp://admin:secret@/x").expect_err("no host");
        assert!(!e.contains("secret"), "credentials leaked: {e}");
    }
}
