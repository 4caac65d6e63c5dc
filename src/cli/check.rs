//! `roadeye check CONFIG`: every problem of a config, with its path, before the box runs it.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use roadeye::config::{LoadedConfig, Problem, validate::validate};
use roadeye::infer::{Detector, LoadedSpec, OrtRuntime};

#[derive(Args)]
pub struct CheckArgs {
    /// The config file (TOML).
    config: PathBuf,
    /// Do not open the models with ONNX Runtime (checks only the files and specs).
    #[arg(long)]
    skip_models: bool,
}

pub fn run(args: CheckArgs) -> Result<ExitCode> {
    let cfg = match LoadedConfig::load(&args.config) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let mut problems = validate(&cfg);
    let plan = roadeye::pipeline::inference_plan(&cfg);
    if let Err(e) = &plan {
        problems.push(Problem {
            path: "runtime.inference".into(),
            message: e
                .to_string()
                .trim_start_matches("runtime.inference: ")
                .to_string(),
        });
    }
    let mut runtime_note = String::new();
    if !args.skip_models && problems.is_empty() {
        match open_models(&cfg) {
            Ok(note) => runtime_note = note,
            Err(mut p) => problems.append(&mut p),
        }
    }
    let shown = args.config.display();
    if problems.is_empty() {
        let c = &cfg.config;
        let enabled = c.cameras.iter().filter(|c| c.enabled).count();
        println!(
            "{shown}: OK — site '{}', device '{}', {} camera(s) ({enabled} enabled){runtime_note}",
            c.site.id,
            c.site.device,
            c.cameras.len()
        );
        if let Ok(tz) = c.site.time_zone() {
            let now = jiff::Timestamp::now();
            let name = tz.iana_name().unwrap_or("system");
            println!(
                "  time zone: {name} (now {} local)",
                tz.to_datetime(now).strftime("%a %H:%M")
            );
        }
        println!(
            "  {}",
            roadeye::clock::describe(roadeye::clock::probe().as_ref())
        );
        if let Ok(plan) = &plan {
            let warn = if plan.oversubscribed() {
                " — more inference threads than cores: the models take turns"
            } else {
                ""
            };
            println!("  inference: {plan}{warn}");
        }
        println!("  {}", mqtt_summary(&cfg));
        println!("  {}", ops_summary(&cfg));
        for cam in &c.cameras {
            println!("  {}: {}", cam.id, rules_summary(cam));
        }
        Ok(ExitCode::SUCCESS)
    } else {
        super::config::print_problems(&args.config, &problems);
        Ok(ExitCode::FAILURE)
    }
}

/// The lowest analysis rate at which line and zone counts were measured to hold.
const MIN_COUNTING_FPS: f32 = 2.0;

