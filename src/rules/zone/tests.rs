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
    assert!(
        matches!(out[0].kind, ZoneEventKind::Exit { dwell, .. } if dwell == Duration::from_secs_f32(3.5))
    );
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
