//! Loading a config on the command line: problems go to stderr, each with its path.

use std::path::Path;

use roadeye::config::{LoadedConfig, Problem, validate::validate};

/// Reads and validates `path`; on any problem prints them all and returns `None`.
pub fn load_valid(path: &Path) -> Option<LoadedConfig> {
    let cfg = match LoadedConfig::load(path) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("{e}");
            return None;
        }
    };
    let problems = validate(&cfg);
    if problems.is_empty() {
        Some(cfg)
    } else {
        print_problems(path, &problems);
        None
    }
}

/// Prints `problems` of the config at `path`.
pub fn print_problems(path: &Path, problems: &[Problem]) {
    eprintln!("{}: {} problem(s):", path.display(), problems.len());
    for p in problems {
        eprintln!("  - {p}");
    }
}
