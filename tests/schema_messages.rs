//! The other messages and the schema files themselves: statistics (hand-made and from the
//! accumulator), heartbeats, clean stops, the Last Will and outbox alarms, made by the crate's own
//! serialisers, validate on their topics, and broken status messages are refused; every schema
//! file is a 2020-12 schema whose `$id` is the base URI plus its path; the examples in the schemas
//! and in `schema/README.md` validate; and `asyncapi.yaml` covers every schema file and topic.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::schema::{
    BASE_URI, DEVICE, SITE, T0_MS, at, every_kind, invalid, parse_topic, schemas, topics, valid,
};
use roadeye::publish::message::{DEFAULT_PREFIX, envelope_json};
use roadeye::publish::{
    Alarm, BoxHealth, CameraHealth, ClockHealth, ConfigHealth, Dropped, IdGen, OutboxHealth,
    RejectedConfig, SetAside, StageHealth, Status, Topics,
};
use roadeye::rules::IntervalStats;
use roadeye::rules::queue::QueueState;
use roadeye::rules::stats::{LineKey, LineStats, QueueStats, StatsAccumulator, ZoneStats};
use roadeye::source::CameraState;
use serde_json::{Value, json};

#[test]
fn every_file_is_a_2020_12_schema_under_the_one_base_uri() {
    let s = schemas();
    let paths: BTreeSet<&str> = s.files.iter().map(|f| f.path.as_str()).collect();
    for required in [
        "common.schema.json",
        "stats.schema.json",
        "status.schema.json",
        "alarm.schema.json",
    ] {
        assert!(paths.contains(required), "schema/{required} is missing");
    }
    for f in &s.files {
        assert_eq!(
            f.value["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "schema/{}",
            f.path
        );
        assert_eq!(
            f.value["$id"].as_str(),
            Some(format!("{BASE_URI}{}", f.path).as_str()),
            "schema/{}: the $id must be the base URI plus the file's path",
            f.path
        );
        if f.path != "common.schema.json" {
            assert_eq!(
                f.value["additionalProperties"], false,
                "schema/{}: a message admits no undeclared field",
                f.path
            );
        }
    }
}

fn line(dir: &str, lane: Option<&str>, by_class: &[(&str, u32)], speed: Option<f32>) -> LineStats {
    let volume = by_class.iter().map(|(_, n)| n).sum::<u32>();
    LineStats {
        line: "stop-n".into(),
        lane: lane.map(Into::into),
        direction: dir.into(),
        volume,
        by_class: by_class.iter().map(|(c, n)| (c.to_string(), *n)).collect(),
        flow_rate_vph: volume as f32 * 60.0,
        mean_speed_kmh: speed,
    }
}

#[test]
fn statistics_with_lines_zones_and_queues_validate() {
    let t = topics();
    let mut ids = IdGen::new(4);
    let full = IntervalStats {
        camera: "north".into(),
        start: at(1_795_534_200_000),
        end: at(1_795_534_260_000),
        interval_s: 60,
        coverage_pct: 99.83,
        frames: 598,
        lines: vec![
            line(
                "northbound",
                Some("n1"),
                &[("car", 9), ("motorcycle", 13), ("truck", 1)],
                Some(31.72),
            ),
            line("southbound", Some("n1"), &[], None),
            line("eastbound", None, &[("person", 2)], None),
        ],
        zones: vec![
            ZoneStats {
                zone: "box-junction".into(),
                occupancy_pct: 100.0,
                mean_count: 1.87,
                max_count: 6,
                entries: 25,
                exits: 24,
                mean_dwell_s: Some(4.62),
                max_dwell_s: Some(11.3),
                mean_speed_kmh: Some(17.05),
            },
            ZoneStats {
                zone: "kerb".into(),
                occupancy_pct: 0.0,
                mean_count: 0.0,
                max_count: 0,
                entries: 0,
                exits: 0,
                mean_dwell_s: None,
                max_dwell_s: None,
                mean_speed_kmh: None,
            },
        ],
        queues: vec![
            QueueStats {
                queue: "q-n1".into(),
                lane: Some("n1".into()),
                max_vehicles: 7,
                mean_vehicles: 2.41,
                max_length_m: Some(38.6),
            },
            QueueStats {
                queue: "q-n2".into(),
                lane: None,
                max_vehicles: 0,
                mean_vehicles: 0.0,
                max_length_m: None,
            },
        ],
    };
    let empty = IntervalStats {
        camera: "hall_a-2".into(),
        coverage_pct: 0.0,
        frames: 0,
        lines: vec![],
        zones: vec![],
        queues: vec![],
        interval_s: 86_400,
        ..full.clone()
    };
    for s in [&full, &empty] {
        let payload = envelope_json(&ids.next(T0_MS), SITE, s).expect("stats json");
        valid(&t.stats(&s.camera), &payload);
    }
}

#[test]
fn statistics_from_the_accumulator_validate() {
    let keys = ["northbound", "southbound"].map(|d| LineKey {
        line: "stop-n".into(),
        lane: Some("n1".into()),
        direction: d.into(),
    });
    let mut acc = StatsAccumulator::new(
        "north",
        60,
        keys.to_vec(),
        vec!["box-junction".into()],
        vec![("q-n1".into(), Some("n1".into())), ("q-n2".into(), None)],
    );
    let start = 1_795_534_195_000;
    let mut reports = Vec::new();
    for i in 0..700u64 {
        let now = at(start + i * 100);
        reports.extend(acc.roll(now));
        let dt = acc.frame(now);
        if i % 50 == 0 {
            acc.crossing(0, "car", Some(41.3));
            acc.crossing(1, "motorcycle", None);
            acc.zone_enter(0);
        }
        if i % 50 == 25 {
            acc.zone_exit(0, Duration::from_millis(2_500 + i));
        }
        acc.zone_sample(0, (i % 3) as usize, dt);
        acc.zone_speed(0, i / 50, 12.5);
        acc.queue_sample(
            0,
            QueueState {
                vehicles: (i % 5) as usize,
                length_m: (i % 5 > 0).then_some(6.5 * (i % 5) as f64),
            },
            dt,
        );
        acc.queue_sample(1, QueueState::default(), dt);
    }
    reports.extend(acc.flush());
    assert_eq!(reports.len(), 3, "{reports:?}");
    let t = topics();
    let mut ids = IdGen::new(5);
    for s in &reports {
        let payload = envelope_json(&ids.next(T0_MS), SITE, s).expect("stats json");
        valid(&t.stats("north"), &payload);
    }
}

fn health(camera: &str, state: &CameraState, last_error: Option<&str>) -> CameraHealth {
    CameraHealth {
        camera: camera.into(),
        state: state.name(),
        fps: 9.8,
        frames_analysed: 846_713,
        frames_dropped: 112,
        reconnects: 1,
        last_error: last_error.map(Into::into),
    }
}

fn every_camera_state() -> Vec<CameraState> {
    vec![
        CameraState::Connecting,
        CameraState::Streaming,
        CameraState::Reconnecting {
            attempt: 3,
            retry_in: Duration::from_secs(8),
        },
        CameraState::Ended,
        CameraState::Stopped,
    ]
}

fn heartbeat_json(cameras: &[CameraHealth]) -> Vec<u8> {
    heartbeat_with(cameras, Vec::new())
}

fn heartbeat_with(cameras: &[CameraHealth], stages: Vec<StageHealth>) -> Vec<u8> {
    let health = BoxHealth {
        cameras: cameras.to_vec(),
        stages,
    };
    let out = OutboxHealth {
        depth: 3,
        bytes: 1187,
        dropped_events: 0,
        dropped_stats: 2,
    };
    let mut status = Status::online(
        "01M872W4FMA17T2W5K70WJCC2S",
        SITE,
        DEVICE,
        T0_MS,
        86_412,
        &health,
        out,
    );
    status.clock = Some(ClockHealth {
        synced: true,
        est_error_ms: Some(1.2),
        max_error_ms: Some(56.8),
    });
    serde_json::to_vec(&status).expect("status json")
}

#[test]
fn heartbeats_clean_stops_and_the_last_will_validate() {
    let t = topics();
    let cams: Vec<CameraHealth> = every_camera_state()
        .iter()
        .enumerate()
        .map(|(i, s)| {
            health(
                &format!("cam-{i}"),
                s,
                (i % 2 == 0).then_some("rtsp://cam.local/stream1: timed out"),
            )
        })
        .collect();
    valid(&t.status(), &heartbeat_json(&cams));
    valid(&t.status(), &heartbeat_json(&[]));
    // Failed stages of every kind, down or working again.
    let stages = [
        ("analysis", "cam-0"),
        ("inference", "centernet/lane-1"),
        ("snapshots", "writer"),
        ("endpoints", "127.0.0.1:9090"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (stage, of))| StageHealth {
        stage,
        of: (*of).into(),
        failures: i as u64 + 1,
        down: (i % 2 == 0).then(|| "panicked: index out of bounds (restart 1 in 2 s)".into()),
    })
    .collect();
    valid(&t.status(), &heartbeat_with(&cams, stages));
    let mut ids = IdGen::new(7);
    let id = ids.next(T0_MS);
    let stopped = Status::stopped(&id, SITE, DEVICE, T0_MS);
    valid(&t.status(), &serde_json::to_vec(&stopped).expect("json"));
    let will = serde_json::to_vec(&Status::last_will(SITE, DEVICE)).expect("json");
    valid(&t.status(), &will);
}

#[test]
fn heartbeats_carry_the_running_config_and_a_refused_reload() {
    let t = topics();
    let mut config = ConfigHealth {
        revision: "3fa9c01b77e2".into(),
        applied_ms: T0_MS - 60_000,
        rejected: None,
        pending_restart: Vec::new(),
    };
    let with = |c: &ConfigHealth| {
        let mut v: serde_json::Value = serde_json::from_slice(&heartbeat_json(&[])).expect("json");
        v["config"] = serde_json::to_value(c).expect("config json");
        v
    };
    let bytes = |v: serde_json::Value| serde_json::to_vec(&v).expect("json");
    valid(&t.status(), &bytes(with(&config)));
    config.rejected = Some(RejectedConfig {
        revision: "0b1c2d3e4f50".into(),
        time_ms: T0_MS,
        errors: vec!["cameras[0].lines[0].points: a line needs 2 points, not 1".into()],
    });
    config.pending_restart = vec!["mqtt".into()];
    valid(&t.status(), &bytes(with(&config)));
    // A refusal always says why, and only known sections wait for a restart.
    let mut bad = config.clone();
    bad.rejected.as_mut().expect("rejected").errors.clear();
    invalid(&t.status(), &with(&bad), &["/config/rejected/errors"]);
    bad = config.clone();
    bad.pending_restart = vec!["cameras".into()];
    invalid(&t.status(), &with(&bad), &["/config/pending_restart/0"]);
    // A stop carries no config.
    let mut ids = IdGen::new(7);
    let id = ids.next(T0_MS);
    let mut stopped = Status::stopped(&id, SITE, DEVICE, T0_MS);
    stopped.config = Some(&config);
    let v = serde_json::to_value(&stopped).expect("json");
    invalid(&t.status(), &v, &["/config"]);
}

#[test]
fn outbox_alarms_validate() {
    let t = topics();
    let mut ids = IdGen::new(8);
    for (events, stats) in [(0, 412), (3, 0), (17, 2_000)] {
        let id = ids.next(T0_MS);
        let a = Alarm::overflow(&id, SITE, DEVICE, T0_MS, Dropped { events, stats });
        valid(&t.alarms(), &serde_json::to_vec(&a).expect("json"));
    }
    let aside = SetAside {
        moved_to: "/var/lib/roadeye/outbox.redb.damaged-1795534215860".into(),
        reason: "it is cut short (failed to fill whole buffer)".into(),
    };
    let id = ids.next(T0_MS);
    let file = std::path::Path::new("/var/lib/roadeye/outbox.redb");
    let a = Alarm::damaged(&id, SITE, DEVICE, T0_MS, file, &aside);
    valid(&t.alarms(), &serde_json::to_vec(&a).expect("json"));
    // A kind's fields belong to it alone.
    let mut v = serde_json::to_value(&a).expect("json");
    v["dropped_events"] = 3.into();
    invalid(&t.alarms(), &v, &[""]);
    let over = Alarm::overflow(
        &id,
        SITE,
        DEVICE,
        T0_MS,
        Dropped {
            events: 1,
            stats: 0,
        },
    );
    let mut v = serde_json::to_value(&over).expect("json");
    v["reason"] = "x".into();
    invalid(&t.alarms(), &v, &[""]);
    v = serde_json::to_value(&a).expect("json");
    v.as_object_mut().expect("object").remove("moved_to");
    invalid(&t.alarms(), &v, &[""]);
}

#[test]
fn a_heartbeat_without_cameras_is_invalid() {
    let t = topics();
    let health = BoxHealth {
        cameras: vec![health("north", &CameraState::Streaming, None)],
        stages: Vec::new(),
    };
    let hb = Status::online(
        "01M872W4FMA17T2W5K70WJCC2S",
        SITE,
        DEVICE,
        T0_MS,
        60,
        &health,
        OutboxHealth::default(),
    );
    let without = Status {
        cameras: None,
        ..hb.clone()
    };
    let v = serde_json::to_value(&without).expect("json");
    invalid(&t.status(), &v, &["\"cameras\" is a required property"]);
    // Nor may a heartbeat give a reason, or a camera an unknown state.
    let mut v = serde_json::to_value(&hb).expect("json");
    v["reason"] = json!("stopped");
    invalid(&t.status(), &v, &["/reason"]);
    let mut v = serde_json::to_value(&hb).expect("json");
    v["cameras"][0]["state"] = json!("buffering");
    invalid(&t.status(), &v, &["/cameras/0/state"]);
    // A clock that is not synchronised gives no error estimates; one that is, may.
    let mut v = serde_json::to_value(&hb).expect("json");
    v["clock"] = json!({"synced": false});
    valid(&t.status(), &serde_json::to_vec(&v).expect("json"));
    v["clock"] = json!({"synced": false, "est_error_ms": 3.0});
    invalid(&t.status(), &v, &["/clock"]);
    v["clock"] = json!({"est_error_ms": 3.0});
    invalid(&t.status(), &v, &["/clock"]);
    // A failed stage is one of the four, and says how often it failed.
    let mut v = serde_json::to_value(&hb).expect("json");
    v["stages"] = json!([{"stage": "decoder", "of": "north", "failures": 1}]);
    invalid(&t.status(), &v, &["/stages/0/stage"]);
    v["stages"] = json!([{"stage": "analysis", "of": "north"}]);
    invalid(&t.status(), &v, &["\"failures\" is a required property"]);
}

#[test]
fn an_offline_status_must_say_why_and_carry_only_its_own_fields() {
    let t = topics();
    let mut will = serde_json::to_value(Status::last_will(SITE, DEVICE)).expect("json");
    will.as_object_mut().expect("object").remove("reason");
    invalid(&t.status(), &will, &["\"reason\" is a required property"]);
    // The Last Will is fixed when the connection is made: no id, no time.
    let mut will = serde_json::to_value(Status::last_will(SITE, DEVICE)).expect("json");
    will["time_ms"] = json!(T0_MS);
    invalid(&t.status(), &will, &["/time_ms"]);
    // A clean stop has an id and a time, and no heartbeat fields.
    let stopped = Status::stopped("01M87693A00ZNZ578DN6AKYJ7H", SITE, DEVICE, T0_MS);
    let mut v = serde_json::to_value(&stopped).expect("json");
    v.as_object_mut().expect("object").remove("time_ms");
    invalid(&t.status(), &v, &["\"time_ms\" is a required property"]);
    let mut v = serde_json::to_value(&stopped).expect("json");
    v["uptime_s"] = json!(5);
    invalid(&t.status(), &v, &["/uptime_s"]);
}

/// The topic of an example `payload` of the schema at `path`.
fn example_topic(path: &str, payload: &Value) -> String {
    let site = payload["site"].as_str().expect("site");
    let t = Topics::new(
        DEFAULT_PREFIX,
        site,
        payload["device"].as_str().unwrap_or(DEVICE),
    );
    let camera = || payload["camera"].as_str().expect("camera");
    match path {
        "stats.schema.json" => t.stats(camera()),
        "status.schema.json" => t.status(),
        "alarm.schema.json" => t.alarms(),
        _ => t.event(camera(), payload["kind"].as_str().expect("kind")),
    }
}

#[test]
fn the_examples_in_the_schemas_validate() {
    let s = schemas();
    let mut n = 0;
    for f in s.files.iter().filter(|f| f.path != "common.schema.json") {
        let examples = f.value["examples"]
            .as_array()
            .unwrap_or_else(|| panic!("schema/{} has no examples", f.path));
        for ex in examples {
            let payload = serde_json::to_vec(ex).expect("json");
            valid(&example_topic(&f.path, ex), &payload);
            n += 1;
        }
    }
    assert_eq!(
        n, 15,
        "one example of every message, three of the status, two of the alarm"
    );
}

#[test]
fn the_examples_in_the_readme_validate() {
    let text =
        std::fs::read_to_string(common::schema::dir().join("README.md")).expect("schema/README.md");
    let mut topic: Option<String> = None;
    let mut block: Option<String> = None;
    let mut checked = BTreeSet::new();
    for line in text.lines() {
        match &mut block {
            Some(b) if line.trim_start().starts_with("```") => {
                let t = topic
                    .take()
                    .unwrap_or_else(|| panic!("a JSON example without a 'Topic:' line:\n{b}"));
                valid(&t, b.as_bytes());
                checked.insert(parse_topic(&t).expect("topic").schema);
                block = None;
            }
            Some(b) => {
                b.push_str(line);
                b.push('\n');
            }
            None if line.trim_start().starts_with("```json") => block = Some(String::new()),
            None => {
                if let Some(rest) = line.strip_prefix("Topic: `") {
                    topic = Some(rest.split('`').next().expect("topic").to_string());
                }
            }
        }
    }
    let every: BTreeSet<String> = schemas()
        .files
        .iter()
        .map(|f| f.path.clone())
        .filter(|p| p != "common.schema.json")
        .collect();
    assert_eq!(
        checked, every,
        "the README shows an example of every message"
    );
}

#[test]
fn the_asyncapi_document_covers_every_schema_file_and_topic() {
    let text =
        std::fs::read_to_string(common::schema::dir().join("asyncapi.yaml")).expect("asyncapi");
    assert!(text.starts_with("asyncapi: 3.0.0"), "AsyncAPI 3.0.0");
    for f in &schemas().files {
        assert!(
            text.contains(&format!("./{}", f.path)),
            "asyncapi.yaml does not refer to ./{}",
            f.path
        );
    }
    for kind in every_kind() {
        let address = format!(
            "address: {DEFAULT_PREFIX}/{{site}}/{{camera}}/events/{}",
            kind.name()
        );
        assert!(text.contains(&address), "no channel '{address}'");
    }
    for address in [
        "{site}/{camera}/stats",
        "{site}/{device}/status",
        "{site}/{device}/alarms",
    ] {
        let address = format!("address: {DEFAULT_PREFIX}/{address}");
        assert!(text.contains(&address), "no channel '{address}'");
    }
}
