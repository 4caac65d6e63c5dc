//! Helpers shared by the integration tests: the real binary, the real models, the real media.
#![allow(dead_code)]

pub mod agent;
pub mod faulty;
pub mod library;
pub mod mosquitto;
pub mod schema;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The counting line of tests/data/vtest-line-counts.md (its hand-established counts: 7
/// eastbound, 11 westbound), as a camera's `[[cameras.lines]]` entry.
pub const VTEST_LINE: &str = r#"
[[cameras.lines]]
id = "plaza-x"
points = [[0.35, 0.62], [0.35, 0.28]]
forward = "eastbound"
backward = "westbound"
classes = ["person"]
"#;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A sample image fetched by `scripts/setup.sh`; panics with the fix when it is missing.
pub fn media(name: &str) -> PathBuf {
    let p = root().join(".deps/media").join(name);
    assert!(
        p.is_file(),
        "test media '{}' is missing: run scripts/setup.sh first",
        p.display()
    );
    p
}

pub fn model_spec(name: &str) -> PathBuf {
    root().join("models").join(format!("{name}.toml"))
}

/// The `roadeye` binary built for these tests.
pub fn roadeye() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_roadeye"));
    c.current_dir(root());
    c.env_remove("ORT_DYLIB_PATH");
    c.env_remove("ROADEYE_MODELS_DIR");
    c
}

/// Runs a command, returning (exit success, stdout, stderr).
pub fn run(cmd: &mut Command) -> (bool, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run roadeye");
    (
        status.success(),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write fixture");
    p
}

/// A copy of a shipped model spec in `dir`, with `edits` (from, to) applied and its model and class
/// files pointing back at `models/`.
pub fn edited_spec(dir: &Path, model: &str, out_name: &str, edits: &[(&str, &str)]) -> PathBuf {
    let models = root().join("models");
    let mut text = std::fs::read_to_string(model_spec(model)).expect("spec");
    for (from, to) in edits {
        assert!(text.contains(from), "fixture edit '{from}' not found");
        text = text.replace(from, to);
    }
    let text = text
        .replace(
            &format!("file = \"{model}.onnx\""),
            &format!("file = \"{}/{model}.onnx\"", models.display()),
        )
        .replace(
            "file = \"coco80.txt\"",
            &format!("file = \"{}/coco80.txt\"", models.display()),
        );
    write(dir, out_name, &text)
}

/// A plain HTTP/1.0 GET of `path` on 127.0.0.1:`port`: the status code and the body.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_string()))
}

/// Waits up to `limit` for `done`, checking every 50 ms; whether it held.
pub fn wait(limit: std::time::Duration, mut done: impl FnMut() -> bool) -> bool {
    let t = std::time::Instant::now();
    while t.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    done()
}
