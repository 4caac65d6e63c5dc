//! Zone tests on synthetic tracks.

use std::time::Duration;

use super::*;
use crate::rules::fixtures;
use crate::types::{FrameMeta, Track};

fn zone() -> ZoneConfig {
    ZoneConfig {
        id: "counter-1".into(),
        points: vec![
            Point::new(0.2, 0.2),
            Point::new(0.8, 0.2),
            Point::new(0.8, 0.8),
            Point::new(0.2, 0.8),
        ],
        classes: vec![],
        anchor: Anchor::BottomCenter,
        hysteresis: 0.01,
        loiter_after_s: Some(10.0),
        crowd: Some(CrowdConfig {
            count: 3,
            for_s: 5.0,
        }),
        exit_grace_s: 2.0,
        intrusion: None,
    }
}

fn meta(secs: f32) -> FrameMeta {
    fixtures::frame(secs, 100, 100)
}

fn track(id: u64, x: f32, y: f32) -> Track {
    fixtures::object(id, "person", (x, y), (4.0, 8.0), (100, 100))
}

fn kinds(events: &[ZoneEvent]) -> Vec<&'static str> {
    events
        .iter()
        .map(|e| match e.kind {
            ZoneEventKind::Enter { .. } => "enter",
            ZoneEventKind::Exit { .. } => "exit",
            ZoneEventKind::Loitering { .. } => "loitering",
            ZoneEventKind::Intrusion { .. } => "intrusion",
            ZoneEventKind::CrowdStart { .. } => "crowd_start",
            ZoneEventKind::CrowdEnd { .. } => "crowd_end",
        })
        .collect()
}

#[test]
fn enter_then_exit_with_the_dwell_time() {
    let mut z = ZoneMonitor::new(zone());
    assert!(z.update(&meta(0.0), &[track(1, 0.1, 0.5)]).is_empty());
    assert_eq!(
        kinds(&z.update(&meta(1.0), &[track(1, 0.5, 0.5)])),
        ["enter"]
    );
    assert_eq!(z.occupancy(), 1);
    let out = z.update(&meta(4.5), &[track(1, 0.9, 0.5)]);
    assert_eq!(kinds(&out), ["exit"]);
    // Entry and exit are dated where the path crossed the edge: x = 0.2 a quarter of the way from
    // 0.1 to 0.5 (0.25 s), x = 0.8 three quarters of the way from 0.5 to 0.9 (3.625 s).
    let ZoneEventKind::Exit { dwell, .. } = out[0].kind else {
        panic!("{out:?}")
    };
    assert!((dwell.as_secs_f32() - 3.375).abs() < 1e-3, "{dwell:?}");
    assert_eq!(z.occupancy(), 0);
}

#[test]
fn a_box_on_the_edge_does_not_flicker() {
    let mut z = ZoneMonitor::new(zone());
    let mut events = z.update(&meta(0.0), &[track(1, 0.5, 0.5)]);
    for i in 1..40 {
        let x = if i % 2 == 0 { 0.795 } else { 0.805 };
        events.extend(z.update(&meta(i as f32 * 0.1), &[track(1, x, 0.5)]));
    }
    assert_eq!(kinds(&events), ["enter"]);
}

#[test]
fn loitering_fires_once_after_the_threshold_and_not_before() {
    let mut z = ZoneMonitor::new(zone());
    let mut fired = Vec::new();
    for i in 0..=150 {
        let t = i as f32 * 0.1;
        for e in z.update(&meta(t), &[track(1, 0.5, 0.5)]) {
            if matches!(e.kind, ZoneEventKind::Loitering { .. }) {
                fired.push(t);
            }
        }
    }
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert!((fired[0] - 10.0).abs() < 0.11, "{fired:?}");
}

#[test]
fn crowding_needs_the_count_for_the_time_and_ends() {
    let mut z = ZoneMonitor::new(zone());
    let three = [track(1, 0.3, 0.5), track(2, 0.5, 0.5), track(3, 0.7, 0.5)];
    let mut log = Vec::new();
    for i in 0..=70 {
        let t = i as f32 * 0.1;
        // Three people for 6 s, then one leaves.
        let now: &[Track] = if t < 6.05 { &three } else { &three[..2] };
        let moved: Vec<Track> = now.to_vec();
        for e in z.update(&meta(t), &moved) {
            if matches!(
                e.kind,
                ZoneEventKind::CrowdStart { .. } | ZoneEventKind::CrowdEnd { .. }
            ) {
                log.push((t, kinds(std::slice::from_ref(&e))[0]));
            }
        }
    }
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].1, "crowd_start");
    assert!((log[0].0 - 5.0).abs() < 0.11, "{log:?}");
    // Track 3 stops being reported at 6.1 s; after the 2 s grace it has left and the crowd ends.
    let mut ended = None;
    for i in 71..=120 {
        let t = i as f32 * 0.1;
        if kinds(&z.update(&meta(t), &three[..2])).contains(&"crowd_end") {
            ended = Some(t);
        }
    }
    let ended = ended.expect("crowd ends");
    assert!(ended > 8.0 && ended < 8.3, "{ended}");
}

