//! Where roadeye looks for its models when no path is given.

use std::path::{Path, PathBuf};

/// The installed models folder (the Debian package's layout).
pub const SYSTEM_MODELS_DIR: &str = "/usr/share/roadeye/models";

/// The default model's spec name.
pub const DEFAULT_MODEL: &str = "centernet";

/// Candidate models folders, in order: `ROADEYE_MODELS_DIR`, `./models`, `share/roadeye/models`
/// beside the binary's folder (the installed layout, wherever the package is unpacked), a
/// `models/` beside or above the binary (a source checkout's `target/…`), then the installed folder.
pub fn models_dir_candidates() -> Vec<PathBuf> {
    candidates(
        std::env::var_os("ROADEYE_MODELS_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from),
        std::env::current_dir().ok().as_deref(),
        std::env::current_exe().ok().as_deref(),
    )
}

fn candidates(env: Option<PathBuf>, cwd: Option<&Path>, exe: Option<&Path>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = env.into_iter().collect();
    out.extend(cwd.map(|d| d.join("models")));
    if let Some(exe) = exe {
        out.extend(
            exe.parent()
                .and_then(Path::parent)
                .map(|prefix| prefix.join("share/roadeye/models")),
        );
        out.extend(exe.ancestors().skip(1).take(4).map(|d| d.join("models")));
    }
    out.push(PathBuf::from(SYSTEM_MODELS_DIR));
    out
}

/// The spec of model `name` in the first candidate folder that has it, or every path tried.
pub fn find_model_spec(name: &str) -> Result<PathBuf, Vec<PathBuf>> {
    let tried: Vec<PathBuf> = models_dir_candidates()
        .into_iter()
        .map(|d| d.join(format!("{name}.toml")))
        .collect();
    tried.iter().find(|p| p.is_file()).cloned().ok_or(tried)
}

/// Whether a model reference is a path to a spec rather than a model name.
pub fn is_model_path(reference: &str) -> bool {
    reference.contains('/') || reference.ends_with(".toml")
}

/// Resolves a model reference from a config: a bare name (`centernet`) is looked up in
/// `models_dir`; anything with a `/` or a `.toml` ending is a path relative to `base`.
pub fn resolve_model_ref(reference: &str, models_dir: &Path, base: &Path) -> PathBuf {
    if is_model_path(reference) {
        base.join(reference)
    } else {
        models_dir.join(format!("{reference}.toml"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unpacked_package_finds_its_own_models_before_the_system_ones() {
        let c = candidates(
            None,
            Some(Path::new("/")),
            Some(Path::new("/tmp/root/usr/bin/roadeye")),
        );
        let at = |p: &str| c.iter().position(|d| d == Path::new(p));
        let own = at("/tmp/root/usr/share/roadeye/models").expect("the package's own folder");
        assert_eq!(own, 1, "right after ./models: {c:?}");
        assert!(own < at(SYSTEM_MODELS_DIR).expect("the system folder"));
        // A source checkout's models above target/release.
        let c = candidates(
            Some(PathBuf::from("/m")),
            None,
            Some(Path::new("/src/target/release/roadeye")),
        );
        assert_eq!(c[0], Path::new("/m"));
        assert!(c.contains(&PathBuf::from("/src/models")));
    }

    #[test]
    fn names_go_to_the_models_dir_paths_to_the_config_dir() {
        let m = Path::new("/usr/share/roadeye/models");
        let b = Path::new("/etc/roadeye");
        assert_eq!(resolve_model_ref("nanodet", m, b), m.join("nanodet.toml"));
        assert_eq!(resolve_model_ref("my.toml", m, b), b.join("my.toml"));
        assert_eq!(
            resolve_model_ref("/opt/m/x.toml", m, b),
            PathBuf::from("/opt/m/x.toml")
        );
    }
}
