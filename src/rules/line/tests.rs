//! Counting-line tests on synthetic tracks.

use super::*;
use crate::rules::fixtures;
use crate::types::{FrameMeta, Track};

const W: u32 = 1000;
const H: u32 = 1000;

/// A horizontal line across the middle, pointing right: forward = moving down (left → right of it).
fn line() -> LineConfig {
    LineConfig {
        id: "stop-line".into(),
        points: vec![Point::new(0.1, 0.5), Point::new(0.9, 0.5)],
        forward: "southbound".into(),
        backward: "northbound".into(),
        classes: vec![],
        lane: None,
        anchor: Anchor::BottomCenter,
        hysteresis: 0.01,
    }
}

fn meta(i: u64) -> FrameMeta {
    fixtures::frame(0.1 * i as f32, W, H)
}

/// A track whose bottom-centre anchor is at (x, y) in normalised coordinates.
fn track(id: u64, label: &str, x: f32, y: f32) -> Track {
    fixtures::object(id, label, (x, y), (40.0, 80.0), (W, H))
}

/// Runs a path of anchor positions for one track, returning its crossings.
fn run(counter: &mut LineCounter, id: u64, label: &str, path: &[(f32, f32)]) -> Vec<Crossing> {
    path.iter()
        .enumerate()
        .flat_map(|(i, &(x, y))| counter.update(&meta(i as u64), &[track(id, label, x, y)]))
        .collect()
}

#[test]
fn a_straight_crossing_counts_once_with_its_direction_name() {
    let mut c = LineCounter::new(line());
    let path: Vec<(f32, f32)> = (0..10).map(|i| (0.5, 0.3 + 0.04 * i as f32)).collect();
    let got = run(&mut c, 1, "car", &path);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].direction, Direction::Forward);
    assert_eq!(got[0].direction_name, "southbound");
    assert_eq!(got[0].track_id, 1);
}

#[test]
fn jitter_on_the_line_counts_once() {
    let mut c = LineCounter::new(line());
    // Approaches, then wobbles across the line for a while, then leaves below.
    let mut path = vec![(0.5, 0.40), (0.5, 0.45)];
    for i in 0..20 {
        path.push((0.5, if i % 2 == 0 { 0.505 } else { 0.495 }));
        path.push((0.5, if i % 3 == 0 { 0.52 } else { 0.49 }));
    }
    path.extend([(0.5, 0.56), (0.5, 0.62)]);
    let got = run(&mut c, 7, "car", &path);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].direction, Direction::Forward);
}

#[test]
fn back_and_forth_counts_one_each_way() {
    let mut c = LineCounter::new(line());
    let path = [(0.5, 0.3), (0.5, 0.7), (0.5, 0.3), (0.5, 0.7), (0.5, 0.3)];
    let got = run(&mut c, 3, "person", &path);
    let dirs: Vec<Direction> = got.iter().map(|c| c.direction).collect();
    assert_eq!(dirs, vec![Direction::Forward, Direction::Backward]);
}

#[test]
fn walking_around_the_end_of_the_line_never_counts() {
    let mut c = LineCounter::new(line());
    // From above to below, passing right of the line's end at x = 0.9.
    let path = [(0.5, 0.3), (0.95, 0.3), (0.95, 0.7), (0.5, 0.7)];
    assert!(run(&mut c, 4, "person", &path).is_empty());
}

#[test]
fn the_class_filter_applies() {
    let mut cfg = line();
    cfg.classes = vec!["car".into(), "truck".into()];
    let mut c = LineCounter::new(cfg);
    let path = [(0.5, 0.3), (0.5, 0.7)];
    assert!(run(&mut c, 1, "person", &path).is_empty());
    assert_eq!(run(&mut c, 2, "truck", &path).len(), 1);
}

#[test]
fn polylines_count_on_any_segment() {
    let mut cfg = line();
    cfg.points = vec![
        Point::new(0.1, 0.5),
        Point::new(0.5, 0.3),
        Point::new(0.9, 0.5),
    ];
    let mut c = LineCounter::new(cfg);
    // Crosses the second segment going down.
    let got = run(&mut c, 5, "car", &[(0.7, 0.2), (0.7, 0.6)]);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].direction, Direction::Forward);
}

#[test]
fn a_new_stream_generation_forgets_sides() {
    let mut c = LineCounter::new(line());
    assert!(c.update(&meta(0), &[track(1, "car", 0.5, 0.3)]).is_empty());
    let mut m = meta(1);
    m.generation = 2;
    // Same id after a reconnect is another object: no crossing from the old position.
    assert!(c.update(&m, &[track(1, "car", 0.5, 0.7)]).is_empty());
}