#[test]
fn a_track_that_vanishes_exits_after_the_grace_period() {
    let mut z = ZoneMonitor::new(zone());
    z.update(&meta(0.0), &[track(1, 0.5, 0.5)]);
    z.update(&meta(1.0), &[track(1, 0.5, 0.5)]);
    assert!(
        z.update(&meta(2.5), &[]).is_empty(),
        "still within the grace period"
    );
    let out = z.update(&meta(3.5), &[]);
    assert_eq!(kinds(&out), ["exit"]);
    assert!(
        matches!(out[0].kind, ZoneEventKind::Exit { dwell, .. } if dwell == Duration::from_secs(1))
    );
}

#[test]
fn intrusion_fires_only_inside_its_time_window() {
    use crate::rules::schedule::LocalTime;
    let mut cfg = zone();
    cfg.intrusion = Some(
        toml::from_str(
            "classes = [\"person\"]\nwindows = [{ from = \"22:00\", to = \"06:00\", days = [\"mon\", \"tue\"] }]",
        )
        .expect("intrusion"),
    );
    let mut z = ZoneMonitor::new(cfg);
    let mut step = |secs: f32, local: LocalTime, tracks: &[Track]| {
        let mut out = z.update(&meta(secs), tracks);
        out.extend(z.intrusions(meta(secs).pts, local));
        kinds(&out)
    };
    let (mon, wed) = (0, 2);
    // Inside at 21:59 on Monday: disarmed.
    assert_eq!(
        step(0.0, LocalTime::new(mon, 21, 59, 58), &[track(1, 0.5, 0.5)]),
        ["enter"]
    );
    assert!(step(1.0, LocalTime::new(mon, 21, 59, 59), &[track(1, 0.5, 0.5)]).is_empty());
    // The window opens with the person still inside: one intrusion, not one per frame.
    assert_eq!(
        step(2.0, LocalTime::new(mon, 22, 0, 0), &[track(1, 0.5, 0.5)]),
        ["intrusion"]
    );
    assert!(step(3.0, LocalTime::new(mon, 22, 0, 1), &[track(1, 0.5, 0.5)]).is_empty());
    // A car is not an intruder; someone outside the zone neither.
    let car = fixtures::object(2, "car", (0.5, 0.6), (6.0, 4.0), (100, 100));
    assert_eq!(
        step(
            4.0,
            LocalTime::new(mon, 23, 0, 0),
            &[track(1, 0.5, 0.5), car, track(3, 0.9, 0.9)]
        ),
        ["enter"]
    );
    // Tuesday 05:59 is still Monday night's window; a new arrival intrudes.
    assert_eq!(
        step(
            5.0,
            LocalTime::new(mon + 1, 5, 59, 0),
            &[track(4, 0.4, 0.4)]
        ),
        ["enter", "intrusion"]
    );
    // Wednesday 03:00 is Tuesday night's window; Wednesday 23:00 is not armed.
    assert_eq!(
        step(9.0, LocalTime::new(wed, 3, 0, 0), &[track(5, 0.4, 0.4)]),
        ["enter", "exit", "exit", "exit", "intrusion"]
    );
    assert_eq!(
        step(12.0, LocalTime::new(wed, 23, 0, 0), &[track(6, 0.6, 0.4)]),
        ["enter", "exit"]
    );
}

/// The dwell of a walk across the zone at 0.1 of the picture a second, analysed at `fps`.
fn walk_dwell(fps: f32) -> (Vec<&'static str>, f32) {
    let mut z = ZoneMonitor::new(zone());
    let (mut kinds_seen, mut dwell) = (Vec::new(), f32::NAN);
    for i in 0..=(10.0 * fps) as u32 {
        let t = i as f32 / fps;
        for e in z.update(&meta(t), &[track(1, 0.05 + 0.1 * t, 0.5)]) {
            if let ZoneEventKind::Exit { dwell: d, .. } = e.kind {
                dwell = d.as_secs_f32();
            }
            kinds_seen.extend(kinds(&[e]));
        }
    }
    (kinds_seen, dwell)
}

#[test]
fn dwell_times_do_not_depend_on_the_analysis_rate() {
    // In at x = 0.2 (1.5 s), out at x = 0.8 (7.5 s): 6 s inside.
    for fps in [10.0, 3.0, 2.0, 0.7] {
        let (seen, dwell) = walk_dwell(fps);
        assert_eq!(seen, ["enter", "exit"], "{fps} fps");
        assert!((dwell - 6.0).abs() < 0.05, "{fps} fps: dwell {dwell}");
    }
}

#[test]
fn a_path_through_the_zone_between_two_frames_enters_and_exits() {
    let mut z = ZoneMonitor::new(zone());
    assert!(z.update(&meta(0.0), &[track(1, 0.1, 0.5)]).is_empty());
    // Clearly outside on both frames, the straight path between crosses the whole zone.
    let out = z.update(&meta(1.0), &[track(1, 0.9, 0.5)]);
    assert_eq!(kinds(&out), ["enter", "exit"]);
    let ZoneEventKind::Exit { dwell, .. } = out[1].kind else {
        panic!("{out:?}")
    };
    assert!((dwell.as_secs_f32() - 0.75).abs() < 1e-3, "{dwell:?}");
    assert_eq!(z.occupancy(), 0);
    // A path that only clips a corner outside the zone's hysteresis band is not an entry; one
    // that passes beside the zone neither.
    let mut z = ZoneMonitor::new(zone());
    z.update(&meta(0.0), &[track(2, 0.1, 0.9)]);
    assert!(z.update(&meta(1.0), &[track(2, 0.9, 0.9)]).is_empty());
}
