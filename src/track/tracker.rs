//! ByteTrack-class multi-object tracker. Pure: detections and their stream time in, tracks out.
//!
//! Each frame: predict every track to the frame's time (the real time gap, so the analysis rate
//! does not matter to the motion model); match high-score detections to tracked and lost tracks
//! (Hungarian, same class only, on IoU or, where boxes no longer overlap, on a motion-gated centre
//! distance: see [`motion`](super::motion)); match low-score detections to the tracked ones still
//! unmatched, on IoU only; confirm tentative tracks after `min_hits` consecutive matches; start
//! tracks from unmatched confident detections; forget lost tracks after `lost_timeout_s`.

use std::sync::Arc;
use std::time::Duration;

use super::TrackerParams;
use super::assign::assign;
use super::kalman::Kalman;
use super::motion;
use crate::types::{BBox, Detection, Track};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Seen, not yet confirmed.
    Tentative,
    /// Confirmed and seen on the last frame it was matched.
    Tracked,
    /// Confirmed, missed since `last_seen`.
    Lost,
}

#[derive(Debug, Clone)]
struct Tracklet {
    id: u64,
    class_id: u16,
    label: Arc<str>,
    kf: Kalman,
    score: f32,
    phase: Phase,
    hits: u32,
    first_seen: Duration,
    last_seen: Duration,
}

/// A track seen once has no velocity yet: its prediction stands still, so its gate reaches this
/// many times further (its second sighting at 2 fps may be two box sizes on).
const UNKNOWN_VELOCITY: f32 = 2.0;

/// Matched (track index, detection index) pairs, unmatched track indices, unmatched detection
/// indices.
type Matching = (Vec<(usize, usize)>, Vec<usize>, Vec<usize>);

/// The tracker of one camera.
#[derive(Debug, Clone)]
pub struct Tracker {
    params: TrackerParams,
    tracks: Vec<Tracklet>,
    next_id: u64,
    last_time: Option<Duration>,
    /// Seconds between the last two analysed frames.
    frame_gap_s: f32,
}

impl Tracker {
    /// A tracker with no tracks; ids start at 1.
    pub fn new(params: TrackerParams) -> Tracker {
        Tracker::starting_at(params, 1)
    }

    /// A tracker with no tracks whose first id is `first_id` (at least 1): a camera restarted by
    /// a reload or after a failure carries on from its last id, so an id is never reused.
    pub fn starting_at(params: TrackerParams, first_id: u64) -> Tracker {
        Tracker {
            params,
            tracks: Vec::new(),
            next_id: first_id.max(1),
            last_time: None,
            frame_gap_s: 0.0,
        }
    }

    /// The id the next new track gets.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Forgets every track (ids keep counting up, so an id is never reused).
    pub fn reset(&mut self) {
        self.tracks.clear();
        self.last_time = None;
    }

    /// Number of tracks held, in any phase.
    pub fn len(&self) -> usize {
        self.tracks.len()
    }

    /// Whether no track is held.
    pub fn is_empty(&self) -> bool {
        self.tracks.is_empty()
    }

    /// Feeds the detections of the frame at stream time `time`; returns the confirmed tracks seen on
    /// this frame, by id. Time going backwards (a stream restart or a loop) starts afresh.
    pub fn update(&mut self, time: Duration, dets: &[Detection]) -> Vec<Track> {
        if self.last_time.is_some_and(|t| time < t) {
            self.reset();
        }
        let dt = self.last_time.map_or(0.0, |t| (time - t).as_secs_f32());
        self.last_time = Some(time);
        if dt > 0.0 {
            self.frame_gap_s = dt;
        }
        for t in &mut self.tracks {
            if t.phase != Phase::Tracked {
                t.kf.freeze_height();
            }
            t.kf.predict(dt);
        }
        let p = self.params.clone();
        let (high, low): (Vec<&Detection>, Vec<&Detection>) = dets
            .iter()
            .filter(|d| d.score >= p.low_threshold)
            .partition(|d| d.score >= p.high_threshold);

        // 1. High-score detections against confirmed tracks, tracked or lost.
        let confirmed: Vec<usize> = self.indices(|ph| ph != Phase::Tentative);
        let (m1, left_tracks, left_high) = self.associate(&confirmed, &high, p.match_iou, time);
        for (ti, di) in m1 {
            self.hit(ti, high[di], time);
        }
        // 2. Low-score detections against the tracks that were tracked and are still unmatched.
        let still_tracked: Vec<usize> = left_tracks
            .into_iter()
            .filter(|&i| self.tracks[i].phase == Phase::Tracked)
            .collect();
        let (m2, unmatched, _) = self.associate_overlap(&still_tracked, &low, p.low_match_iou);
        for (ti, di) in m2 {
            self.hit(ti, low[di], time);
        }
        for i in unmatched {
            self.tracks[i].phase = Phase::Lost;
        }
        // 3. Remaining high-score detections against tentative tracks; a miss ends a tentative track.
        let tentative: Vec<usize> = self.indices(|ph| ph == Phase::Tentative);
        let high_left: Vec<&Detection> = left_high.iter().map(|&i| high[i]).collect();
        let (m3, dead, new_dets) = self.associate(&tentative, &high_left, p.match_iou, time);
        for (ti, di) in m3 {
            self.hit(ti, high_left[di], time);
        }
        let dead: Vec<u64> = dead.iter().map(|&i| self.tracks[i].id).collect();
        self.tracks.retain(|t| !dead.contains(&t.id));
        // 4. New tracks from confident detections nobody claimed.
        for di in new_dets {
            let d = high_left[di];
            if d.score >= p.new_track_threshold {
                self.start(d, time);
            }
        }
        // 5. Lost tracks wait `lost_timeout_s`, then go.
        let timeout =
            Duration::try_from_secs_f32(p.lost_timeout_s.max(0.0)).unwrap_or(Duration::MAX);
        self.tracks
            .retain(|t| t.phase != Phase::Lost || time.saturating_sub(t.last_seen) <= timeout);

        let mut out: Vec<Track> = self
            .tracks
            .iter()
            .filter(|t| t.phase == Phase::Tracked && t.last_seen == time)
            .map(|t| Track {
                id: t.id,
                class_id: t.class_id,
                label: Arc::clone(&t.label),
                bbox: t.kf.bbox(),
                score: t.score,
                velocity: t.kf.velocity(),
                first_seen: t.first_seen,
                hits: t.hits,
            })
            .collect();
        out.sort_by_key(|t| t.id);
        out
    }

