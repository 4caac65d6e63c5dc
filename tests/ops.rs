//! Field operations on the real binary, the real model and vtest.avi: `/metrics` and `/healthz`
//! scraped while it runs against a real Mosquitto, a config reload on SIGHUP (applied camera by
//! camera) and on a file change (refused, published on the status), and annotated snapshots.

mod common;

use std::path::Path;
use std::time::Duration;

use common::agent::RunningAgent;
use common::http_get as get;
use common::mosquitto::{Mosquitto, Subscriber, free_port};
use common::wait;

/// The value of the sample `name{labels}` (exact text before the value) in a scrape.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// A camera on vtest.avi, looping like a live camera, with the test line.
fn camera(id: &str, extra: &str) -> String {
    format!(
        r#"
[[cameras]]
id = "{id}"
url = "file://{video}"
loop = true
model = "centernet"
{extra}
[cameras.detect]
classes = ["person"]
score_threshold = 0.15
{line}"#,
        video = common::media("vtest.avi").display(),
        line = common::VTEST_LINE,
    )
}

/// The head of a config: site, models, the broker at `mqtt_port` (if any), `[ops]` on `ops_port`.
fn head(dir: &Path, device: &str, mqtt_port: Option<u16>, ops_port: u16) -> String {
    let mqtt = mqtt_port.map_or(String::new(), |port| {
        format!(
            "[mqtt]\nhost = \"127.0.0.1\"\nport = {port}\nheartbeat_s = 2\nreconnect_max_s = 2\noutbox.path = \"{}\"\n",
            dir.join("outbox.redb").display()
        )
    });
    format!(
        "[site]\nid = \"test-site\"\ndevice = \"{device}\"\n\n[runtime]\nmodels_dir = \"{}\"\n\n{mqtt}\n[ops]\nlisten = \"127.0.0.1:{ops_port}\"\n",
        common::root().join("models").display()
    )
}

#[test]
fn metrics_and_health_follow_the_cameras_and_the_broker() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut broker = Mosquitto::start(dir.path(), "");
    let ops = free_port();
    let text = head(dir.path(), "ops-metrics", Some(broker.port), ops) + &camera("plaza", "");
    let cfg = common::write(dir.path(), "roadeye.toml", &text);
    let agent = RunningAgent::start(&cfg, &[]);
    let scrape = || {
        get(ops, "/metrics")
            .map(|(_, body)| body)
            .unwrap_or_default()
    };
    let analysed = "roadeye_camera_frames_analysed_total{camera=\"plaza\"}";
    assert!(
        wait(Duration::from_secs(90), || {
            let m = scrape();
            sample(&m, analysed).unwrap_or(0.0) > 0.0
                && sample(&m, "roadeye_mqtt_connected") == Some(1.0)
        }),
        "no analysed frame or no broker in the metrics:\n{}\n{}",
        scrape(),
        agent.log()
    );
    let first = scrape();
    std::thread::sleep(Duration::from_secs(3));
    let second = scrape();
    for series in [
        "roadeye_camera_frames_in_total{camera=\"plaza\"}",
        analysed,
        "roadeye_inference_seconds_count{model=\"centernet\"}",
    ] {
        let (a, b) = (sample(&first, series), sample(&second, series));
        assert!(
            a.is_some() && b > a,
            "{series} did not move: {a:?} then {b:?}\n{second}"
        );
    }
    assert_eq!(
        sample(
            &second,
            "roadeye_camera_state{camera=\"plaza\",state=\"streaming\"}"
        ),
        Some(1.0)
    );
    assert!(sample(&second, "roadeye_tracks{camera=\"plaza\"}").is_some());
    assert!(
        wait(Duration::from_secs(60), || scrape().contains(
            "roadeye_events_total{camera=\"plaza\",kind=\"zone_enter\"}"
        ) || scrape().contains(
            "roadeye_events_total{camera=\"plaza\",kind=\"line_crossing\"}"
        )),
        "no event counted:\n{}",
        scrape()
    );
    // The event went through the outbox to the broker.
    assert!(
        wait(Duration::from_secs(30), || sample(
            &scrape(),
            "roadeye_outbox_delivered_total"
        )
        .is_some_and(|n| n > 0.0)),
        "nothing delivered:\n{}",
        scrape()
    );
    // Where a frame's time goes: every stage of the path is timed per camera and model, and the
    // event's frame reached the outbox and the broker after its inference at the earliest.
    let text = scrape();
    let stage = |name: &str, what: &str| {
        sample(
            &text,
            &format!(
                "roadeye_stage_seconds_{what}{{stage=\"{name}\",camera=\"plaza\",model=\"centernet\"}}"
            ),
        )
    };
    for name in roadeye::ops::metrics::STAGES {
        assert!(
            stage(name, "count").is_some_and(|n| n > 0.0),
            "stage '{name}' not timed:\n{text}"
        );
    }
    let mean = |name: &str| stage(name, "sum").unwrap_or(0.0) / stage(name, "count").unwrap_or(1.0);
    assert!(
        // Means over different frames (stored: only frames with events), so under load only
        // the orders of magnitude compare.
        mean("inference") > mean("preprocess") && mean("stored") > mean("preprocess"),
        "implausible stage times: inference {} s, preprocess {} s, stored {} s",
        mean("inference"),
        mean("preprocess"),
        mean("stored")
    );
    let (code, body) = get(ops, "/healthz").expect("healthz answers");
    assert_eq!(code, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).expect("health JSON");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["cameras"][0]["state"], "streaming");
    // The broker goes away: health says so, with the reason, and the metrics follow.
    broker.stop();
    assert!(
        wait(Duration::from_secs(30), || get(ops, "/healthz")
            .is_some_and(
                |(code, body)| code == 503 && body.contains("not connected to the MQTT broker")
            )),
        "health did not report the lost broker: {:?}",
        get(ops, "/healthz")
    );
    assert_eq!(sample(&scrape(), "roadeye_mqtt_connected"), Some(0.0));
    assert_eq!(get(ops, "/nowhere").map(|(c, _)| c), Some(404));
}

