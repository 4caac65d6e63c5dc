//! Every bad input to `roadeye detect` is a clear error and a non-zero exit, never a panic.

mod common;

use std::path::Path;

use common::{media, roadeye, run, write};

fn detect(args: &[&dyn AsRef<std::ffi::OsStr>]) -> (bool, String, String) {
    let mut c = roadeye();
    c.arg("detect");
    for a in args {
        c.arg(a);
    }
    run(&mut c)
}

fn assert_clean_failure(ok: bool, stderr: &str, needle: &str) {
    assert!(!ok, "must fail; stderr: {stderr}");
    assert!(stderr.contains(needle), "expected '{needle}' in: {stderr}");
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
}

/// A copy of a shipped spec with one line replaced.
fn edited_spec(dir: &Path, model: &str, from: &str, to: &str) -> std::path::PathBuf {
    common::edited_spec(dir, model, &format!("{model}-edited.toml"), &[(from, to)])
}

#[test]
fn a_missing_image_is_named() {
    let (ok, _, err) = detect(&[&"no/such/image.jpg"]);
    assert_clean_failure(ok, &err, "cannot read image 'no/such/image.jpg'");
}

#[test]
fn a_truncated_image_is_called_corrupt() {
    let dir = tempfile::tempdir().expect("tmp");
    let bytes = std::fs::read(media("dog.jpg")).expect("dog");
    let cut = dir.path().join("cut.jpg");
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).expect("write");
    let (ok, _, err) = detect(&[&cut]);
    assert_clean_failure(ok, &err, "is corrupt or truncated");
}

#[test]
fn an_image_claiming_billions_of_pixels_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut bytes = std::fs::read(media("dog.jpg")).expect("dog");
    // The frame header (baseline or progressive) made to claim 60000 x 60000 pixels.
    let sof = bytes
        .windows(2)
        .position(|m| m == [0xFF, 0xC0] || m == [0xFF, 0xC2])
        .expect("a frame header");
    for at in [sof + 5, sof + 7] {
        bytes[at..at + 2].copy_from_slice(&60_000u16.to_be_bytes());
    }
    let huge = dir.path().join("huge.jpg");
    std::fs::write(&huge, &bytes).expect("write");
    let (ok, _, err) = detect(&[&huge]);
    assert_clean_failure(ok, &err, "is larger than roadeye decodes");
    assert!(err.contains("scale it down first"), "{err}");
}

#[test]
fn a_text_file_is_not_an_image() {
    let dir = tempfile::tempdir().expect("tmp");
    let notes = write(dir.path(), "notes.jpg", "camera 7: replace the lens\n");
    let (ok, _, err) = detect(&[&notes]);
    assert_clean_failure(ok, &err, "is not an image roadeye can read");
}

#[test]
fn good_images_are_still_reported_when_one_fails() {
    let (ok, out, err) = detect(&[&"--json", &"missing.jpg", &media("person.jpg")]);
    assert_clean_failure(ok, &err, "1 of 2 image(s) failed");
    let line: serde_json::Value = serde_json::from_str(out.trim()).expect("the good image's JSON");
    assert!(
        line["detections"]
            .as_array()
            .expect("array")
            .iter()
            .any(|d| d["class"] == "person")
    );
}

#[test]
fn a_missing_model_spec_is_named() {
    let (ok, _, err) = detect(&[&"--model", &"models/nonexistent.toml", &media("dog.jpg")]);
    assert_clean_failure(ok, &err, "model spec 'models/nonexistent.toml' not found");
}

#[test]
fn an_unknown_model_name_lists_where_it_looked() {
    let (ok, _, err) = detect(&[&"--model", &"yolo9000", &media("dog.jpg")]);
    assert_clean_failure(ok, &err, "model 'yolo9000' not found");
    assert!(err.contains("yolo9000.toml"), "{err}");
}

#[test]
fn an_onnx_file_instead_of_its_spec_is_explained() {
    let (ok, _, err) = detect(&[&"--model", &"models/centernet.onnx", &media("dog.jpg")]);
    assert_clean_failure(ok, &err, "is an ONNX file; --model takes its spec (.toml)");
}

#[test]
fn a_spec_whose_layout_does_not_match_the_model_names_both() {
    let dir = tempfile::tempdir().expect("tmp");
    let spec = edited_spec(
        dir.path(),
        "centernet",
        "layout = \"nhwc\"",
        "layout = \"nchw\"",
    );
    let (ok, _, err) = detect(&[&"--model", &spec, &media("dog.jpg")]);
    assert_clean_failure(ok, &err, "does not match its spec");
    assert!(
        err.contains("centernet.onnx") && err.contains("centernet-edited.toml"),
        "{err}"
    );
    assert!(
        err.contains("[1, 512, 512, 3]") && err.contains("[1, 3, 512, 512]"),
        "{err}"
    );
}

