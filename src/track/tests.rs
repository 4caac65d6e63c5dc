//! Tracker tests on synthetic detections.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::types::{BBox, Detection, Track};

const FPS: f32 = 10.0;

fn det(x: f32, y: f32, score: f32, class_id: u16) -> Detection {
    Detection {
        bbox: BBox::new(x, y, x + 40.0, y + 100.0),
        score,
        class_id,
        label: Arc::from(if class_id == 0 { "person" } else { "car" }),
    }
}

fn at(frame: u32) -> Duration {
    Duration::from_secs_f32(frame as f32 / FPS)
}

/// Runs frames through a default tracker, returning each frame's tracks.
fn run(frames: &[Vec<Detection>]) -> Vec<Vec<Track>> {
    let mut t = Tracker::new(TrackerParams::default());
    frames
        .iter()
        .enumerate()
        .map(|(i, d)| t.update(at(i as u32), d))
        .collect()
}

#[test]
fn a_straight_path_keeps_one_id_once_confirmed() {
    let frames: Vec<Vec<Detection>> = (0..30)
        .map(|i| vec![det(10.0 + 12.0 * i as f32, 50.0, 0.8, 0)])
        .collect();
    let out = run(&frames);
    let min_hits = TrackerParams::default().min_hits as usize;
    for (i, tracks) in out.iter().enumerate() {
        if i + 1 < min_hits {
            assert!(tracks.is_empty(), "frame {i}: not confirmed yet");
        } else {
            assert_eq!(tracks.len(), 1, "frame {i}");
            assert_eq!(
                tracks[0].id,
                out[min_hits - 1][0].id,
                "frame {i}: id changed"
            );
        }
    }
    let last = &out[29][0];
    assert!(
        (last.velocity.0 - 120.0).abs() < 15.0,
        "vx {:?}",
        last.velocity
    );
    assert_eq!(last.first_seen, at(0));
}

#[test]
fn crossing_paths_keep_their_ids() {
    // Two people walk towards each other along nearly the same line and pass.
    let frames: Vec<Vec<Detection>> = (0..40)
        .map(|i| {
            let f = i as f32;
            vec![
                det(20.0 + 10.0 * f, 50.0, 0.85, 0),
                det(420.0 - 10.0 * f, 56.0, 0.8, 0),
            ]
        })
        .collect();
    let out = run(&frames);
    let start = &out[5];
    assert_eq!(start.len(), 2);
    let rightward = start
        .iter()
        .min_by(|a, b| a.bbox.x1.total_cmp(&b.bbox.x1))
        .expect("track")
        .id;
    let end = &out[39];
    assert_eq!(end.len(), 2, "both still tracked after crossing");
    let still_rightward = end
        .iter()
        .find(|t| t.id == rightward)
        .expect("rightward id kept");
    assert!(
        still_rightward.bbox.x1 > 350.0,
        "the rightward walker's id ended on the right: {still_rightward:?}"
    );
    assert!(still_rightward.velocity.0 > 0.0);
}

#[test]
fn a_short_gap_keeps_the_id() {
    let frames: Vec<Vec<Detection>> = (0..30)
        .map(|i| {
            if (12..16).contains(&i) {
                vec![]
            } else {
                vec![det(10.0 + 8.0 * i as f32, 50.0, 0.8, 0)]
            }
        })
        .collect();
    let out = run(&frames);
    assert!(out[13].is_empty(), "not reported while unseen");
    let before = out[11][0].id;
    assert_eq!(out[16].len(), 1);
    assert_eq!(out[16][0].id, before, "same id after a 4-frame (0.4 s) gap");
}

#[test]
fn a_long_gap_starts_a_new_track() {
    let frames: Vec<Vec<Detection>> = (0..70)
        .map(|i| {
            if (10..40).contains(&i) {
                vec![]
            } else {
                vec![det(100.0, 50.0, 0.8, 0)]
            }
        })
        .collect();
    let out = run(&frames);
    let before = out[9][0].id;
    let after = out[69][0].id;
    assert_ne!(before, after, "3 s unseen exceeds the 2 s lost timeout");
}

#[test]
fn a_one_frame_false_positive_is_never_confirmed() {
    let mut frames: Vec<Vec<Detection>> = (0..20).map(|_| vec![]).collect();
    frames[5] = vec![det(300.0, 40.0, 0.95, 0)];
    frames[12] = vec![det(100.0, 200.0, 0.9, 1)];
    assert!(run(&frames).iter().all(|t| t.is_empty()));
}

#[test]
fn low_score_detections_keep_a_track_alive() {
    // Confident for 10 frames, then only weak detections (partial occlusion).
    let frames: Vec<Vec<Detection>> = (0..25)
        .map(|i| {
            let s = if i < 10 { 0.8 } else { 0.2 };
            vec![det(10.0 + 5.0 * i as f32, 50.0, s, 0)]
        })
        .collect();
    let out = run(&frames);
    let id = out[9][0].id;
    assert!(
        out[10..].iter().all(|t| t.len() == 1 && t[0].id == id),
        "{:?}",
        out[24]
    );
    // A weak detection alone never starts a track.
    let weak: Vec<Vec<Detection>> = (0..10).map(|_| vec![det(10.0, 50.0, 0.2, 0)]).collect();
    assert!(run(&weak).iter().all(|t| t.is_empty()));
}

#[test]
fn classes_are_tracked_separately() {
    // A person and a car box in the same place: two tracks, each keeping its class.
    let frames: Vec<Vec<Detection>> = (0..10)
        .map(|_| vec![det(100.0, 50.0, 0.8, 0), det(102.0, 52.0, 0.7, 1)])
        .collect();
    let out = run(&frames);
    let last = &out[9];
    assert_eq!(last.len(), 2);
    assert_ne!(last[0].class_id, last[1].class_id);
    assert_eq!(
        out[5].iter().map(|t| t.id).collect::<Vec<_>>(),
        last.iter().map(|t| t.id).collect::<Vec<_>>()
    );
}

#[test]
fn time_going_backwards_starts_afresh_with_new_ids() {
    let mut t = Tracker::new(TrackerParams::default());
    let mut last = Vec::new();
    for i in 0..10 {
        last = t.update(at(i), &[det(100.0, 50.0, 0.8, 0)]);
    }
    let old = last[0].id;
    // The file looped: time restarts at zero.
    let mut again = Vec::new();
    for i in 0..10 {
        again = t.update(at(i), &[det(100.0, 50.0, 0.8, 0)]);
    }
    assert_eq!(again.len(), 1);
    assert!(again[0].id > old, "ids are never reused");
}