/// The ids of the tracks in `camera`'s summary lines of `log` (after the first occurrence of
/// `after`, if given), one set per line.
fn summaries(log: &str, camera: &str, after: Option<&str>) -> Vec<Vec<u64>> {
    let log = match after {
        Some(a) => log.split_once(a).map_or("", |(_, rest)| rest),
        None => log,
    };
    let prefix = format!("{camera}: streaming");
    log.lines()
        .filter_map(|l| {
            let at = l.find(&prefix)?;
            let rest = &l[at..];
            let ids = &rest[rest.find('[')? + 1..rest.find(']')?];
            Some(
                ids.split_whitespace()
                    .filter_map(|i| i.parse().ok())
                    .collect(),
            )
        })
        .collect()
}

fn streams(log: &str, camera: &str) -> usize {
    log.matches(&format!("streaming camera={camera} ")).count()
}

#[test]
fn a_reload_changes_only_what_changed_and_a_bad_config_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Mosquitto::start(dir.path(), "");
    let status = Subscriber::start(
        broker.port,
        "ops-reload-ioc",
        "roadeye/v1/test-site/+/status",
    );
    let ops = free_port();
    let head = head(dir.path(), "ops-reload", Some(broker.port), ops);
    let good = head.clone() + &camera("keep", "") + &camera("change", "");
    let cfg = common::write(dir.path(), "roadeye.toml", &good);
    let agent = RunningAgent::start(&cfg, &["--summary-every", "1"]);
    // Both cameras track people for a while.
    assert!(
        wait(Duration::from_secs(90), || {
            let log = agent.log();
            summaries(&log, "keep", None)
                .iter()
                .filter(|s| !s.is_empty())
                .count()
                >= 3
                && summaries(&log, "change", None)
                    .iter()
                    .any(|s| !s.is_empty())
        }),
        "no tracks:\n{}",
        agent.log()
    );
    // Move keep's line (new rules) and raise change's score threshold (a restart).
    let moved = camera("keep", "").replace(
        "[[0.35, 0.62], [0.35, 0.28]]",
        "[[0.40, 0.62], [0.40, 0.28]]",
    );
    let raised = camera("change", "").replace("score_threshold = 0.15", "score_threshold = 0.2");
    assert_ne!(moved, camera("keep", ""));
    std::fs::write(&cfg, head.clone() + &moved + &raised).expect("write the config");
    let before = summaries(&agent.log(), "keep", None);
    let last_ids = before.last().cloned().unwrap_or_default();
    agent.signal("HUP");
    assert!(
        agent.wait_log(
            Duration::from_secs(60),
            "applied (new rules: keep; restarted: change)"
        ),
        "the reload was not applied as planned:\n{}",
        agent.log()
    );
    // keep's tracker carried on: tracks from before the reload are still followed after it,
    // and its stream was never opened again; change's stream was.
    let applied = "applied (new rules";
    assert!(
        wait(Duration::from_secs(30), || summaries(
            &agent.log(),
            "keep",
            Some(applied)
        )
        .len()
            >= 2),
        "no summary after the reload:\n{}",
        agent.log()
    );
    let after = summaries(&agent.log(), "keep", Some(applied));
    assert!(
        after
            .iter()
            .take(2)
            .flatten()
            .any(|id| last_ids.contains(id)),
        "keep's tracks {last_ids:?} did not carry over the reload: {after:?}"
    );
    assert_eq!(streams(&agent.log(), "keep"), 1, "{}", agent.log());
    assert!(
        wait(Duration::from_secs(30), || streams(&agent.log(), "change")
            == 2),
        "change did not restart:\n{}",
        agent.log()
    );
    // A broken file (a line of one point) is refused when it is saved: the old config runs on,
    // the reason is logged, counted and published on the status.
    let broken = camera("keep", "").replace("[[0.35, 0.62], [0.35, 0.28]]", "[[0.35, 0.62]]");
    std::fs::write(&cfg, head + &broken + &raised).expect("write the config");
    assert!(
        agent.wait_log(Duration::from_secs(30), "refused; config"),
        "the broken config was not refused:\n{}",
        agent.log()
    );
    assert!(
        agent.log().contains("cameras[0].lines[0].points"),
        "{}",
        agent.log()
    );
    assert!(
        status.wait_until(Duration::from_secs(30), |got| got
            .iter()
            .filter(|m| m.topic.ends_with("/status"))
            .any(|m| {
                let v = m.json();
                v["config"]["rejected"]["errors"][0]
                    .as_str()
                    .is_some_and(|e| e.starts_with("cameras[0].lines[0].points"))
            })),
        "no status with the refusal: {:?}",
        status.received()
    );
    let schemas = common::schema::Schemas::load();
    for m in status.on("/status") {
        schemas
            .validate(&m.topic, m.payload.as_bytes())
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", m.topic, m.payload));
    }
    let metrics = get(ops, "/metrics").expect("metrics").1;
    assert_eq!(
        sample(&metrics, "roadeye_config_reloads_total{result=\"applied\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &metrics,
            "roadeye_config_reloads_total{result=\"rejected\"}"
        ),
        Some(1.0)
    );
    let n = summaries(&agent.log(), "keep", Some("refused; config")).len();
    assert!(
        wait(Duration::from_secs(30), || summaries(
            &agent.log(),
            "keep",
            Some("refused; config")
        )
        .len()
            > n + 1),
        "keep stopped after the refusal:\n{}",
        agent.log()
    );
}

