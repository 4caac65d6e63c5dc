//! Event payloads against the published schema (`schema/events/`): every kind the rules can
//! produce, made by the crate's own serialiser, with and without its optional fields and objects,
//! validates on its topic under any prefix; what the rules engine itself publishes over a scene in
//! which every rule fires validates; there is exactly one event schema per kind; and broken events
//! (missing or unknown fields, a kind, camera or site that is not the topic's, out-of-range
//! values, a wrong version or id) are refused.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::schema::{
    DEVICE, SITE, T0_MS, at, every_kind, invalid, parse_topic, schemas, topics, valid,
};
use roadeye::publish::message::{DEFAULT_PREFIX, envelope_json};
use roadeye::publish::{IdGen, Topics};
use roadeye::rules::{CameraRules, Event, EventKind, ObjectInfo, RulesConfig};
use roadeye::types::{BBox, FrameMeta, Track, Tracks};
use serde_json::{Value, json};

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
        snapshot: None,
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

fn frame_meta(ms: u64, width: u32, height: u32) -> FrameMeta {
    FrameMeta {
        camera: "north".into(),
        seq: 0,
        pts: Duration::from_millis(ms - T0_MS),
        generation: 1,
        captured_at: at(ms),
        arrived: std::time::Instant::now(),
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