#[test]
fn a_spec_naming_a_missing_output_lists_the_real_ones() {
    let dir = tempfile::tempdir().expect("tmp");
    let spec = edited_spec(
        dir.path(),
        "centernet",
        "output = \"tower_0/detections\"",
        "output = \"detections\"",
    );
    let (ok, _, err) = detect(&[&"--model", &spec, &media("dog.jpg")]);
    assert_clean_failure(ok, &err, "the model has no output 'detections'");
    assert!(err.contains("'tower_0/detections'"), "{err}");
}

#[test]
fn a_decoder_declaring_the_wrong_layout_is_a_shape_mismatch() {
    let dir = tempfile::tempdir().expect("tmp");
    let spec = edited_spec(
        dir.path(),
        "centernet",
        "kind = \"centernet\"",
        "kind = \"yolov8\"",
    );
    let (ok, _, err) = detect(&[&"--model", &spec, &media("dog.jpg")]);
    assert_clean_failure(
        ok,
        &err,
        "output 'tower_0/detections' has shape [1, 100, 6], the spec's decoder expects [1, 84, ?]",
    );
}

#[test]
fn an_unknown_decoder_is_rejected_with_the_known_ones() {
    let dir = tempfile::tempdir().expect("tmp");
    let spec = edited_spec(
        dir.path(),
        "centernet",
        "kind = \"centernet\"",
        "kind = \"yolox\"",
    );
    let (ok, _, err) = detect(&[&"--model", &spec, &media("dog.jpg")]);
    assert_clean_failure(ok, &err, "unknown variant `yolox`");
    assert!(err.contains("nanodet") && err.contains("end2end"), "{err}");
}

#[test]
fn a_class_policy_naming_unknown_classes_is_rejected() {
    let (ok, _, err) = detect(&[&"--classes", &"person,lorry", &media("dog.jpg")]);
    assert_clean_failure(
        ok,
        &err,
        "classes[1]: 'lorry' is neither a model class nor a remap target",
    );
}

#[test]
fn a_missing_onnx_runtime_says_where_to_point() {
    let (ok, _, err) = run(roadeye()
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .args(["detect"])
        .arg(media("dog.jpg")));
    assert_clean_failure(
        ok,
        &err,
        "ORT_DYLIB_PATH points to '/nonexistent/libonnxruntime.so', which does not exist",
    );
}

#[test]
fn a_provider_the_runtime_lacks_is_an_error_not_a_fallback() {
    let (ok, _, err) = detect(&[&"--provider", &"cuda", &media("dog.jpg")]);
    assert_clean_failure(
        ok,
        &err,
        "execution provider 'cuda' is not available in this ONNX Runtime (it has: cpu",
    );
}

#[test]
fn annotated_images_are_written_as_jpegs_of_the_source_size() {
    let dir = tempfile::tempdir().expect("tmp");
    let (ok, out, err) = detect(&[
        &"--out",
        &dir.path(),
        &media("dog.jpg"),
        &media("person.jpg"),
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("bicycle") && out.contains("person"), "{out}");
    let dog = image::open(dir.path().join("dog.jpg"))
        .expect("annotated dog.jpg decodes")
        .to_rgb8();
    assert_eq!(dog.dimensions(), (768, 576));
    let plain = image::open(media("dog.jpg")).expect("dog").to_rgb8();
    let changed = dog
        .pixels()
        .zip(plain.pixels())
        .filter(|(a, b)| a.0.iter().zip(b.0).any(|(x, y)| x.abs_diff(y) > 60))
        .count();
    assert!(
        changed > 2000,
        "boxes and labels drawn: {changed} pixels changed"
    );
    assert!(dir.path().join("person.jpg").is_file());
}

#[test]
fn a_spec_whose_onnx_file_is_missing_is_named() {
    let dir = tempfile::tempdir().expect("tmp");
    let spec = common::edited_spec(dir.path(), "nanodet", "nanodet-gone.toml", &[]);
    let text = std::fs::read_to_string(&spec)
        .expect("spec")
        .replace("nanodet.onnx", "nanodet-v2.onnx");
    std::fs::write(&spec, text).expect("write");
    let (ok, _, err) = detect(&[&"--model", &spec, &media("dog.jpg")]);
    assert_clean_failure(ok, &err, "file: model '");
    assert!(err.contains("nanodet-v2.onnx' not found"), "{err}");
}

#[test]
fn annotating_into_the_input_folder_never_overwrites_the_input() {
    let dir = tempfile::tempdir().expect("tmp");
    let copy = dir.path().join("dog.jpg");
    std::fs::copy(media("dog.jpg"), &copy).expect("copy");
    let before = std::fs::read(&copy).expect("read");
    let (ok, _, err) = detect(&[&"--out", &dir.path(), &copy]);
    assert_clean_failure(ok, &err, "would overwrite the input image");
    assert_eq!(std::fs::read(&copy).expect("read"), before);
}
