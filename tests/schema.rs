//! The published message schema (`schema/`) against what the crate really publishes: payloads made
//! by the crate's own serialisers (events, statistics, status, alarms, the envelope) must validate
//! on their topics; broken ones must not; the schema files, the AsyncAPI document and the README's
//! examples must agree with each other and with the kinds the rules can produce.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::schema::{BASE_URI, Schemas, parse_topic};
use roadeye::publish::message::{DEFAULT_PREFIX, envelope_json};
use roadeye::publish::{Alarm, CameraHealth, Dropped, IdGen, OutboxHealth, Status, Topics};
use roadeye::rules::queue::QueueState;
use roadeye::rules::stats::{LineKey, LineStats, QueueStats, StatsAccumulator, ZoneStats};
use roadeye::rules::{CameraRules, Event, EventKind, IntervalStats, ObjectInfo, RulesConfig};
use roadeye::source::CameraState;
use roadeye::types::{BBox, FrameMeta, Track, Tracks};
use serde_json::{Value, json};

const SITE: &str = "hn-caugiay";
const DEVICE: &str = "box-01";
/// 2026-11-24T15:30:00.123Z.
const T0_MS: u64 = 1_795_534_200_123;

fn schemas() -> &'static Schemas {
    static S: OnceLock<Schemas> = OnceLock::new();
    S.get_or_init(Schemas::load)
}

fn topics() -> Topics {
    Topics::new(DEFAULT_PREFIX, SITE, DEVICE)
}

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// Requires `payload` to be valid on `topic`.
fn valid(topic: &str, payload: &[u8]) {
    if let Err(e) = schemas().validate(topic, payload) {
        panic!(
            "{topic}\n{}\nis invalid:\n{e}",
            String::from_utf8_lossy(payload)
        );
    }
}

/// Requires `payload` to be invalid on `topic`, with a problem mentioning each of `needles`.
fn invalid(topic: &str, payload: &Value, needles: &[&str]) {
    let bytes = serde_json::to_vec(payload).expect("json");
    match schemas().validate(topic, &bytes) {
        Ok(()) => panic!("{topic}\n{payload}\nmust be invalid"),
        Err(e) => {
            for n in needles {
                assert!(
                    e.contains(n),
                    "no '{n}' among the problems of {payload}:\n{e}"
                );
            }
        }
    }
}

/// One value of every event kind, with every optional field set.
fn every_kind() -> Vec<EventKind> {
    vec![
        EventKind::LineCrossing {
            direction: "northbound".into(),
            lane: Some("n1".into()),
            speed_kmh: Some(38.4),
        },
        EventKind::ZoneEnter,
        EventKind::ZoneExit { dwell_s: 42.7 },
        EventKind::Loitering { dwell_s: 120.1 },
        EventKind::Intrusion,
        EventKind::CrowdStart { count: 12 },
        EventKind::CrowdEnd { count: 0 },
        EventKind::WrongWay {
            distance: 0.143,
            speed_kmh: Some(21.6),
        },
        EventKind::StoppedVehicle { duration_s: 60.3 },
    ]
}

/// The same kind without its optional fields.
fn without_options(kind: &EventKind) -> EventKind {
    match kind.clone() {
        EventKind::LineCrossing { direction, .. } => EventKind::LineCrossing {
            direction,
            lane: None,
            speed_kmh: None,
        },
        EventKind::WrongWay { distance, .. } => EventKind::WrongWay {
            distance,
            speed_kmh: None,
        },
        other => other,
    }
}

/// Whether the rules report `kind` with an object (crowds are about a zone, not an object). The
/// match is exhaustive on purpose: a kind added to `EventKind` does not compile here until it is
/// added to `every_kind` (and so needs a schema).
fn has_object(kind: &EventKind) -> bool {
    match kind {
        EventKind::CrowdStart { .. } | EventKind::CrowdEnd { .. } => false,
        EventKind::LineCrossing { .. }
        | EventKind::ZoneEnter
        | EventKind::ZoneExit { .. }
        | EventKind::Loitering { .. }
        | EventKind::Intrusion
        | EventKind::WrongWay { .. }
        | EventKind::StoppedVehicle { .. } => true,
    }
}

