//! What a camera needs before it starts, loaded where it may fail: its model's lanes (sessions),
//! post-processing, source settings and rules. Nothing here starts a thread, so a failure leaves
//! the running pipelines as they were; loading a model takes seconds, so a reload runs this on a
//! blocking thread.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::PipelineError;
use super::plan::{self, ModelPlan, PlanError, Requested};
use crate::config::{CameraConfig, LoadedConfig};
use crate::infer::{InferenceOptions, LoadedSpec, ModelRunner, OrtRuntime, Postprocessor};
use crate::rules::CameraRules;
use crate::source::SourceSettings;

/// The sessions opened for models not running yet, one per lane, by spec path.
pub(super) type Lanes = HashMap<PathBuf, Vec<ModelRunner>>;

/// A camera ready to start: everything that can fail is done.
pub(super) struct Prepared {
    pub config: CameraConfig,
    pub model: PathBuf,
    pub post: Postprocessor,
    pub settings: SourceSettings,
    pub rules: CameraRules,
}

/// Loads what `cams` need: the models not in `loaded`, post-processing, sources and rules.
pub(super) fn prepare(
    rt: &'static OrtRuntime,
    tz: &jiff::tz::TimeZone,
    loaded: &HashSet<PathBuf>,
    cfg: &LoadedConfig,
    cams: &[CameraConfig],
) -> Result<(Vec<Prepared>, Lanes), PipelineError> {
    let plan = inference_plan(cfg)?;
    let mut runners: Lanes = HashMap::new();
    let mut specs: HashMap<PathBuf, LoadedSpec> = HashMap::new();
    let mut out = Vec::new();
    for cam in cams {
        let model_err = |source| PipelineError::Model {
            camera: cam.id.clone(),
            source,
        };
        // The same model named two ways is still one session.
        let path = model_path(cfg, cam);
        if !specs.contains_key(&path) {
            specs.insert(path.clone(), LoadedSpec::load(&path).map_err(model_err)?);
        }
        let spec = &specs[&path];
        if !loaded.contains(&path) && !runners.contains_key(&path) {
            let share = plan.of(&model_name(&path)).unwrap_or(ModelPlan {
                lanes: 1,
                intra_threads: 1,
            });
            let opts = InferenceOptions {
                intra_threads: share.intra_threads,
                ..cfg.config.runtime.inference.clone()
            };
            let lanes = ModelRunner::lanes(rt, spec, &opts, share.lanes).map_err(model_err)?;
            runners.insert(path.clone(), lanes);
        }
        let post = Postprocessor::with_override(spec, &cam.detect).map_err(model_err)?;
        let settings =
            cam.source_settings(&cfg.base_dir)
                .map_err(|source| PipelineError::Source {
                    camera: cam.id.clone(),
                    source,
                })?;
        let rules = camera_rules(cam, tz)?;
        out.push(Prepared {
            config: cam.clone(),
            model: path,
            post,
            settings,
            rules,
        });
    }
    Ok((out, runners))
}

/// `cam`'s rules, in the site's time zone.
pub(super) fn camera_rules(
    cam: &CameraConfig,
    tz: &jiff::tz::TimeZone,
) -> Result<CameraRules, PipelineError> {
    CameraRules::new(&cam.id, &cam.rules(), tz.clone()).map_err(|source| PipelineError::Rules {
        camera: cam.id.clone(),
        source,
    })
}

/// The box's cores, as the process may use them.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// The inference plan of `cfg`'s enabled cameras on this box: models by name, with their cameras.
pub fn inference_plan(cfg: &LoadedConfig) -> Result<plan::Plan, PlanError> {
    let mut models: Vec<(String, usize)> = Vec::new();
    for cam in cfg.config.cameras.iter().filter(|c| c.enabled) {
        let name = model_name(&model_path(cfg, cam));
        match models.iter_mut().find(|(m, _)| *m == name) {
            Some((_, n)) => *n += 1,
            None => models.push((name, 1)),
        }
    }
    let named: Vec<(&str, usize)> = models.iter().map(|(m, n)| (m.as_str(), *n)).collect();
    let inf = &cfg.config.runtime.inference;
    plan::plan(
        cores(),
        &named,
        Requested {
            lanes: inf.lanes,
            intra_threads: inf.intra_threads,
        },
    )
}

/// The spec of `cam`'s model, the same path however the config names it.
fn model_path(cfg: &LoadedConfig, cam: &CameraConfig) -> PathBuf {
    let path = cfg.model_spec_path(cam);
    path.canonicalize().unwrap_or(path)
}

/// A model's name in the plan: its spec's file name without `.toml`.
fn model_name(spec: &Path) -> String {
    spec.file_stem().map_or_else(
        || spec.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}
