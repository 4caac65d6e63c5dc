//! Progress bars: drawn on a terminal (a pseudo-terminal made by `script`), absent from logs and
//! pipes.

mod common;

use std::process::Command;

/// Runs the roadeye binary with `args` on a pseudo-terminal; returns what the terminal showed.
fn on_terminal(args: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let typescript = dir.path().join("typescript");
    let cmd = format!("{} {args}", env!("CARGO_BIN_EXE_roadeye"));
    let status = Command::new("script")
        .args(["-qfec", &cmd])
        .arg(&typescript)
        .current_dir(common::root())
        .env_remove("ORT_DYLIB_PATH")
        .output()
        .expect("script (bsdutils) runs");
    assert!(status.status.success(), "{cmd} failed on a terminal");
    String::from_utf8_lossy(&std::fs::read(&typescript).expect("typescript")).into_owned()
}

fn images() -> Vec<String> {
    ["dog.jpg", "kite.jpg", "horses.jpg"]
        .iter()
        .map(|n| common::media(n).display().to_string())
        .collect()
}

#[test]
fn detect_shows_a_bar_on_a_terminal_and_nothing_in_a_pipe() {
    let shown = on_terminal(&format!("detect {}", images().join(" ")));
    assert!(shown.contains("3/3 images"), "{shown}");
    let (ok, stdout, stderr) = common::run(common::roadeye().arg("detect").args(images()));
    assert!(ok, "{stderr}");
    assert!(
        !stderr.contains("images ·") && !stderr.contains('\r'),
        "{stderr}"
    );
    assert!(!stdout.contains('\r'), "{stdout}");
    assert!(stderr.contains("3 image(s)"), "{stderr}");
}

#[test]
fn run_shows_the_position_in_a_file_on_a_terminal_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "[site]\nid = \"t\"\ndevice = \"progress\"\n\n[runtime]\nmodels_dir = \"{}\"\n\n[ops]\nlisten = \"off\"\n\n[[cameras]]\nid = \"vtest\"\nurl = \"file://{}\"\nmodel = \"centernet\"\n",
        common::root().join("models").display(),
        common::media("vtest.avi").display()
    );
    let cfg = common::write(dir.path(), "roadeye.toml", &text);
    let shown = on_terminal(&format!("run --for 5 --config {}", cfg.display()));
    // vtest.avi lasts 1 min 19 s.
    assert!(shown.contains(" / 1:19 · "), "{shown}");
    assert!(shown.contains("frames analysed"), "{shown}");
    let (ok, _, stderr) = common::run(
        common::roadeye()
            .args(["run", "--for", "5", "--config"])
            .arg(&cfg),
    );
    assert!(ok, "{stderr}");
    assert!(
        !stderr.contains("frames analysed ·") && !stderr.contains('\r'),
        "{stderr}"
    );
}