fn event(camera: &str, rule: &str, kind: EventKind, object: Option<ObjectInfo>) -> Event {
    Event {
        camera: camera.into(),
        time: at(T0_MS),
        pts: Duration::from_secs(12),
        rule: rule.into(),
        kind,
        object,
    }
}

fn seen(track_id: u64, class: &str) -> ObjectInfo {
    ObjectInfo {
        track_id,
        class: class.into(),
        score: Some(0.8731),
        bbox: Some([0.4125, 0.5319, 0.5078, 0.6472]),
    }
}

/// An event's topic and payload, as the agent publishes them.
fn publish_event(ids: &mut IdGen, t: &Topics, e: &Event) -> (String, Vec<u8>) {
    let id = ids.next(T0_MS);
    (
        t.event(&e.camera, e.kind.name()),
        envelope_json(&id, SITE, e).expect("event json"),
    )
}

fn to_value(payload: &[u8]) -> Value {
    serde_json::from_slice(payload).expect("json")
}

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

#[test]
fn the_event_schemas_are_exactly_the_kinds_the_rules_produce() {
    let s = schemas();
    let produced: Vec<String> = {
        let mut v: Vec<String> = every_kind().iter().map(|k| k.name().to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(produced.len(), 9);
    assert_eq!(s.event_kinds(), produced);
    for kind in &produced {
        let f = s
            .file(&format!("events/{kind}.schema.json"))
            .expect("event schema");
        assert_eq!(
            f.value["properties"]["kind"]["const"], **kind,
            "schema/{}: kind",
            f.path
        );
        for common_field in ["v", "id", "site", "camera", "time_ms", "rule", "kind"] {
            assert!(
                f.value["required"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|x| x == common_field)),
                "schema/{}: {common_field} must be required",
                f.path
            );
        }
        assert!(
            f.value["properties"]["snapshot"].is_object(),
            "schema/{}: snapshot",
            f.path
        );
    }
}

#[test]
fn every_event_kind_validates_with_and_without_its_optional_fields() {
    let t = topics();
    let mut ids = IdGen::new(1);
    for kind in every_kind() {
        let mut variants = vec![
            event("north", "stop-n", kind.clone(), None),
            event("north", "stop-n", without_options(&kind), None),
        ];
        if has_object(&kind) {
            variants.push(event(
                "north",
                "stop-n",
                kind.clone(),
                Some(seen(1542, "car")),
            ));
            // An object no longer seen has no score and no box.
            let gone = ObjectInfo {
                score: None,
                bbox: None,
                ..seen(311, "person")
            };
            variants.push(event(
                "hall_a-2",
                "waiting-area",
                without_options(&kind),
                Some(gone),
            ));
        }
        for e in &variants {
            let (topic, payload) = publish_event(&mut ids, &t, e);
            assert_eq!(
                topic,
                format!("roadeye/v1/{SITE}/{}/events/{}", e.camera, kind.name())
            );
            valid(&topic, &payload);
        }
    }
}

#[test]
fn any_topic_prefix_is_accepted() {
    let t = Topics::new("city/its/roadeye/v1/", SITE, DEVICE);
    let mut ids = IdGen::new(2);
    let e = event(
        "north",
        "stop-n",
        EventKind::Intrusion,
        Some(seen(9, "person")),
    );
    let (topic, payload) = publish_event(&mut ids, &t, &e);
    assert_eq!(
        topic,
        "city/its/roadeye/v1/hn-caugiay/north/events/intrusion"
    );
    valid(&topic, &payload);
    let p = parse_topic("a/b/c/d/e/hn/box-7/status").expect("status topic");
    assert_eq!((p.site.as_str(), p.source.as_str()), ("hn", "box-7"));
    assert!(parse_topic("roadeye/v1/hn/north/snapshots").is_err());
}

#[test]
fn objects_found_on_a_frame_validate_even_at_the_frame_edges() {
    let meta = frame_meta(T0_MS, 1280, 720);
    // Partly outside the frame: the box is clamped to it.
    let tracks = [
        track(7, "car", BBox::new(-40.0, 600.0, 90.0, 760.0)),
        track(8, "bus", BBox::new(1100.0, -5.0, 1300.0, 200.0)),
    ];
    let t = topics();
    let mut ids = IdGen::new(3);
    for (id, class) in [(7, "car"), (8, "bus"), (9, "person")] {
        let object = ObjectInfo::find(id, class, &meta, &tracks);
        let e = event("north", "depot", EventKind::ZoneEnter, Some(object));
        let (topic, payload) = publish_event(&mut ids, &t, &e);
        valid(&topic, &payload);
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

fn frame_meta(ms: u64, width: u32, height: u32) -> FrameMeta {
    FrameMeta {
        camera: "north".into(),
        seq: 0,
        pts: Duration::from_millis(ms - T0_MS),
        generation: 1,
        captured_at: at(ms),
        width,
        height,
    }
}

fn track(id: u64, label: &str, bbox: BBox) -> Track {
    Track {
        id,
        class_id: 0,
        label: Arc::from(label),
        bbox,
        score: 0.8731,
        velocity: (0.0, 0.0),
        first_seen: Duration::ZERO,
        hits: 10,
    }
}

/// A track whose box (`w × h` pixels) stands with its bottom centre at normalised `(x, y)` of a
/// 1280 × 720 frame.
fn at_point(id: u64, label: &str, (x, y): (f32, f32), (w, h): (f32, f32)) -> Track {
    let (px, py) = (x * 1280.0, y * 720.0);
    track(id, label, BBox::new(px - w / 2.0, py - h, px + w / 2.0, py))
}

/// A camera with one rule of every kind, calibrated, with one-minute statistics.
const RULES: &str = r#"
[[lines]]
id = "stop-n"
lane = "n1"
points = [[0.0, 0.5], [0.5, 0.5]]
forward = "northbound"
backward = "southbound"

[[zones]]
id = "plaza"
points = [[0.05, 0.55], [0.45, 0.55], [0.45, 0.95], [0.05, 0.95]]
classes = ["person"]
loiter_after_s = 5.0
crowd = { count = 2, for_s = 1.0 }
intrusion = { classes = ["person"] }

[[wrong_way]]
id = "lane-n1"
zone = [[0.55, 0.05], [0.95, 0.05], [0.95, 0.95], [0.55, 0.95]]
direction = [[0.75, 0.9], [0.75, 0.1]]
classes = ["motorcycle"]

[[stopped]]
id = "no-stop"
zone = [[0.55, 0.05], [0.95, 0.05], [0.95, 0.3], [0.55, 0.3]]
after_s = 3.0
classes = ["truck"]

[[queues]]
id = "q-n1"
lane = "n1"
zone = [[0.0, 0.55], [0.5, 0.55], [0.5, 1.0], [0.0, 1.0]]
stop_line = [[0.0, 0.55], [0.5, 0.55]]
classes = ["car"]
after_s = 2.0

[calibration]
image = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
ground = [[0.0, 100.0], [50.0, 100.0], [50.0, 0.0], [0.0, 0.0]]

[stats]
interval_s = 60
"#;

/// The tracks of frame `i` (0.1 s apart) of a 75-second scene in which every rule fires.
fn scene(i: u32) -> Vec<Track> {
    let t = i as f32 * 0.1;
    let mut v = Vec::new();
    // A car drives up the left half at 72 km/h, over the line.
    let y = 0.95 - 0.02 * i as f32;
    if y > 0.05 {
        v.push(at_point(1, "car", (0.25, y), (60.0, 40.0)));
    }
    // A car waits in the queue area.
    if (1.0..20.0).contains(&t) {
        v.push(at_point(2, "car", (0.3, 0.85), (70.0, 45.0)));
    }
    // Two people meet on the plaza; one walks off over the line, the other is lost from view.
    if (2.0..16.0).contains(&t) {
        let y = if t < 12.0 {
            0.7
        } else {
            0.7 - 0.05 * (t - 12.0)
        };
        v.push(at_point(3, "person", (0.2, y), (20.0, 60.0)));
    }
    if (2.0..14.0).contains(&t) {
        v.push(at_point(4, "person", (0.3, 0.75), (20.0, 60.0)));
    }
    // A motorcycle rides down its lane against the traffic.
    if (20.0..30.0).contains(&t) {
        v.push(at_point(
            5,
            "motorcycle",
            (0.8, 0.2 + 0.05 * (t - 20.0)),
            (30.0, 40.0),
        ));
    }
    // A truck stops in the no-stopping zone.
    if (30.0..40.0).contains(&t) {
        v.push(at_point(6, "truck", (0.75, 0.2), (120.0, 90.0)));
    }
    v
}

#[test]
fn what_the_rules_engine_publishes_validates() {
    let cfg: RulesConfig = toml::from_str(RULES).expect("rules");
    let problems = roadeye::rules::validate::problems(&cfg, &|_| Ok(()));
    assert!(problems.is_empty(), "{problems:?}");
    let mut rules = CameraRules::new("north", &cfg, jiff::tz::TimeZone::UTC).expect("camera rules");
    // 2026-11-24T15:29:55Z: the first one-minute interval closes 5 s in.
    let start = 1_795_534_195_000;
    let mut events = Vec::new();
    let mut stats = Vec::new();
    for i in 0..750u32 {
        let mut meta = frame_meta(T0_MS, 1280, 720);
        meta.pts = Duration::from_millis(u64::from(i) * 100);
        meta.captured_at = at(start) + meta.pts;
        meta.seq = u64::from(i);
        let (e, s) = rules.update(&Tracks {
            meta,
            tracks: scene(i),
        });
        events.extend(e);
        stats.extend(s);
    }
    stats.extend(rules.flush());
    let kinds: BTreeSet<&str> = events.iter().map(|e| e.kind.name()).collect();
    let all: BTreeSet<&str> = every_kind().iter().map(EventKind::name).collect();
    assert_eq!(kinds, all, "the scene must fire every kind of rule");
    assert_eq!(stats.len(), 3, "two full intervals and the partial one");
    let t = topics();
    let mut ids = IdGen::new(6);
    for e in &events {
        let (topic, payload) = publish_event(&mut ids, &t, e);
        valid(&topic, &payload);
    }
    for s in &stats {
        let payload = envelope_json(&ids.next(T0_MS), SITE, s).expect("stats json");
        valid(&t.stats(&s.camera), &payload);
        let v = to_value(&payload);
        assert!(v["lines"].is_array() && v["zones"].is_array() && v["queues"].is_array());
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
    let out = OutboxHealth {
        depth: 3,
        bytes: 1187,
        dropped_events: 0,
        dropped_stats: 2,
    };
    serde_json::to_vec(&Status::online(
        "01M872W4FMA17T2W5K70WJCC2S",
        SITE,
        DEVICE,
        T0_MS,
        86_412,
        cameras,
        out,
    ))
    .expect("status json")
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
    let mut ids = IdGen::new(7);
    let id = ids.next(T0_MS);
    let stopped = Status::stopped(&id, SITE, DEVICE, T0_MS);
    valid(&t.status(), &serde_json::to_vec(&stopped).expect("json"));
    let will = serde_json::to_vec(&Status::last_will(SITE, DEVICE)).expect("json");
    valid(&t.status(), &will);
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
}

/// A real line-crossing payload and its topic.
fn crossing() -> (String, Value) {
    let e = event(
        "north",
        "stop-n",
        every_kind().remove(0),
        Some(seen(1542, "car")),
    );
    let (topic, payload) = publish_event(&mut IdGen::new(9), &topics(), &e);
    valid(&topic, &payload);
    (topic, to_value(&payload))
}

#[test]
fn an_event_without_an_id_is_invalid() {
    let (topic, mut v) = crossing();
    v.as_object_mut().expect("object").remove("id");
    invalid(&topic, &v, &["\"id\" is a required property"]);
}

#[test]
fn an_unknown_field_is_invalid() {
    let (topic, mut v) = crossing();
    v["speed_mph"] = json!(23.9);
    invalid(&topic, &v, &["speed_mph"]);
    let (topic, mut v) = crossing();
    v["object"]["colour"] = json!("red");
    invalid(&topic, &v, &["/object", "colour"]);
}

#[test]
fn a_kind_that_is_not_the_topics_is_invalid() {
    let t = topics();
    let e = event(
        "north",
        "depot",
        EventKind::ZoneEnter,
        Some(seen(4, "person")),
    );
    let payload = envelope_json("01M872V79X2D7Z59TDWH9EDD1R", SITE, &e).expect("json");
    let on_line_topic = t.event("north", "line_crossing");
    invalid(
        &on_line_topic,
        &to_value(&payload),
        &["/kind", "line_crossing"],
    );
    // A kind that is not one is refused even when topic and payload agree.
    let (_, mut v) = crossing();
    v["kind"] = json!("speeding");
    invalid(&t.event("north", "speeding"), &v, &["events/speeding"]);
}

#[test]
fn a_camera_or_site_that_is_not_the_topics_is_invalid() {
    let (_, v) = crossing();
    invalid(
        &topics().event("south", "line_crossing"),
        &v,
        &["/camera", "south"],
    );
    invalid(
        &Topics::new(DEFAULT_PREFIX, "hcm-q1", DEVICE).event("north", "line_crossing"),
        &v,
        &["/site", "hcm-q1"],
    );
}

#[test]
fn a_box_outside_the_frame_is_invalid() {
    let t = topics();
    let mut ids = IdGen::new(10);
    let outside = ObjectInfo {
        bbox: Some([0.1, 0.2, 1.2, 0.5]),
        ..seen(3, "car")
    };
    let e = event("north", "depot", EventKind::Intrusion, Some(outside));
    let (topic, payload) = publish_event(&mut ids, &t, &e);
    invalid(&topic, &to_value(&payload), &["/object/bbox/2", "1.2"]);
    let bad_score = ObjectInfo {
        score: Some(1.5),
        ..seen(3, "car")
    };
    let e = event("north", "depot", EventKind::Intrusion, Some(bad_score));
    let (topic, payload) = publish_event(&mut ids, &t, &e);
    invalid(&topic, &to_value(&payload), &["/object/score"]);
}

#[test]
fn a_crowd_event_with_an_object_is_invalid() {
    let e = event(
        "north",
        "plaza",
        EventKind::CrowdStart { count: 3 },
        Some(seen(3, "person")),
    );
    let (topic, payload) = publish_event(&mut IdGen::new(11), &topics(), &e);
    invalid(&topic, &to_value(&payload), &["object"]);
}

#[test]
fn a_float_that_is_not_a_number_is_invalid() {
    // serde_json writes a NaN or infinite f32 as null: the schema catches it.
    let e = event(
        "north",
        "stop-n",
        EventKind::ZoneExit { dwell_s: f32::NAN },
        None,
    );
    let (topic, payload) = publish_event(&mut IdGen::new(12), &topics(), &e);
    let v = to_value(&payload);
    assert_eq!(v["dwell_s"], Value::Null);
    invalid(&topic, &v, &["/dwell_s", "null"]);
}

#[test]
fn a_heartbeat_without_cameras_is_invalid() {
    let t = topics();
    let cams = [health("north", &CameraState::Streaming, None)];
    let hb = Status::online(
        "01M872W4FMA17T2W5K70WJCC2S",
        SITE,
        DEVICE,
        T0_MS,
        60,
        &cams,
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

#[test]
fn a_wrong_version_or_id_is_invalid() {
    let (topic, mut v) = crossing();
    v["v"] = json!(2);
    invalid(&topic, &v, &["/v"]);
    for bad in [
        "01ABC",
        "01m872v79x2d7z59tdwh9edd1r",
        "81M872V79X2D7Z59TDWH9EDD1R",
    ] {
        let (topic, mut v) = crossing();
        v["id"] = json!(bad);
        invalid(&topic, &v, &["/id"]);
    }
    let (topic, mut v) = crossing();
    v["rule"] = json!("stop n");
    invalid(&topic, &v, &["/rule"]);
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
    assert_eq!(n, 14, "one example of every message, three of the status");
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
