//! Model selection shared by the subcommands.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use roadeye::infer::LoadedSpec;
use roadeye::paths;

/// Loads the spec named on the command line: a path to a `.toml`, a model name looked up in the
/// models folders, or (none given) the default model.
pub fn load_spec(arg: Option<&Path>) -> Result<LoadedSpec> {
    if let Some(p) = arg
        && p.extension().is_some_and(|e| e == "onnx")
    {
        bail!(
            "'{}' is an ONNX file; --model takes its spec (.toml) — see models/README.md, \"Adding a model\"",
            p.display()
        );
    }
    let path = match arg {
        Some(p) if paths::is_model_path(&p.to_string_lossy()) => p.to_path_buf(),
        Some(p) => find(&p.to_string_lossy())?,
        None => find(paths::DEFAULT_MODEL)?,
    };
    if !path.is_file() {
        bail!("model spec '{}' not found", path.display());
    }
    LoadedSpec::load(&path).with_context(|| format!("loading model spec '{}'", path.display()))
}

fn find(name: &str) -> Result<PathBuf> {
    paths::find_model_spec(name).map_err(|tried| {
        let list: Vec<String> = tried.iter().map(|p| format!("  - {}", p.display())).collect();
        anyhow::anyhow!(
            "model '{name}' not found. Looked for its spec in:\n{}\nPass --model PATH/TO/SPEC.toml or set ROADEYE_MODELS_DIR",
            list.join("\n")
        )
    })
}