    fn indices(&self, keep: impl Fn(Phase) -> bool) -> Vec<usize> {
        (0..self.tracks.len())
            .filter(|&i| keep(self.tracks[i].phase))
            .collect()
    }

    /// Matches `tracks` (indices) with `dets`, same class only: first at IoU ≥ `min_iou`, then
    /// the tracks and detections left over within the class's motion gate (so a match on distance
    /// never displaces one on overlap). Returns the matched (track index, detection index) pairs,
    /// the unmatched track indices and the unmatched detection indices.
    fn associate(
        &self,
        tracks: &[usize],
        dets: &[&Detection],
        min_iou: f32,
        time: Duration,
    ) -> Matching {
        let (mut matched, left_tracks, left_dets) = self.associate_overlap(tracks, dets, min_iou);
        let rest: Vec<&Detection> = left_dets.iter().map(|&i| dets[i]).collect();
        let (far, left_tracks, left_rest) = self.solve(&left_tracks, &rest, |t, pred, det| {
            let unknown = if t.hits < 2 { UNKNOWN_VELOCITY } else { 1.0 };
            let gap_s = time.saturating_sub(t.last_seen).as_secs_f32();
            motion::distance_cost(pred, det, self.params.reach_of(&t.label) * unknown, gap_s)
        });
        matched.extend(far.into_iter().map(|(t, d)| (t, left_dets[d])));
        let left_dets = left_rest.into_iter().map(|d| left_dets[d]).collect();
        (matched, left_tracks, left_dets)
    }

    /// [`associate`](Self::associate) on overlap only (IoU ≥ `min_iou`).
    fn associate_overlap(&self, tracks: &[usize], dets: &[&Detection], min_iou: f32) -> Matching {
        self.solve(tracks, dets, |_, pred, det| {
            motion::overlap_cost(pred, det, min_iou)
        })
    }

    fn solve(
        &self,
        tracks: &[usize],
        dets: &[&Detection],
        pair_cost: impl Fn(&Tracklet, &BBox, &BBox) -> f32,
    ) -> Matching {
        let mut cost = Vec::with_capacity(tracks.len() * dets.len());
        for &ti in tracks {
            let t = &self.tracks[ti];
            let predicted = t.kf.bbox();
            for d in dets {
                cost.push(if d.class_id == t.class_id {
                    pair_cost(t, &predicted, &d.bbox)
                } else {
                    f32::INFINITY
                });
            }
        }
        let a = assign(&cost, tracks.len(), dets.len(), motion::MAX_COST);
        (
            a.matches.iter().map(|&(r, c)| (tracks[r], c)).collect(),
            a.unmatched_rows.iter().map(|&r| tracks[r]).collect(),
            a.unmatched_cols,
        )
    }

    fn hit(&mut self, i: usize, d: &Detection, time: Duration) {
        let min_hits = self.params.min_hits_at(self.frame_gap_s);
        let t = &mut self.tracks[i];
        t.kf.update(&d.bbox);
        t.score = d.score;
        t.last_seen = time;
        t.hits += 1;
        t.phase = match t.phase {
            Phase::Tentative if t.hits < min_hits => Phase::Tentative,
            _ => Phase::Tracked,
        };
    }

    fn start(&mut self, d: &Detection, time: Duration) {
        let phase = if self.params.min_hits_at(self.frame_gap_s) <= 1 {
            Phase::Tracked
        } else {
            Phase::Tentative
        };
        self.tracks.push(Tracklet {
            id: self.next_id,
            class_id: d.class_id,
            label: Arc::clone(&d.label),
            kf: Kalman::new(&d.bbox),
            score: d.score,
            phase,
            hits: 1,
            first_seen: time,
            last_seen: time,
        });
        self.next_id += 1;
    }
}
