//! `roadeye check CONFIG`: the shipped examples pass; a bad config gets every problem at once, each
//! with its path, and a non-zero exit.

mod common;

use common::{roadeye, run, write};

fn check(path: &std::path::Path) -> (bool, String, String) {
    run(roadeye().arg("check").arg(path))
}

#[test]
fn every_example_config_passes_with_its_models_opened() {
    let dir = common::root().join("configs");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("configs/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let (ok, out, err) = check(&path);
            assert!(ok, "{}: {err}", path.display());
            assert!(
                out.contains(": OK") && out.contains("model(s) opened with ONNX Runtime"),
                "{out}"
            );
            seen += 1;
        }
    }
    assert!(seen >= 2, "example configs found: {seen}");
}

const BAD: &str = r#"
[site]
id = "ha noi"
device = ""

[runtime]
models_dir = "MODELS"

[[cameras]]
id = "north"
url = "rtsp://admin:hunter2@/stream"

[cameras.detect]
classes = ["person", "lorry"]
score_threshold = 1.5

[[cameras]]
id = "north"
url = "ftp://192.0.2.1/video"
model = "yolo9000"

[[cameras]]
id = "gate"
url = "file://relative/video.mp4"
"#;

#[test]
fn a_bad_config_gets_every_problem_with_its_path() {
    let dir = tempfile::tempdir().expect("tmp");
    let models = common::root().join("models");
    let cfg = write(
        dir.path(),
        "box.toml",
        &BAD.replace("MODELS", &models.display().to_string()),
    );
    let (ok, out, err) = check(&cfg);
    assert!(!ok, "must fail: {out}");
    for needle in [
        "site.id: 'ha noi' contains ' '",
        "site.device: must not be empty",
        "cameras[0].url: 'rtsp://***@/stream' has no host",
        "cameras[0].detect.classes[1]: 'lorry' is neither a model class nor a remap target",
        "cameras[0].detect.score_threshold: 1.5 is outside 0..1",
        "cameras[1].id: 'north' is already the id of cameras[0]",
        "cameras[1].url: unknown scheme 'ftp'",
        "cameras[1].model: model 'yolo9000': cannot read",
        "cameras[2].url: 'file://relative/video.mp4' needs an absolute path",
    ] {
        assert!(err.contains(needle), "missing '{needle}' in:\n{err}");
    }
    assert!(err.contains("9 problem(s)"), "{err}");
    assert!(!err.contains("hunter2"), "a password leaked: {err}");
}

#[test]
fn an_unknown_field_is_named_with_its_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = write(
        dir.path(),
        "box.toml",
        "[site]\nid = \"a\"\ndevice = \"b\"\n\n[[cameras]]\nid = \"c\"\nurl = \"rtsp://h/x\"\nthreshold = 0.4\n",
    );
    let (ok, _, err) = check(&cfg);
    assert!(!ok);
    assert!(
        err.contains("line 8") && err.contains("unknown field `threshold`"),
        "{err}"
    );
}

#[test]
fn a_missing_config_file_is_named() {
    let (ok, _, err) = check(std::path::Path::new("no/such/roadeye.toml"));
    assert!(!ok);
    assert!(
        err.contains("cannot read config 'no/such/roadeye.toml'"),
        "{err}"
    );
}

#[test]
fn a_configured_onnx_runtime_that_does_not_exist_is_reported() {
    let dir = tempfile::tempdir().expect("tmp");
    let models = common::root().join("models");
    let cfg = write(
        dir.path(),
        "box.toml",
        &format!(
            "[site]\nid = \"a\"\ndevice = \"b\"\n[runtime]\nmodels_dir = \"{}\"\nonnxruntime = \"/opt/nowhere/libonnxruntime.so\"\n[[cameras]]\nid = \"c\"\nurl = \"rtsp://h/x\"\n",
            models.display()
        ),
    );
    let (ok, _, err) = check(&cfg);
    assert!(!ok);
    assert!(
        err.contains("runtime.onnxruntime: '/opt/nowhere/libonnxruntime.so' does not exist"),
        "{err}"
    );
}

#[test]
fn a_model_that_does_not_match_its_spec_fails_the_check() {
    let dir = tempfile::tempdir().expect("tmp");
    common::edited_spec(
        dir.path(),
        "nanodet",
        "small.toml",
        &[
            ("width = 416", "width = 320"),
            ("height = 416", "height = 320"),
        ],
    );
    let cfg = write(
        dir.path(),
        "box.toml",
        "[site]\nid = \"a\"\ndevice = \"b\"\n[[cameras]]\nid = \"c\"\nurl = \"rtsp://h/x\"\nmodel = \"small.toml\"\n",
    );
    let (ok, _, err) = check(&cfg);
    assert!(!ok);
    assert!(
        err.contains("cameras[0].model:") && err.contains("does not match its spec"),
        "{err}"
    );
    assert!(
        err.contains("[1, 3, 416, 416]") && err.contains("[1, 3, 320, 320]"),
        "{err}"
    );
}