/// The share of `points` whose pixel in `img` is near `colour` (JPEG blurs a little).
fn share_near(img: &image::RgbImage, points: &[(u32, u32)], colour: [u8; 3]) -> f64 {
    let near = points
        .iter()
        .filter(|&&(x, y)| {
            let p = img.get_pixel(x, y).0;
            (0..3).all(|i| (i32::from(p[i]) - i32::from(colour[i])).abs() < 70)
        })
        .count();
    near as f64 / points.len() as f64
}

/// Points along the test line: x = 0.35 of the width, y from 0.30 to 0.60 of the height.
fn along_the_line(w: u32, h: u32) -> Vec<(u32, u32)> {
    let x = (0.35 * w as f64) as u32;
    (0..=30)
        .map(|i| (x, ((0.30 + 0.01 * i as f64) * h as f64) as u32))
        .collect()
}

#[test]
fn event_snapshots_are_annotated_jpegs_named_in_their_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let snaps = dir.path().join("snaps");
    let text = head(dir.path(), "ops-snap", None, free_port())
        + &format!(
            "\n[snapshots]\nkinds = [\"line_crossing\"]\ndir = \"{}\"\n",
            snaps.display()
        )
        + &camera("plaza", "").replace("loop = true", "realtime = false");
    let cfg = common::write(dir.path(), "roadeye.toml", &text);
    let mut agent = RunningAgent::start(&cfg, &[]);
    assert!(
        agent.wait(Duration::from_secs(300)).success(),
        "{}",
        agent.log()
    );
    let printed = agent.printed();
    let crossings: Vec<_> = printed
        .iter()
        .filter(|m| m["kind"] == "line_crossing")
        .collect();
    // The hand-counted crossings of tests/data/vtest-line-counts.md.
    assert_eq!(crossings.len(), 18, "{}", agent.log());
    for e in &crossings {
        let name = e["snapshot"]
            .as_str()
            .unwrap_or_else(|| panic!("no snapshot in {e}"));
        assert!(name.starts_with("plaza/"), "{name}");
        let img = image::open(snaps.join(name))
            .unwrap_or_else(|err| panic!("{name}: {err}"))
            .to_rgb8();
        assert_eq!(img.dimensions(), (768, 576), "the source's size");
        // People crossing it hide parts of it behind their boxes.
        let drawn = share_near(&img, &along_the_line(768, 576), [255, 230, 0]);
        assert!(
            drawn > 0.5,
            "{name}: the line is drawn at only {drawn:.2} of its points"
        );
        let beside: Vec<_> = along_the_line(768, 576)
            .iter()
            .map(|&(x, y)| (x + 40, y))
            .collect();
        let off = share_near(&img, &beside, [255, 230, 0]);
        assert!(
            off < 0.3,
            "{name}: {off:.2} of the points beside the line are line-coloured"
        );
    }
    // Other kinds were not asked for.
    assert!(
        printed
            .iter()
            .filter(|m| m["kind"] == "zone_enter")
            .all(|m| m.get("snapshot").is_none())
    );
}