/// What a camera's rules are, in a few words.
fn rules_summary(cam: &roadeye::config::CameraConfig) -> String {
    let mut parts: Vec<String> = [
        (cam.lines.len(), "counting line"),
        (cam.zones.len(), "zone"),
        (cam.wrong_way.len(), "wrong-way lane"),
        (cam.stopped.len(), "no-stopping zone"),
        (cam.queues.len(), "queue"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}{}", if *n == 1 { "" } else { "s" }))
    .collect();
    if parts.is_empty() {
        parts.push("no rules (tracks only)".into());
    }
    if cam.calibration.is_some() {
        parts.push("calibrated".into());
    }
    match cam.stats.interval_s {
        0 => parts.push("no statistics".into()),
        n => parts.push(format!("statistics every {n} s")),
    }
    let counts = !(cam.lines.is_empty() && cam.zones.is_empty() && cam.queues.is_empty());
    if let Some(fps) = cam.analysis_fps.filter(|f| counts && *f < MIN_COUNTING_FPS) {
        parts.push(format!(
            "warning: at {fps} analysed frames per second objects move too far between frames to \
             be followed reliably (counting is measured down to {MIN_COUNTING_FPS}); raise \
             analysis_fps to {MIN_COUNTING_FPS} or more"
        ));
    }
    let state = if cam.enabled { "" } else { " (disabled)" };
    format!("{}{state}", parts.join(", "))
}

/// Opens every model the cameras use (once each) against the real runtime.
fn open_models(cfg: &LoadedConfig) -> Result<String, Vec<Problem>> {
    let rt = OrtRuntime::init(cfg.onnxruntime().as_deref()).map_err(|e| {
        vec![Problem {
            path: "runtime.onnxruntime".into(),
            message: e.to_string(),
        }]
    })?;
    let mut problems = Vec::new();
    // Each model once; per-camera overrides were already checked against its class names.
    let mut opened: HashSet<PathBuf> = HashSet::new();
    for (i, cam) in cfg.config.cameras.iter().enumerate() {
        let spec_path = cfg.model_spec_path(cam);
        if !opened.insert(spec_path.clone()) {
            continue;
        }
        let result = LoadedSpec::load(&spec_path).and_then(|spec| {
            Detector::new(rt, spec, &cfg.config.runtime.inference, &Default::default()).map(|_| ())
        });
        if let Err(e) = result {
            problems.push(Problem {
                path: format!("cameras[{i}].model"),
                message: e.to_string(),
            });
        }
    }
    if problems.is_empty() {
        let mut names: Vec<String> = opened.iter().map(|p| model_origin(p)).collect();
        names.sort();
        Ok(format!(
            "; {} model(s) opened with ONNX Runtime ({}): {}",
            opened.len(),
            rt.path().display(),
            names.join(", ")
        ))
    } else {
        Err(problems)
    }
}

/// `centernet from /usr/share/roadeye/models`: which model file a spec path is.
fn model_origin(spec: &std::path::Path) -> String {
    let name = spec.file_stem().unwrap_or_default().to_string_lossy();
    match spec.parent() {
        Some(dir) => format!("{name} from {}", dir.display()),
        None => name.into_owned(),
    }
}

/// The endpoints, reloads and snapshots, in one line.
fn ops_summary(cfg: &roadeye::config::LoadedConfig) -> String {
    let c = &cfg.config;
    let http = match c.ops.listen_addr() {
        Ok(Some(addr)) => match roadeye::config::exposure_warning(&addr) {
            Some(w) => format!("metrics and health on http://{addr} (warning: {w})"),
            None => format!("metrics and health on http://{addr}"),
        },
        _ => "no metrics endpoint".to_string(),
    };
    let reload = if c.ops.watch_config {
        "reload on SIGHUP or a change of the file"
    } else {
        "reload on SIGHUP"
    };
    let snaps = if c.snapshots.kinds.is_empty() {
        "no snapshots".to_string()
    } else {
        format!(
            "snapshots of [{}] in {} (≤ {} MB)",
            c.snapshots.kinds.join(", "),
            c.snapshots.dir_in(&cfg.base_dir).display(),
            c.snapshots.max_mb
        )
    };
    format!("ops: {http}, {reload}, {snaps}")
}

/// Where events go, in one line (never the password).
fn mqtt_summary(cfg: &roadeye::config::LoadedConfig) -> String {
    let Some(m) = &cfg.config.mqtt else {
        return "mqtt: none (events are printed only)".into();
    };
    let broker = if m.embedded {
        format!("embedded broker on 127.0.0.1:{}", m.port())
    } else {
        format!("{}:{}", m.host.as_deref().unwrap_or("?"), m.port())
    };
    let tls = match &m.tls {
        None => "no TLS".to_string(),
        Some(t) => format!(
            "TLS with {}{}",
            if t.ca_file.is_some() {
                "the CA file"
            } else {
                "the system roots"
            },
            if t.cert_file.is_some() {
                " and a client certificate"
            } else {
                ""
            }
        ),
    };
    let user = m
        .username
        .as_deref()
        .map_or(String::new(), |u| format!(", user '{u}'"));
    format!(
        "mqtt: {broker}, {tls}{user}, topics under {}/{}/…, outbox {} (≤ {} MB, ≤ {} h)",
        m.prefix.trim_end_matches('/'),
        cfg.config.site.id,
        cfg.base_dir.join(&m.outbox.path).display(),
        m.outbox.max_mb,
        m.outbox.max_age_h
    )
}
