//! `roadeye check CONFIG`: the shipped examples pass; a bad config gets every problem at once, each
//! with its path, and a non-zero exit.

mod common;

use common::{roadeye, run, write};

fn check(path: &std::path::Path) -> (bool, String, String) {
    run(roadeye().arg("check").arg(path))
}

/// Writes `text` (with `MODELS` standing for the shipped models folder) as a config in `dir`,
/// checks it, requires the check to fail and returns what it printed on stderr.
fn check_fails(dir: &std::path::Path, text: &str) -> String {
    let models = common::root().join("models");
    let cfg = write(
        dir,
        "box.toml",
        &text.replace("MODELS", &models.display().to_string()),
    );
    let (ok, out, err) = check(&cfg);
    assert!(!ok, "must fail: {out}");
    err
}

/// Requires every one of `needles` in `err`.
fn assert_all(err: &str, needles: &[&str]) {
    for needle in needles {
        assert!(err.contains(needle), "missing '{needle}' in:\n{err}");
    }
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
            // Which model files were opened, and from where (the checkout's models/ here).
            let models = common::root().join("models");
            assert!(
                out.contains(&format!(" from {}", models.display())),
                "{out}"
            );
            // The clock's synchronisation, in the kernel's words, whatever this machine's state.
            assert!(
                out.contains("clock: synchronised (estimated error")
                    || out.contains("clock: NOT synchronised: event times are only as good"),
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
    let err = check_fails(dir.path(), BAD);
    assert_all(
        &err,
        &[
            "site.id: 'ha noi' contains ' '",
            "site.device: must not be empty",
            "cameras[0].url: 'rtsp://***@/stream' has no host",
            "cameras[0].detect.classes[1]: 'lorry' is neither a model class nor a remap target",
            "cameras[0].detect.score_threshold: 1.5 is outside 0..1",
            "cameras[1].id: 'north' is already the id of cameras[0]",
            "cameras[1].url: unknown scheme 'ftp'",
            "cameras[1].model: model 'yolo9000': cannot read",
            "cameras[2].url: 'file://relative/video.mp4' needs an absolute path",
        ],
    );
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

const BAD_RULES: &str = r#"
[site]
id = "hall"
device = "box"
timezone = "Asia/Hanoi City"

[runtime]
models_dir = "MODELS"

[[cameras]]
id = "lobby"
url = "rtsp://192.0.2.1/stream"

[cameras.detect]
classes = ["person", "car"]

[[cameras.lines]]
id = "door"
points = [[0.35, 0.62], [1.35, 0.28]]
classes = ["bus", "persn"]

[[cameras.zones]]
id = "door"
points = [[0.2, 0.2], [0.8, 0.8], [0.8, 0.2], [0.2, 0.8]]
intrusion = { windows = [{ from = "22:00", to = "22:00" }] }

[[cameras.queues]]
id = "q"
zone = [[0.1, 0.1], [0.5, 0.1]]
stop_line = [[0.1, 0.9], [0.1, 0.9]]

[cameras.calibration]
image = [[0.1, 0.1], [0.2, 0.2], [0.3, 0.3], [0.0, 1.0]]
ground = [[0.0, 0.0], [10.0, 0.0], [10.0, 40.0], [0.0, 40.0]]

[cameras.stats]
interval_s = 7

[[cameras]]
id = "replay"
url = "file:///srv/clips/plaza.mp4"
loop = true
realtime = false
"#;

#[test]
fn bad_rules_get_every_problem_with_their_path() {
    let dir = tempfile::tempdir().expect("tmp");
    let err = check_fails(dir.path(), BAD_RULES);
    assert_all(
        &err,
        &[
            "site.timezone: 'Asia/Hanoi City' is not a known time zone",
            "cameras[0].lines[0].points[1]: [1.35, 0.28] is outside the frame",
            "cameras[0].lines[0].classes[0]: 'bus' is removed or renamed by this camera's `detect` settings",
            "cameras[0].lines[0].classes[1]: 'persn' is not a label of model 'centernet' (labels: person, car)",
            "cameras[0].zones[0].points: the polygon crosses itself",
            "cameras[0].zones[0].intrusion.windows[0]: from and to are both 22:00",
            "cameras[0].zones[0].id: 'door' is already the id of lines[0]",
            "cameras[0].queues[0].zone: has 2 point(s): at least 3 needed",
            "cameras[0].queues[0].stop_line: the two points are equal",
            "cameras[0].calibration: the four image or ground points are degenerate",
            "cameras[0].stats.interval_s: 7 must divide a day",
            "cameras[1].loop: a replay (realtime = false) plays the file once",
        ],
    );
    // A time of day that is not one is a parse error naming the field's value.
    let err = check_fails(
        dir.path(),
        &BAD_RULES.replace("from = \"22:00\"", "from = \"10 pm\""),
    );
    assert!(err.contains("'10 pm' is not a time of day"), "{err}");
}

const BAD_MQTT: &str = r#"
[site]
id = "hall"
device = "box"

[runtime]
models_dir = "MODELS"

[mqtt]
embedded = true
host = "ioc.example.vn"
prefix = "roadeye/#"
password_file = "missing-secret"
password_env = "ROADEYE_TEST_UNSET_VARIABLE"
keep_alive_s = 2
heartbeat_s = 0
outbox.max_mb = 0.5

[mqtt.tls]
ca_file = "no-such-ca.pem"
cert_file = "client.pem"

[[cameras]]
id = "lobby"
url = "rtsp://192.0.2.1/stream"
"#;

#[test]
fn bad_mqtt_settings_get_every_problem_with_their_path() {
    let dir = tempfile::tempdir().expect("tmp");
    let err = check_fails(dir.path(), BAD_MQTT);
    assert_all(
        &err,
        &[
            "mqtt.host: set either `host` (an external broker) or `embedded = true`, not both",
            "mqtt.tls: the embedded broker listens on 127.0.0.1 without TLS",
            "mqtt.prefix: 'roadeye/#' is not a topic prefix",
            "mqtt.password: give the password one way",
            "mqtt.username: missing: a password needs a user name",
            "mqtt.password_file: '",
            "missing-secret' does not exist",
            "mqtt.password_env: the environment variable 'ROADEYE_TEST_UNSET_VARIABLE' is not set",
            "mqtt.keep_alive_s: must be at least 5 seconds",
            "mqtt.heartbeat_s: must be between 1 and 3600 seconds",
            "mqtt.tls.ca_file: '",
            "no-such-ca.pem' does not exist",
            "mqtt.tls.key_file: a client certificate needs both `cert_file` and `key_file`",
            "mqtt.outbox.max_mb: must be at least 1",
        ],
    );
    // Neither a broker nor the embedded one.
    let err = check_fails(
        dir.path(),
        "[site]\nid = \"s\"\ndevice = \"d\"\n[mqtt]\nport = 0\n[[cameras]]\nid = \"c\"\nurl = \"rtsp://192.0.2.1/s\"\nmodel = \"MODELS/centernet.toml\"\n",
    );
    assert_all(
        &err,
        &[
            "mqtt.host: missing: the broker's host name, or `embedded = true`",
            "mqtt.port: 0 is not a port",
        ],
    );
}

#[test]
fn bad_ops_and_snapshot_settings_get_their_path() {
    let dir = tempfile::tempdir().expect("tmp");
    let err = check_fails(
        dir.path(),
        "[site]\nid = \"s\"\ndevice = \"d\"\n[ops]\nlisten = \"localhost:9710\"\n[snapshots]\nkinds = [\"line_crossing\", \"crash\"]\nmax_mb = 0\nquality = 101\n[[cameras]]\nid = \"c\"\nurl = \"rtsp://192.0.2.1/s\"\nmodel = \"MODELS/centernet.toml\"\n",
    );
    assert_all(
        &err,
        &[
            "ops.listen: 'localhost:9710' is not an address: use host:port with an IP address, e.g. \"127.0.0.1:9710\", or \"off\"",
            "snapshots.kinds[1]: 'crash' is not an event kind: use one of line_crossing, zone_enter,",
            "snapshots.max_mb: must be at least 1",
            "snapshots.quality: must be from 1 to 100",
        ],
    );
}

#[test]
fn the_check_prints_the_inference_plan() {
    let dir = tempfile::tempdir().expect("tmp");
    let models = common::root().join("models");
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let cams: String = (0..3)
        .map(|i| format!("[[cameras]]\nid = \"c{i}\"\nurl = \"rtsp://h/{i}\"\n"))
        .collect();
    let cfg = write(
        dir.path(),
        "box.toml",
        &format!(
            "[site]\nid = \"a\"\ndevice = \"b\"\n[runtime]\nmodels_dir = \"{}\"\n{cams}",
            models.display()
        ),
    );
    let (ok, out, err) = check(&cfg);
    assert!(ok, "{err}");
    let want = format!(
        "inference: centernet: {} lane(s) × 1 thread(s) on {cores} core(s), chosen automatically",
        cores.min(8)
    );
    assert!(out.contains(&want), "no '{want}' in:\n{out}");
}

#[test]
fn lanes_that_do_not_fit_the_box_are_refused_by_check_and_run() {
    let dir = tempfile::tempdir().expect("tmp");
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let text = "[site]\nid = \"a\"\ndevice = \"b\"\n[runtime]\nmodels_dir = \"MODELS\"\n[runtime.inference]\nlanes = 64\nintra_threads = 2\n[[cameras]]\nid = \"c\"\nurl = \"rtsp://h/x\"\n";
    let err = check_fails(dir.path(), text);
    let want = format!(
        "runtime.inference: 1 model(s) × lanes 64 × intra_threads 2 = 128 inference thread(s) do not fit this box's {cores} core(s); lower lanes or intra_threads, or leave both at 0 for the automatic plan"
    );
    assert!(err.contains(&want), "no '{want}' in:\n{err}");
    let (ok, _, err) = run(roadeye()
        .args(["run", "--for", "5", "--config"])
        .arg(dir.path().join("box.toml")));
    assert!(!ok, "run must refuse it");
    assert!(err.contains(&want), "no '{want}' in:\n{err}");
}

#[test]
fn a_counting_camera_analysed_too_slowly_is_warned_about() {
    let dir = tempfile::tempdir().expect("tmp");
    let models = common::root().join("models");
    let line = "[[cameras.lines]]\nid = \"l\"\npoints = [[0.1, 0.5], [0.9, 0.5]]\n";
    let cfg = write(
        dir.path(),
        "box.toml",
        &format!(
            "[site]\nid = \"a\"\ndevice = \"b\"\n[runtime]\nmodels_dir = \"{}\"\n\
             [[cameras]]\nid = \"slow\"\nurl = \"rtsp://h/1\"\nanalysis_fps = 1.0\n{line}\
             [[cameras]]\nid = \"fine\"\nurl = \"rtsp://h/2\"\nanalysis_fps = 2.0\n{line}\
             [[cameras]]\nid = \"watch\"\nurl = \"rtsp://h/3\"\nanalysis_fps = 0.5\n",
            models.display()
        ),
    );
    let (ok, out, err) = check(&cfg);
    assert!(ok, "a warning is not an error: {err}");
    let warned: Vec<&str> = out.lines().filter(|l| l.contains("warning: at")).collect();
    assert_eq!(warned.len(), 1, "{out}");
    assert!(
        warned[0].trim_start().starts_with("slow:")
            && warned[0].contains("raise analysis_fps to 2"),
        "{out}"
    );
}