#[test]
fn the_snapshot_command_draws_a_live_frame_with_its_lines_and_zones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zone = "\n[[cameras.zones]]\nid = \"centre\"\npoints = [[0.58, 0.33], [0.85, 0.33], [0.85, 0.55], [0.58, 0.55]]\n";
    let text = head(dir.path(), "ops-grab", None, free_port()) + &camera("plaza", "") + zone;
    let cfg = common::write(dir.path(), "roadeye.toml", &text);
    let out = dir.path().join("plaza.jpg");
    let (ok, stdout, stderr) = common::run(
        common::roadeye()
            .args(["snapshot", "--camera", "plaza", "--config"])
            .arg(&cfg)
            .arg("--out")
            .arg(&out),
    );
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("768x576 frame of camera 'plaza' with 1 line(s) and 1 area(s)"),
        "{stdout}"
    );
    let img = image::open(&out).expect("a JPEG").to_rgb8();
    assert_eq!(img.dimensions(), (768, 576));
    assert!(share_near(&img, &along_the_line(768, 576), [255, 230, 0]) > 0.7);
    // The zone's bottom edge: y = 0.55, x from 0.60 to 0.83.
    let edge: Vec<(u32, u32)> = (0..=23)
        .map(|i| {
            (
                ((0.60 + 0.01 * i as f64) * 768.0) as u32,
                (0.55 * 576.0) as u32,
            )
        })
        .collect();
    assert!(share_near(&img, &edge, [0, 220, 255]) > 0.7);
    // Away from the overlays, the picture is the camera's (the lawn is green, not a line colour).
    let lawn = [(100, 450), (200, 500), (600, 520)];
    assert!(share_near(&img, &lawn, [255, 230, 0]) == 0.0);
    let (ok, _, stderr) = common::run(
        common::roadeye()
            .args(["snapshot", "--camera", "nope", "--config"])
            .arg(&cfg)
            .arg("--out")
            .arg(&out),
    );
    assert!(!ok);
    assert!(
        stderr.contains("no camera 'nope'") && stderr.contains("plaza"),
        "{stderr}"
    );
}
