//! Finding and loading the ONNX Runtime shared library.
//!
//! roadeye links ONNX Runtime dynamically so one binary works with the runtime a box has (CPU, or a
//! vendor build with an accelerator). The search order, first hit wins:
//! 1. an explicit path (the config's `runtime.onnxruntime` or `--onnxruntime`),
//! 2. `ORT_DYLIB_PATH`,
//! 3. beside the binary, and `lib/roadeye/` beside its folder (the installed layout: `/usr/bin/roadeye`,
//!    `/usr/lib/roadeye/libonnxruntime.so`, wherever the package is unpacked),
//! 4. a project-local install `.deps/onnxruntime/lib/` in the working folder or an ancestor of
//!    the binary (what `scripts/setup.sh` makes),
//! 5. the system library folders.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;

use super::InferError;

const LIB: &str = "libonnxruntime.so";

/// The loaded runtime; one per process.
pub struct OrtRuntime {
    env: Environment,
    path: PathBuf,
}

static RUNTIME: OnceLock<OrtRuntime> = OnceLock::new();

impl OrtRuntime {
    /// Loads ONNX Runtime once per process (later calls return the first one, whatever `explicit`).
    pub fn init(explicit: Option<&Path>) -> Result<&'static OrtRuntime, InferError> {
        if let Some(rt) = RUNTIME.get() {
            return Ok(rt);
        }
        let path = locate(explicit)?;
        let builder = ort::init_from(&path).map_err(|e| InferError::RuntimeLoad {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let env = builder
            .with_name("roadeye")
            // A box in a city's network reports to its IOC only.
            .with_telemetry(false)
            .build()
            .map_err(|e| InferError::RuntimeLoad {
                path: path.clone(),
                message: e.to_string(),
            })?;
        Ok(RUNTIME.get_or_init(|| OrtRuntime { env, path }))
    }

    /// The ONNX Runtime environment sessions are created in.
    pub fn environment(&self) -> &Environment {
        &self.env
    }

    /// The library that was loaded.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Finds the ONNX Runtime library, or says everywhere it looked.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, InferError> {
    if let Some(p) = explicit {
        return existing(p, "the configured onnxruntime path");
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|v| !v.is_empty()) {
        return existing(Path::new(&p), "ORT_DYLIB_PATH");
    }
    let candidates = candidates(
        std::env::current_exe().ok().as_deref(),
        std::env::current_dir().ok().as_deref(),
    );
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| InferError::RuntimeNotFound {
            searched: candidates.iter().map(|p| p.display().to_string()).collect(),
        })
}

fn existing(p: &Path, origin: &str) -> Result<PathBuf, InferError> {
    if p.is_file() {
        Ok(p.to_path_buf())
    } else {
        Err(InferError::RuntimeMissing {
            origin: origin.to_string(),
            path: p.to_path_buf(),
        })
    }
}

/// The implicit places, in order, without duplicates.
fn candidates(exe: Option<&Path>, cwd: Option<&Path>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    let local = |d: &Path| d.join(".deps/onnxruntime/lib").join(LIB);
    let exe_dir = exe.and_then(Path::parent);
    if let Some(d) = exe_dir {
        out.push(d.join(LIB));
        if let Some(prefix) = d.parent() {
            out.push(prefix.join("lib/roadeye").join(LIB));
        }
    }
    if let Some(d) = cwd {
        out.push(local(d));
    }
    // target/{debug,release}[/deps] sit up to three levels below the project.
    for d in exe_dir.iter().flat_map(|d| d.ancestors().skip(1).take(3)) {
        out.push(local(d));
    }
    for d in [
        "/usr/lib/roadeye",
        "/usr/local/lib",
        "/usr/lib",
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib/arm-linux-gnueabihf",
    ] {
        out.push(Path::new(d).join(LIB));
    }
    let mut seen = Vec::new();
    out.retain(|p| {
        let fresh = !seen.contains(p);
        seen.push(p.clone());
        fresh
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_cover_installed_and_project_layouts() {
        let c = candidates(
            Some(Path::new("/opt/x/target/release/roadeye")),
            Some(Path::new("/srv")),
        );
        let s: Vec<String> = c.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(s[0], "/opt/x/target/release/libonnxruntime.so");
        assert_eq!(s[1], "/opt/x/target/lib/roadeye/libonnxruntime.so");
        assert_eq!(s[2], "/srv/.deps/onnxruntime/lib/libonnxruntime.so");
        assert!(s.contains(&"/opt/x/.deps/onnxruntime/lib/libonnxruntime.so".to_string()));
        assert!(s.contains(&"/usr/lib/roadeye/libonnxruntime.so".to_string()));
    }

    #[test]
    fn an_explicit_path_that_does_not_exist_is_named() {
        let err = locate(Some(Path::new("/nonexistent/libonnxruntime.so"))).expect_err("missing");
        assert_eq!(
            err.to_string(),
            "the configured onnxruntime path points to '/nonexistent/libonnxruntime.so', which does not exist"
        );
    }
}
