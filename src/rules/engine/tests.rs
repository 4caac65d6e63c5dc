//! The rules of a camera together, on synthetic tracks.

use std::time::UNIX_EPOCH;

use super::*;
use crate::rules::fixtures;

fn config() -> RulesConfig {
    toml::from_str(
        r#"
        [[lines]]
        id = "stop-n"
        lane = "n1"
        points = [[1.0, 0.5], [0.0, 0.5]]
        forward = "northbound"
        backward = "southbound"

        [[zones]]
        id = "depot"
        points = [[0.6, 0.6], [0.9, 0.6], [0.9, 0.9], [0.6, 0.9]]
        intrusion = { classes = ["person"], windows = [{ from = "22:00", to = "06:00" }] }

        [calibration]
        image = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
        ground = [[0.0, 100.0], [50.0, 100.0], [50.0, 0.0], [0.0, 0.0]]

        [stats]
        interval_s = 60
        "#,
    )
    .expect("rules config")
}

/// A frame `secs` after 2026-11-24T15:29:55Z (22:29:55 in Hanoi).
fn frame(secs: f32, tracks: Vec<Track>) -> Tracks {
    let mut meta = fixtures::frame(secs, 100, 100);
    meta.captured_at = UNIX_EPOCH + Duration::from_secs(1_795_534_195) + meta.pts;
    Tracks { meta, tracks }
}

#[test]
fn a_crossing_car_an_intruder_and_the_minute_statistics() {
    let tz = jiff::tz::TimeZone::get("Asia/Ho_Chi_Minh").expect("tz");
    let mut rules = CameraRules::new("cam-1", &config(), tz).expect("rules");
    let mut events = Vec::new();
    let mut stats = Vec::new();
    for i in 0..700 {
        let t = i as f32 * 0.1;
        // A car drives up the frame at 0.2 of the height (20 m) per second = 72 km/h.
        let mut tracks = vec![fixtures::object(
            1,
            "car",
            (0.3, 0.9 - 0.02 * i as f32),
            (6.0, 4.0),
            (100, 100),
        )];
        // A person walks into the depot at t = 2 s.
        if i >= 10 {
            tracks.push(fixtures::object(
                2,
                "person",
                ((0.5 + 0.01 * i as f32).min(0.75), 0.75),
                (3.0, 8.0),
                (100, 100),
            ));
        }
        tracks.retain(|t| t.bbox.y2 > 0.0);
        let (e, s) = rules.update(&frame(t, tracks));
        events.extend(e);
        stats.extend(s);
    }
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.kind.name(), e.rule.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("zone_enter", "depot"),
            ("intrusion", "depot"),
            ("line_crossing", "stop-n")
        ]
    );
    let crossing = &events[2];
    let EventKind::LineCrossing {
        direction,
        lane,
        speed_kmh,
    } = &crossing.kind
    else {
        panic!("{crossing:?}")
    };
    assert_eq!(
        (direction.as_str(), lane.as_deref()),
        ("northbound", Some("n1"))
    );
    let v = speed_kmh.expect("calibrated");
    assert!((v - 72.0).abs() < 72.0 * 0.03, "{v}");
    let obj = crossing.object.as_ref().expect("object");
    assert_eq!(
        (obj.track_id, obj.class.as_str(), obj.score),
        (1, "car", Some(0.9))
    );
    let b = obj.bbox.expect("bbox");
    assert!(
        (b[3] - 0.5).abs() < 0.03 && (b[0] - 0.27).abs() < 1e-4,
        "{b:?}"
    );
    assert_eq!(
        crossing.time,
        UNIX_EPOCH + Duration::from_secs(1_795_534_195) + crossing.pts
    );
    // The minute 15:30–15:31 UTC closed at t = 65 s.
    assert_eq!(stats.len(), 2, "partial first minute, then a whole one");
    let partial = &stats[0].lines;
    assert_eq!(
        (partial[0].direction.as_str(), partial[0].volume),
        ("northbound", 1)
    );
    assert_eq!(partial[0].by_class.get("car"), Some(&1));
    let mean = partial[0].mean_speed_kmh.expect("measured");
    assert!((mean - 72.0).abs() < 72.0 * 0.03, "{mean}");
    assert_eq!(partial[1].volume, 0, "southbound");
    let minute = &stats[1];
    assert_eq!(minute.lines.len(), 2);
    assert_eq!(minute.lines[0].volume, 0, "crossed in the partial minute");
    let depot = &minute.zones[0];
    assert_eq!((depot.max_count, depot.occupancy_pct), (1, 100.0));
}

#[test]
fn outside_the_window_no_intrusion_and_no_calibration_no_speed() {
    let mut cfg = config();
    cfg.calibration = None;
    // 15:29 UTC is 15:29 in UTC: the depot is not armed.
    let mut rules = CameraRules::new("cam-1", &cfg, jiff::tz::TimeZone::UTC).expect("rules");
    let mut events = Vec::new();
    for i in 0..40 {
        let t = i as f32 * 0.1;
        let tracks = vec![
            fixtures::object(
                1,
                "car",
                (0.3, 0.9 - 0.02 * i as f32),
                (6.0, 4.0),
                (100, 100),
            ),
            fixtures::object(2, "person", (0.75, 0.75), (3.0, 8.0), (100, 100)),
        ];
        events.extend(rules.update(&frame(t, tracks)).0);
    }
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.name()).collect();
    assert_eq!(kinds, ["zone_enter", "line_crossing"]);
    assert!(matches!(
        events[1].kind,
        EventKind::LineCrossing {
            speed_kmh: None,
            ..
        }
    ));
    // Degenerate calibration points are refused.
    cfg.calibration = Some(CalibrationConfig {
        image: [[0.1, 0.1], [0.2, 0.2], [0.3, 0.3], [0.0, 1.0]].map(Into::into),
        ground: [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]],
    });
    assert!(matches!(
        CameraRules::new("c", &cfg, jiff::tz::TimeZone::UTC),
        Err(RulesError::Calibration)
    ));
}
