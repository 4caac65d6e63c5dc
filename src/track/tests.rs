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
    run_at(TrackerParams::default(), FPS, frames)
}

#[test]
fn a_straight_path_keeps_one_id_once_confirmed() {
    let frames: Vec<Vec<Detection>> = (0..30)
        .map(|i| vec![det(10.0 + 12.0 * i as f32, 50.0, 0.8, 0)])
        .collect();
    let out = run(&frames);
    let min_hits = TrackerParams::default().min_hits_at(1.0 / FPS) as usize;
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

/// Runs `frames` at `fps` through a tracker with `params`.
fn run_at(params: TrackerParams, fps: f32, frames: &[Vec<Detection>]) -> Vec<Vec<Track>> {
    let mut t = Tracker::new(params);
    frames
        .iter()
        .enumerate()
        .map(|(i, d)| t.update(Duration::from_secs_f32(i as f32 / fps), d))
        .collect()
}

#[test]
fn a_walker_over_two_box_widths_a_frame_apart_keeps_one_id_at_2_fps() {
    // 40 px wide, 90 px further on each analysed frame.
    let frames: Vec<Vec<Detection>> = (0..12)
        .map(|i| vec![det(10.0 + 90.0 * i as f32, 50.0, 0.8, 0)])
        .collect();
    let out = run_at(TrackerParams::default(), 2.0, &frames);
    // Under 5 fps a track is confirmed on its second match.
    assert!(out[0].is_empty());
    let id = out[1].first().expect("confirmed on the second frame").id;
    for (i, tracks) in out.iter().enumerate().skip(1) {
        assert_eq!(tracks.len(), 1, "frame {i}: {tracks:?}");
        assert_eq!(tracks[0].id, id, "frame {i}: the id changed");
    }
    // On overlap alone (the ByteTrack gate) the same walk is never followed.
    let mut overlap_only = TrackerParams::default();
    overlap_only.reach.insert("person".into(), 0.0);
    let out = run_at(overlap_only, 2.0, &frames);
    assert!(out.iter().all(|t| t.is_empty()), "{out:?}");
}

/// How often a reported id changes from one walker to the other, walkers told apart by their
/// true centre on each frame.
fn swaps(out: &[Vec<Track>], truth: impl Fn(usize) -> [f32; 2]) -> usize {
    let mut owner = std::collections::HashMap::new();
    let mut swaps = 0;
    for (i, tracks) in out.iter().enumerate() {
        let [a, b] = truth(i);
        for t in tracks {
            let cx = (t.bbox.x1 + t.bbox.x2) / 2.0;
            let who = usize::from((cx - a).abs() > (cx - b).abs());
            if owner.insert(t.id, who).is_some_and(|w| w != who) {
                swaps += 1;
            }
        }
    }
    swaps
}

#[test]
fn crossing_paths_swap_no_more_often_at_2_fps_than_at_10() {
    // Two walkers 60 px/s towards each other, their boxes overlapping as they pass.
    let walk = |fps: f32, n: usize| -> (Vec<Vec<Detection>>, Vec<[f32; 2]>) {
        (0..n)
            .map(|i| {
                let s = i as f32 / fps;
                let (a, b) = (20.0 + 60.0 * s, 620.0 - 60.0 * s);
                (
                    vec![det(a, 50.0, 0.85, 0), det(b, 62.0, 0.8, 0)],
                    [a + 20.0, b + 20.0],
                )
            })
            .unzip()
    };
    let (f10, t10) = walk(10.0, 100);
    let (f2, t2) = walk(2.0, 20);
    let s10 = swaps(&run_at(TrackerParams::default(), 10.0, &f10), |i| t10[i]);
    let s2 = swaps(&run_at(TrackerParams::default(), 2.0, &f2), |i| t2[i]);
    assert!(s2 <= s10, "{s2} swaps at 2 fps, {s10} at 10 fps");
    // And both end with two tracks, each on its own walker's side.
    let end = run_at(TrackerParams::default(), 2.0, &f2);
    assert_eq!(end[19].len(), 2, "{:?}", end[19]);
}

#[test]
fn a_one_frame_false_positive_far_away_does_not_steal_a_track() {
    // A walker at 2 fps; on frame 6 they are missed and a detection appears three box sizes
    // from where they would be.
    let frames: Vec<Vec<Detection>> = (0..12)
        .map(|i| {
            let x = 10.0 + 40.0 * i as f32;
            if i == 6 {
                vec![det(x + 190.0, 50.0, 0.9, 0)]
            } else {
                vec![det(x, 50.0, 0.8, 0)]
            }
        })
        .collect();
    let out = run_at(TrackerParams::default(), 2.0, &frames);
    let id = out[5][0].id;
    assert!(
        out[6].iter().all(|t| t.id != id),
        "the walker's track jumped to the false positive: {:?}",
        out[6]
    );
    for tracks in &out[7..] {
        assert_eq!(tracks.len(), 1, "{tracks:?}");
        assert_eq!(tracks[0].id, id, "the walker's id is kept after the miss");
    }
}
